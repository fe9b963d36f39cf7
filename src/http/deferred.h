/*
 * Slow work that must never hold an HTTP thread: name resolution and UDP
 * queries. A handler defers its request: the connection is suspended
 * (libmicrohttpd's suspend/resume), a bounded worker pool runs the blocking
 * part, one reactor thread waits on UDP sockets and deadlines, and the
 * connection is resumed to render the outcome. Both the pool and the number
 * of waiting requests are bounded; past the bound the answer is 503.
 */
#ifndef NETDIAG_HTTP_DEFERRED_H
#define NETDIAG_HTTP_DEFERRED_H

#include <stdbool.h>
#include <stdint.h>

#include "netdiag/error.h"

struct nd_request;

struct nd_deferred_config {
    unsigned workers;     /* threads for blocking calls such as getaddrinfo */
    unsigned max_waiting; /* deferred requests in progress at most; more get 503 */
};

/* What a deferred request does. state belongs to the handler and lives until
 * release, which runs exactly once, after render (or without it when the
 * request was abandoned) and after the engine is done with it. */
struct nd_deferred_ops {
    /* On a worker thread; may block. Returns a file descriptor to wait on for
     * reading (the reactor then calls readable), or -1 when the work is done. */
    int (*work)(void *state);
    /* On the reactor thread when the descriptor is readable; must not block.
     * Returns true when done, false to keep waiting (e.g. a stray datagram). */
    bool (*readable)(void *state);
    /* On an HTTP thread after resume: answers the request. expired is true
     * when the deadline passed first; the state's result is then not to be used. */
    void (*render)(struct nd_request *request, void *state, bool expired);
    /* Frees state (closing its descriptor, if any). Any thread. */
    void (*release)(void *state);
};

struct nd_deferred_stats {
    uint64_t waiting;  /* in progress now */
    uint64_t queued;   /* waiting for a worker */
    uint64_t rejected; /* refused with 503 because max_waiting was reached */
    uint64_t expired;  /* answered by their deadline */
    uint64_t completed;
};

struct nd_deferred;

enum nd_err nd_deferred_start(const struct nd_deferred_config *config, struct nd_deferred **out,
                              struct nd_error *error);

/* Expires everything still waiting (resuming those requests) and stops the
 * threads. The HTTP server then closes its connections, which lets go of the
 * jobs, and frees the engine with nd_deferred_free. */
void nd_deferred_stop(struct nd_deferred *engine);

void nd_deferred_free(struct nd_deferred *engine);

void nd_deferred_get_stats(struct nd_deferred *engine, struct nd_deferred_stats *stats);

/* Called by a handler: suspends the request and starts the work, or answers
 * 503 (and releases state) when the bound is reached. The deadline is
 * timeout_ms from now. */
void nd_deferred_submit(struct nd_deferred *engine, struct nd_request *request,
                        const struct nd_deferred_ops *ops, void *state, unsigned timeout_ms);

/* Called by the server when a deferred request is resumed: renders it. */
void nd_deferred_finish(struct nd_request *request);

/* Called by the server when a request ends, answered or not. */
void nd_deferred_abandon(struct nd_request *request);

#endif
