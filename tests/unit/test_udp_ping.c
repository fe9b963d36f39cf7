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
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe/udp_ping.h"
#include "runtime/runtime.h"
#include "support/runtime_fixture.h"
#include "support/udp_server.h"

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
    assert_true(nd_runtime_call(nd_test_runtime, start_pings, run));
}

static void finish(struct run *run)
{
    run->closed = false;
    assert_true(nd_runtime_call(nd_test_runtime, close_ping, run));
    assert_true(run->closed);
}

/* --- the cases ------------------------------------------------------------------- */

static void check_echoes(int family)
{
    struct nd_test_udp_server server;
    if (!nd_test_udp_server_start(&server, family, ND_TEST_UDP_ECHO)) {
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
    nd_test_udp_server_stop(&server);
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
    struct nd_test_udp_server server;
    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_SILENT);
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
    struct nd_test_udp_server server;
    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_SILENT);
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
    nd_test_udp_server_stop(&server);
}

/* The first ping gives up at 100 ms; its echo comes at 200 ms, while the
 * second waits, and must not end it: the second's own echo comes 200 ms
 * after the server got to it, at about 400 ms. */
static void test_late_echo_is_not_the_next_pings(void **state)
{
    (void)state;
    struct nd_test_udp_server server;
    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_LATE);
    struct run run = {.peer = (const struct sockaddr *)&server.address};
    run.count = 2;
    run.timeouts_ms[0] = 100;
    run.timeouts_ms[1] = 3000;
    assert_true(nd_runtime_call(nd_test_runtime, start_pings, &run));
    assert_int_equal(run.results[0].outcome, ND_UDP_NO_REPLY);
    assert_true(run.results[1].ok);
    assert_true(run.results[1].rtt_us >= 250000);
    finish(&run);
    nd_test_udp_server_stop(&server);
}

static void test_cancel(void **state)
{
    (void)state;
    struct nd_test_udp_server server;
    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_SILENT);
    struct run run = {.peer = (const struct sockaddr *)&server.address, .cancel_at_once = true};
    pings(&run, 1, 3000);
    assert_int_equal(run.done_calls, 1);
    assert_int_equal(run.results[0].outcome, ND_UDP_CANCELLED);
    /* The ping takes the next one after a cancel. */
    run.cancel_at_once = false;
    pings(&run, 1, 50);
    assert_int_equal(run.results[0].outcome, ND_UDP_NO_REPLY);
    finish(&run);
    nd_test_udp_server_stop(&server);
}

/* Closing with a ping in flight: its done first, then closed. */
static void test_close_in_flight(void **state)
{
    (void)state;
    struct nd_test_udp_server server;
    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_SILENT);
    struct run run = {.peer = (const struct sockaddr *)&server.address, .close_at_once = true};
    pings(&run, 1, 3000);
    assert_true(run.closed);
    assert_int_equal(run.done_calls_when_closed, 1);
    assert_int_equal(run.results[0].outcome, ND_UDP_CANCELLED);
    nd_test_udp_server_stop(&server);
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
    return cmocka_run_group_tests(tests, nd_test_runtime_setup, nd_test_runtime_teardown);
}
