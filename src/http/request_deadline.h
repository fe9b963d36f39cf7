/*
 * The deadline for a request to arrive whole. libmicrohttpd's connection
 * timeout only counts silence, so a client that sends one header byte a
 * second would hold its connection for ever (slowloris). Here the clock
 * runs from the moment a connection opens, or its previous response ends,
 * until the next request's headers are complete; a connection still waiting
 * when it runs out is shut down, which makes libmicrohttpd close it.
 */
#ifndef NETDIAG_HTTP_REQUEST_DEADLINE_H
#define NETDIAG_HTTP_REQUEST_DEADLINE_H

#include <stdint.h>

#include "netdiag/error.h"

struct nd_request_deadline;
struct nd_deadline_watch;
struct nd_runtime;

/* Enforces timeout_ms (> 0) with a timer on the runtime's loop. */
enum nd_err nd_request_deadline_start(struct nd_runtime *runtime, uint64_t timeout_ms,
                                      struct nd_request_deadline **out, struct nd_error *error);

/* Watches the socket fd of a new connection, its clock started. NULL when
 * out of memory: that connection is then not watched. */
struct nd_deadline_watch *nd_request_deadline_watch(struct nd_request_deadline *deadline, int fd);

/* The request's headers are in: the clock stops while it is served. */
void nd_request_deadline_arrived(struct nd_deadline_watch *watch);

/* The response is over at now_ns (nd_clock_monotonic_ns): the next request's clock starts. */
void nd_request_deadline_rearm(struct nd_deadline_watch *watch, uint64_t now_ns);

/* The connection is closing; must come before its socket is closed, so that
 * the descriptor is never shut down after it has been reused. Frees watch. */
void nd_request_deadline_forget(struct nd_request_deadline *deadline,
                                struct nd_deadline_watch *watch);

/* Connections shut down so far for running out of time. */
uint64_t nd_request_deadline_expired(const struct nd_request_deadline *deadline);

/* Stops the timer and frees what is left; NULL is allowed. */
void nd_request_deadline_stop(struct nd_request_deadline *deadline);

#endif
