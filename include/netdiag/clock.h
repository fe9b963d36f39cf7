/*
 * The one clock that timeouts and durations are measured on. CLOCK_MONOTONIC
 * does not jump when NTP steps the wall clock, so a deadline computed in one
 * module and checked in another (the request deadline is rearmed by the
 * server with a time it read) agree only if both read it the same way.
 */
#ifndef NETDIAG_CLOCK_H
#define NETDIAG_CLOCK_H

#include <stdint.h>

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t nd_clock_monotonic_ns(void);

#endif
