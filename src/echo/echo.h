/*
 * The TCP echo listener (recipes 13/14) on the runtime's loop. Every byte a
 * client sends comes back in order; a client that does not read is not read
 * from either (bounded buffer per connection).
 */
#ifndef NETDIAG_ECHO_ECHO_H
#define NETDIAG_ECHO_ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netdiag/error.h"

struct nd_runtime;

struct nd_echo_config {
    int listen_fd; /* bound, listening, non-blocking; nd_echo_start takes it, failing or not */
    unsigned max_connections; /* beyond it, new connections are closed at once and counted */
    unsigned idle_timeout_s;  /* a connection with no traffic either way for this long is closed */
    size_t buffer_size;       /* per-connection buffer; reading pauses while it is full */
};

struct nd_echo_stats {
    uint64_t connections_open;
    uint64_t connections_total;   /* accepted and served */
    uint64_t connections_refused; /* closed at once because of max_connections */
    uint64_t bytes_in;
    uint64_t bytes_out;
};

struct nd_echo;

/* Starts listening on the runtime's loop. On success *out is owned by the
 * caller and released with nd_echo_stop, before the runtime stops. */
enum nd_err nd_echo_start(struct nd_runtime *runtime, const struct nd_echo_config *config,
                          struct nd_echo **out, struct nd_error *error);

/* True while the listening socket accepts. */
bool nd_echo_accepting(const struct nd_echo *echo);

/* A consistent-enough snapshot (each counter read atomically). */
void nd_echo_get_stats(const struct nd_echo *echo, struct nd_echo_stats *stats);

/* Stops accepting, closes every connection and frees; NULL is allowed. */
void nd_echo_stop(struct nd_echo *echo);

#endif
