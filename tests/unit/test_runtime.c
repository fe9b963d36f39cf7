/* src/runtime/runtime.c: timers in order and cancelled, tasks from other
 * threads, stop with work in flight, thousands of handles. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netdiag/clock.h"
#include "runtime/runtime.h"

static struct nd_runtime *start(unsigned workers)
{
    struct nd_runtime_config config = {.slow_workers = workers};
    struct nd_runtime *runtime;
    struct nd_error error;
    assert_int_equal(nd_runtime_start(&config, &runtime, &error), ND_OK);
    return runtime;
}

/* --- Timers fire in the order of their deadlines; a stopped one never. --- */

struct timer_order {
    uv_timer_t timers[4];
    int fired[4];
    size_t fired_count;
    size_t closed;
    struct nd_runtime_done *done;
};

static void on_order_closed(uv_handle_t *handle)
{
    struct timer_order *order = handle->data;
    if (++order->closed == 4)
        nd_runtime_signal(order->done);
}

static void on_order_timer(uv_timer_t *timer)
{
    struct timer_order *order = timer->data;
    order->fired[order->fired_count++] = (int)(timer - order->timers);
    if (order->fired_count == 3) {
        for (int i = 0; i < 4; i++)
            uv_close((uv_handle_t *)&order->timers[i], on_order_closed);
    }
}

static void start_timers(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct timer_order *order = argument;
    static const uint64_t delays_ms[] = {60, 20, 40, 30};
    order->done = done;
    for (int i = 0; i < 4; i++) {
        uv_timer_init(loop, &order->timers[i]);
        order->timers[i].data = order;
        uv_timer_start(&order->timers[i], on_order_timer, delays_ms[i], 0);
    }
    uv_timer_stop(&order->timers[3]); /* cancelled: it must never fire */
}

static void test_timer_order_and_cancel(void **state)
{
    (void)state;
    struct nd_runtime *runtime = start(1);
    struct timer_order order = {0};
    uint64_t began = nd_clock_monotonic_ns();
    assert_true(nd_runtime_call(runtime, start_timers, &order));
    uint64_t took_ms = (nd_clock_monotonic_ns() - began) / 1000000u;
    assert_int_equal(order.fired_count, 3);
    assert_int_equal(order.fired[0], 1);
    assert_int_equal(order.fired[1], 2);
    assert_int_equal(order.fired[2], 0);
    assert_true(took_ms >= 59);
    assert_true(nd_runtime_stop(runtime, 2000));
}

/* --- Tasks posted from many threads all run, on the loop thread. --- */

enum { POSTERS = 4, POSTS_EACH = 2000 };

struct counted_task {
    struct nd_runtime_task task;
    const struct nd_runtime *runtime;
    atomic_int *ran, *off_loop;
};

static void run_counted(struct nd_runtime_task *task, uv_loop_t *loop)
{
    struct counted_task *counted = (struct counted_task *)task;
    (void)loop;
    if (!nd_runtime_on_loop(counted->runtime))
        atomic_fetch_add(counted->off_loop, 1);
    atomic_fetch_add(counted->ran, 1);
    free(counted);
}

struct poster {
    pthread_t thread;
    struct nd_runtime *runtime;
    atomic_int *ran, *off_loop;
    int refused;
};

static void *post_many(void *argument)
{
    struct poster *poster = argument;
    for (int i = 0; i < POSTS_EACH; i++) {
        struct counted_task *task = malloc(sizeof *task);
        if (!task)
            abort();
        *task = (struct counted_task){.task = {.run = run_counted},
                                      .runtime = poster->runtime,
                                      .ran = poster->ran,
                                      .off_loop = poster->off_loop};
        if (!nd_runtime_post(poster->runtime, &task->task)) {
            free(task);
            poster->refused++;
        }
    }
    return NULL;
}

static void signal_at_once(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    (void)argument;
    (void)loop;
    nd_runtime_signal(done);
}

static void test_tasks_from_other_threads(void **state)
{
    (void)state;
    struct nd_runtime *runtime = start(1);
    assert_false(nd_runtime_on_loop(runtime));
    atomic_int ran = 0, off_loop = 0;
    struct poster posters[POSTERS];
    for (int i = 0; i < POSTERS; i++) {
        posters[i] =
            (struct poster){.runtime = runtime, .ran = &ran, .off_loop = &off_loop, .refused = 0};
        assert_int_equal(pthread_create(&posters[i].thread, NULL, post_many, &posters[i]), 0);
    }
    for (int i = 0; i < POSTERS; i++) {
        assert_int_equal(pthread_join(posters[i].thread, NULL), 0);
        assert_int_equal(posters[i].refused, 0);
    }
    /* Tasks run in the order posted: once this call is through, every task
     * posted before it has run. */
    assert_true(nd_runtime_call(runtime, signal_at_once, NULL));
    assert_int_equal(atomic_load(&ran), POSTERS * POSTS_EACH);
    assert_int_equal(atomic_load(&off_loop), 0);
    assert_true(nd_runtime_stop(runtime, 2000));
}

/* --- Stop: leftover handles are closed, work in the pool is waited for. --- */

struct slow_work {
    uv_work_t work;
    unsigned sleep_ms;
    atomic_bool finished;
};

static void sleep_in_pool(uv_work_t *work)
{
    struct slow_work *slow = work->data;
    usleep(slow->sleep_ms * 1000u);
}

static void after_sleep(uv_work_t *work, int status)
{
    struct slow_work *slow = work->data;
    (void)status;
    atomic_store(&slow->finished, true);
}

struct leftovers {
    uv_timer_t timer;
    struct slow_work slow;
};

static void unused_timer(uv_timer_t *timer)
{
    (void)timer;
}

static void leave_work_in_flight(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct leftovers *leftovers = argument;
    /* A timer far in the future that nobody closes, and work in the pool. */
    uv_timer_init(loop, &leftovers->timer);
    uv_timer_start(&leftovers->timer, unused_timer, 3600 * 1000, 0);
    leftovers->slow.work.data = &leftovers->slow;
    assert_int_equal(uv_queue_work(loop, &leftovers->slow.work, sleep_in_pool, after_sleep), 0);
    nd_runtime_signal(done);
}

static void test_stop_with_work_in_flight(void **state)
{
    (void)state;
    struct nd_runtime *runtime = start(1);
    static struct leftovers leftovers;
    leftovers.slow.sleep_ms = 300;
    assert_true(nd_runtime_call(runtime, leave_work_in_flight, &leftovers));
    uint64_t began = nd_clock_monotonic_ns();
    assert_true(nd_runtime_stop(runtime, 5000));
    uint64_t took_ms = (nd_clock_monotonic_ns() - began) / 1000000u;
    assert_true(atomic_load(&leftovers.slow.finished));
    assert_true(took_ms < 3000); /* the hour-long timer did not hold it */
}

/* Work that outlasts the grace period is left to the process exit: run in a
 * child, since the loop thread is then abandoned on purpose. */
static void test_stop_gives_up_after_grace(void **state)
{
    (void)state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct nd_runtime_config config = {.slow_workers = 1};
        struct nd_runtime *runtime;
        struct nd_error error;
        if (nd_runtime_start(&config, &runtime, &error) != ND_OK)
            _exit(3);
        static struct leftovers leftovers;
        leftovers.slow.sleep_ms = 2000;
        if (!nd_runtime_call(runtime, leave_work_in_flight, &leftovers))
            _exit(4);
        uint64_t began = nd_clock_monotonic_ns();
        bool finished = nd_runtime_stop(runtime, 100);
        uint64_t took_ms = (nd_clock_monotonic_ns() - began) / 1000000u;
        struct nd_runtime_task late = {.run = NULL};
        bool posted = nd_runtime_post(runtime, &late);
        _exit(finished ? 5 : posted ? 6 : took_ms > 1000 ? 7 : 0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- Thousands of handles at once. --- */

enum { HANDLES = 5000 };

struct many {
    uv_timer_t timers[HANDLES];
    size_t fired, closed;
    struct nd_runtime_done *done;
};

static void on_many_closed(uv_handle_t *handle)
{
    struct many *many = handle->data;
    if (++many->closed == HANDLES)
        nd_runtime_signal(many->done);
}

static void on_many_timer(uv_timer_t *timer)
{
    struct many *many = timer->data;
    many->fired++;
    uv_close((uv_handle_t *)timer, on_many_closed);
}

static void start_many(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct many *many = argument;
    many->done = done;
    for (size_t i = 0; i < HANDLES; i++) {
        uv_timer_init(loop, &many->timers[i]);
        many->timers[i].data = many;
        uv_timer_start(&many->timers[i], on_many_timer, (i * 7919u) % 50u, 0);
    }
}

static void test_thousands_of_handles(void **state)
{
    (void)state;
    struct nd_runtime *runtime = start(1);
    struct many *many = calloc(1, sizeof *many);
    assert_non_null(many);
    assert_true(nd_runtime_call(runtime, start_many, many));
    assert_int_equal(many->fired, HANDLES);
    assert_int_equal(many->closed, HANDLES);
    free(many);
    assert_true(nd_runtime_stop(runtime, 2000));
}

/* --- libuv's resolver codes come back as the blocking calls' ones. --- */

static void test_gai_from_status(void **state)
{
    (void)state;
    static const struct {
        int status, gai_error, os_error;
    } cases[] = {
        {0, 0, 0},
        {UV_EAI_NONAME, EAI_NONAME, 0},
        {UV_EAI_AGAIN, EAI_AGAIN, 0},
        {UV_EAI_FAIL, EAI_FAIL, 0},
        {UV_EAI_NODATA, EAI_NODATA, 0},
        {UV_EAI_ADDRFAMILY, EAI_ADDRFAMILY, 0},
        {UV_EAI_CANCELED, EAI_FAIL, 0},
        {UV_ECONNREFUSED, EAI_SYSTEM, ECONNREFUSED}, /* EAI_SYSTEM's errno */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int gai_error, os_error;
        nd_runtime_gai_from_status(cases[i].status, &gai_error, &os_error);
        assert_int_equal(gai_error, cases[i].gai_error);
        assert_int_equal(os_error, cases[i].os_error);
    }
    struct nd_error error;
    assert_int_equal(nd_runtime_set_error(&error, UV_ECONNREFUSED, "connect"), ND_ERR_SYSTEM);
    assert_int_equal(error.os_error, ECONNREFUSED);
    assert_non_null(strstr(error.message, "connect: Connection refused"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First, while the process has no other thread: a fork after
         * threads is beyond ThreadSanitizer. */
        cmocka_unit_test(test_stop_gives_up_after_grace),
        cmocka_unit_test(test_timer_order_and_cancel),
        cmocka_unit_test(test_tasks_from_other_threads),
        cmocka_unit_test(test_stop_with_work_in_flight),
        cmocka_unit_test(test_thousands_of_handles),
        cmocka_unit_test(test_gai_from_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
