#include "http/request_deadline.h"

#include <errno.h>
#include <pthread.h>
#include <uv.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "netdiag/clock.h"
#include "netdiag/list.h"
#include "runtime/runtime.h"

/* Zero in waiting_since: the connection is not waiting for a request. */
enum { NOT_WAITING = 0 };

struct nd_deadline_watch {
    int fd;
    /* Written by the connection's thread on every request, read by the
     * sweeper: an atomic, so that the hot path takes no lock. */
    atomic_uint_fast64_t waiting_since_ns;
    bool expired;
    struct nd_list_node node;
};

struct nd_request_deadline {
    uint64_t timeout_ns;
    uint64_t period_ns;
    struct nd_runtime *runtime;
    uv_timer_t sweep; /* on the runtime's loop */
    uv_async_t wake;  /* starts the sweep when the first connection comes */
    unsigned open_handles;
    struct nd_runtime_done *stopped;
    /* Guards the list, each watch's expired flag and sweeping. Held while a
     * socket is shut down, so that forget (and then the close) waits. */
    pthread_mutex_t lock;
    struct nd_list watches;
    bool sweeping; /* the sweep timer runs, or wake is on its way to start it */
    bool always;   /* no wake (eventfd failed): the sweep runs all the time */
    atomic_uint_fast64_t expired;
};

static void expire_late(struct nd_request_deadline *deadline, uint64_t now)
{
    for (struct nd_list_node *node = deadline->watches.first; node; node = node->next) {
        struct nd_deadline_watch *watch = ND_LIST_ENTRY(node, struct nd_deadline_watch, node);
        uint64_t since = atomic_load_explicit(&watch->waiting_since_ns, memory_order_relaxed);
        /* since may be later than now: rearmed after the sweep read the clock. */
        if (watch->expired || since == NOT_WAITING || since > now ||
            now - since < deadline->timeout_ns)
            continue;
        watch->expired = true;
        /* Counted before the shutdown, so that whoever sees the connection
         * end (a client, then /metrics) also sees it counted. */
        atomic_fetch_add_explicit(&deadline->expired, 1, memory_order_release);
        /* The poller sees end of stream and closes the connection in its own
         * thread. ENOTCONN means the peer is already gone, which is as good;
         * any other failure means nothing was cut, so it is not counted. */
        if (shutdown(watch->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
            atomic_fetch_sub_explicit(&deadline->expired, 1, memory_order_relaxed);
    }
}

/* Connections write their clocks with a relaxed store on every request and
 * take no lock for it; so rather than a timer per connection, which would
 * cost a hand-over to the loop per request, one loop timer looks at them
 * all every period. It runs only while there are connections: a server
 * nobody talks to is not woken twice a second for nothing. */
static void on_sweep(uv_timer_t *timer)
{
    struct nd_request_deadline *deadline = timer->data;
    pthread_mutex_lock(&deadline->lock);
    expire_late(deadline, nd_clock_monotonic_ns());
    if (!deadline->watches.first && !deadline->always) {
        deadline->sweeping = false;
        uv_timer_stop(timer);
    }
    pthread_mutex_unlock(&deadline->lock);
}

static void start_sweep(struct nd_request_deadline *deadline)
{
    uint64_t period_ms = deadline->period_ns / 1000000u;
    uv_timer_start(&deadline->sweep, on_sweep, period_ms, period_ms);
}

static void on_wake(uv_async_t *wake)
{
    struct nd_request_deadline *deadline = wake->data;
    pthread_mutex_lock(&deadline->lock);
    if (deadline->sweeping && !uv_is_active((uv_handle_t *)&deadline->sweep))
        start_sweep(deadline);
    pthread_mutex_unlock(&deadline->lock);
}

static void start_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct nd_request_deadline *deadline = argument;
    uv_timer_init(loop, &deadline->sweep);
    deadline->sweep.data = deadline;
    deadline->open_handles = 1;
    if (uv_async_init(loop, &deadline->wake, on_wake) == 0) {
        deadline->wake.data = deadline;
        deadline->open_handles++;
    } else {
        deadline->always = deadline->sweeping = true;
        start_sweep(deadline);
    }
    nd_runtime_signal(done);
}

enum nd_err nd_request_deadline_start(struct nd_runtime *runtime, uint64_t timeout_ms,
                                      struct nd_request_deadline **out, struct nd_error *error)
{
    struct nd_request_deadline *deadline = calloc(1, sizeof *deadline);
    if (!deadline)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    deadline->runtime = runtime;
    deadline->timeout_ns = timeout_ms * 1000000u;
    /* A connection is cut within a quarter of the timeout (at most half a
     * second) after its time is up. */
    deadline->period_ns = deadline->timeout_ns / 4;
    if (deadline->period_ns > 500000000u)
        deadline->period_ns = 500000000u;
    if (deadline->period_ns < 1000000u)
        deadline->period_ns = 1000000u;
    atomic_init(&deadline->expired, 0);
    int status = pthread_mutex_init(&deadline->lock, NULL);
    if (status != 0) {
        free(deadline);
        return nd_error_set_errno(error, status, "pthread_mutex_init");
    }
    if (!nd_runtime_call(runtime, start_on_loop, deadline)) {
        pthread_mutex_destroy(&deadline->lock);
        free(deadline);
        return nd_error_set(error, ND_ERR_SYSTEM, "the runtime is stopping");
    }
    *out = deadline;
    return ND_OK;
}

struct nd_deadline_watch *nd_request_deadline_watch(struct nd_request_deadline *deadline, int fd)
{
    struct nd_deadline_watch *watch = calloc(1, sizeof *watch);
    if (!watch)
        return NULL;
    watch->fd = fd;
    atomic_init(&watch->waiting_since_ns, nd_clock_monotonic_ns());
    pthread_mutex_lock(&deadline->lock);
    nd_list_append(&deadline->watches, &watch->node);
    bool start = !deadline->sweeping;
    deadline->sweeping = true;
    pthread_mutex_unlock(&deadline->lock);
    if (start)
        uv_async_send(&deadline->wake);
    return watch;
}

void nd_request_deadline_arrived(struct nd_deadline_watch *watch)
{
    if (watch)
        atomic_store_explicit(&watch->waiting_since_ns, NOT_WAITING, memory_order_relaxed);
}

void nd_request_deadline_rearm(struct nd_deadline_watch *watch, uint64_t now_ns)
{
    if (watch)
        atomic_store_explicit(&watch->waiting_since_ns, now_ns ? now_ns : 1, memory_order_relaxed);
}

void nd_request_deadline_forget(struct nd_request_deadline *deadline,
                                struct nd_deadline_watch *watch)
{
    if (!watch)
        return;
    pthread_mutex_lock(&deadline->lock);
    nd_list_remove(&deadline->watches, &watch->node);
    pthread_mutex_unlock(&deadline->lock);
    free(watch);
}

uint64_t nd_request_deadline_expired(const struct nd_request_deadline *deadline)
{
    return atomic_load_explicit(&deadline->expired, memory_order_acquire);
}

static void on_closed(uv_handle_t *handle)
{
    struct nd_request_deadline *deadline = handle->data;
    if (--deadline->open_handles == 0)
        nd_runtime_signal(deadline->stopped);
}

static void stop_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct nd_request_deadline *deadline = argument;
    (void)loop;
    deadline->stopped = done;
    unsigned open = deadline->open_handles;
    uv_close((uv_handle_t *)&deadline->sweep, on_closed);
    if (open > 1)
        uv_close((uv_handle_t *)&deadline->wake, on_closed);
}

void nd_request_deadline_stop(struct nd_request_deadline *deadline)
{
    if (!deadline)
        return;
    nd_runtime_call(deadline->runtime, stop_on_loop, deadline);
    while (deadline->watches.first) {
        struct nd_deadline_watch *watch =
            ND_LIST_ENTRY(deadline->watches.first, struct nd_deadline_watch, node);
        nd_list_remove(&deadline->watches, &watch->node);
        free(watch);
    }
    pthread_mutex_destroy(&deadline->lock);
    free(deadline);
}
