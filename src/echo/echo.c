#include "echo/echo.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "netdiag/list.h"
#include "runtime/runtime.h"

/*
 * Each connection reads into a ring buffer of buffer_size bytes and writes
 * back from it. A write the socket takes at once (uv_try_write) needs no
 * request and no callback; what it does not take waits in a uv_write while
 * reading goes on into the free part of the ring, and reading stops while
 * the ring is full, so a client that does not read is not read from either.
 * The ring is allocated only while it holds data: thousands of idle
 * connections cost no buffer memory.
 */

struct connection {
    uv_tcp_t handle; /* first: the handle's address is the connection's */
    struct nd_echo *echo;
    char *buffer;
    size_t start, length; /* the bytes waiting to go back */
    size_t in_flight;     /* of those, the first ones held by a uv_write */
    uv_write_t *write;    /* allocated while a write waits for the socket */
    bool reading;
    bool read_closed; /* the client half-closed: flush, then close */
    bool closing;
    bool counted; /* among the open connections (a refused one never is) */
    uint64_t last_active_ms;
    struct nd_list_node by_activity; /* in nd_echo's */
};

struct nd_echo {
    struct nd_echo_config config;
    struct nd_runtime *runtime;
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t idle_timer;
    atomic_bool accepting;
    /* The connections, least recently active first: the idle timer looks
     * at the first only. */
    struct nd_list by_activity;
    /* Buffers come and go with every message of a ping-pong client; a few
     * spares kept here save a malloc and a free (and glibc's heap trimming)
     * per round trip, while idle connections still hold none. */
    char *spare_buffers[64];
    size_t spare_count;
    /* Stop: handles not yet closed, and who waits for them. */
    size_t handles_open;
    struct nd_runtime_done *stopped;
    atomic_uint_fast64_t open, total, refused, bytes_in, bytes_out;
};

static char *take_buffer(struct nd_echo *echo)
{
    if (echo->spare_count > 0)
        return echo->spare_buffers[--echo->spare_count];
    return malloc(echo->config.buffer_size);
}

static void give_back_buffer(struct nd_echo *echo, char *buffer)
{
    if (!buffer)
        return;
    if (echo->spare_count < sizeof echo->spare_buffers / sizeof echo->spare_buffers[0])
        echo->spare_buffers[echo->spare_count++] = buffer;
    else
        free(buffer);
}

static void handle_closed(struct nd_echo *echo)
{
    if (--echo->handles_open == 0 && echo->stopped)
        nd_runtime_signal(echo->stopped);
}

static struct connection *oldest(const struct nd_echo *echo)
{
    struct nd_list_node *first = echo->by_activity.first;
    return first ? ND_LIST_ENTRY(first, struct connection, by_activity) : NULL;
}

static void on_idle_timer(uv_timer_t *timer);

/* One timer for every connection, due when the least recently active one
 * is: activity moves a connection to the end of a list, which costs nothing
 * next to moving it in a timer heap on every read. */
static void arm_idle_timer(struct nd_echo *echo)
{
    uint64_t limit_ms = (uint64_t)echo->config.idle_timeout_s * 1000u;
    uint64_t now = uv_now(echo->loop);
    uint64_t due = oldest(echo)->last_active_ms + limit_ms;
    uv_timer_start(&echo->idle_timer, on_idle_timer, due > now ? due - now : 0, 0);
}

static void mark_active(struct nd_echo *echo, struct connection *connection)
{
    connection->last_active_ms = uv_now(echo->loop);
    if (echo->by_activity.last == &connection->by_activity)
        return;
    nd_list_remove(&echo->by_activity, &connection->by_activity);
    bool was_empty = echo->by_activity.first == NULL;
    nd_list_append(&echo->by_activity, &connection->by_activity);
    if (was_empty)
        arm_idle_timer(echo);
}

static void on_connection_closed(uv_handle_t *handle)
{
    struct connection *connection = (struct connection *)handle;
    struct nd_echo *echo = connection->echo;
    give_back_buffer(echo, connection->buffer);
    if (connection->counted)
        atomic_fetch_sub_explicit(&echo->open, 1, memory_order_relaxed);
    free(connection->write);
    free(connection);
    handle_closed(echo);
}

static void close_connection(struct connection *connection)
{
    if (connection->closing)
        return;
    connection->closing = true;
    nd_list_remove(&connection->echo->by_activity, &connection->by_activity);
    /* A write still waiting gets its callback, with UV_ECANCELED, first. */
    uv_close((uv_handle_t *)&connection->handle, on_connection_closed);
}

static void on_shutdown(uv_shutdown_t *request, int status)
{
    struct connection *connection = request->data;
    (void)status;
    free(request);
    close_connection(connection);
}

/* Everything the client sent has gone back: end our direction too, once the
 * kernel has it all, then close. */
static void finish(struct connection *connection)
{
    uv_shutdown_t *request = malloc(sizeof *request);
    if (!request || uv_shutdown(request, (uv_stream_t *)&connection->handle, on_shutdown) != 0) {
        free(request);
        close_connection(connection);
        return;
    }
    request->data = connection;
}

static void consume(struct connection *connection, size_t count)
{
    struct nd_echo *echo = connection->echo;
    atomic_fetch_add_explicit(&echo->bytes_out, count, memory_order_relaxed);
    connection->start = (connection->start + count) % echo->config.buffer_size;
    connection->length -= count;
    if (connection->length == 0) {
        give_back_buffer(echo, connection->buffer);
        connection->buffer = NULL;
        connection->start = 0;
    }
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer);
static void on_read(uv_stream_t *stream, ssize_t count, const uv_buf_t *buffer);
static void flush(struct connection *connection);

/* Reading goes on while the ring has room and the client may still send. */
static void update_reading(struct connection *connection)
{
    bool wanted = !connection->read_closed && !connection->closing &&
                  connection->length < connection->echo->config.buffer_size;
    if (wanted == connection->reading)
        return;
    int status = wanted ? uv_read_start((uv_stream_t *)&connection->handle, on_alloc, on_read)
                        : uv_read_stop((uv_stream_t *)&connection->handle);
    if (status != 0) {
        close_connection(connection);
        return;
    }
    connection->reading = wanted;
}

static void on_write(uv_write_t *request, int status)
{
    struct connection *connection = request->data;
    if (connection->closing)
        return;
    if (status != 0) {
        close_connection(connection);
        return;
    }
    size_t written = connection->in_flight;
    connection->in_flight = 0;
    consume(connection, written);
    mark_active(connection->echo, connection);
    flush(connection);
}

/* The waiting bytes, as at most two pieces of the ring, past the first skip. */
static unsigned waiting_pieces(const struct connection *connection, size_t capacity,
                               uv_buf_t pieces[2])
{
    size_t first = capacity - connection->start;
    if (first >= connection->length) {
        pieces[0] =
            uv_buf_init(connection->buffer + connection->start, (unsigned)connection->length);
        return 1;
    }
    pieces[0] = uv_buf_init(connection->buffer + connection->start, (unsigned)first);
    pieces[1] = uv_buf_init(connection->buffer, (unsigned)(connection->length - first));
    return 2;
}

/* Sends what waits: at once what the socket takes, the rest in a uv_write. */
static void flush(struct connection *connection)
{
    struct nd_echo *echo = connection->echo;
    size_t capacity = echo->config.buffer_size;
    if (connection->in_flight == 0 && connection->length > 0) {
        uv_buf_t pieces[2];
        unsigned count = waiting_pieces(connection, capacity, pieces);
        int written = uv_try_write((uv_stream_t *)&connection->handle, pieces, count);
        if (written < 0 && written != UV_EAGAIN) {
            close_connection(connection);
            return;
        }
        if (written > 0)
            consume(connection, (size_t)written);
        if (connection->length > 0) {
            if (!connection->write && !(connection->write = malloc(sizeof *connection->write))) {
                close_connection(connection);
                return;
            }
            connection->write->data = connection;
            count = waiting_pieces(connection, capacity, pieces);
            if (uv_write(connection->write, (uv_stream_t *)&connection->handle, pieces, count,
                         on_write) != 0) {
                close_connection(connection);
                return;
            }
            connection->in_flight = connection->length;
        }
    }
    if (connection->read_closed && connection->length == 0) {
        finish(connection);
        return;
    }
    update_reading(connection);
}

/* The ring's free space after the waiting bytes, as one piece. */
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer)
{
    struct connection *connection = (struct connection *)handle;
    struct nd_echo *echo = connection->echo;
    size_t capacity = echo->config.buffer_size;
    (void)suggested;
    if (!connection->buffer && !(connection->buffer = take_buffer(echo))) {
        *buffer = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    size_t end = (connection->start + connection->length) % capacity;
    size_t room;
    if (connection->length == capacity)
        room = 0;
    else if (end >= connection->start)
        room = capacity - end;
    else
        room = connection->start - end;
    *buffer = uv_buf_init(connection->buffer + end, (unsigned)room);
}

static void on_read(uv_stream_t *stream, ssize_t count, const uv_buf_t *buffer)
{
    struct connection *connection = (struct connection *)stream;
    struct nd_echo *echo = connection->echo;
    (void)buffer;
    if (count > 0) {
        connection->length += (size_t)count;
        atomic_fetch_add_explicit(&echo->bytes_in, (uint64_t)count, memory_order_relaxed);
        mark_active(echo, connection);
        flush(connection);
        return;
    }
    if (count == 0) {
        /* Nothing to read after all; a buffer taken for it goes back. */
        if (connection->length == 0) {
            give_back_buffer(echo, connection->buffer);
            connection->buffer = NULL;
        }
        return;
    }
    if (count == UV_EOF) {
        /* libuv stops reading at end of stream by itself. */
        connection->reading = false;
        connection->read_closed = true;
        if (connection->length == 0) {
            give_back_buffer(echo, connection->buffer);
            connection->buffer = NULL;
        }
        flush(connection);
        return;
    }
    close_connection(connection);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct nd_echo *echo = listener->data;
    if (status != 0)
        return; /* libuv sheds a connection itself when descriptors run out */
    struct connection *connection = calloc(1, sizeof *connection);
    if (!connection) {
        atomic_fetch_add_explicit(&echo->refused, 1, memory_order_relaxed);
        return;
    }
    connection->echo = echo;
    uv_tcp_init(echo->loop, &connection->handle);
    echo->handles_open++;
    if (uv_accept(listener, (uv_stream_t *)&connection->handle) != 0) {
        close_connection(connection);
        return;
    }
    /* Only the loop thread changes open: no other accept can race this. */
    if (atomic_load_explicit(&echo->open, memory_order_relaxed) >= echo->config.max_connections) {
        /* Counted before the close, so a client that sees the close also
         * sees the count. */
        atomic_fetch_add_explicit(&echo->refused, 1, memory_order_relaxed);
        close_connection(connection);
        return;
    }
    connection->counted = true;
    atomic_fetch_add_explicit(&echo->open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&echo->total, 1, memory_order_relaxed);
    mark_active(echo, connection);
    update_reading(connection);
}

static void on_idle_timer(uv_timer_t *timer)
{
    struct nd_echo *echo = timer->data;
    uint64_t limit_ms = (uint64_t)echo->config.idle_timeout_s * 1000u;
    uint64_t now = uv_now(echo->loop);
    while (oldest(echo) && now - oldest(echo)->last_active_ms >= limit_ms)
        close_connection(oldest(echo));
    if (oldest(echo))
        arm_idle_timer(echo);
}

static void on_listener_closed(uv_handle_t *handle)
{
    handle_closed(handle->data);
}

static void start_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    void **arguments = argument;
    struct nd_echo *echo = arguments[0];
    struct nd_error *error = arguments[1];
    echo->loop = loop;
    uv_timer_init(loop, &echo->idle_timer);
    echo->idle_timer.data = echo;
    echo->handles_open++;
    uv_tcp_init(loop, &echo->listener);
    echo->listener.data = echo;
    echo->handles_open++;
    int status = uv_tcp_open(&echo->listener, echo->config.listen_fd);
    if (status != 0)
        close(echo->config.listen_fd); /* not adopted by the handle */
    else
        status = uv_listen((uv_stream_t *)&echo->listener, 1024, on_connection);
    if (status != 0) {
        nd_runtime_set_error(error, status, "listen (echo)");
        echo->stopped = done;
        uv_close((uv_handle_t *)&echo->listener, on_listener_closed);
        uv_close((uv_handle_t *)&echo->idle_timer, on_listener_closed);
        return;
    }
    atomic_store(&echo->accepting, true);
    nd_runtime_signal(done);
}

enum nd_err nd_echo_start(struct nd_runtime *runtime, const struct nd_echo_config *config,
                          struct nd_echo **out, struct nd_error *error)
{
    enum nd_err refusal = ND_OK;
    if (config->buffer_size == 0 || config->max_connections == 0 || config->idle_timeout_s == 0)
        refusal = nd_error_set(error, ND_ERR_INVALID, "echo limits must be positive");
    else if (config->buffer_size > UINT32_MAX)
        refusal = nd_error_set(error, ND_ERR_RANGE, "the echo buffer is larger than 4 GiB");
    struct nd_echo *echo = refusal == ND_OK ? calloc(1, sizeof *echo) : NULL;
    if (refusal == ND_OK && !echo)
        refusal = nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    if (refusal != ND_OK) {
        close(config->listen_fd);
        return refusal;
    }
    echo->config = *config;
    echo->runtime = runtime;
    struct nd_error failure;
    nd_error_clear(&failure);
    void *arguments[] = {echo, &failure};
    if (!nd_runtime_call(runtime, start_on_loop, arguments)) {
        close(config->listen_fd);
        free(echo);
        return nd_error_set(error, ND_ERR_STOPPING, "the runtime is stopping");
    }
    if (failure.code != ND_OK) {
        free(echo);
        if (error)
            *error = failure;
        return failure.code;
    }
    *out = echo;
    return ND_OK;
}

bool nd_echo_accepting(const struct nd_echo *echo)
{
    return atomic_load(&echo->accepting);
}

void nd_echo_get_stats(const struct nd_echo *echo, struct nd_echo_stats *stats)
{
    stats->connections_open = atomic_load_explicit(&echo->open, memory_order_relaxed);
    stats->connections_total = atomic_load_explicit(&echo->total, memory_order_relaxed);
    stats->connections_refused = atomic_load_explicit(&echo->refused, memory_order_relaxed);
    stats->bytes_in = atomic_load_explicit(&echo->bytes_in, memory_order_relaxed);
    stats->bytes_out = atomic_load_explicit(&echo->bytes_out, memory_order_relaxed);
}

static void stop_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct nd_echo *echo = argument;
    (void)loop;
    atomic_store(&echo->accepting, false);
    echo->stopped = done;
    uv_close((uv_handle_t *)&echo->listener, on_listener_closed);
    uv_close((uv_handle_t *)&echo->idle_timer, on_listener_closed);
    while (oldest(echo))
        close_connection(oldest(echo));
}

void nd_echo_stop(struct nd_echo *echo)
{
    if (!echo)
        return;
    nd_runtime_call(echo->runtime, stop_on_loop, echo);
    while (echo->spare_count > 0)
        free(echo->spare_buffers[--echo->spare_count]);
    free(echo);
}
