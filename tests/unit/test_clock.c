/* src/core/clock.c: the monotonic clock every timeout is measured on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

#include "netdiag/clock.h"

static uint64_t read_monotonic_ns(void)
{
    struct timespec now;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &now), 0);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* It is CLOCK_MONOTONIC in nanoseconds: pthread_cond_timedwait deadlines
 * (request_deadline.c) are built from it on that clock. */
static void test_reads_clock_monotonic_in_nanoseconds(void **state)
{
    (void)state;
    uint64_t before = read_monotonic_ns();
    uint64_t reading = nd_clock_monotonic_ns();
    uint64_t after = read_monotonic_ns();
    assert_true(before <= reading);
    assert_true(reading <= after);
}

static void test_never_goes_back_and_advances(void **state)
{
    (void)state;
    uint64_t previous = nd_clock_monotonic_ns();
    for (int i = 0; i < 100000; i++) {
        uint64_t now = nd_clock_monotonic_ns();
        assert_true(now >= previous);
        previous = now;
    }
    uint64_t start = nd_clock_monotonic_ns();
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000000};
    assert_int_equal(nanosleep(&pause, NULL), 0);
    assert_true(nd_clock_monotonic_ns() - start >= 20u * 1000000u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_clock_monotonic_in_nanoseconds),
        cmocka_unit_test(test_never_goes_back_and_advances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
