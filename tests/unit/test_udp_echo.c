/* src/echo/udp_echo.c in-process: every size from empty to the largest
 * IPv4 payload back unchanged, IPv6, the token bucket per source, the loop
 * guard, the kernel's drops counted, and stop. In a network namespace of its
 * own when it may make one (root): there a wildcard socket is safe to bind,
 * and the tests check that a reply leaves from the address the datagram was
 * sent to and that a broadcast one gets none. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "echo/udp_echo.h"
#include "netdiag/net.h"
#include "runtime/runtime.h"
#include "support/runtime_fixture.h"

static bool private_network; /* a network namespace of our own, lo up */

/* A network namespace of our own with its loopback up; false (nothing
 * changed) without the privilege. */
static bool enter_private_network(void)
{
    if (unshare(CLONE_NEWNET) != 0)
        return false;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strcpy(request.ifr_name, "lo");
    bool up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &request) == 0;
    request.ifr_flags |= IFF_UP;
    up = up && ioctl(fd, SIOCSIFFLAGS, &request) == 0;
    if (fd >= 0)
        close(fd);
    return up;
}

struct fixture {
    struct nd_udp_echo *echo;
    uint16_t port;
};

static struct fixture start_on(const char *host, uint32_t rate, uint32_t burst)
{
    struct nd_net_endpoint endpoint = {.port = 0};
    snprintf(endpoint.host, sizeof endpoint.host, "%s", host);
    struct sockaddr_storage bound;
    socklen_t length;
    int fd;
    struct nd_error error;
    assert_int_equal(nd_net_bind_udp(&endpoint, &fd, &bound, &length, &error), ND_OK);
    struct nd_udp_echo_config config = {.fd = fd, .rate = rate, .burst = burst};
    struct fixture fixture = {.port = ntohs(bound.ss_family == AF_INET6
                                                ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port)};
    assert_int_equal(nd_udp_echo_start(nd_test_runtime, &config, &fixture.echo, &error), ND_OK);
    assert_true(nd_udp_echo_receiving(fixture.echo));
    return fixture;
}

static struct fixture start(uint32_t rate, uint32_t burst)
{
    return start_on("127.0.0.1", rate, burst);
}

static void fill_address(struct sockaddr_storage *address, socklen_t *length, const char *host,
                         uint16_t port)
{
    *length = nd_net_address_from_literal(host, port, address);
    assert_int_not_equal(*length, 0);
}

/* A client socket bound to from:from_port, connected to to:port (so that
 * the kernel drops a reply from any other address). */
static int client(const char *from, uint16_t from_port, const char *to, uint16_t port)
{
    struct sockaddr_storage address;
    socklen_t length;
    fill_address(&address, &length, from, from_port);
    int fd = socket(address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int size = 4 << 20;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, length), 0);
    fill_address(&address, &length, to, port);
    assert_int_equal(connect(fd, (struct sockaddr *)&address, length), 0);
    return fd;
}

/* A datagram within timeout_ms: its length, or -1. */
static ssize_t receive(int fd, void *buffer, size_t size, int timeout_ms)
{
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    if (poll(&entry, 1, timeout_ms) != 1)
        return -1;
    return recv(fd, buffer, size, MSG_DONTWAIT);
}

static uint32_t next_random(uint32_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    return *seed;
}

/* Waits up to 2 s until the echo has read at least in datagrams and
 * written at least out: the counters are published after the replies go. */
static void settle(const struct nd_udp_echo *echo, uint64_t in, uint64_t out,
                   struct nd_udp_echo_stats *stats)
{
    for (int waited = 0;; waited += 5) {
        nd_udp_echo_get_stats(echo, stats);
        if ((stats->datagrams_in >= in && stats->datagrams_out >= out) || waited >= 2000)
            return;
        usleep(5000);
    }
}

static void test_every_size_back_unchanged(void **state)
{
    (void)state;
    struct fixture fixture = start(1000000, 1000);
    int fd = client("127.0.0.1", 0, "127.0.0.1", fixture.port);
    static const size_t sizes[] = {0, 1, 2, 63, 512, 1472, 1473, 8192, 65000, 65507};
    static unsigned char sent[65507], back[65536];
    uint32_t seed = 0x2545f491u;
    uint64_t bytes = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            sent[j] = (unsigned char)next_random(&seed);
        assert_int_equal(send(fd, sent, sizes[i], 0), (ssize_t)sizes[i]);
        ssize_t got = receive(fd, back, sizeof back, 2000);
        if (got != (ssize_t)sizes[i])
            fail_msg("%zu bytes sent, %zd came back", sizes[i], got);
        assert_memory_equal(back, sent, sizes[i]);
        bytes += sizes[i];
    }
    /* One byte more than IPv4 allows is refused by the sender's kernel. */
    static unsigned char too_large[65508];
    assert_int_equal(send(fd, too_large, sizeof too_large, 0), -1);
    assert_int_equal(errno, EMSGSIZE);

    struct nd_udp_echo_stats stats;
    settle(fixture.echo, 10, 10, &stats);
    assert_int_equal(stats.datagrams_in, 10);
    assert_int_equal(stats.datagrams_out, 10);
    assert_int_equal(stats.bytes_in, bytes);
    assert_int_equal(stats.bytes_out, bytes);
    for (unsigned i = 0; i < ND_UDP_ECHO_DROP_COUNT; i++)
        assert_int_equal(stats.dropped[i], 0);
    close(fd);
    nd_udp_echo_stop(fixture.echo);
}

static void test_ipv6(void **state)
{
    (void)state;
    int probe = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 loopback = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool has_ipv6 = probe >= 0 && bind(probe, (struct sockaddr *)&loopback, sizeof loopback) == 0;
    if (probe >= 0)
        close(probe);
    if (!has_ipv6)
        skip();
    struct fixture fixture = start_on("::1", 1000000, 1000);
    int fd = client("::1", 0, "::1", fixture.port);
    static unsigned char sent[65527], back[65536];
    memset(sent, 0xa5, sizeof sent);
    /* The largest IPv6 payload without jumbograms. */
    assert_int_equal(send(fd, sent, sizeof sent, 0), (ssize_t)sizeof sent);
    assert_int_equal(receive(fd, back, sizeof back, 2000), (ssize_t)sizeof sent);
    assert_memory_equal(back, sent, sizeof sent);
    close(fd);
    nd_udp_echo_stop(fixture.echo);
}

/* A burst over the bucket: burst datagrams come back, the rest are dropped
 * and counted; another source has a bucket of its own; the bucket refills
 * at the rate. */
static void test_rate_limit_per_source(void **state)
{
    (void)state;
    enum { RATE = 10, BURST = 5, SENT = 40 };
    struct fixture fixture = start(RATE, BURST);
    int first = client("127.0.0.1", 0, "127.0.0.1", fixture.port);
    int second = client("127.0.0.2", 0, "127.0.0.1", fixture.port);
    char buffer[64];
    struct timespec began, ended;
    clock_gettime(CLOCK_MONOTONIC, &began);
    for (int i = 0; i < SENT; i++)
        assert_int_equal(send(first, "burst", 5, 0), 5);
    clock_gettime(CLOCK_MONOTONIC, &ended);
    int echoed = 0;
    while (receive(first, buffer, sizeof buffer, 200) == 5)
        echoed++;
    /* The bucket holds BURST; sending took a few ms, in which a token
     * might have come back (one per 100 ms). */
    double seconds = (double)(ended.tv_sec - began.tv_sec) + (ended.tv_nsec - began.tv_nsec) / 1e9;
    assert_true(echoed >= BURST && echoed <= BURST + 1 + (int)(seconds * RATE));
    struct nd_udp_echo_stats stats;
    settle(fixture.echo, SENT, (uint64_t)echoed, &stats);
    assert_int_equal(stats.datagrams_in, SENT);
    assert_int_equal(stats.datagrams_out, (uint64_t)echoed);
    assert_int_equal(stats.dropped[ND_UDP_ECHO_RATE_LIMITED], (uint64_t)(SENT - echoed));

    /* Another address, another bucket. */
    assert_int_equal(send(second, "other", 5, 0), 5);
    assert_int_equal(receive(second, buffer, sizeof buffer, 2000), 5);
    assert_memory_equal(buffer, "other", 5);

    /* BURST / RATE seconds later the bucket is full again, and no fuller. */
    usleep(600 * 1000);
    for (int i = 0; i < 2 * BURST; i++)
        assert_int_equal(send(first, "again", 5, 0), 5);
    int refilled = 0;
    while (receive(first, buffer, sizeof buffer, 200) == 5)
        refilled++;
    assert_true(refilled >= BURST && refilled <= BURST + 1);
    close(first);
    close(second);
    nd_udp_echo_stop(fixture.echo);
}

/* Nothing goes back to another echo on our port, nor to the ports of
 * services that answer everything (two echoes would bounce one datagram
 * between them for ever). */
static void test_loop_guard(void **state)
{
    (void)state;
    struct fixture fixture = start(1000000, 1000);
    int fd = client("127.0.0.2", fixture.port, "127.0.0.1", fixture.port);
    assert_int_equal(send(fd, "loop", 4, 0), 4);
    struct nd_udp_echo_stats stats;
    settle(fixture.echo, 1, 0, &stats);
    char buffer[16];
    assert_int_equal(receive(fd, buffer, sizeof buffer, 200), -1);
    assert_int_equal(stats.dropped[ND_UDP_ECHO_LOOP_GUARD], 1);
    close(fd);

    /* Port 19 (chargen) needs privilege to bind; without it, the case is
     * covered by the one above. */
    struct sockaddr_storage address;
    socklen_t length;
    fill_address(&address, &length, "127.0.0.3", 19);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (bind(fd, (struct sockaddr *)&address, length) == 0) {
        fill_address(&address, &length, "127.0.0.1", fixture.port);
        assert_int_equal(sendto(fd, "x", 1, 0, (struct sockaddr *)&address, length), 1);
        settle(fixture.echo, 2, 0, &stats);
        assert_int_equal(stats.dropped[ND_UDP_ECHO_LOOP_GUARD], 2);
    }
    close(fd);
    nd_udp_echo_stop(fixture.echo);
}

/* The reply leaves from the address the datagram was sent to: a client
 * connected to 127.0.0.2 gets it, though the echo's socket is bound to
 * every address and 127.0.0.1 is the loopback's own. */
static void test_reply_from_the_address_asked(void **state)
{
    (void)state;
    if (!private_network)
        skip(); /* binding every address is only safe in a namespace of our own */
    struct fixture fixture = start_on("0.0.0.0", 1000000, 1000);
    static const char *const targets[] = {"127.0.0.1", "127.0.0.2", "127.1.2.3"};
    for (size_t i = 0; i < 3; i++) {
        int fd = client("127.0.0.1", 0, targets[i], fixture.port);
        assert_int_equal(send(fd, targets[i], strlen(targets[i]), 0), (ssize_t)strlen(targets[i]));
        char buffer[32];
        if (receive(fd, buffer, sizeof buffer, 2000) != (ssize_t)strlen(targets[i]))
            fail_msg("no reply from %s", targets[i]);
        close(fd);
    }
    nd_udp_echo_stop(fixture.echo);

    /* The same through a dual-stack IPv6 socket taking IPv4. */
    fixture = start_on("*", 1000000, 1000);
    int fd = client("127.0.0.1", 0, "127.0.0.2", fixture.port);
    assert_int_equal(send(fd, "dual", 4, 0), 4);
    char buffer[8];
    assert_int_equal(receive(fd, buffer, sizeof buffer, 2000), 4);
    close(fd);
    nd_udp_echo_stop(fixture.echo);
}

/* A datagram to a broadcast address gets no reply: every host that heard
 * it would answer one spoofed datagram (the "fraggle" reflector). */
static void test_broadcast_gets_no_reply(void **state)
{
    (void)state;
    if (!private_network)
        skip();
    struct fixture fixture = start_on("0.0.0.0", 1000000, 1000);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int on = 1;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on), 0);
    struct sockaddr_storage address;
    socklen_t length;
    fill_address(&address, &length, "127.255.255.255", fixture.port);
    assert_int_equal(sendto(fd, "all", 3, 0, (struct sockaddr *)&address, length), 3);
    struct nd_udp_echo_stats stats;
    settle(fixture.echo, 1, 0, &stats);
    char buffer[8];
    assert_int_equal(receive(fd, buffer, sizeof buffer, 200), -1);
    assert_int_equal(stats.dropped[ND_UDP_ECHO_NOT_UNICAST], 1);
    assert_int_equal(stats.datagrams_out, 0);
    close(fd);
    nd_udp_echo_stop(fixture.echo);
}

/* --- the kernel's drops ------------------------------------------------------ */

struct stall {
    struct nd_runtime_task task;
    unsigned milliseconds;
};

static void stall_loop(struct nd_runtime_task *task, uv_loop_t *loop)
{
    (void)loop;
    usleep(((struct stall *)task)->milliseconds * 1000u);
}

/* A datagram within timeout_ms, noting the client socket's own drop count
 * (SO_RXQ_OVFL): its length, or -1. */
static ssize_t receive_counting(int fd, void *buffer, size_t size, int timeout_ms,
                                uint32_t *dropped)
{
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    if (poll(&entry, 1, timeout_ms) != 1)
        return -1;
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(uint32_t))];
    } control;
    struct iovec data = {.iov_base = buffer, .iov_len = size};
    struct msghdr header = {.msg_iov = &data,
                            .msg_iovlen = 1,
                            .msg_control = &control,
                            .msg_controllen = sizeof control};
    ssize_t length = recvmsg(fd, &header, MSG_DONTWAIT);
    for (struct cmsghdr *item = CMSG_FIRSTHDR(&header); length >= 0 && item;
         item = CMSG_NXTHDR(&header, item)) {
        if (item->cmsg_level == SOL_SOCKET && item->cmsg_type == SO_RXQ_OVFL)
            memcpy(dropped, CMSG_DATA(item), sizeof *dropped);
    }
    return length;
}

/* While the loop is held up, a flood fills the socket's receive queue and
 * the kernel drops the rest: those are counted (SO_RXQ_OVFL) once a later
 * datagram is read, so that every datagram sent is accounted for: echoed,
 * or counted as dropped. The client counts what its own queue drops of the
 * replies the same way. */
static void test_kernel_drops_are_counted(void **state)
{
    (void)state;
    enum { FLOOD = 20000 };
    struct fixture fixture = start(1000000000, 1000000);
    int fd = client("127.0.0.1", 0, "127.0.0.1", fixture.port);
    int on = 1;
    struct nd_udp_echo_stats stats;
    nd_udp_echo_get_stats(fixture.echo, &stats);
    if (!stats.kernel_drops_counted) {
        /* qemu-user has no SO_RXQ_OVFL: nothing to count them with. */
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on), -1);
        close(fd);
        nd_udp_echo_stop(fixture.echo);
        skip();
    }
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on), 0);
    struct stall stall = {.task = {.run = stall_loop}, .milliseconds = 300};
    assert_true(nd_runtime_post(nd_test_runtime, &stall.task));
    usleep(20 * 1000);
    char payload[512];
    memset(payload, 'f', sizeof payload);
    for (int i = 0; i < FLOOD; i++)
        assert_int_equal(send(fd, payload, sizeof payload, 0), (ssize_t)sizeof payload);
    /* Read the replies until the loop has caught up; then one more
     * datagram carries the count of the drops after the last one read. */
    uint64_t replies = 0;
    uint32_t client_drops = 0;
    char buffer[sizeof payload];
    for (int quiet = 0; quiet < 3;) {
        if (receive_counting(fd, buffer, sizeof buffer, 100, &client_drops) > 0) {
            replies++;
            quiet = 0;
        } else {
            quiet++;
        }
    }
    assert_int_equal(send(fd, "last", 4, 0), 4);
    while (receive_counting(fd, buffer, sizeof buffer, 300, &client_drops) > 0)
        replies++;
    nd_udp_echo_get_stats(fixture.echo, &stats);
    uint64_t dropped = stats.dropped[ND_UDP_ECHO_QUEUE_FULL];
    /* The queue cannot hold 20,000 datagrams: the kernel dropped some. */
    assert_true(dropped > 0);
    assert_int_equal(stats.datagrams_in + dropped, FLOOD + 1);
    assert_int_equal(stats.datagrams_out, stats.datagrams_in);
    assert_int_equal(replies + client_drops, stats.datagrams_out);
    close(fd);
    nd_udp_echo_stop(fixture.echo);
}

static void test_stop_closes_the_socket(void **state)
{
    (void)state;
    struct fixture fixture = start(1000, 100);
    int fd = client("127.0.0.1", 0, "127.0.0.1", fixture.port);
    nd_udp_echo_stop(fixture.echo);
    /* The port is closed: the kernel answers with ICMP port unreachable,
     * which a connected socket reports as ECONNREFUSED. */
    assert_int_equal(send(fd, "x", 1, 0), 1);
    char byte;
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&entry, 1, 2000), 1);
    assert_int_equal(recv(fd, &byte, 1, MSG_DONTWAIT), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(fd);
}

static void test_bad_configuration(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct nd_udp_echo_config config = {.fd = fd, .rate = 0, .burst = 1};
    struct nd_udp_echo *echo;
    struct nd_error error;
    assert_int_equal(nd_udp_echo_start(nd_test_runtime, &config, &echo, &error), ND_ERR_INVALID);
    /* The socket is taken even when the start is refused. */
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
    assert_string_equal(nd_udp_echo_drop_name(ND_UDP_ECHO_RATE_LIMITED), "rate_limited");
    assert_string_equal(nd_udp_echo_drop_name(ND_UDP_ECHO_QUEUE_FULL), "queue_full");
    nd_udp_echo_stop(NULL);
}

int main(void)
{
    private_network = enter_private_network();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_size_back_unchanged),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_rate_limit_per_source),
        cmocka_unit_test(test_loop_guard),
        cmocka_unit_test(test_reply_from_the_address_asked),
        cmocka_unit_test(test_broadcast_gets_no_reply),
        cmocka_unit_test(test_kernel_drops_are_counted),
        cmocka_unit_test(test_stop_closes_the_socket),
        cmocka_unit_test(test_bad_configuration),
    };
    return cmocka_run_group_tests(tests, nd_test_runtime_setup, nd_test_runtime_teardown);
}
