/*
 * Opens COUNT connections to 127.0.0.1:PORT and holds them idle for SECONDS.
 * With "http", each first gets one keep-alive answer from /healthz. With
 * "wait TARGET", each sends GET TARGET and does not wait for the answer: one
 * process holding many slow requests, where as many curl processes would
 * crowd the load generator's core.
 *   hold PORT COUNT SECONDS [http | wait TARGET]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hold PORT COUNT SECONDS [http | wait TARGET]\n");
        return 2;
    }
    unsigned port = (unsigned)atoi(argv[1]);
    int count = atoi(argv[2]), seconds = atoi(argv[3]);
    int http = argc > 4 && strcmp(argv[4], "http") == 0;
    const char *wait_target = argc > 5 && strcmp(argv[4], "wait") == 0 ? argv[5] : NULL;
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    int opened = 0;
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
            perror("hold: connect");
            break;
        }
        if (http) {
            static const char request[] = "GET /healthz HTTP/1.1\r\nHost: hold\r\n\r\n";
            char answer[512];
            if (send(fd, request, sizeof request - 1, 0) <= 0 ||
                recv(fd, answer, sizeof answer, 0) <= 0) {
                perror("hold: request");
                break;
            }
        }
        if (wait_target) {
            char request[1024];
            int length = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: hold\r\n\r\n",
                                  wait_target);
            if (length <= 0 || (size_t)length >= sizeof request ||
                send(fd, request, (size_t)length, 0) != length) {
                perror("hold: request");
                break;
            }
        }
        opened++;
    }
    printf("%d\n", opened);
    fflush(stdout);
    sleep((unsigned)seconds);
    return opened == count ? 0 : 1;
}
