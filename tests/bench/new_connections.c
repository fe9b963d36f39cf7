/*
 * One client, COUNT new connections one after another: each sends
 * GET PATH HTTP/1.0, reads the answer until the server closes, and closes.
 * What a fleet peer's probe costs the server that answers it, without the
 * other 49 processes of the fleet bench around it. Prints the wall time per
 * connection and, given the server's PID, its CPU (every thread, from
 * /proc/PID/stat) per connection.
 *   new_connections ADDRESS PORT COUNT PATH [PID]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* utime + stime of a process, in clock ticks; -1 when unreadable. */
static long long cpu_ticks(const char *pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    char text[1024];
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[length] = '\0';
    /* The command may hold spaces and parentheses: count from the last ')'. */
    char *field = strrchr(text, ')');
    long long user = -1, system = -1;
    if (field && sscanf(field + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &user,
                        &system) == 2)
        return user + system;
    return -1;
}

static int one_connection(const struct sockaddr_in *address, const char *request, size_t length)
{
    char buffer[8192];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)address, sizeof *address) != 0 ||
        write(fd, request, length) != (ssize_t)length) {
        perror("new_connections");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while (read(fd, buffer, sizeof buffer) > 0)
        ;
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: new_connections ADDRESS PORT COUNT PATH [PID]\n");
        return 2;
    }
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)atoi(argv[2]))};
    long count = strtol(argv[3], NULL, 10);
    if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1 || count <= 0) {
        fprintf(stderr, "new_connections: bad address or count\n");
        return 2;
    }
    char request[512];
    int length = snprintf(request, sizeof request,
                          "GET %s HTTP/1.0\r\nHost: %s:%s\r\nUser-Agent: netdiag-bench\r\n"
                          "Connection: close\r\n\r\n",
                          argv[4], argv[1], argv[2]);
    if (length < 0 || (size_t)length >= sizeof request)
        return 2;
    for (int i = 0; i < 200; i++) /* warm up */
        if (one_connection(&address, request, (size_t)length) != 0)
            return 1;
    long long before = argc == 6 ? cpu_ticks(argv[5]) : -1;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < count; i++)
        if (one_connection(&address, request, (size_t)length) != 0)
            return 1;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double wall_us =
        ((double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec)) / 1e3 /
        (double)count;
    printf("%ld new connections: %.1f us each", count, wall_us);
    long long after = argc == 6 ? cpu_ticks(argv[5]) : -1;
    if (before >= 0 && after >= 0)
        printf("; the server's CPU %.1f us per connection",
               (double)(after - before) * 1e6 / (double)sysconf(_SC_CLK_TCK) / (double)count);
    printf("\n");
    return 0;
}
