#include "echo/echo.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "netdiag/clock.h"

/*
 * Level-triggered epoll: interest in reading is dropped while a connection's
 * buffer is full and interest in writing is held only while bytes wait, so
 * the kernel's readiness always matches what the loop can act on, and a
 * client that stops reading simply stops being read from.
 */

struct connection {
    int fd;
    bool read_closed;  /* the client half-closed: flush, then close */
    unsigned interest; /* the epoll events registered now */
    /* A ring buffer of buffer_size bytes, allocated while it holds data, so
     * thousands of idle connections cost no buffer memory. */
    char *buffer;
    size_t start, length;
    uint64_t last_active_ns;
    /* Least recently active first: the idle sweep looks at the head only. */
    struct connection *older, *newer;
};

struct nd_echo {
    struct nd_echo_config config;
    int epoll_fd;
    int wake_fd;
    int reserve_fd; /* a spare descriptor, given up to shed a connection on EMFILE */
    pthread_t thread;
    atomic_bool running;
    struct connection *oldest, *newest;
    uint64_t now_ns; /* read once per epoll_wait round: one clock call, not one per event */
    /* Buffers come and go with every message of a ping-pong client; a few
     * spares kept here save a malloc and a free (and glibc's heap trimming)
     * per round trip, while idle connections still hold none. */
    char *spare_buffers[64];
    size_t spare_count;
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

static void unlink_connection(struct nd_echo *echo, struct connection *connection)
{
    if (connection->older)
        connection->older->newer = connection->newer;
    else
        echo->oldest = connection->newer;
    if (connection->newer)
        connection->newer->older = connection->older;
    else
        echo->newest = connection->older;
    connection->older = connection->newer = NULL;
}

static void mark_active(struct nd_echo *echo, struct connection *connection)
{
    connection->last_active_ns = echo->now_ns;
    if (echo->newest == connection)
        return;
    if (connection->older || connection->newer || echo->oldest == connection)
        unlink_connection(echo, connection);
    connection->older = echo->newest;
    if (echo->newest)
        echo->newest->newer = connection;
    else
        echo->oldest = connection;
    echo->newest = connection;
}

static void close_connection(struct nd_echo *echo, struct connection *connection)
{
    unlink_connection(echo, connection);
    /* close() removes the descriptor from the epoll set. */
    close(connection->fd);
    give_back_buffer(echo, connection->buffer);
    free(connection);
    atomic_fetch_sub_explicit(&echo->open, 1, memory_order_relaxed);
}

/* Registers the events the connection can act on now; false on failure. */
static bool update_interest(struct nd_echo *echo, struct connection *connection)
{
    unsigned wanted = 0;
    if (!connection->read_closed && connection->length < echo->config.buffer_size)
        wanted |= EPOLLIN;
    if (connection->length > 0)
        wanted |= EPOLLOUT;
    if (wanted == connection->interest)
        return true;
    struct epoll_event event = {.events = wanted, .data.ptr = connection};
    if (epoll_ctl(echo->epoll_fd, EPOLL_CTL_MOD, connection->fd, &event) != 0)
        return false;
    connection->interest = wanted;
    return true;
}

/* Reads what fits; returns false when the connection must be closed. */
static bool read_some(struct nd_echo *echo, struct connection *connection)
{
    size_t capacity = echo->config.buffer_size;
    if (!connection->buffer) {
        connection->buffer = take_buffer(echo);
        if (!connection->buffer)
            return false;
        connection->start = 0;
    }
    /* The free space of the ring, in at most two pieces. */
    size_t end = (connection->start + connection->length) % capacity;
    size_t free_space = capacity - connection->length;
    struct iovec pieces[2];
    int count = 1;
    pieces[0].iov_base = connection->buffer + end;
    pieces[0].iov_len = end + free_space <= capacity ? free_space : capacity - end;
    if (pieces[0].iov_len < free_space) {
        pieces[1].iov_base = connection->buffer;
        pieces[1].iov_len = free_space - pieces[0].iov_len;
        count = 2;
    }
    /* One piece is the usual case; plain read is the cheaper call for it. */
    ssize_t n = count == 1 ? read(connection->fd, pieces[0].iov_base, pieces[0].iov_len)
                           : readv(connection->fd, pieces, count);
    if (n > 0) {
        connection->length += (size_t)n;
        atomic_fetch_add_explicit(&echo->bytes_in, (uint64_t)n, memory_order_relaxed);
        return true;
    }
    if (n == 0) {
        connection->read_closed = true;
        return true;
    }
    return errno == EAGAIN || errno == EINTR;
}

/* Writes what the client takes; returns false when the connection must be closed. */
static bool write_some(struct nd_echo *echo, struct connection *connection)
{
    if (connection->length == 0)
        return true;
    size_t capacity = echo->config.buffer_size;
    struct iovec pieces[2];
    int count = 1;
    pieces[0].iov_base = connection->buffer + connection->start;
    pieces[0].iov_len = connection->start + connection->length <= capacity
                            ? connection->length
                            : capacity - connection->start;
    if (pieces[0].iov_len < connection->length) {
        pieces[1].iov_base = connection->buffer;
        pieces[1].iov_len = connection->length - pieces[0].iov_len;
        count = 2;
    }
    struct msghdr message = {.msg_iov = pieces, .msg_iovlen = (size_t)count};
    /* MSG_NOSIGNAL: a client gone away is an error for this connection, not a
     * SIGPIPE for the process. */
    ssize_t n = count == 1
                    ? send(connection->fd, pieces[0].iov_base, pieces[0].iov_len, MSG_NOSIGNAL)
                    : sendmsg(connection->fd, &message, MSG_NOSIGNAL);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    atomic_fetch_add_explicit(&echo->bytes_out, (uint64_t)n, memory_order_relaxed);
    connection->start = (connection->start + (size_t)n) % capacity;
    connection->length -= (size_t)n;
    if (connection->length == 0) {
        give_back_buffer(echo, connection->buffer);
        connection->buffer = NULL;
        connection->start = 0;
    }
    return true;
}

static void serve(struct nd_echo *echo, struct connection *connection, unsigned events)
{
    bool ok = true;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        ok = read_some(echo, connection);
    /* Write at once what was just read: most of the time the socket takes it
     * and no EPOLLOUT round trip is needed. */
    if (ok)
        ok = write_some(echo, connection);
    if (ok && connection->read_closed && connection->length == 0) {
        /* Everything the client sent has gone back: end our direction too. */
        shutdown(connection->fd, SHUT_WR);
        ok = false;
    }
    if (ok)
        ok = update_interest(echo, connection);
    if (!ok) {
        close_connection(echo, connection);
        return;
    }
    mark_active(echo, connection);
}

static void accept_all(struct nd_echo *echo)
{
    for (;;) {
        int fd = accept4(echo->config.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if ((errno == EMFILE || errno == ENFILE) && echo->reserve_fd >= 0) {
                /* Out of descriptors: the pending connection would wake us
                 * forever. Use the spare to take it and close it at once. */
                close(echo->reserve_fd);
                int shed = accept4(echo->config.listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (shed >= 0) {
                    atomic_fetch_add_explicit(&echo->refused, 1, memory_order_relaxed);
                    close(shed);
                }
                echo->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                continue;
            }
            return; /* EAGAIN, or a transient error such as ECONNABORTED */
        }
        uint64_t open_now = atomic_load_explicit(&echo->open, memory_order_relaxed);
        if (open_now >= echo->config.max_connections) {
            /* Counted before the close, so a client that sees the close
             * also sees the count. */
            atomic_fetch_add_explicit(&echo->refused, 1, memory_order_relaxed);
            close(fd);
            continue;
        }
        struct connection *connection = calloc(1, sizeof *connection);
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = connection};
        if (!connection || epoll_ctl(echo->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
            free(connection);
            close(fd);
            atomic_fetch_add_explicit(&echo->refused, 1, memory_order_relaxed);
            continue;
        }
        connection->fd = fd;
        connection->interest = EPOLLIN;
        atomic_fetch_add_explicit(&echo->open, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&echo->total, 1, memory_order_relaxed);
        mark_active(echo, connection);
    }
}

/* Closes idle connections; returns the milliseconds until the next one
 * would be due, or -1 when there is none. */
static int close_idle(struct nd_echo *echo)
{
    uint64_t limit_ns = (uint64_t)echo->config.idle_timeout_s * 1000000000u;
    uint64_t now = echo->now_ns;
    while (echo->oldest && now - echo->oldest->last_active_ns >= limit_ns)
        close_connection(echo, echo->oldest);
    if (!echo->oldest)
        return -1;
    uint64_t due = echo->oldest->last_active_ns + limit_ns - now;
    return (int)(due / 1000000u) + 1;
}

static void *echo_main(void *context)
{
    struct nd_echo *echo = context;
    struct epoll_event events[256];
    for (;;) {
        echo->now_ns = nd_clock_monotonic_ns();
        int timeout = close_idle(echo);
        int count = epoll_wait(echo->epoll_fd, events, 256, timeout);
        if (count < 0 && errno != EINTR)
            break;
        echo->now_ns = nd_clock_monotonic_ns();
        bool stop = false;
        for (int i = 0; i < count; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &echo->wake_fd)
                stop = true;
            else if (tag == &echo->config.listen_fd)
                accept_all(echo);
            else
                serve(echo, tag, events[i].events);
        }
        if (stop)
            break;
    }
    atomic_store(&echo->running, false);
    while (echo->oldest)
        close_connection(echo, echo->oldest);
    return NULL;
}

enum nd_err nd_echo_start(const struct nd_echo_config *config, struct nd_echo **out,
                          struct nd_error *error)
{
    if (config->buffer_size == 0 || config->max_connections == 0 || config->idle_timeout_s == 0)
        return nd_error_set(error, ND_ERR_INVALID, "echo limits must be positive");
    struct nd_echo *echo = calloc(1, sizeof *echo);
    if (!echo)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    echo->config = *config;
    echo->wake_fd = -1;
    echo->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    enum nd_err err;
    echo->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (echo->epoll_fd < 0) {
        err = nd_error_set_errno(error, errno, "epoll_create1");
        goto fail;
    }
    echo->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (echo->wake_fd < 0) {
        err = nd_error_set_errno(error, errno, "eventfd");
        goto fail;
    }
    struct epoll_event wake = {.events = EPOLLIN, .data.ptr = &echo->wake_fd};
    struct epoll_event listen = {.events = EPOLLIN, .data.ptr = &echo->config.listen_fd};
    if (epoll_ctl(echo->epoll_fd, EPOLL_CTL_ADD, echo->wake_fd, &wake) != 0 ||
        epoll_ctl(echo->epoll_fd, EPOLL_CTL_ADD, config->listen_fd, &listen) != 0) {
        err = nd_error_set_errno(error, errno, "epoll_ctl");
        goto fail;
    }
    atomic_store(&echo->running, true);
    int rc = pthread_create(&echo->thread, NULL, echo_main, echo);
    if (rc != 0) {
        err = nd_error_set_errno(error, rc, "pthread_create");
        goto fail;
    }
    *out = echo;
    return ND_OK;

fail:
    if (echo->wake_fd >= 0)
        close(echo->wake_fd);
    if (echo->epoll_fd >= 0)
        close(echo->epoll_fd);
    if (echo->reserve_fd >= 0)
        close(echo->reserve_fd);
    free(echo);
    return err;
}

bool nd_echo_accepting(const struct nd_echo *echo)
{
    return atomic_load(&echo->running);
}

void nd_echo_get_stats(const struct nd_echo *echo, struct nd_echo_stats *stats)
{
    stats->connections_open = atomic_load_explicit(&echo->open, memory_order_relaxed);
    stats->connections_total = atomic_load_explicit(&echo->total, memory_order_relaxed);
    stats->connections_refused = atomic_load_explicit(&echo->refused, memory_order_relaxed);
    stats->bytes_in = atomic_load_explicit(&echo->bytes_in, memory_order_relaxed);
    stats->bytes_out = atomic_load_explicit(&echo->bytes_out, memory_order_relaxed);
}

void nd_echo_stop(struct nd_echo *echo)
{
    if (!echo)
        return;
    uint64_t one = 1;
    if (write(echo->wake_fd, &one, sizeof one) != (ssize_t)sizeof one)
        abort(); /* an eventfd write of 1 cannot fail short of a bug */
    pthread_join(echo->thread, NULL);
    close(echo->config.listen_fd);
    close(echo->wake_fd);
    close(echo->epoll_fd);
    if (echo->reserve_fd >= 0)
        close(echo->reserve_fd);
    while (echo->spare_count > 0)
        free(echo->spare_buffers[--echo->spare_count]);
    free(echo);
}
