#include "runtime_fixture.h"

struct nd_runtime *nd_test_runtime;

int nd_test_runtime_setup(void **state)
{
    (void)state;
    struct nd_runtime_config config = {.slow_workers = 2};
    return nd_runtime_start(&config, &nd_test_runtime, NULL) == ND_OK ? 0 : -1;
}

int nd_test_runtime_teardown(void **state)
{
    (void)state;
    return nd_runtime_stop(nd_test_runtime, 2000) ? 0 : -1;
}
