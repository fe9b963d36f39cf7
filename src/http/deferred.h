/*
 * Slow requests (name lookups, UDP and TCP exchanges) without holding an
 * HTTP thread: libmicrohttpd's suspend and resume around work that runs on
 * the runtime's loop. A handler submits its request: the connection is
 * suspended, the work starts on the loop thread under a deadline timer, and
 * when the work completes (or the deadline passes first) the connection is
 * resumed and an HTTP thread renders the outcome. Requests in progress are
 * bounded; past the bound the answer is 503.
 */
#ifndef NETDIAG_HTTP_DEFERRED_H
#define NETDIAG_HTTP_DEFERRED_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "netdiag/error.h"

struct nd_request;
struct nd_runtime;
struct nd_deferred_job;

/* How a slow request ended, as its render sees it. */
enum nd_deferred_outcome {
    ND_DEFERRED_DONE,      /* the work completed before the deadline */
    ND_DEFERRED_TIMED_OUT, /* the deadline passed first */
    ND_DEFERRED_STOPPED,   /* the server is stopping and cut it short */
};

struct nd_deferred_config {
    unsigned max_waiting; /* slow requests in progress at most; more get 503 */
};

/* What a slow request does. state belongs to the handler; release frees it
 * once both the request and the loop are done with it, on whichever thread
 * lets go last. */
struct nd_deferred_ops {
    /* On the loop thread: starts the work on loop. When it is over,
     * nd_deferred_complete(job) is called exactly once, by start itself or
     * by a later callback, after every handle the work opened is closed. */
    void (*start)(struct nd_deferred_job *job, void *state, uv_loop_t *loop);
    /* On the loop thread, when the deadline passes (or the server stops)
     * before the work completed: cut it short (close its handles, uv_cancel
     * a lookup that has not started). From its return on, the work writes
     * nothing render reads: a callback still due (a lookup in the pool)
     * must see that it was cancelled. nd_deferred_complete is still due. */
    void (*cancel)(void *state);
    /* On an HTTP thread after the resume: answers the request. */
    void (*render)(struct nd_request *request, void *state, enum nd_deferred_outcome outcome);
    void (*release)(void *state);
};

struct nd_deferred_stats {
    uint64_t waiting;  /* in progress now */
    uint64_t queued;   /* handed to the loop, not started yet */
    uint64_t rejected; /* refused with 503 because max_waiting was reached */
    uint64_t expired;  /* answered by their deadline */
    uint64_t completed;
};

struct nd_deferred;

enum nd_err nd_deferred_start(const struct nd_deferred_config *config, struct nd_runtime *runtime,
                              struct nd_deferred **out, struct nd_error *error);

/* Expires everything in progress, resuming those requests (libmicrohttpd
 * cannot stop with suspended connections), and refuses what comes later. */
void nd_deferred_stop(struct nd_deferred *engine);

/* After the HTTP server has stopped: the engine goes once its last job's
 * work is over on the loop. */
void nd_deferred_free(struct nd_deferred *engine);

void nd_deferred_get_stats(const struct nd_deferred *engine, struct nd_deferred_stats *stats);

/* Called by a handler: suspends the request and hands the work to the loop,
 * or answers 503 (and releases state) when the bound is reached. The
 * deadline is timeout_ms after the work starts. */
void nd_deferred_submit(struct nd_deferred *engine, struct nd_request *request,
                        const struct nd_deferred_ops *ops, void *state, unsigned timeout_ms);

/* Called on the loop thread when the work is over (see start). */
void nd_deferred_complete(struct nd_deferred_job *job);

/* Called by the server when a suspended request is resumed: renders it. */
void nd_deferred_render(struct nd_request *request);

/* Called by the server when a request ends, answered or not: the request
 * lets go of its job. */
void nd_deferred_request_ended(struct nd_request *request);

#endif
