#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/request_deadline.h"
#include "netdiag/clock.h"
#include "runtime/runtime.h"
#include "support/runtime_fixture.h"

/* Long enough that a loaded CI machine does not stall a test past it. */
enum { TIMEOUT_MS = 250 };

struct pair {
    int watched; /* the server's end */
    int peer;    /* the client's end */
};

static void open_pair(struct pair *pair)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    pair->watched = fds[0];
    pair->peer = fds[1];
}

static void close_pair(struct pair *pair)
{
    close(pair->watched);
    close(pair->peer);
}

/* True when the peer sees end of stream within wait_ms. */
static bool peer_sees_end(const struct pair *pair, int wait_ms)
{
    struct pollfd entry = {.fd = pair->peer, .events = POLLIN};
    if (poll(&entry, 1, wait_ms) != 1)
        return false;
    char byte;
    return recv(pair->peer, &byte, 1, MSG_DONTWAIT) == 0;
}

/* One watched connection, its clock started, under a running deadline. */
struct fixture {
    struct nd_request_deadline *deadline;
    struct pair pair;
    struct nd_deadline_watch *watch; /* NULL once a test has forgotten it */
};

static int start_watching(void **state)
{
    struct fixture *fixture = calloc(1, sizeof *fixture);
    assert_non_null(fixture);
    struct nd_error error;
    assert_int_equal(
        nd_request_deadline_start(nd_test_runtime, TIMEOUT_MS, &fixture->deadline, &error), ND_OK);
    open_pair(&fixture->pair);
    fixture->watch = nd_request_deadline_watch(fixture->deadline, fixture->pair.watched);
    assert_non_null(fixture->watch);
    *state = fixture;
    return 0;
}

static int stop_watching(void **state)
{
    struct fixture *fixture = *state;
    nd_request_deadline_forget(fixture->deadline, fixture->watch);
    close_pair(&fixture->pair);
    nd_request_deadline_stop(fixture->deadline);
    free(fixture);
    return 0;
}

static void test_waiting_connection_is_shut_down(void **state)
{
    struct fixture *fixture = *state;
    assert_false(peer_sees_end(&fixture->pair, TIMEOUT_MS / 2));
    assert_true(peer_sees_end(&fixture->pair, 10 * TIMEOUT_MS));
    assert_int_equal(nd_request_deadline_expired(fixture->deadline), 1);
    /* Once only, however long it stays registered. */
    usleep(3 * TIMEOUT_MS * 1000);
    assert_int_equal(nd_request_deadline_expired(fixture->deadline), 1);
}

static void test_request_in_progress_is_not_cut(void **state)
{
    struct fixture *fixture = *state;
    nd_request_deadline_arrived(fixture->watch);
    assert_false(peer_sees_end(&fixture->pair, 4 * TIMEOUT_MS));
    /* The response ends: the next request has TIMEOUT_MS from now. */
    nd_request_deadline_rearm(fixture->watch, nd_clock_monotonic_ns());
    assert_false(peer_sees_end(&fixture->pair, TIMEOUT_MS / 2));
    assert_true(peer_sees_end(&fixture->pair, 10 * TIMEOUT_MS));
}

/* A connection rearmed after the sweep read the clock holds a time later
 * than the sweep's: that must read as just started, not as long overdue. */
static void test_rearmed_after_the_sweep_read_the_clock(void **state)
{
    struct fixture *fixture = *state;
    nd_request_deadline_rearm(fixture->watch,
                              nd_clock_monotonic_ns() + 10u * TIMEOUT_MS * 1000000u);
    assert_false(peer_sees_end(&fixture->pair, 4 * TIMEOUT_MS));
    assert_int_equal(nd_request_deadline_expired(fixture->deadline), 0);
}

static void test_forgotten_connection_is_left_alone(void **state)
{
    struct fixture *fixture = *state;
    nd_request_deadline_forget(fixture->deadline, fixture->watch);
    fixture->watch = NULL;
    assert_false(peer_sees_end(&fixture->pair, 4 * TIMEOUT_MS));
    assert_int_equal(nd_request_deadline_expired(fixture->deadline), 0);
}

/* Many connections, watched and forgotten in any order, and the ones still
 * watched at stop freed by it (LeakSanitizer checks). */
static void test_many_connections(void **state)
{
    (void)state;
    enum { COUNT = 64 };
    struct nd_request_deadline *deadline;
    struct nd_error error;
    assert_int_equal(nd_request_deadline_start(nd_test_runtime, TIMEOUT_MS, &deadline, &error),
                     ND_OK);
    struct pair pairs[COUNT];
    struct nd_deadline_watch *watches[COUNT];
    for (int i = 0; i < COUNT; i++) {
        open_pair(&pairs[i]);
        watches[i] = nd_request_deadline_watch(deadline, pairs[i].watched);
        if (i % 2)
            nd_request_deadline_arrived(watches[i]);
    }
    for (int i = 0; i < COUNT; i += 4)
        nd_request_deadline_forget(deadline, watches[i]);
    for (int i = 0; i < COUNT; i++)
        assert_int_equal(peer_sees_end(&pairs[i], i % 4 == 2 ? 10 * TIMEOUT_MS : 0), i % 4 == 2);
    assert_int_equal(nd_request_deadline_expired(deadline), COUNT / 4);
    nd_request_deadline_stop(deadline);
    for (int i = 0; i < COUNT; i++)
        close_pair(&pairs[i]);
}

/* The sweep stops while no connection is watched and starts again with
 * the next one, which is cut on time all the same. */
static void test_sweep_starts_again_after_a_quiet_spell(void **state)
{
    (void)state;
    struct nd_request_deadline *deadline;
    struct nd_error error;
    assert_int_equal(nd_request_deadline_start(nd_test_runtime, TIMEOUT_MS, &deadline, &error),
                     ND_OK);
    struct pair first, second;
    open_pair(&first);
    nd_request_deadline_forget(deadline, nd_request_deadline_watch(deadline, first.watched));
    usleep(2 * TIMEOUT_MS * 1000); /* several periods with nothing to watch */
    open_pair(&second);
    struct nd_deadline_watch *watch = nd_request_deadline_watch(deadline, second.watched);
    assert_false(peer_sees_end(&second, TIMEOUT_MS / 2));
    assert_true(peer_sees_end(&second, 10 * TIMEOUT_MS));
    assert_int_equal(nd_request_deadline_expired(deadline), 1);
    assert_false(peer_sees_end(&first, 0));
    nd_request_deadline_forget(deadline, watch);
    nd_request_deadline_stop(deadline);
    close_pair(&first);
    close_pair(&second);
}

static void test_null_is_allowed(void **state)
{
    (void)state;
    nd_request_deadline_arrived(NULL);
    nd_request_deadline_rearm(NULL, 1);
    nd_request_deadline_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_waiting_connection_is_shut_down, start_watching,
                                        stop_watching),
        cmocka_unit_test_setup_teardown(test_request_in_progress_is_not_cut, start_watching,
                                        stop_watching),
        cmocka_unit_test_setup_teardown(test_rearmed_after_the_sweep_read_the_clock, start_watching,
                                        stop_watching),
        cmocka_unit_test_setup_teardown(test_forgotten_connection_is_left_alone, start_watching,
                                        stop_watching),
        cmocka_unit_test(test_many_connections),
        cmocka_unit_test(test_sweep_starts_again_after_a_quiet_spell),
        cmocka_unit_test(test_null_is_allowed),
    };
    return cmocka_run_group_tests(tests, nd_test_runtime_setup, nd_test_runtime_teardown);
}
