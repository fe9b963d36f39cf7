/*
 * Echo benchmark: throughput (bulk) and round-trip latency (ping-pong)
 * against a TCP echo server, every byte verified.
 *
 *   echo_bench --port P [--host 127.0.0.1] --mode bulk --connections 8 --bytes 67108864
 *   echo_bench --port P --mode pingpong --connections 100 --rounds 1000 --size 64
 *
 * bulk: each connection sends --bytes of a pattern while reading it back;
 * prints MB/s (both directions' payload counted once). pingpong: each
 * connection sends --size bytes and waits for them, --rounds times; prints
 * p50 and p99 round-trip latency in microseconds. Exits 1 on any mismatch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct options {
    const char *host;
    unsigned port;
    const char *mode;
    unsigned connections;
    uint64_t bytes;
    unsigned rounds;
    unsigned size;
};

struct stream {
    int fd;
    uint64_t sent, received;
    unsigned rounds_done;
    uint64_t round_start_ns;
    bool closed;
};

static uint64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static unsigned char pattern(uint64_t offset, unsigned stream)
{
    return (unsigned char)((offset * 31u + stream * 7u) ^ (offset >> 8));
}

static int connect_to(const struct options *options)
{
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)options->port)};
    if (inet_pton(AF_INET, options->host, &address.sin_addr) != 1) {
        fprintf(stderr, "echo_bench: bad --host %s\n", options->host);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("echo_bench: connect");
        exit(1);
    }
    int on = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        perror("echo_bench: socket options");
        exit(1);
    }
    return fd;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void fail(const char *what, unsigned stream, uint64_t offset)
{
    fprintf(stderr, "echo_bench: %s on connection %u at byte %llu\n", what, stream,
            (unsigned long long)offset);
    exit(1);
}

static int run(const struct options *options, bool pingpong)
{
    unsigned count = options->connections;
    struct stream *streams = calloc(count, sizeof *streams);
    struct pollfd *polls = calloc(count, sizeof *polls);
    uint64_t *latencies =
        pingpong ? calloc((size_t)count * options->rounds, sizeof *latencies) : NULL;
    unsigned char *buffer = malloc(1 << 16), *outgoing = malloc(1 << 16);
    if (!streams || !polls || !buffer || !outgoing || (pingpong && !latencies)) {
        fprintf(stderr, "echo_bench: out of memory\n");
        return 1;
    }
    uint64_t per_stream = pingpong ? (uint64_t)options->rounds * options->size : options->bytes;
    for (unsigned i = 0; i < count; i++)
        streams[i].fd = connect_to(options);

    size_t latency_count = 0;
    unsigned finished = 0;
    uint64_t start = now_ns();
    while (finished < count) {
        for (unsigned i = 0; i < count; i++) {
            struct stream *s = &streams[i];
            bool may_send = pingpong ? s->sent == s->received && s->rounds_done < options->rounds
                                     : s->sent < per_stream && s->sent - s->received < (1 << 20);
            polls[i].fd = s->closed ? -1 : s->fd;
            polls[i].events = POLLIN | (may_send ? POLLOUT : 0);
        }
        if (poll(polls, count, 10000) <= 0) {
            fprintf(stderr, "echo_bench: stalled for 10 s\n");
            return 1;
        }
        for (unsigned i = 0; i < count; i++) {
            struct stream *s = &streams[i];
            if (s->closed)
                continue;
            if (polls[i].revents & POLLOUT) {
                uint64_t chunk = pingpong ? options->size : per_stream - s->sent;
                if (chunk > (1 << 16))
                    chunk = 1 << 16;
                for (uint64_t k = 0; k < chunk; k++)
                    outgoing[k] = pattern(s->sent + k, i);
                if (pingpong && s->sent == s->received)
                    s->round_start_ns = now_ns();
                ssize_t n = send(s->fd, outgoing, chunk, MSG_NOSIGNAL);
                if (n < 0 && errno != EAGAIN)
                    fail("send failed", i, s->sent);
                if (n > 0)
                    s->sent += (uint64_t)n;
            }
            if (polls[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = recv(s->fd, buffer, 1 << 16, 0);
                if (n == 0 || (n < 0 && errno != EAGAIN))
                    fail("connection closed early", i, s->received);
                for (ssize_t k = 0; k < n; k++) {
                    if (buffer[k] != pattern(s->received + (uint64_t)k, i))
                        fail("mismatch", i, s->received + (uint64_t)k);
                }
                if (n > 0)
                    s->received += (uint64_t)n;
                if (pingpong && n > 0 && s->received == s->sent) {
                    latencies[latency_count++] = now_ns() - s->round_start_ns;
                    s->rounds_done++;
                }
            }
            if (s->received == per_stream) {
                close(s->fd);
                s->closed = true;
                finished++;
            }
        }
    }
    double seconds = (double)(now_ns() - start) / 1e9;
    if (pingpong) {
        qsort(latencies, latency_count, sizeof *latencies, compare_u64);
        uint64_t p50 = latencies[latency_count / 2];
        uint64_t p99 = latencies[(latency_count * 99) / 100];
        printf("pingpong connections=%u rounds=%u size=%u round_trips=%zu seconds=%.3f "
               "round_trips_per_s=%.0f p50_us=%.1f p99_us=%.1f\n",
               count, options->rounds, options->size, latency_count, seconds,
               (double)latency_count / seconds, (double)p50 / 1e3, (double)p99 / 1e3);
    } else {
        double megabytes = (double)per_stream * count / 1e6;
        printf("bulk connections=%u bytes_each=%llu seconds=%.3f MB_per_s=%.1f\n", count,
               (unsigned long long)per_stream, seconds, megabytes / seconds);
    }
    free(streams);
    free(polls);
    free(latencies);
    free(buffer);
    free(outgoing);
    return 0;
}

int main(int argc, char **argv)
{
    struct options options = {.host = "127.0.0.1",
                              .mode = "bulk",
                              .connections = 8,
                              .bytes = 64u << 20,
                              .rounds = 1000,
                              .size = 64};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *flag = argv[i], *value = argv[i + 1];
        if (strcmp(flag, "--host") == 0)
            options.host = value;
        else if (strcmp(flag, "--port") == 0)
            options.port = (unsigned)strtoul(value, NULL, 10);
        else if (strcmp(flag, "--mode") == 0)
            options.mode = value;
        else if (strcmp(flag, "--connections") == 0)
            options.connections = (unsigned)strtoul(value, NULL, 10);
        else if (strcmp(flag, "--bytes") == 0)
            options.bytes = strtoull(value, NULL, 10);
        else if (strcmp(flag, "--rounds") == 0)
            options.rounds = (unsigned)strtoul(value, NULL, 10);
        else if (strcmp(flag, "--size") == 0)
            options.size = (unsigned)strtoul(value, NULL, 10);
        else {
            fprintf(stderr, "echo_bench: unknown option %s\n", flag);
            return 2;
        }
    }
    bool pingpong = strcmp(options.mode, "pingpong") == 0;
    if (options.port == 0 || options.connections == 0 || options.size == 0 ||
        options.size > (1 << 16) || (!pingpong && strcmp(options.mode, "bulk") != 0)) {
        fprintf(stderr, "usage: echo_bench --port P [--host A] --mode bulk|pingpong "
                        "[--connections N] [--bytes B] [--rounds R] [--size S<=65536]\n");
        return 2;
    }
    return run(&options, pingpong);
}
