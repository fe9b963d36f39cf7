/*
 * One runtime for a whole cmocka group, for the unit tests of what runs on
 * its loop (probes, listeners, timers):
 *   cmocka_run_group_tests(tests, nd_test_runtime_setup, nd_test_runtime_teardown)
 * Two slow workers, so that two name lookups can run at once.
 */
#ifndef NETDIAG_TESTS_RUNTIME_FIXTURE_H
#define NETDIAG_TESTS_RUNTIME_FIXTURE_H

#include "runtime/runtime.h"

extern struct nd_runtime *nd_test_runtime;

int nd_test_runtime_setup(void **state);
int nd_test_runtime_teardown(void **state);

#endif
