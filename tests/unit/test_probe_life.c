/* src/probe/probe_life.c on a loop of the test's own: a probe made of two
 * timers, a UDP socket and a lookup is released once, and only after the
 * last of them has called back; a failed attempt's socket leads to the
 * next attempt, unless the probe finished meanwhile. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "probe/probe_life.h"

struct probe {
    struct nd_probe_life life; /* first, as the real probes have it */
    uv_timer_t deadline, pace;
    uv_udp_t socket;
    uv_getaddrinfo_t lookup;
    unsigned releases, next_attempts;
    /* What was still open when the release came. */
    unsigned handles_at_release;
    bool looking_up_at_release;
    bool lookup_went_on;
};

static void release(struct nd_probe_life *life)
{
    struct probe *probe = (struct probe *)life;
    probe->releases++;
    probe->handles_at_release = life->open_handles;
    probe->looking_up_at_release = life->looking_up;
}

static void next_attempt(struct nd_probe_life *life)
{
    ((struct probe *)life)->next_attempts++;
}

static uv_loop_t loop;

static int setup(void **state)
{
    (void)state;
    return uv_loop_init(&loop);
}

static int teardown(void **state)
{
    (void)state;
    return uv_loop_close(&loop);
}

static void begin(struct probe *probe)
{
    memset(probe, 0, sizeof *probe);
    nd_probe_life_begin(&probe->life, &loop, &probe->deadline, &probe->pace, release, next_attempt);
    assert_int_equal(probe->life.open_handles, 2);
    assert_ptr_equal(probe->deadline.data, probe);
    assert_ptr_equal(probe->pace.data, probe);
}

static void open_socket(struct probe *probe)
{
    assert_int_equal(uv_udp_init(&loop, &probe->socket), 0);
    nd_probe_life_hold_socket(&probe->life, (uv_handle_t *)&probe->socket);
    assert_true(probe->life.socket_open);
}

static void finish(struct probe *probe)
{
    nd_probe_life_finish(&probe->life, &probe->deadline, &probe->pace,
                         (uv_handle_t *)&probe->socket, &probe->lookup);
}

static void test_released_after_the_last_close(void **state)
{
    (void)state;
    struct probe probe;
    begin(&probe);
    open_socket(&probe);
    finish(&probe);
    assert_true(probe.life.finished);
    assert_false(probe.life.socket_open);
    assert_int_equal(probe.releases, 0); /* the closes call back later */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(probe.releases, 1);
    assert_int_equal(probe.handles_at_release, 0);
    assert_int_equal(probe.next_attempts, 0);
}

static void test_finish_without_a_socket(void **state)
{
    (void)state;
    struct probe probe;
    begin(&probe);
    finish(&probe); /* failed before any attempt: the socket was never opened */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(probe.releases, 1);
}

static void test_failed_attempt_leads_to_the_next(void **state)
{
    (void)state;
    struct probe probe;
    begin(&probe);
    open_socket(&probe);
    nd_probe_life_close_socket(&probe.life, (uv_handle_t *)&probe.socket, true);
    nd_probe_life_close_socket(&probe.life, (uv_handle_t *)&probe.socket, true); /* no-op */
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(probe.next_attempts, 1);
    assert_int_equal(probe.releases, 0);
    assert_int_equal(probe.life.open_handles, 2);
    finish(&probe);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(probe.releases, 1);
    assert_int_equal(probe.next_attempts, 1);
}

static void test_finished_while_an_attempt_closes(void **state)
{
    (void)state;
    struct probe probe;
    begin(&probe);
    open_socket(&probe);
    nd_probe_life_close_socket(&probe.life, (uv_handle_t *)&probe.socket, true);
    finish(&probe); /* the deadline, say, before the socket's close came back */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(probe.next_attempts, 0);
    assert_int_equal(probe.releases, 1);
    assert_int_equal(probe.handles_at_release, 0);
}

static void on_looked_up(uv_getaddrinfo_t *lookup, int status, struct addrinfo *list)
{
    struct probe *probe = lookup->data;
    (void)status;
    if (!nd_probe_life_lookup_returned(&probe->life, list))
        return;
    probe->lookup_went_on = true;
    uv_freeaddrinfo(list);
}

static void look_up(struct probe *probe)
{
    static const struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM};
    probe->lookup.data = probe;
    assert_int_equal(uv_getaddrinfo(&loop, &probe->lookup, on_looked_up, "127.0.0.1", NULL, &hints),
                     0);
    probe->life.looking_up = true;
}

static void test_release_waits_for_the_lookup(void **state)
{
    (void)state;
    struct probe probe;
    begin(&probe);
    /* A lookup already running on the pool cannot be cancelled: its request
     * is modelled by one libuv will not cancel (an unknown type), and its
     * callback by the call a callback makes, after everything else closed. */
    probe.life.looking_up = true;
    finish(&probe);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(probe.life.open_handles, 0);
    assert_int_equal(probe.releases, 0);
    assert_false(nd_probe_life_lookup_returned(&probe.life, NULL));
    assert_int_equal(probe.releases, 1);
    assert_false(probe.looking_up_at_release);
}

static void test_cancelled_lookup_releases_once(void **state)
{
    (void)state;
    struct probe probe;
    begin(&probe);
    look_up(&probe);
    finish(&probe); /* cancels it, or it comes back anyway: either way it is awaited */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(probe.releases, 1);
    assert_false(probe.looking_up_at_release);
    assert_false(probe.lookup_went_on);
}

static void test_lookup_returned_goes_on(void **state)
{
    (void)state;
    struct probe probe;
    begin(&probe);
    look_up(&probe);
    while (probe.life.looking_up)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(probe.lookup_went_on);
    assert_int_equal(probe.releases, 0);
    finish(&probe);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(probe.releases, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_released_after_the_last_close),
        cmocka_unit_test(test_finish_without_a_socket),
        cmocka_unit_test(test_failed_attempt_leads_to_the_next),
        cmocka_unit_test(test_finished_while_an_attempt_closes),
        cmocka_unit_test(test_release_waits_for_the_lookup),
        cmocka_unit_test(test_cancelled_lookup_releases_once),
        cmocka_unit_test(test_lookup_returned_goes_on),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
