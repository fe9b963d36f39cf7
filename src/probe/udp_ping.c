#include "probe/udp_ping.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

enum { PAYLOAD_MAX = 32 };

struct nd_udp_ping {
    uv_loop_t *loop;
    struct sockaddr_storage peer;
    uv_udp_t socket;
    uv_timer_t timer; /* the deadline; at 0, the delivery of an end decided in a call */
    bool socket_open; /* the handle exists and needs closing */
    bool connected;   /* and is connected and reading */
    unsigned open_handles;
    /* The ping in flight. */
    bool in_flight;
    bool settled; /* its result is written; done is due */
    uint32_t sequence;
    uint64_t sent_ns;
    unsigned timeout_ms;
    struct nd_udp_ping_result *result;
    nd_udp_ping_fn done;
    void *context;
    char payload[PAYLOAD_MAX];
    size_t payload_length;
    char buffer[PAYLOAD_MAX * 2]; /* an echo longer than the payload is not ours */
    /* Closing. */
    bool closing;
    nd_udp_ping_fn closed;
    void *closed_context;
};

/* The result is written; done runs later, from a loop callback. */
static void settle(struct nd_udp_ping *ping, enum nd_udp_outcome outcome, enum nd_udp_phase phase,
                   const struct nd_error *error)
{
    struct nd_udp_ping_result *result = ping->result;
    ping->settled = true;
    result->ok = outcome == ND_UDP_REPLIED;
    result->outcome = outcome;
    if (!result->ok) {
        result->failed_phase = phase;
        result->error = *error;
    }
}

static void settle_status(struct nd_udp_ping *ping, enum nd_udp_phase phase, int status,
                          const char *call)
{
    struct nd_error error;
    nd_udp_status_error(&error, status, call, "the peer's echo port");
    settle(ping, nd_udp_classify(-status), phase, &error);
}

static void deliver(struct nd_udp_ping *ping)
{
    nd_udp_ping_fn done = ping->done;
    void *context = ping->context;
    ping->in_flight = ping->settled = false;
    ping->result = NULL;
    done(context); /* may close the ping: nothing of it is touched after */
}

static void on_timer(uv_timer_t *timer)
{
    struct nd_udp_ping *ping = timer->data;
    if (!ping->in_flight)
        return;
    if (!ping->settled) {
        struct nd_error error;
        nd_error_set(&error, ND_ERR_TIMEOUT,
                     "no echo within %u ms: filtered, or nothing listens (UDP cannot tell which)",
                     ping->timeout_ms);
        settle(ping, ND_UDP_NO_REPLY, ND_UDP_EXCHANGE, &error);
    }
    deliver(ping);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer)
{
    struct nd_udp_ping *ping = handle->data;
    (void)suggested;
    *buffer = uv_buf_init(ping->buffer, sizeof ping->buffer);
}

static void on_receive(uv_udp_t *socket, ssize_t count, const uv_buf_t *buffer,
                       const struct sockaddr *from, unsigned flags)
{
    struct nd_udp_ping *ping = socket->data;
    if (count == 0 && from == NULL)
        return; /* nothing to read after all */
    /* An echo or an ICMP error between pings answers one given up on. */
    if (!ping->in_flight || ping->settled)
        return;
    if (count < 0) {
        settle_status(ping, ND_UDP_EXCHANGE, (int)count, "recv");
    } else if ((size_t)count == ping->payload_length && !(flags & UV_UDP_PARTIAL) &&
               memcmp(buffer->base, ping->payload, ping->payload_length) == 0) {
        ping->result->answered = 1;
        ping->result->rtt_us = (uv_hrtime() - ping->sent_ns) / 1000u;
        settle(ping, ND_UDP_REPLIED, ND_UDP_EXCHANGE, NULL);
    } else {
        return; /* the late echo of an earlier ping, or not an echo */
    }
    uv_timer_stop(&ping->timer);
    deliver(ping);
}

static void on_closed(uv_handle_t *handle)
{
    struct nd_udp_ping *ping = handle->data;
    if (--ping->open_handles > 0)
        return;
    if (ping->in_flight)
        deliver(ping);
    if (ping->closed)
        ping->closed(ping->closed_context);
    free(ping);
}

struct nd_udp_ping *nd_udp_ping_open(uv_loop_t *loop, const struct sockaddr *peer)
{
    struct nd_udp_ping *ping = calloc(1, sizeof *ping);
    if (!ping)
        return NULL;
    ping->loop = loop;
    memcpy(&ping->peer, peer,
           peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    uv_timer_init(loop, &ping->timer);
    ping->timer.data = ping;
    ping->open_handles = 1;
    return ping;
}

/* The connected socket, opened at the first ping and reopened after a
 * failure; the name of the call that failed, with its status, otherwise. */
static int connect_socket(struct nd_udp_ping *ping, const char **call)
{
    int status;
    if (!ping->socket_open) {
        *call = "socket";
        if ((status = uv_udp_init_ex(ping->loop, &ping->socket, ping->peer.ss_family)) < 0)
            return status;
        ping->socket.data = ping;
        ping->socket_open = true;
        ping->open_handles++;
    }
    if (!ping->connected) {
        /* connect() on a UDP socket sends nothing: it picks the route and
         * the source address, and may be tried again at the next ping. */
        *call = "connect";
        if ((status = uv_udp_connect(&ping->socket, (const struct sockaddr *)&ping->peer)) < 0)
            return status;
        *call = "recv";
        if ((status = uv_udp_recv_start(&ping->socket, on_alloc, on_receive)) < 0)
            return status;
        ping->connected = true;
    }
    return 0;
}

bool nd_udp_ping_send(struct nd_udp_ping *ping, unsigned timeout_ms,
                      struct nd_udp_ping_result *result, nd_udp_ping_fn done, void *context)
{
    if (ping->in_flight || ping->closing)
        return false;
    memset(result, 0, sizeof *result);
    ping->in_flight = true;
    ping->settled = false;
    ping->result = result;
    ping->done = done;
    ping->context = context;
    ping->timeout_ms = timeout_ms;
    ping->sequence++;
    ping->payload_length = (size_t)snprintf(ping->payload, sizeof ping->payload,
                                            "netdiag fleet %" PRIu32, ping->sequence);

    const char *call;
    int status = connect_socket(ping, &call);
    if (status < 0) {
        settle_status(ping, ND_UDP_CONNECT, status, call);
        uv_timer_start(&ping->timer, on_timer, 0, 0);
        return true;
    }
    uv_buf_t buffer = uv_buf_init(ping->payload, (unsigned)ping->payload_length);
    ping->sent_ns = uv_hrtime();
    status = uv_udp_try_send(&ping->socket, &buffer, 1, NULL);
    /* A refusal still pending from an ICMP that came after the last ping
     * ended answers that ping; this datagram did not leave. */
    if (status == UV_ECONNREFUSED)
        status = uv_udp_try_send(&ping->socket, &buffer, 1, NULL);
    if (status < 0) {
        settle_status(ping, ND_UDP_EXCHANGE, status, "send");
        uv_timer_start(&ping->timer, on_timer, 0, 0);
        return true;
    }
    result->sent = 1;
    uv_timer_start(&ping->timer, on_timer, timeout_ms, 0);
    return true;
}

void nd_udp_ping_cancel(struct nd_udp_ping *ping)
{
    if (!ping->in_flight || ping->settled)
        return;
    struct nd_error error;
    nd_error_set(&error, ND_ERR_STOPPING, "cancelled");
    settle(ping, ND_UDP_CANCELLED, ND_UDP_EXCHANGE, &error);
    if (!ping->closing)
        uv_timer_start(&ping->timer, on_timer, 0, 0);
}

void nd_udp_ping_close(struct nd_udp_ping *ping, nd_udp_ping_fn closed, void *context)
{
    ping->closing = true;
    nd_udp_ping_cancel(ping);
    ping->closed = closed;
    ping->closed_context = context;
    uv_close((uv_handle_t *)&ping->timer, on_closed);
    if (ping->socket_open)
        uv_close((uv_handle_t *)&ping->socket, on_closed);
}
