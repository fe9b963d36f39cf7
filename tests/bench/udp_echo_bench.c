/*
 * UDP echo benchmark: datagrams per second through a UDP echo server, every
 * reply checked.
 *
 *   udp_echo_bench --port P [--sockets 4] [--window 32] [--size 64] [--seconds 4]
 *
 * Each of --sockets connected sockets keeps --window datagrams of --size
 * bytes in flight, sending one more for each reply (recvmmsg and sendmmsg,
 * so that the client is not the bottleneck). A datagram carries its
 * socket, its sequence number and a pattern derived from them; a reply that
 * is not exactly a datagram that socket sent fails the run. A window that
 * hears nothing for 20 ms is taken as lost (the server, or the kernel in
 * front of it, dropped it, or it was late) and sent again. Prints
 *   datagrams_per_s=N lost=N
 * Exits 1 on a bad reply.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { SOCKETS_MAX = 64, WINDOW_MAX = 256, SIZE_MAX_BYTES = 65507, HEADER = 12, STALL_MS = 20 };

struct flow {
    int fd;
    uint32_t id;
    uint64_t next_sequence;
    unsigned outstanding;
    uint64_t last_reply_ns;
};

static uint64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static unsigned char pattern(uint32_t id, uint64_t sequence, size_t offset)
{
    return (unsigned char)(sequence * 131u + id * 31u + offset * 7u + (offset >> 8));
}

static void fill(unsigned char *buffer, size_t size, uint32_t id, uint64_t sequence)
{
    memcpy(buffer, &id, 4);
    memcpy(buffer + 4, &sequence, 8);
    for (size_t i = HEADER; i < size; i++)
        buffer[i] = pattern(id, sequence, i);
}

static bool valid(const unsigned char *buffer, size_t length, size_t size, const struct flow *flow)
{
    uint32_t id;
    uint64_t sequence;
    if (length != size)
        return false;
    memcpy(&id, buffer, 4);
    memcpy(&sequence, buffer + 4, 8);
    if (id != flow->id || sequence >= flow->next_sequence)
        return false;
    for (size_t i = HEADER; i < size; i++) {
        if (buffer[i] != pattern(id, sequence, i))
            return false;
    }
    return true;
}

/* Sends count new datagrams on flow in one sendmmsg (or a few). */
static void send_more(struct flow *flow, unsigned count, size_t size, unsigned char (*slots)[65536])
{
    struct mmsghdr messages[WINDOW_MAX];
    struct iovec data[WINDOW_MAX];
    for (unsigned i = 0; i < count; i++) {
        fill(slots[i], size, flow->id, flow->next_sequence + i);
        data[i] = (struct iovec){.iov_base = slots[i], .iov_len = size};
        messages[i].msg_hdr = (struct msghdr){.msg_iov = &data[i], .msg_iovlen = 1};
    }
    unsigned sent = 0;
    while (sent < count) {
        int n = sendmmsg(flow->fd, messages + sent, count - sent, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("udp_echo_bench: sendmmsg");
            exit(1);
        }
        sent += (unsigned)n;
    }
    flow->next_sequence += count;
    flow->outstanding += count;
}

int main(int argc, char **argv)
{
    unsigned port = 0, sockets = 4, window = 32, seconds = 4;
    size_t size = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--sockets") == 0)
            sockets = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--window") == 0)
            window = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--size") == 0)
            size = (size_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = (unsigned)atoi(argv[i + 1]);
    }
    if (port == 0 || sockets == 0 || sockets > SOCKETS_MAX || window == 0 || window > WINDOW_MAX ||
        size < HEADER || size > SIZE_MAX_BYTES || seconds == 0) {
        fprintf(stderr, "usage: udp_echo_bench --port P [--sockets 1-64] [--window 1-256] "
                        "[--size 12-65507] [--seconds N]\n");
        return 2;
    }
    static unsigned char slots[WINDOW_MAX][65536];
    struct flow flows[SOCKETS_MAX];
    struct pollfd polls[SOCKETS_MAX];
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (unsigned i = 0; i < sockets; i++) {
        flows[i] = (struct flow){.id = i + 1};
        flows[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int buffer = 1 << 20;
        if (flows[i].fd < 0 ||
            setsockopt(flows[i].fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer) != 0 ||
            connect(flows[i].fd, (struct sockaddr *)&server, sizeof server) != 0) {
            perror("udp_echo_bench: socket");
            return 1;
        }
        polls[i] = (struct pollfd){.fd = flows[i].fd, .events = POLLIN};
    }
    uint64_t start = now_ns(), end = start + (uint64_t)seconds * 1000000000u;
    uint64_t echoed = 0, lost = 0;
    for (unsigned i = 0; i < sockets; i++) {
        flows[i].last_reply_ns = start;
        send_more(&flows[i], window, size, slots);
    }
    struct mmsghdr messages[WINDOW_MAX];
    struct iovec data[WINDOW_MAX];
    for (uint64_t now = start; now < end; now = now_ns()) {
        if (poll(polls, sockets, STALL_MS) < 0 && errno != EINTR) {
            perror("udp_echo_bench: poll");
            return 1;
        }
        now = now_ns();
        for (unsigned i = 0; i < sockets; i++) {
            struct flow *flow = &flows[i];
            unsigned replies = 0;
            if (polls[i].revents & POLLIN) {
                for (unsigned j = 0; j < window; j++) {
                    data[j] = (struct iovec){.iov_base = slots[j], .iov_len = sizeof slots[j]};
                    messages[j].msg_hdr = (struct msghdr){.msg_iov = &data[j], .msg_iovlen = 1};
                }
                int n = recvmmsg(flow->fd, messages, window, MSG_DONTWAIT, NULL);
                for (int j = 0; j < n; j++) {
                    if (!valid(slots[j], messages[j].msg_len, size, flow)) {
                        fprintf(stderr, "udp_echo_bench: a bad reply on socket %u\n", flow->id);
                        return 1;
                    }
                }
                replies = n > 0 ? (unsigned)n : 0;
            }
            if (replies > 0) {
                echoed += replies;
                flow->outstanding -= replies < flow->outstanding ? replies : flow->outstanding;
                flow->last_reply_ns = now;
            } else if (now - flow->last_reply_ns > STALL_MS * 1000000u) {
                lost += flow->outstanding;
                flow->outstanding = 0;
                flow->last_reply_ns = now;
            }
            if (flow->outstanding < window)
                send_more(flow, window - flow->outstanding, size, slots);
        }
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    printf("datagrams_per_s=%.0f datagrams=%llu given_up=%llu\n", (double)echoed / elapsed,
           (unsigned long long)echoed, (unsigned long long)lost);
    return 0;
}
