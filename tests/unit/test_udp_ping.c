/* src/probe/udp_ping.c on a runtime, against small UDP servers on
 * 127.0.0.1 (and ::1 when the host has it): an echo, a closed port, a silent
 * one, one whose echoes come late; the socket kept from ping to ping, a
 * late echo not taken for the next ping's, cancel, and close with a ping in
 * flight. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe/udp_ping.h"
#include "runtime/runtime.h"

static struct nd_runtime *runtime;

static int start_runtime(void **state)
{
    (void)state;
    struct nd_runtime_config config = {.slow_workers = 1};
    return nd_runtime_start(&config, &runtime, NULL) == ND_OK ? 0 : -1;
}

static int stop_runtime(void **state)
{
    (void)state;
    return nd_runtime_stop(runtime, 2000) ? 0 : -1;
}

/* --- servers ---------------------------------------------------------------- */

enum behaviour { SERVE_ECHO, SERVE_NOTHING, SERVE_LATE };

enum { SOURCES_MAX = 8 };

struct server {
    int fd;
    int family;
    struct sockaddr_storage address; /* where it listens */
    enum behaviour behaviour;
    pthread_t thread;
    int stop_pipe[2];
    /* The source port of each datagram, read after the server stops. */
    uint16_t sources[SOURCES_MAX];
    unsigned received;
};

static void sleep_ms(long milliseconds)
{
    struct timespec pause = {.tv_sec = milliseconds / 1000,
                             .tv_nsec = (milliseconds % 1000) * 1000000};
    nanosleep(&pause, NULL);
}

static uint16_t port_of(const struct sockaddr_storage *address)
{
    return ntohs(address->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)address)->sin6_port
                                                : ((const struct sockaddr_in *)address)->sin_port);
}

static void *serve(void *argument)
{
    struct server *server = argument;
    char buffer[512];
    for (;;) {
        struct pollfd entries[2] = {{.fd = server->fd, .events = POLLIN},
                                    {.fd = server->stop_pipe[0], .events = POLLIN}};
        if (poll(entries, 2, 5000) <= 0 || entries[1].revents)
            return NULL;
        struct sockaddr_storage peer;
        socklen_t length = sizeof peer;
        ssize_t n =
            recvfrom(server->fd, buffer, sizeof buffer, 0, (struct sockaddr *)&peer, &length);
        if (n < 0)
            return NULL;
        if (server->received < SOURCES_MAX)
            server->sources[server->received] = port_of(&peer);
        server->received++;
        /* Late: each echo 200 ms after its datagram came, one at a time, so
         * the first ping's echo reaches the second ping. */
        if (server->behaviour == SERVE_LATE)
            sleep_ms(200);
        sendto(server->fd, buffer, (size_t)n, 0, (struct sockaddr *)&peer, length);
    }
}

/* False when the host has no such family (no ::1). */
static bool start_server(struct server *server, int family, enum behaviour behaviour)
{
    memset(server, 0, sizeof *server);
    server->behaviour = behaviour;
    server->family = family;
    server->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (server->fd < 0 && family == AF_INET6)
        return false;
    assert_true(server->fd >= 0);
    socklen_t length;
    if (family == AF_INET6) {
        struct sockaddr_in6 *address = (struct sockaddr_in6 *)&server->address;
        address->sin6_family = AF_INET6;
        address->sin6_addr = in6addr_loopback;
        length = sizeof *address;
    } else {
        struct sockaddr_in *address = (struct sockaddr_in *)&server->address;
        address->sin_family = AF_INET;
        address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof *address;
    }
    if (bind(server->fd, (struct sockaddr *)&server->address, length) != 0) {
        assert_int_equal(family, AF_INET6);
        close(server->fd);
        return false;
    }
    assert_int_equal(getsockname(server->fd, (struct sockaddr *)&server->address, &length), 0);
    /* A silent server is a bound socket nobody reads: no ICMP comes back. */
    if (behaviour == SERVE_NOTHING)
        return true;
    assert_int_equal(pipe(server->stop_pipe), 0);
    assert_int_equal(pthread_create(&server->thread, NULL, serve, server), 0);
    return true;
}

static void stop_server(struct server *server)
{
    if (server->behaviour != SERVE_NOTHING) {
        assert_int_equal(write(server->stop_pipe[1], "x", 1), 1);
        pthread_join(server->thread, NULL);
        close(server->stop_pipe[0]);
        close(server->stop_pipe[1]);
    }
    close(server->fd);
}

/* --- pings on the loop --------------------------------------------------------- */

enum { PINGS_MAX = 4 };

struct run {
    const struct sockaddr *peer;
    struct nd_udp_ping *ping; /* kept from one call to the next */
    unsigned timeouts_ms[PINGS_MAX];
    unsigned count; /* pings, each started when the one before is done */
    struct nd_udp_ping_result results[PINGS_MAX];
    unsigned done_calls;
    bool cancel_at_once, close_at_once;
    bool second_send_refused; /* a send while one is in flight returned false */
    bool closed;
    unsigned done_calls_when_closed;
    struct nd_runtime_done *signal;
};

static void on_ping_done(void *context);

static void send_next(struct run *run)
{
    unsigned index = run->done_calls;
    assert_true(nd_udp_ping_send(run->ping, run->timeouts_ms[index], &run->results[index],
                                 on_ping_done, run));
    run->second_send_refused =
        !nd_udp_ping_send(run->ping, 100, &run->results[PINGS_MAX - 1], on_ping_done, run);
}

static void on_ping_done(void *context)
{
    struct run *run = context;
    run->done_calls++;
    if (run->close_at_once)
        return; /* the close's callback signals */
    if (run->done_calls < run->count)
        send_next(run);
    else
        nd_runtime_signal(run->signal);
}

static void on_closed(void *context)
{
    struct run *run = context;
    run->closed = true;
    run->done_calls_when_closed = run->done_calls;
    nd_runtime_signal(run->signal);
}

static void start_pings(void *argument, uv_loop_t *loop, struct nd_runtime_done *signal)
{
    struct run *run = argument;
    run->signal = signal;
    run->done_calls = 0;
    if (!run->ping)
        run->ping = nd_udp_ping_open(loop, run->peer);
    assert_non_null(run->ping);
    send_next(run);
    if (run->cancel_at_once)
        nd_udp_ping_cancel(run->ping);
    if (run->close_at_once) {
        nd_udp_ping_close(run->ping, on_closed, run);
        run->ping = NULL;
    }
}

static void close_ping(void *argument, uv_loop_t *loop, struct nd_runtime_done *signal)
{
    struct run *run = argument;
    (void)loop;
    run->signal = signal;
    nd_udp_ping_close(run->ping, on_closed, run);
    run->ping = NULL;
}

static void pings(struct run *run, unsigned count, unsigned timeout_ms)
{
    run->count = count;
    for (unsigned i = 0; i < count; i++)
        run->timeouts_ms[i] = timeout_ms;
    assert_true(nd_runtime_call(runtime, start_pings, run));
}

static void finish(struct run *run)
{
    run->closed = false;
    assert_true(nd_runtime_call(runtime, close_ping, run));
    assert_true(run->closed);
}

/* --- the cases ------------------------------------------------------------------- */

static void check_echoes(int family)
{
    struct server server;
    if (!start_server(&server, family, SERVE_ECHO)) {
        skip();
        return;
    }
    struct run run = {.peer = (const struct sockaddr *)&server.address};
    pings(&run, 3, 3000);
    assert_int_equal(run.done_calls, 3);
    assert_true(run.second_send_refused);
    for (unsigned i = 0; i < 3; i++) {
        assert_true(run.results[i].ok);
        assert_int_equal(run.results[i].outcome, ND_UDP_REPLIED);
        assert_int_equal(run.results[i].sent, 1);
        assert_int_equal(run.results[i].answered, 1);
        assert_true(run.results[i].rtt_us < 3000000);
    }
    /* A later round, the same socket. */
    pings(&run, 1, 3000);
    assert_true(run.results[0].ok);
    finish(&run);
    stop_server(&server);
    assert_int_equal(server.received, 4);
    for (unsigned i = 1; i < 4; i++)
        assert_int_equal(server.sources[i], server.sources[0]);
}

static void test_echo(void **state)
{
    (void)state;
    check_echoes(AF_INET);
}

static void test_echo_ipv6(void **state)
{
    (void)state;
    check_echoes(AF_INET6);
}

static void test_closed_port_is_refused(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, AF_INET, SERVE_NOTHING);
    close(server.fd); /* nothing bound now: the kernel answers ICMP port unreachable */
    struct run run = {.peer = (const struct sockaddr *)&server.address};
    pings(&run, 2, 3000);
    for (unsigned i = 0; i < 2; i++) {
        const struct nd_udp_ping_result *result = &run.results[i];
        assert_false(result->ok);
        assert_int_equal(result->outcome, ND_UDP_REFUSED);
        assert_int_equal(result->failed_phase, ND_UDP_EXCHANGE);
        assert_int_equal(result->error.os_error, ECONNREFUSED);
        assert_non_null(strstr(result->error.message, "port unreachable"));
        assert_int_equal(result->answered, 0);
    }
    finish(&run);
}

static void test_silence_is_no_reply(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, AF_INET, SERVE_NOTHING);
    struct run run = {.peer = (const struct sockaddr *)&server.address};
    uint64_t started = uv_hrtime();
    pings(&run, 1, 100);
    uint64_t took_ms = (uv_hrtime() - started) / 1000000;
    const struct nd_udp_ping_result *result = &run.results[0];
    assert_false(result->ok);
    assert_int_equal(result->outcome, ND_UDP_NO_REPLY);
    assert_int_equal(result->error.code, ND_ERR_TIMEOUT);
    assert_int_equal(result->sent, 1);
    assert_int_equal(result->answered, 0);
    assert_true(took_ms >= 90 && took_ms < 2000);
    finish(&run);
    stop_server(&server);
}

/* The first ping gives up at 100 ms; its echo comes at 200 ms, while the
 * second waits, and must not end it: the second's own echo comes 200 ms
 * after the server got to it, at about 400 ms. */
static void test_late_echo_is_not_the_next_pings(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, AF_INET, SERVE_LATE);
    struct run run = {.peer = (const struct sockaddr *)&server.address};
    run.count = 2;
    run.timeouts_ms[0] = 100;
    run.timeouts_ms[1] = 3000;
    assert_true(nd_runtime_call(runtime, start_pings, &run));
    assert_int_equal(run.results[0].outcome, ND_UDP_NO_REPLY);
    assert_true(run.results[1].ok);
    assert_true(run.results[1].rtt_us >= 250000);
    finish(&run);
    stop_server(&server);
}

static void test_cancel(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, AF_INET, SERVE_NOTHING);
    struct run run = {.peer = (const struct sockaddr *)&server.address, .cancel_at_once = true};
    pings(&run, 1, 3000);
    assert_int_equal(run.done_calls, 1);
    assert_int_equal(run.results[0].outcome, ND_UDP_CANCELLED);
    /* The ping takes the next one after a cancel. */
    run.cancel_at_once = false;
    pings(&run, 1, 50);
    assert_int_equal(run.results[0].outcome, ND_UDP_NO_REPLY);
    finish(&run);
    stop_server(&server);
}

/* Closing with a ping in flight: its done first, then closed. */
static void test_close_in_flight(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, AF_INET, SERVE_NOTHING);
    struct run run = {.peer = (const struct sockaddr *)&server.address, .close_at_once = true};
    pings(&run, 1, 3000);
    assert_true(run.closed);
    assert_int_equal(run.done_calls_when_closed, 1);
    assert_int_equal(run.results[0].outcome, ND_UDP_CANCELLED);
    stop_server(&server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_echo_ipv6),
        cmocka_unit_test(test_closed_port_is_refused),
        cmocka_unit_test(test_silence_is_no_reply),
        cmocka_unit_test(test_late_echo_is_not_the_next_pings),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_close_in_flight),
    };
    return cmocka_run_group_tests(tests, start_runtime, stop_runtime);
}
