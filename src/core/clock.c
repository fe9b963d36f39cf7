#include "netdiag/clock.h"

#include <stdlib.h>
#include <time.h>

uint64_t nd_clock_monotonic_ns(void)
{
    struct timespec now;
    /* Linux always has CLOCK_MONOTONIC, and the pointer is valid: a failure
     * means a broken runtime, where every timeout would silently be wrong. */
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        abort();
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}
