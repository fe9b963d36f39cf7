/*
 * The reference pod for the fleet's CPU per interval: the work one netdiag
 * pod does in an interval, written as lean as it gets, so that netdiag's
 * figure can be set beside the best a real implementation could do under the
 * same conditions (the same number of processes on the same cores, the same
 * peers, the same interval). One thread, one epoll set, no HTTP library, no
 * libuv, no timers but one timerfd:
 *   - each interval: an A and an AAAA query for the peers' name; for every
 *     peer a new TCP connection, a GET /healthz, its answer read to the end
 *     and its status checked; a datagram to the peer's echo port and its
 *     echo, on a connected UDP socket kept from round to round;
 *   - all the while: the answers to the peers' GET /healthz (accept, read
 *     the request, write a netdiag-sized answer, close) and the echo of
 *     their datagrams (recvmmsg, sendmmsg).
 * What it leaves out: the DNS answer is matched by its id, not parsed into a
 * peer set (the peers are 127.0.1.1 to 127.0.1.PEERS); a probe still open
 * when the next interval starts is closed as timed out (one deadline a round,
 * not one a probe); no times are kept but the round's.
 *   fleet_reference ADDRESS HTTP_PORT ECHO_PORT DNS_PORT PEERS INTERVAL_MS STATUS_FILE
 * At each interval it writes "ROUNDS HEALTHY DNS_ANSWERS" at the start of
 * STATUS_FILE: the rounds begun, the last round's peers whose two probes
 * succeeded, and the DNS answers received so far.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum kind { LISTENER, ECHO, TICK, DNS, ANSWERING, PROBE_TCP, PROBE_UDP };

#define PEERS_MAX 254 /* 127.0.1.1 to 127.0.1.254 */
#define ANSWERING_MAX 1024
#define BATCH 32

static const char answer[] = "HTTP/1.1 200 OK\r\nDate: Sat, 28 Nov 2026 19:58:54 GMT\r\n"
                             "Connection: close\r\nContent-Type: application/json\r\n"
                             "Cache-Control: no-store\r\nNetdiag-Node: node-1\r\n"
                             "X-Request-Id: 0505fca4000000000001\r\n"
                             "Access-Control-Allow-Origin: *\r\n"
                             "Access-Control-Expose-Headers: X-Request-Id, Retry-After\r\n"
                             "Content-Length: 50\r\n\r\n"
                             "{\"status\":\"ok\",\"version\":\"0.1.0\",\"node\":\"node-1\"}\n";
static const char datagram[] = "netdiag fleet";

struct peer {
    struct sockaddr_in http, echo;
    int tcp, udp;
    size_t answered; /* bytes of the /healthz answer read */
    char head[16];   /* its first bytes, for the status */
    bool tcp_ok, udp_ok;
};

struct answering {
    int fd;
    size_t used;
    char request[1024];
};

static int epoll_set;
static struct peer peers[PEERS_MAX];
static struct answering answering[ANSWERING_MAX];
static int peer_count;
static char request[256];
static size_t request_length;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static uint64_t key(enum kind kind, uint32_t index)
{
    return (uint64_t)kind << 32 | index;
}

static void watch(int op, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event event = {.events = events, .data.u64 = data};
    if (epoll_ctl(epoll_set, op, fd, &event) != 0)
        die("fleet_reference: epoll_ctl");
}

static int bound(int type, const struct sockaddr_in *address)
{
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(fd, (const struct sockaddr *)address, sizeof *address) != 0 ||
        (type == SOCK_STREAM && listen(fd, 4096) != 0))
        die("fleet_reference: listen");
    return fd;
}

/* --- Answering the peers ---------------------------------------------------- */

static void answer_when_asked(uint32_t slot)
{
    struct answering *connection = &answering[slot];
    for (;;) {
        ssize_t count = read(connection->fd, connection->request + connection->used,
                             sizeof connection->request - 1 - connection->used);
        if (count < 0 && errno == EAGAIN)
            return;
        if (count <= 0)
            break;
        connection->used += (size_t)count;
        connection->request[connection->used] = '\0';
        if (strstr(connection->request, "\r\n\r\n")) {
            if (write(connection->fd, answer, sizeof answer - 1) < 0)
                perror("fleet_reference: write");
            break;
        }
        if (connection->used == sizeof connection->request - 1)
            break;
    }
    close(connection->fd);
    connection->fd = -1;
}

static void accept_all(int listener)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        uint32_t slot = 0;
        while (slot < ANSWERING_MAX && answering[slot].fd >= 0)
            slot++;
        if (slot == ANSWERING_MAX) {
            close(fd);
            continue;
        }
        answering[slot] = (struct answering){.fd = fd};
        /* The request is often there already: read it before waiting. */
        watch(EPOLL_CTL_ADD, fd, EPOLLIN, key(ANSWERING, slot));
        answer_when_asked(slot);
    }
}

static void echo_all(int fd)
{
    static char buffers[BATCH][512];
    static struct sockaddr_in from[BATCH];
    static struct iovec vectors[BATCH];
    static struct mmsghdr messages[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            vectors[i] = (struct iovec){.iov_base = buffers[i], .iov_len = sizeof buffers[i]};
            messages[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &from[i],
                                                       .msg_namelen = sizeof from[i],
                                                       .msg_iov = &vectors[i],
                                                       .msg_iovlen = 1}};
        }
        int count = recvmmsg(fd, messages, BATCH, MSG_DONTWAIT, NULL);
        if (count <= 0)
            return;
        for (int i = 0; i < count; i++)
            vectors[i].iov_len = messages[i].msg_len;
        if (sendmmsg(fd, messages, (unsigned)count, MSG_DONTWAIT) < 0)
            perror("fleet_reference: sendmmsg");
        if (count < BATCH)
            return;
    }
}

/* --- Probing ----------------------------------------------------------------- */

static void end_tcp(struct peer *peer, bool ok)
{
    close(peer->tcp);
    peer->tcp = -1;
    peer->tcp_ok = ok;
}

static void start_round(void)
{
    for (int i = 0; i < peer_count; i++) {
        struct peer *peer = &peers[i];
        if (peer->tcp >= 0)
            end_tcp(peer, false); /* timed out */
        peer->tcp_ok = peer->udp_ok = false;
        peer->answered = 0;
        peer->tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (peer->tcp < 0)
            die("fleet_reference: socket");
        if (connect(peer->tcp, (struct sockaddr *)&peer->http, sizeof peer->http) != 0 &&
            errno != EINPROGRESS) {
            end_tcp(peer, false);
        } else {
            watch(EPOLL_CTL_ADD, peer->tcp, EPOLLOUT, key(PROBE_TCP, (uint32_t)i));
        }
        if (send(peer->udp, datagram, sizeof datagram - 1, 0) < 0)
            perror("fleet_reference: send");
    }
}

static void on_probe_tcp(struct peer *peer, uint32_t events, uint32_t index)
{
    if (events & EPOLLOUT) {
        int error = 0;
        socklen_t length = sizeof error;
        if (getsockopt(peer->tcp, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0 ||
            write(peer->tcp, request, request_length) != (ssize_t)request_length) {
            end_tcp(peer, false);
            return;
        }
        watch(EPOLL_CTL_MOD, peer->tcp, EPOLLIN, key(PROBE_TCP, index));
        return;
    }
    char buffer[4096];
    for (;;) {
        ssize_t count = read(peer->tcp, buffer, sizeof buffer);
        if (count < 0 && errno == EAGAIN)
            return;
        if (count <= 0) {
            end_tcp(peer, count == 0 && peer->answered >= 12 &&
                              (memcmp(peer->head, "HTTP/1.1 200", 12) == 0 ||
                               memcmp(peer->head, "HTTP/1.0 200", 12) == 0));
            return;
        }
        if (peer->answered < sizeof peer->head) {
            size_t room = sizeof peer->head - peer->answered;
            memcpy(peer->head + peer->answered, buffer,
                   (size_t)count < room ? (size_t)count : room);
        }
        peer->answered += (size_t)count;
    }
}

static void on_probe_udp(struct peer *peer)
{
    char buffer[512];
    ssize_t count;
    while ((count = recv(peer->udp, buffer, sizeof buffer, MSG_DONTWAIT)) >= 0)
        if ((size_t)count == sizeof datagram - 1 && memcmp(buffer, datagram, (size_t)count) == 0)
            peer->udp_ok = true;
}

/* --- DNS --------------------------------------------------------------------- */

static uint16_t query_ids[2];

static void ask_dns(int fd)
{
    static const uint8_t question[] = "\x0dnetdiag-peers\x05"
                                      "bench\x04test";
    for (int i = 0; i < 2; i++) {
        uint8_t wire[64] = {0};
        if (getrandom(&query_ids[i], sizeof query_ids[i], 0) != (ssize_t)sizeof query_ids[i])
            die("fleet_reference: getrandom");
        wire[0] = (uint8_t)(query_ids[i] >> 8);
        wire[1] = (uint8_t)query_ids[i];
        wire[2] = 0x01;                               /* RD */
        wire[5] = 1;                                  /* QDCOUNT */
        memcpy(wire + 12, question, sizeof question); /* with its root label */
        size_t at = 12 + sizeof question;
        wire[at + 1] = i == 0 ? 1 : 28; /* A, AAAA */
        wire[at + 3] = 1;               /* IN */
        if (send(fd, wire, at + 4, 0) < 0)
            perror("fleet_reference: dns send");
    }
}

static unsigned dns_answers;

static void on_dns(int fd)
{
    uint8_t buffer[4096];
    ssize_t count;
    while ((count = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT)) >= 12) {
        uint16_t id = (uint16_t)(buffer[0] << 8 | buffer[1]);
        if ((id == query_ids[0] || id == query_ids[1]) && (buffer[3] & 0x0f) == 0)
            dns_answers++;
    }
}

/* --- Main -------------------------------------------------------------------- */

static void report(int status_file, unsigned long rounds)
{
    unsigned healthy = 0;
    for (int i = 0; i < peer_count; i++)
        healthy += peers[i].tcp_ok && peers[i].udp_ok;
    char line[64];
    int length = snprintf(line, sizeof line, "%20lu %6u %10u\n", rounds, healthy, dns_answers);
    if (pwrite(status_file, line, (size_t)length, 0) != length)
        die("fleet_reference: status");
}

static struct sockaddr_in address_of(const char *text, long port)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, text, &address.sin_addr) != 1 || port <= 0 || port > 65535) {
        fprintf(stderr, "fleet_reference: %s:%ld is not an IPv4 address and port\n", text, port);
        exit(2);
    }
    return address;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: fleet_reference ADDRESS HTTP_PORT ECHO_PORT DNS_PORT PEERS "
                        "INTERVAL_MS STATUS_FILE\n");
        return 2;
    }
    long http_port = strtol(argv[2], NULL, 10), echo_port = strtol(argv[3], NULL, 10);
    struct sockaddr_in http = address_of(argv[1], http_port);
    struct sockaddr_in echo = address_of(argv[1], echo_port);
    struct sockaddr_in dns = address_of("127.0.1.1", strtol(argv[4], NULL, 10));
    peer_count = (int)strtol(argv[5], NULL, 10);
    long interval_ms = strtol(argv[6], NULL, 10);
    if (peer_count <= 0 || peer_count > PEERS_MAX || interval_ms <= 0)
        return 2;
    int status_file = open(argv[7], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (status_file < 0)
        die("fleet_reference: status file");

    if ((epoll_set = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("fleet_reference: epoll_create1");
    for (int i = 0; i < ANSWERING_MAX; i++)
        answering[i].fd = -1;
    int listener = bound(SOCK_STREAM, &http);
    int echo_socket = bound(SOCK_DGRAM, &echo);
    watch(EPOLL_CTL_ADD, listener, EPOLLIN, key(LISTENER, 0));
    watch(EPOLL_CTL_ADD, echo_socket, EPOLLIN, key(ECHO, 0));

    int dns_socket = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (dns_socket < 0 || connect(dns_socket, (struct sockaddr *)&dns, sizeof dns) != 0)
        die("fleet_reference: dns socket");
    watch(EPOLL_CTL_ADD, dns_socket, EPOLLIN, key(DNS, 0));

    for (int i = 0; i < peer_count; i++) {
        peers[i].http = http;
        peers[i].http.sin_addr.s_addr = htonl(0x7f000100u | (uint32_t)(i + 1)); /* 127.0.1.i+1 */
        peers[i].echo = peers[i].http;
        peers[i].echo.sin_port = echo.sin_port;
        peers[i].tcp = -1;
        peers[i].udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (peers[i].udp < 0 ||
            connect(peers[i].udp, (struct sockaddr *)&peers[i].echo, sizeof peers[i].echo) != 0)
            die("fleet_reference: udp socket");
        watch(EPOLL_CTL_ADD, peers[i].udp, EPOLLIN, key(PROBE_UDP, (uint32_t)i));
    }
    /* Every peer is asked the same bytes (netdiag's, but for the Host). */
    request_length = (size_t)snprintf(request, sizeof request,
                                      "GET /healthz HTTP/1.0\r\nHost: 127.0.1.1:%ld\r\n"
                                      "User-Agent: netdiag/0.1.0 (fleet)\r\n"
                                      "Connection: close\r\n\r\n",
                                      http_port);

    int tick = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec every = {
        .it_interval = {.tv_sec = interval_ms / 1000, .tv_nsec = interval_ms % 1000 * 1000000},
        .it_value = {.tv_nsec = 1},
    };
    if (tick < 0 || timerfd_settime(tick, 0, &every, NULL) != 0)
        die("fleet_reference: timerfd");
    watch(EPOLL_CTL_ADD, tick, EPOLLIN, key(TICK, 0));

    unsigned long rounds = 0;
    struct epoll_event events[256];
    for (;;) {
        int count = epoll_wait(epoll_set, events, 256, -1);
        if (count < 0 && errno != EINTR)
            die("fleet_reference: epoll_wait");
        for (int i = 0; i < count; i++) {
            uint32_t index = (uint32_t)events[i].data.u64;
            switch ((enum kind)(events[i].data.u64 >> 32)) {
            case LISTENER:
                accept_all(listener);
                break;
            case ECHO:
                echo_all(echo_socket);
                break;
            case ANSWERING:
                if (answering[index].fd >= 0)
                    answer_when_asked(index);
                break;
            case PROBE_TCP:
                if (peers[index].tcp >= 0)
                    on_probe_tcp(&peers[index], events[i].events, index);
                break;
            case PROBE_UDP:
                on_probe_udp(&peers[index]);
                break;
            case DNS:
                on_dns(dns_socket);
                break;
            case TICK: {
                uint64_t expired;
                if (read(tick, &expired, sizeof expired) != (ssize_t)sizeof expired)
                    break;
                if (rounds)
                    report(status_file, rounds);
                rounds++;
                ask_dns(dns_socket);
                start_round();
                break;
            }
            }
        }
    }
}
