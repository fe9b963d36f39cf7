#include "http/deferred.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "http/request.h"
#include "netdiag/list.h"
#include "runtime/runtime.h"

/* ND_DEFERRED_* once settled. */
enum { PENDING = -1 };

struct nd_deferred_job {
    struct nd_runtime_task task; /* posts the start to the loop */
    struct nd_deferred *engine;
    struct MHD_Connection *connection;
    const struct nd_deferred_ops *ops;
    void *state;
    unsigned timeout_ms;
    /* PENDING, then an nd_deferred_outcome: set on the loop thread before
     * the resume, read by the HTTP thread after it; release and acquire
     * order the state's result with it. */
    atomic_int outcome;
    /* The request's reference and the loop's; the last one releases. */
    atomic_uint references;
    /* Loop thread only. */
    uv_timer_t deadline;
    bool work_over;
    struct nd_list_node in_engine; /* among the engine's jobs on the loop */
};

struct nd_deferred {
    struct nd_deferred_config config;
    struct nd_runtime *runtime;
    atomic_bool stopping;
    atomic_uint_fast64_t waiting, queued, rejected, expired, completed;
    /* Loop thread only. */
    struct nd_list jobs;
    bool freeing; /* free the engine when the last job is gone */
    struct nd_runtime_task free_task;
};

static void unreference(struct nd_deferred_job *job)
{
    if (atomic_fetch_sub_explicit(&job->references, 1, memory_order_acq_rel) == 1) {
        job->ops->release(job->state);
        free(job);
    }
}

/* Loop thread: the outcome is known; the request may be rendered. */
static void settle(struct nd_deferred_job *job, enum nd_deferred_outcome outcome)
{
    struct nd_deferred *engine = job->engine;
    atomic_store_explicit(&job->outcome, (int)outcome, memory_order_release);
    atomic_fetch_sub_explicit(&engine->waiting, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(outcome == ND_DEFERRED_DONE ? &engine->completed : &engine->expired,
                              1, memory_order_relaxed);
    MHD_resume_connection(job->connection);
}

static bool pending(const struct nd_deferred_job *job)
{
    return atomic_load_explicit(&job->outcome, memory_order_relaxed) == PENDING;
}

/* Cancelled first, so that render, once resumed, reads a state the work no
 * longer writes. */
static void expire(struct nd_deferred_job *job, enum nd_deferred_outcome outcome)
{
    if (!job->work_over)
        job->ops->cancel(job->state);
    if (pending(job))
        settle(job, outcome);
}

static void on_deadline(uv_timer_t *timer)
{
    struct nd_deferred_job *job = timer->data;
    if (pending(job))
        expire(job, ND_DEFERRED_TIMED_OUT);
}

static void on_job_closed(uv_handle_t *handle)
{
    struct nd_deferred_job *job = handle->data;
    struct nd_deferred *engine = job->engine;
    nd_list_remove(&engine->jobs, &job->in_engine);
    unreference(job);
    if (engine->freeing && !engine->jobs.first)
        free(engine);
}

void nd_deferred_complete(struct nd_deferred_job *job)
{
    job->work_over = true;
    if (pending(job))
        settle(job, ND_DEFERRED_DONE);
    uv_close((uv_handle_t *)&job->deadline, on_job_closed);
}

static void start_job(struct nd_runtime_task *task, uv_loop_t *loop)
{
    struct nd_deferred_job *job = (struct nd_deferred_job *)task;
    struct nd_deferred *engine = job->engine;
    atomic_fetch_sub_explicit(&engine->queued, 1, memory_order_relaxed);
    if (atomic_load_explicit(&engine->stopping, memory_order_relaxed)) {
        settle(job, ND_DEFERRED_STOPPED);
        unreference(job);
        return;
    }
    /* uv_timer_init cannot fail on Linux: it only fills the handle. */
    uv_timer_init(loop, &job->deadline);
    job->deadline.data = job;
    nd_list_append(&engine->jobs, &job->in_engine);
    uv_timer_start(&job->deadline, on_deadline, job->timeout_ms, 0);
    job->ops->start(job, job->state, loop);
}

enum nd_err nd_deferred_start(const struct nd_deferred_config *config, struct nd_runtime *runtime,
                              struct nd_deferred **out, struct nd_error *error)
{
    struct nd_deferred *engine = calloc(1, sizeof *engine);
    if (!engine)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    engine->config = *config;
    engine->runtime = runtime;
    *out = engine;
    return ND_OK;
}

static void stop_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct nd_deferred *engine = argument;
    (void)loop;
    atomic_store_explicit(&engine->stopping, true, memory_order_relaxed);
    for (struct nd_list_node *node = engine->jobs.first; node; node = node->next) {
        struct nd_deferred_job *job = ND_LIST_ENTRY(node, struct nd_deferred_job, in_engine);
        if (pending(job))
            expire(job, ND_DEFERRED_STOPPED);
    }
    nd_runtime_signal(done);
}

void nd_deferred_stop(struct nd_deferred *engine)
{
    if (!engine)
        return;
    atomic_store_explicit(&engine->stopping, true, memory_order_relaxed);
    nd_runtime_call(engine->runtime, stop_on_loop, engine);
}

static void free_on_loop(struct nd_runtime_task *task, uv_loop_t *loop)
{
    struct nd_deferred *engine =
        (struct nd_deferred *)((char *)task - offsetof(struct nd_deferred, free_task));
    (void)loop;
    if (engine->jobs.first)
        engine->freeing = true;
    else
        free(engine);
}

void nd_deferred_free(struct nd_deferred *engine)
{
    if (!engine)
        return;
    engine->free_task.run = free_on_loop;
    /* A runtime already stopped runs nothing of ours any more. */
    if (!nd_runtime_post(engine->runtime, &engine->free_task) && !engine->jobs.first)
        free(engine);
}

void nd_deferred_get_stats(const struct nd_deferred *engine, struct nd_deferred_stats *stats)
{
    stats->waiting = atomic_load_explicit(&engine->waiting, memory_order_relaxed);
    stats->queued = atomic_load_explicit(&engine->queued, memory_order_relaxed);
    stats->rejected = atomic_load_explicit(&engine->rejected, memory_order_relaxed);
    stats->expired = atomic_load_explicit(&engine->expired, memory_order_relaxed);
    stats->completed = atomic_load_explicit(&engine->completed, memory_order_relaxed);
}

void nd_deferred_submit(struct nd_deferred *engine, struct nd_request *request,
                        const struct nd_deferred_ops *ops, void *state, unsigned timeout_ms)
{
    struct nd_error error;
    uint64_t before = atomic_fetch_add_explicit(&engine->waiting, 1, memory_order_relaxed);
    if (before >= engine->config.max_waiting ||
        atomic_load_explicit(&engine->stopping, memory_order_relaxed)) {
        atomic_fetch_sub_explicit(&engine->waiting, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&engine->rejected, 1, memory_order_relaxed);
        ops->release(state);
        nd_error_set(&error, ND_ERR_BUSY,
                     "%u slow requests (DNS, SNTP, probes) are already waiting; try again",
                     engine->config.max_waiting);
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }
    struct nd_deferred_job *job = calloc(1, sizeof *job);
    if (!job) {
        atomic_fetch_sub_explicit(&engine->waiting, 1, memory_order_relaxed);
        ops->release(state);
        nd_error_set(&error, ND_ERR_NO_MEMORY, "out of memory");
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }
    job->task.run = start_job;
    job->engine = engine;
    job->connection = request->connection;
    job->ops = ops;
    job->state = state;
    job->timeout_ms = timeout_ms;
    atomic_init(&job->outcome, PENDING);
    atomic_init(&job->references, 2);
    request->deferred = job;
    atomic_fetch_add_explicit(&engine->queued, 1, memory_order_relaxed);
    /* Suspended before the loop can possibly resume it. */
    MHD_suspend_connection(request->connection);
    if (!nd_runtime_post(engine->runtime, &job->task)) {
        /* The runtime is stopping: the request is answered as expired at
         * once, and the loop's reference is never taken up. */
        atomic_fetch_sub_explicit(&engine->queued, 1, memory_order_relaxed);
        settle(job, ND_DEFERRED_STOPPED);
        unreference(job);
    }
}

void nd_deferred_render(struct nd_request *request)
{
    struct nd_deferred_job *job = request->deferred;
    int outcome = atomic_load_explicit(&job->outcome, memory_order_acquire);
    job->ops->render(request, job->state, (enum nd_deferred_outcome)outcome);
    nd_deferred_request_ended(request);
}

void nd_deferred_request_ended(struct nd_request *request)
{
    struct nd_deferred_job *job = request->deferred;
    if (!job)
        return;
    request->deferred = NULL;
    unreference(job);
}
