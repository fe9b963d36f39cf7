/*
 * The runtime: one libuv loop, on one thread of its own, for everything in
 * netdiag that waits on a socket or a clock (the echo listener, slow
 * requests, deadlines, probes). libmicrohttpd keeps its own polling threads
 * for HTTP; they hand work to the loop through nd_runtime_post and never
 * touch a handle. Name lookups run on libuv's thread pool (uv_getaddrinfo),
 * so nothing on the loop thread blocks.
 */
#ifndef NETDIAG_RUNTIME_RUNTIME_H
#define NETDIAG_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "netdiag/error.h"

struct nd_runtime_config {
    /* libuv's thread pool, where getaddrinfo and getnameinfo wait. The pool
     * is one per process and sized when it is first used: the first runtime
     * started decides. */
    unsigned slow_workers;
};

struct nd_runtime;

/* Work for the loop thread, handed over from any thread. The memory is the
 * poster's: it must stay valid until run is called, and may be freed by run. */
struct nd_runtime_task {
    void (*run)(struct nd_runtime_task *task, uv_loop_t *loop);
    struct nd_runtime_task *next; /* the runtime's */
};

/* Starts the loop thread. On success *out is owned by the caller and given
 * back with nd_runtime_stop. */
enum nd_err nd_runtime_start(const struct nd_runtime_config *config, struct nd_runtime **out,
                             struct nd_error *error);

/* Queues task for the loop thread; tasks run in the order posted. One lock
 * and a uv_async_send, which coalesces wake-ups, so it is cheap enough for a
 * request's hot path. False once the runtime is stopping: run is then never
 * called, and the task is still the caller's. */
bool nd_runtime_post(struct nd_runtime *runtime, struct nd_runtime_task *task);

/* A module's start and stop: runs call on the loop thread and waits until
 * nd_runtime_signal(done) is called, by call itself or by a later callback
 * (a close callback, once the module's handles are gone). Never from the
 * loop thread. False, without calling, when the runtime is stopping. */
struct nd_runtime_done;
bool nd_runtime_call(struct nd_runtime *runtime,
                     void (*call)(void *argument, uv_loop_t *loop, struct nd_runtime_done *done),
                     void *argument);
void nd_runtime_signal(struct nd_runtime_done *done);

/* True on the loop thread. */
bool nd_runtime_on_loop(const struct nd_runtime *runtime);

/* Stops the loop: no new tasks; tasks already queued run; handles still
 * open are closed (each module closes its own first; this is the safety
 * net); requests in flight get up to grace_ms to come back. A getaddrinfo
 * in libuv's pool cannot be interrupted and may take the resolver's whole
 * timeout: when something is still in flight after grace_ms, the loop thread
 * is left to the process exit and false is returned (the runtime is then
 * not freed). True when everything finished and the runtime is freed. */
bool nd_runtime_stop(struct nd_runtime *runtime, unsigned grace_ms);

/* Records a libuv status (negative: -errno on Linux) in error as netdiag's
 * one error type, ND_ERR_SYSTEM with errno. call names what failed
 * ("connect"). Returns the code set. */
enum nd_err nd_runtime_set_error(struct nd_error *error, int status, const char *call);

/* The status of uv_getaddrinfo or uv_getnameinfo as the blocking call would
 * have returned it: libuv turns EAI_* into UV_EAI_* and EAI_SYSTEM into
 * -errno; this turns them back into *gai_error (0 for 0) and *os_error
 * (errno, for EAI_SYSTEM), for the core's result functions. */
void nd_runtime_gai_from_status(int status, int *gai_error, int *os_error);

#endif
