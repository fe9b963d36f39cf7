#include "http/deferred.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "http/request.h"
#include "netdiag/clock.h"

enum job_state {
    JOB_QUEUED,  /* waiting for a worker */
    JOB_WORKING, /* a worker runs ops->work */
    JOB_WAITING, /* the reactor waits for its descriptor */
    JOB_DONE,    /* finished before the deadline */
    JOB_EXPIRED, /* the deadline came first */
};

struct nd_deferred_job {
    struct nd_deferred *engine;
    struct nd_request *request; /* NULL once the request is gone */
    const struct nd_deferred_ops *ops;
    void *state;
    enum job_state job_state;
    int fd; /* registered with the reactor while JOB_WAITING */
    uint64_t deadline_ns;
    unsigned references; /* the request's and the engine's */
    struct nd_deferred_job *next_queued;
    size_t active_index; /* position in engine->active */
};

struct nd_deferred {
    struct nd_deferred_config config;
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    struct nd_deferred_job *queue_head, *queue_tail;
    /* Jobs between submit and done/expired; bounded by max_waiting, so a
     * linear scan for the next deadline stays cheap. */
    struct nd_deferred_job **active;
    size_t active_count;
    bool stopping;
    bool stragglers; /* a worker did not stop in time: the engine must outlive it */
    int epoll_fd;
    int wake_fd; /* eventfd: a new deadline or a stop for the reactor */
    pthread_t reactor;
    pthread_t *workers;
    unsigned worker_count;
    struct nd_deferred_stats stats;
};

static void wake_reactor(struct nd_deferred *engine)
{
    uint64_t one = 1;
    /* A full eventfd counter already means "wake up"; nothing is lost. */
    if (write(engine->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        abort();
}

/* Drops one reference; the last one frees the job and its state. Called
 * with the lock held; the release callback runs after unlocking. */
static bool unreference(struct nd_deferred_job *job)
{
    return --job->references == 0;
}

static void destroy(struct nd_deferred_job *job)
{
    job->ops->release(job->state);
    free(job);
}

static void remove_active(struct nd_deferred *engine, struct nd_deferred_job *job)
{
    size_t index = job->active_index;
    engine->active[index] = engine->active[--engine->active_count];
    engine->active[index]->active_index = index;
    engine->stats.waiting = engine->active_count;
}

/* Ends a job that is still in progress (lock held): resumes its request so
 * that an HTTP thread renders the outcome. The engine's reference belongs to
 * whoever holds the job: the queue or a worker drop it themselves when they
 * let go; only a job the reactor waits on is let go here. Returns true when
 * that was the last reference. */
static bool settle(struct nd_deferred *engine, struct nd_deferred_job *job, enum job_state outcome)
{
    bool reactor_held = job->job_state == JOB_WAITING;
    if (reactor_held && job->fd >= 0)
        epoll_ctl(engine->epoll_fd, EPOLL_CTL_DEL, job->fd, NULL);
    job->job_state = outcome;
    remove_active(engine, job);
    if (outcome == JOB_EXPIRED)
        engine->stats.expired++;
    else
        engine->stats.completed++;
    if (job->request)
        MHD_resume_connection(job->request->connection);
    return reactor_held && unreference(job);
}

static void *worker_main(void *context)
{
    struct nd_deferred *engine = context;
    pthread_mutex_lock(&engine->lock);
    for (;;) {
        while (!engine->queue_head && !engine->stopping)
            pthread_cond_wait(&engine->work_ready, &engine->lock);
        if (engine->stopping)
            break;
        struct nd_deferred_job *job = engine->queue_head;
        engine->queue_head = job->next_queued;
        if (!engine->queue_head)
            engine->queue_tail = NULL;
        engine->stats.queued--;
        if (job->job_state != JOB_QUEUED) {
            /* Expired while queued: settle already resumed the request. */
            bool last = unreference(job);
            pthread_mutex_unlock(&engine->lock);
            if (last)
                destroy(job);
            pthread_mutex_lock(&engine->lock);
            continue;
        }
        job->job_state = JOB_WORKING;
        pthread_mutex_unlock(&engine->lock);

        int fd = job->ops->work(job->state);

        pthread_mutex_lock(&engine->lock);
        bool last = false;
        if (job->job_state != JOB_WORKING) {
            last = unreference(job); /* expired meanwhile; the result is dropped */
        } else if (fd < 0) {
            settle(engine, job, JOB_DONE);
            last = unreference(job);
        } else {
            struct epoll_event event = {.events = EPOLLIN, .data.ptr = job};
            job->fd = fd;
            job->job_state = JOB_WAITING;
            if (epoll_ctl(engine->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
                /* The state records no answer; render reports the failure. */
                job->job_state = JOB_WORKING;
                settle(engine, job, JOB_DONE);
                last = unreference(job);
            }
        }
        pthread_mutex_unlock(&engine->lock);
        if (last)
            destroy(job);
        pthread_mutex_lock(&engine->lock);
    }
    pthread_mutex_unlock(&engine->lock);
    return NULL;
}

/* Milliseconds until the nearest deadline (lock held); -1 when none. */
static int next_timeout_ms(struct nd_deferred *engine, uint64_t now)
{
    uint64_t nearest = UINT64_MAX;
    for (size_t i = 0; i < engine->active_count; i++) {
        if (engine->active[i]->deadline_ns < nearest)
            nearest = engine->active[i]->deadline_ns;
    }
    if (nearest == UINT64_MAX)
        return -1;
    if (nearest <= now)
        return 0;
    return (int)((nearest - now + 999999) / 1000000);
}

static void expire_due(struct nd_deferred *engine, uint64_t now, bool everything)
{
    /* Jobs whose last reference goes here are freed after unlocking; a job
     * the reactor held is in no queue, so its queue link is free to chain them. */
    struct nd_deferred_job *finished = NULL;
    pthread_mutex_lock(&engine->lock);
    for (size_t i = 0; i < engine->active_count;) {
        struct nd_deferred_job *job = engine->active[i];
        if (!everything && job->deadline_ns > now) {
            i++;
            continue;
        }
        /* settle moves the last active job into slot i: look at it next. */
        if (settle(engine, job, JOB_EXPIRED)) {
            job->next_queued = finished;
            finished = job;
        }
    }
    pthread_mutex_unlock(&engine->lock);
    while (finished) {
        struct nd_deferred_job *job = finished;
        finished = job->next_queued;
        destroy(job);
    }
}

static void *reactor_main(void *context)
{
    struct nd_deferred *engine = context;
    struct epoll_event events[64];
    for (;;) {
        pthread_mutex_lock(&engine->lock);
        bool stopping = engine->stopping;
        int timeout = next_timeout_ms(engine, nd_clock_monotonic_ns());
        pthread_mutex_unlock(&engine->lock);
        if (stopping)
            break;
        int count = epoll_wait(engine->epoll_fd, events, 64, timeout);
        if (count < 0 && errno != EINTR)
            break;
        for (int i = 0; i < count; i++) {
            struct nd_deferred_job *job = events[i].data.ptr;
            if (!job) {
                uint64_t value;
                if (read(engine->wake_fd, &value, sizeof value) < 0 && errno != EAGAIN)
                    abort();
                continue;
            }
            pthread_mutex_lock(&engine->lock);
            /* The job may have expired in this same round; then it is gone
             * from epoll and must not be touched. */
            bool still_waiting = job->job_state == JOB_WAITING;
            pthread_mutex_unlock(&engine->lock);
            if (!still_waiting || !job->ops->readable(job->state))
                continue;
            pthread_mutex_lock(&engine->lock);
            bool last = job->job_state == JOB_WAITING && settle(engine, job, JOB_DONE);
            pthread_mutex_unlock(&engine->lock);
            if (last)
                destroy(job);
        }
        expire_due(engine, nd_clock_monotonic_ns(), false);
    }
    expire_due(engine, 0, true);
    return NULL;
}

enum nd_err nd_deferred_start(const struct nd_deferred_config *config, struct nd_deferred **out,
                              struct nd_error *error)
{
    struct nd_deferred *engine = calloc(1, sizeof *engine);
    if (!engine)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    engine->config = *config;
    engine->epoll_fd = -1;
    engine->wake_fd = -1;
    engine->active = calloc(config->max_waiting ? config->max_waiting : 1, sizeof *engine->active);
    engine->workers = calloc(config->workers ? config->workers : 1, sizeof *engine->workers);
    if (!engine->active || !engine->workers) {
        free(engine->active);
        free(engine->workers);
        free(engine);
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    }
    pthread_mutex_init(&engine->lock, NULL);
    pthread_cond_init(&engine->work_ready, NULL);

    enum nd_err err = ND_OK;
    engine->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (engine->epoll_fd < 0) {
        err = nd_error_set_errno(error, errno, "epoll_create1");
        goto fail;
    }
    engine->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (engine->wake_fd < 0) {
        err = nd_error_set_errno(error, errno, "eventfd");
        goto fail;
    }
    struct epoll_event wake = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(engine->epoll_fd, EPOLL_CTL_ADD, engine->wake_fd, &wake) != 0) {
        err = nd_error_set_errno(error, errno, "epoll_ctl");
        goto fail;
    }
    int rc = pthread_create(&engine->reactor, NULL, reactor_main, engine);
    if (rc != 0) {
        err = nd_error_set_errno(error, rc, "pthread_create");
        goto fail;
    }
    for (unsigned i = 0; i < config->workers; i++) {
        rc = pthread_create(&engine->workers[i], NULL, worker_main, engine);
        if (rc != 0) {
            err = nd_error_set_errno(error, rc, "pthread_create");
            nd_deferred_stop(engine);
            nd_deferred_free(engine);
            return err;
        }
        engine->worker_count++;
    }
    *out = engine;
    return ND_OK;

fail:
    if (engine->wake_fd >= 0)
        close(engine->wake_fd);
    if (engine->epoll_fd >= 0)
        close(engine->epoll_fd);
    pthread_cond_destroy(&engine->work_ready);
    pthread_mutex_destroy(&engine->lock);
    free(engine->active);
    free(engine->workers);
    free(engine);
    return err;
}

void nd_deferred_stop(struct nd_deferred *engine)
{
    if (!engine)
        return;
    pthread_mutex_lock(&engine->lock);
    engine->stopping = true;
    pthread_cond_broadcast(&engine->work_ready);
    pthread_mutex_unlock(&engine->lock);
    wake_reactor(engine);
    pthread_join(engine->reactor, NULL); /* it expires every job on its way out */

    /* A worker can be inside a getaddrinfo that takes the resolver's full
     * timeout; give the workers a moment, then leave the stragglers to the
     * process exit rather than hold shutdown hostage. */
    struct timespec limit;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += 2;
    for (unsigned i = 0; i < engine->worker_count; i++) {
        if (pthread_timedjoin_np(engine->workers[i], NULL, &limit) != 0) {
            pthread_detach(engine->workers[i]);
            engine->stragglers = true;
        }
    }
}

void nd_deferred_free(struct nd_deferred *engine)
{
    if (!engine || engine->stragglers)
        return;
    /* Jobs left in the queue expired when the reactor stopped; drop the
     * queue's references. */
    while (engine->queue_head) {
        struct nd_deferred_job *job = engine->queue_head;
        engine->queue_head = job->next_queued;
        if (unreference(job))
            destroy(job);
    }
    close(engine->wake_fd);
    close(engine->epoll_fd);
    pthread_cond_destroy(&engine->work_ready);
    pthread_mutex_destroy(&engine->lock);
    free(engine->active);
    free(engine->workers);
    free(engine);
}

void nd_deferred_get_stats(struct nd_deferred *engine, struct nd_deferred_stats *stats)
{
    pthread_mutex_lock(&engine->lock);
    *stats = engine->stats;
    pthread_mutex_unlock(&engine->lock);
}

void nd_deferred_submit(struct nd_deferred *engine, struct nd_request *request,
                        const struct nd_deferred_ops *ops, void *state, unsigned timeout_ms)
{
    struct nd_deferred_job *job = calloc(1, sizeof *job);
    if (!job) {
        ops->release(state);
        nd_reply_problem_format(request, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    job->engine = engine;
    job->request = request;
    job->ops = ops;
    job->state = state;
    job->fd = -1;
    job->references = 2;
    job->deadline_ns = nd_clock_monotonic_ns() + (uint64_t)timeout_ms * 1000000u;

    pthread_mutex_lock(&engine->lock);
    if (engine->stopping || engine->active_count >= engine->config.max_waiting) {
        engine->stats.rejected++;
        unsigned limit = engine->config.max_waiting;
        pthread_mutex_unlock(&engine->lock);
        free(job);
        ops->release(state);
        nd_reply_problem_format(request, 503, "busy", NULL,
                                "%u slow requests (DNS, SNTP) are already waiting; try again",
                                limit);
        return;
    }
    /* Suspend before the work can possibly finish and resume. */
    MHD_suspend_connection(request->connection);
    request->deferred = job;
    job->active_index = engine->active_count;
    engine->active[engine->active_count++] = job;
    engine->stats.waiting = engine->active_count;
    engine->stats.queued++;
    if (engine->queue_tail)
        engine->queue_tail->next_queued = job;
    else
        engine->queue_head = job;
    engine->queue_tail = job;
    pthread_cond_signal(&engine->work_ready);
    pthread_mutex_unlock(&engine->lock);
    wake_reactor(engine); /* a new deadline */
}

void nd_deferred_finish(struct nd_request *request)
{
    struct nd_deferred_job *job = request->deferred;
    struct nd_deferred *engine = job->engine;
    pthread_mutex_lock(&engine->lock);
    bool expired = job->job_state == JOB_EXPIRED;
    pthread_mutex_unlock(&engine->lock);
    job->ops->render(request, job->state, expired);
    nd_deferred_abandon(request);
}

void nd_deferred_abandon(struct nd_request *request)
{
    struct nd_deferred_job *job = request->deferred;
    if (!job)
        return;
    struct nd_deferred *engine = job->engine;
    request->deferred = NULL;
    pthread_mutex_lock(&engine->lock);
    job->request = NULL;
    bool last = unreference(job);
    pthread_mutex_unlock(&engine->lock);
    if (last)
        destroy(job);
}
