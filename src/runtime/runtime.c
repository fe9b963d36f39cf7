#include "runtime/runtime.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct nd_runtime {
    uv_loop_t loop;
    uv_async_t wake; /* tasks are queued, or the runtime is stopping */
    pthread_t thread;
    pthread_mutex_t lock; /* guards the queue and stopping */
    struct nd_runtime_task *head, *tail;
    bool stopping;
    /* Set by the loop thread when uv_run has returned for good. */
    pthread_mutex_t finished_lock;
    pthread_cond_t finished_changed;
    bool finished;
};

/* Which runtime's loop the current thread runs, if any. */
static _Thread_local const struct nd_runtime *current_runtime;

bool nd_runtime_on_loop(const struct nd_runtime *runtime)
{
    return runtime && current_runtime == runtime;
}

static void close_leftover(uv_handle_t *handle, void *argument)
{
    (void)argument;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

static void on_wake(uv_async_t *wake)
{
    struct nd_runtime *runtime = wake->data;
    pthread_mutex_lock(&runtime->lock);
    struct nd_runtime_task *task = runtime->head;
    runtime->head = runtime->tail = NULL;
    bool stopping = runtime->stopping;
    pthread_mutex_unlock(&runtime->lock);
    while (task) {
        /* run may free the task: read its link first. */
        struct nd_runtime_task *next = task->next;
        task->run(task, &runtime->loop);
        task = next;
    }
    if (stopping) {
        /* Every module has closed its own handles by now; what is left would
         * keep uv_run going for ever. Requests (a getaddrinfo in the pool)
         * still finish: uv_run returns when they have. */
        uv_walk(&runtime->loop, close_leftover, NULL);
    }
}

static void *loop_main(void *argument)
{
    struct nd_runtime *runtime = argument;
    current_runtime = runtime;
    uv_run(&runtime->loop, UV_RUN_DEFAULT);
    pthread_mutex_lock(&runtime->finished_lock);
    runtime->finished = true;
    pthread_cond_broadcast(&runtime->finished_changed);
    pthread_mutex_unlock(&runtime->finished_lock);
    return NULL;
}

/* libuv reads UV_THREADPOOL_SIZE once, when its pool first starts. */
static void size_thread_pool(unsigned workers)
{
    char text[16];
    snprintf(text, sizeof text, "%u", workers ? workers : 1);
    setenv("UV_THREADPOOL_SIZE", text, 1);
}

enum nd_err nd_runtime_start(const struct nd_runtime_config *config, struct nd_runtime **out,
                             struct nd_error *error)
{
    struct nd_runtime *runtime = calloc(1, sizeof *runtime);
    if (!runtime)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    size_thread_pool(config->slow_workers);
    int status = uv_loop_init(&runtime->loop);
    if (status != 0) {
        free(runtime);
        return nd_runtime_set_error(error, status, "uv_loop_init");
    }
    status = uv_async_init(&runtime->loop, &runtime->wake, on_wake);
    if (status != 0) {
        uv_loop_close(&runtime->loop);
        free(runtime);
        return nd_runtime_set_error(error, status, "uv_async_init");
    }
    runtime->wake.data = runtime;
    pthread_mutex_init(&runtime->lock, NULL);
    pthread_mutex_init(&runtime->finished_lock, NULL);
    pthread_cond_init(&runtime->finished_changed, NULL);
    status = pthread_create(&runtime->thread, NULL, loop_main, runtime);
    if (status != 0) {
        /* The loop never ran: close the async handle by running it once. */
        uv_close((uv_handle_t *)&runtime->wake, NULL);
        uv_run(&runtime->loop, UV_RUN_DEFAULT);
        uv_loop_close(&runtime->loop);
        pthread_cond_destroy(&runtime->finished_changed);
        pthread_mutex_destroy(&runtime->finished_lock);
        pthread_mutex_destroy(&runtime->lock);
        free(runtime);
        return nd_error_set_errno(error, status, "pthread_create (runtime)");
    }
    *out = runtime;
    return ND_OK;
}

bool nd_runtime_post(struct nd_runtime *runtime, struct nd_runtime_task *task)
{
    task->next = NULL;
    pthread_mutex_lock(&runtime->lock);
    if (runtime->stopping) {
        pthread_mutex_unlock(&runtime->lock);
        return false;
    }
    bool was_empty = runtime->head == NULL;
    if (runtime->tail)
        runtime->tail->next = task;
    else
        runtime->head = task;
    runtime->tail = task;
    /* Under the lock, so that no send can follow the loop's close of the
     * handle (it closes only after seeing stopping, which is set under it).
     * A non-empty queue already has a wake-up on its way. */
    if (was_empty)
        uv_async_send(&runtime->wake);
    pthread_mutex_unlock(&runtime->lock);
    return true;
}

struct nd_runtime_done {
    struct nd_runtime_task task;
    void (*call)(void *argument, uv_loop_t *loop, struct nd_runtime_done *done);
    void *argument;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool signalled;
};

static void run_call(struct nd_runtime_task *task, uv_loop_t *loop)
{
    struct nd_runtime_done *done = (struct nd_runtime_done *)task;
    done->call(done->argument, loop, done);
}

bool nd_runtime_call(struct nd_runtime *runtime,
                     void (*call)(void *argument, uv_loop_t *loop, struct nd_runtime_done *done),
                     void *argument)
{
    if (nd_runtime_on_loop(runtime))
        abort(); /* it would wait for itself for ever */
    struct nd_runtime_done done = {
        .task = {.run = run_call}, .call = call, .argument = argument, .signalled = false};
    pthread_mutex_init(&done.lock, NULL);
    pthread_cond_init(&done.changed, NULL);
    bool posted = nd_runtime_post(runtime, &done.task);
    if (posted) {
        pthread_mutex_lock(&done.lock);
        while (!done.signalled)
            pthread_cond_wait(&done.changed, &done.lock);
        pthread_mutex_unlock(&done.lock);
    }
    pthread_cond_destroy(&done.changed);
    pthread_mutex_destroy(&done.lock);
    return posted;
}

void nd_runtime_signal(struct nd_runtime_done *done)
{
    /* The waiter cannot return, and free done, before this unlock. */
    pthread_mutex_lock(&done->lock);
    done->signalled = true;
    pthread_cond_signal(&done->changed);
    pthread_mutex_unlock(&done->lock);
}

bool nd_runtime_stop(struct nd_runtime *runtime, unsigned grace_ms)
{
    if (!runtime)
        return true;
    pthread_mutex_lock(&runtime->lock);
    runtime->stopping = true;
    uv_async_send(&runtime->wake);
    pthread_mutex_unlock(&runtime->lock);

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += grace_ms / 1000;
    deadline.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&runtime->finished_lock);
    int status = 0;
    while (!runtime->finished && status != ETIMEDOUT)
        status =
            pthread_cond_timedwait(&runtime->finished_changed, &runtime->finished_lock, &deadline);
    bool finished = runtime->finished;
    pthread_mutex_unlock(&runtime->finished_lock);
    if (!finished) {
        pthread_detach(runtime->thread);
        return false;
    }
    pthread_join(runtime->thread, NULL);
    uv_loop_close(&runtime->loop);
    pthread_cond_destroy(&runtime->finished_changed);
    pthread_mutex_destroy(&runtime->finished_lock);
    pthread_mutex_destroy(&runtime->lock);
    free(runtime);
    return true;
}

enum nd_err nd_runtime_set_error(struct nd_error *error, int status, const char *call)
{
    return nd_error_set_errno(error, -status, call);
}

struct gai_pair {
    int uv, gai;
};

/* libuv's uv__getaddrinfo_translate_error, read backwards. */
static const struct gai_pair gai_pairs[] = {
    {UV_EAI_ADDRFAMILY, EAI_ADDRFAMILY}, {UV_EAI_AGAIN, EAI_AGAIN},
    {UV_EAI_BADFLAGS, EAI_BADFLAGS},     {UV_EAI_FAIL, EAI_FAIL},
    {UV_EAI_FAMILY, EAI_FAMILY},         {UV_EAI_MEMORY, EAI_MEMORY},
    {UV_EAI_NODATA, EAI_NODATA},         {UV_EAI_NONAME, EAI_NONAME},
    {UV_EAI_OVERFLOW, EAI_OVERFLOW},     {UV_EAI_SERVICE, EAI_SERVICE},
    {UV_EAI_SOCKTYPE, EAI_SOCKTYPE},
};

void nd_runtime_gai_from_status(int status, int *gai_error, int *os_error)
{
    *gai_error = 0;
    *os_error = 0;
    if (status == 0)
        return;
    for (size_t i = 0; i < sizeof gai_pairs / sizeof gai_pairs[0]; i++) {
        if (gai_pairs[i].uv == status) {
            *gai_error = gai_pairs[i].gai;
            return;
        }
    }
    /* Below -3000 are libuv's own resolver codes (UV_EAI_CANCELED and the
     * like); above, EAI_SYSTEM's errno. */
    *gai_error = status > -3000 ? EAI_SYSTEM : EAI_FAIL;
    *os_error = status > -3000 ? -status : 0;
}
