/*
 * Time from exec to the first 200 on /healthz.
 *   startup NETDIAG_BINARY PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

static int healthz_status(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = 0;
    if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0) {
        static const char request[] = "GET /healthz HTTP/1.0\r\n\r\n";
        char answer[64] = "";
        if (send(fd, request, sizeof request - 1, 0) > 0 &&
            recv(fd, answer, sizeof answer - 1, 0) > 0)
            sscanf(answer, "HTTP/1.%*d %d", &status);
    }
    close(fd);
    return status;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: startup NETDIAG_BINARY PORT\n");
        return 2;
    }
    unsigned port = (unsigned)atoi(argv[2]);
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    double start = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl(argv[1], argv[1], "--listen", listen, "--echo-listen", "off", (char *)NULL);
        _exit(127);
    }
    double first = -1;
    while (now_ms() - start < 5000) {
        if (healthz_status(port) == 200) {
            first = now_ms() - start;
            break;
        }
        struct timespec pause = {0, 200000};
        nanosleep(&pause, NULL);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (first < 0)
        return 1;
    printf("%.1f\n", first);
    return 0;
}
