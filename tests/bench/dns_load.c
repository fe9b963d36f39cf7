/*
 * Keeps COUNT /dns requests in flight at once for SECONDS: COUNT keep-alive
 * connections, each sending GET TARGET again as soon as its answer is in,
 * from one thread (epoll), so the load generator does not need a thread, or
 * a process, per request either. Prints one line:
 *   requests STATUS=N... rate R/s p50 A ms p99 B ms
 *   dns_load PORT COUNT SECONDS TARGET
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { BUFFER = 65536, STATUSES = 600 };

struct connection {
    int fd;
    size_t have;
    uint64_t sent_ns;
    char buffer[BUFFER];
};

static uint64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int compare(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The length of a whole response at the start of buffer, or 0. */
static size_t response_length(const char *buffer, size_t have, unsigned *status)
{
    const char *end = memmem(buffer, have, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - buffer) + 4;
    const char *field = memmem(buffer, head, "Content-Length: ", 16);
    size_t body = field ? strtoul(field + 16, NULL, 10) : 0;
    if (have < head + body)
        return 0;
    *status = (unsigned)atoi(buffer + 9);
    return head + body;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: dns_load PORT COUNT SECONDS TARGET\n");
        return 2;
    }
    unsigned port = (unsigned)atoi(argv[1]);
    int count = atoi(argv[2]), seconds = atoi(argv[3]);
    char request[2048];
    int request_length =
        snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", argv[4]);
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);

    int epoll = epoll_create1(0);
    struct connection *connections = calloc((size_t)count, sizeof *connections);
    size_t latencies_size = 1 << 20, latencies_count = 0;
    uint64_t *latencies = malloc(latencies_size * sizeof *latencies);
    uint64_t statuses[STATUSES] = {0};
    if (epoll < 0 || !connections || !latencies)
        return 1;
    for (int i = 0; i < count; i++) {
        struct connection *connection = &connections[i];
        connection->fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connection->fd < 0 ||
            connect(connection->fd, (struct sockaddr *)&address, sizeof address) != 0) {
            perror("dns_load: connect");
            return 1;
        }
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = connection};
        epoll_ctl(epoll, EPOLL_CTL_ADD, connection->fd, &event);
    }
    uint64_t start = now_ns(), end = start + (uint64_t)seconds * 1000000000u;
    for (int i = 0; i < count; i++) {
        connections[i].sent_ns = now_ns();
        if (send(connections[i].fd, request, (size_t)request_length, MSG_NOSIGNAL) < 0)
            return 1;
    }
    int open = count;
    struct epoll_event events[256];
    while (open > 0) {
        int ready = epoll_wait(epoll, events, 256, 1000);
        if (ready < 0 && errno != EINTR)
            return 1;
        for (int e = 0; e < ready; e++) {
            struct connection *connection = events[e].data.ptr;
            ssize_t n = recv(connection->fd, connection->buffer + connection->have,
                             BUFFER - connection->have, 0);
            if (n <= 0) {
                close(connection->fd);
                open--;
                continue;
            }
            connection->have += (size_t)n;
            unsigned status;
            size_t length = response_length(connection->buffer, connection->have, &status);
            if (length == 0)
                continue;
            uint64_t done = now_ns();
            statuses[status < STATUSES ? status : 0]++;
            if (latencies_count < latencies_size)
                latencies[latencies_count++] = done - connection->sent_ns;
            memmove(connection->buffer, connection->buffer + length, connection->have - length);
            connection->have -= length;
            if (done >= end) {
                close(connection->fd);
                open--;
                continue;
            }
            connection->sent_ns = done;
            if (send(connection->fd, request, (size_t)request_length, MSG_NOSIGNAL) < 0)
                return 1;
        }
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    qsort(latencies, latencies_count, sizeof *latencies, compare);
    printf("requests %zu", latencies_count);
    for (int s = 0; s < STATUSES; s++) {
        if (statuses[s])
            printf(" %d=%llu", s, (unsigned long long)statuses[s]);
    }
    printf(" rate %.0f/s p50 %.3f ms p99 %.3f ms\n", (double)latencies_count / elapsed,
           latencies_count ? (double)latencies[latencies_count / 2] / 1e6 : 0.0,
           latencies_count ? (double)latencies[latencies_count * 99 / 100] / 1e6 : 0.0);
    return 0;
}
