#include "probe/udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/destination.h"
#include "probe/probe_life.h"
#include "runtime/runtime.h"

struct nd_udp_probe {
    struct nd_probe_life life; /* first: the handles' data serves it as well */
    uv_loop_t *loop;
    const struct nd_udp_request *request;
    struct nd_udp_result *result;
    nd_udp_done_fn done;
    void *context;
    uv_timer_t deadline; /* the whole probe */
    uv_timer_t pace;     /* the next datagram */
    uv_getaddrinfo_t lookup;
    uv_udp_t socket;
    struct nd_destination destination;
    size_t next_address;
    enum nd_udp_phase phase;
    uint64_t start_ns, attempt_ns, exchange_ns;
    uint64_t sent_ns[ND_UDP_COUNT_MAX];
    char *buffer; /* one datagram, while the exchange runs */
};

static const char *const phase_names[ND_UDP_PHASE_COUNT] = {"resolve", "connect", "exchange"};

static const char *const outcome_names[ND_UDP_OUTCOME_COUNT] = {
    "replied", "no_reply",  "refused",   "unreachable", "blocked",
    "timeout", "forbidden", "dns_error", "cancelled",   "error"};

const char *nd_udp_phase_name(enum nd_udp_phase phase)
{
    return (unsigned)phase < ND_UDP_PHASE_COUNT ? phase_names[phase] : "unknown";
}

const char *nd_udp_outcome_name(enum nd_udp_outcome outcome)
{
    return (unsigned)outcome < ND_UDP_OUTCOME_COUNT ? outcome_names[outcome] : "unknown";
}

/* The TCP probe's reading of errno, in UDP's words. */
enum nd_udp_outcome nd_udp_classify(int os_error)
{
    switch (nd_connect_classify(os_error)) {
    case ND_CONNECT_REFUSED:
        return ND_UDP_REFUSED;
    case ND_CONNECT_UNREACHABLE:
        return ND_UDP_UNREACHABLE;
    case ND_CONNECT_BLOCKED:
        return ND_UDP_BLOCKED;
    case ND_CONNECT_TIMED_OUT:
        return ND_UDP_TIMED_OUT;
    default:
        return ND_UDP_ERROR;
    }
}

void nd_udp_status_error(struct nd_error *error, int status, const char *call,
                         const char *port_words)
{
    nd_runtime_set_error(error, status, call);
    if (status == UV_ECONNREFUSED)
        nd_error_set(error, ND_ERR_SYSTEM,
                     "%s: Connection refused: an ICMP port unreachable came back, nothing "
                     "listens on %s",
                     call, port_words);
    error->os_error = -status;
}

static uint64_t elapsed_us(uint64_t since_ns)
{
    return (uv_hrtime() - since_ns) / 1000u;
}

static void record_stats(const struct nd_udp_probe *probe)
{
    struct nd_udp_stats *stats = probe->request->stats;
    const struct nd_udp_result *result = probe->result;
    if (!stats)
        return;
    atomic_fetch_add_explicit(&stats->outcomes[result->outcome], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&stats->datagrams_sent, result->sent, memory_order_relaxed);
    atomic_fetch_add_explicit(&stats->datagrams_answered, result->answered, memory_order_relaxed);
    for (unsigned i = 0; i < result->sent; i++) {
        if (result->datagrams[i].outcome == ND_UDP_REPLIED)
            nd_connect_count_duration(stats->rtt_buckets, &stats->rtt_sum_us,
                                      result->datagrams[i].rtt_us);
    }
}

static void release(struct nd_probe_life *life)
{
    struct nd_udp_probe *probe = (struct nd_udp_probe *)life;
    nd_udp_done_fn done = probe->done;
    void *context = probe->context;
    free(probe->buffer);
    free(probe);
    done(context);
}

static void connect_next(struct nd_udp_probe *probe);

static void next_attempt(struct nd_probe_life *life)
{
    connect_next((struct nd_udp_probe *)life);
}

static void finish(struct nd_udp_probe *probe, bool ok, enum nd_udp_outcome outcome,
                   const struct nd_error *error)
{
    if (probe->life.finished)
        return;
    struct nd_udp_result *result = probe->result;
    result->ok = ok;
    result->failed_phase = probe->phase;
    result->outcome = outcome;
    if (error)
        result->error = *error;
    result->total_us = elapsed_us(probe->start_ns);
    record_stats(probe);
    nd_probe_life_finish(&probe->life, &probe->deadline, &probe->pace,
                         (uv_handle_t *)&probe->socket, &probe->lookup);
}

static void fail(struct nd_udp_probe *probe, enum nd_udp_outcome outcome,
                 const struct nd_error *error)
{
    finish(probe, false, outcome, error);
}

/* The exchange is over: ok when anything came back. */
static void conclude(struct nd_udp_probe *probe, enum nd_udp_outcome outcome,
                     const struct nd_error *error)
{
    if (probe->result->answered > 0)
        finish(probe, true, ND_UDP_REPLIED, NULL);
    else
        fail(probe, outcome, error);
}

static void conclude_silence(struct nd_udp_probe *probe)
{
    struct nd_error error;
    nd_error_set(&error, ND_ERR_TIMEOUT,
                 "no reply to %u datagram%s within %u ms: filtered, or nothing listens (UDP "
                 "cannot tell which)",
                 probe->result->sent, probe->result->sent == 1 ? "" : "s",
                 probe->request->timeout_ms);
    conclude(probe, ND_UDP_NO_REPLY, &error);
}

static void send_next(struct nd_udp_probe *probe);

static void on_pace(uv_timer_t *timer)
{
    send_next(timer->data);
}

/* The datagram a reply or an ICMP error answers: the latest sent, while it
 * has none yet; -1 otherwise. */
static int awaiting(const struct nd_udp_probe *probe)
{
    const struct nd_udp_result *result = probe->result;
    if (result->sent == 0)
        return -1;
    unsigned latest = result->sent - 1;
    return result->datagrams[latest].outcome == ND_UDP_NO_REPLY ? (int)latest : -1;
}

/* ICMP said no (port unreachable, host unreachable) or the kernel refused
 * to send: the exchange with this address is over. Before any reply, the
 * next address gets its turn, as with TCP. */
static void exchange_failed(struct nd_udp_probe *probe, int datagram, int status, const char *call)
{
    struct nd_udp_result *result = probe->result;
    struct nd_error error;
    nd_udp_status_error(&error, status, call, "that port");
    enum nd_udp_outcome outcome = nd_udp_classify(-status);
    if (datagram >= 0) {
        result->datagrams[datagram].outcome = outcome;
        result->datagrams[datagram].error = error;
    }
    bool more = probe->next_address < result->path.address_count;
    if (result->answered > 0 || !more) {
        conclude(probe, outcome, &error);
        return;
    }
    struct nd_connect_attempt *attempt = &result->path.attempts[result->path.attempt_count - 1];
    attempt->duration_us = elapsed_us(probe->attempt_ns);
    attempt->outcome = nd_connect_classify(-status);
    attempt->error = error;
    uv_timer_stop(&probe->pace);
    memset(&result->datagrams, 0, sizeof result->datagrams);
    result->sent = result->extra_replies = 0;
    result->path.connected = false;
    result->path.local[0] = result->path.peer[0] = '\0';
    nd_probe_life_close_socket(&probe->life, (uv_handle_t *)&probe->socket, true);
}

static void send_next(struct nd_udp_probe *probe)
{
    struct nd_udp_result *result = probe->result;
    const struct nd_udp_request *request = probe->request;
    if (probe->life.finished)
        return;
    unsigned index = result->sent;
    uv_buf_t buffer = uv_buf_init((char *)request->send, (unsigned)request->send_length);
    uint64_t now = uv_hrtime();
    int status = uv_udp_try_send(&probe->socket, &buffer, 1, NULL);
    /* A pending ECONNREFUSED answers an earlier datagram, not this one,
     * which did not leave. */
    if (status == UV_ECONNREFUSED && index > 0) {
        exchange_failed(probe, awaiting(probe), status, "send");
        return;
    }
    probe->sent_ns[index] = now;
    result->datagrams[index].sent_us = (now - probe->exchange_ns) / 1000u;
    result->datagrams[index].outcome = ND_UDP_NO_REPLY;
    result->sent++;
    if (status < 0) {
        exchange_failed(probe, (int)index, status, "send");
        return;
    }
    if (result->sent < request->count) {
        /* The loop's clock was read before this callback began; from a
         * fresh reading the interval is measured from this send. */
        uv_update_time(probe->loop);
        uv_timer_start(&probe->pace, on_pace, request->interval_ms, 0);
    }
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer)
{
    struct nd_udp_probe *probe = handle->data;
    (void)suggested;
    *buffer = uv_buf_init(probe->buffer, ND_UDP_DATAGRAM_MAX);
}

static void take_reply(struct nd_udp_probe *probe, const uint8_t *data, size_t length)
{
    struct nd_udp_result *result = probe->result;
    const struct nd_udp_request *request = probe->request;
    int index = awaiting(probe);
    if (index < 0) {
        result->extra_replies++;
        return;
    }
    struct nd_udp_datagram *datagram = &result->datagrams[index];
    datagram->outcome = ND_UDP_REPLIED;
    datagram->rtt_us = (uv_hrtime() - probe->sent_ns[index]) / 1000u;
    datagram->reply_length = length;
    datagram->reply_identical =
        length == request->send_length && memcmp(data, request->send, length) == 0;
    if (result->answered == 0 || datagram->rtt_us < result->rtt_min_us)
        result->rtt_min_us = datagram->rtt_us;
    if (datagram->rtt_us > result->rtt_max_us)
        result->rtt_max_us = datagram->rtt_us;
    result->rtt_sum_us += datagram->rtt_us;
    if (result->answered++ == 0) {
        size_t kept = length < request->read_limit ? length : request->read_limit;
        result->reply = malloc(kept ? kept : 1);
        if (result->reply) {
            memcpy(result->reply, data, kept);
            result->reply_length = kept;
        }
    }
    if (result->sent == request->count)
        finish(probe, true, ND_UDP_REPLIED, NULL);
}

static void on_receive(uv_udp_t *socket, ssize_t count, const uv_buf_t *buffer,
                       const struct sockaddr *from, unsigned flags)
{
    struct nd_udp_probe *probe = socket->data;
    (void)flags; /* a datagram never exceeds the buffer: UV_UDP_PARTIAL cannot come */
    if (probe->life.finished)
        return;
    if (count < 0) {
        exchange_failed(probe, awaiting(probe), (int)count, "recv");
        return;
    }
    if (count == 0 && from == NULL)
        return; /* nothing to read after all; an empty datagram comes with its sender */
    take_reply(probe, (const uint8_t *)buffer->base, (size_t)count);
}

static void name_ends(struct nd_udp_probe *probe)
{
    struct nd_connect_result *path = &probe->result->path;
    struct sockaddr_storage address;
    int length = sizeof address;
    if (uv_udp_getsockname(&probe->socket, (struct sockaddr *)&address, &length) == 0)
        nd_net_format_address((struct sockaddr *)&address, path->local, sizeof path->local);
    length = sizeof address;
    if (uv_udp_getpeername(&probe->socket, (struct sockaddr *)&address, &length) == 0)
        nd_net_format_address((struct sockaddr *)&address, path->peer, sizeof path->peer);
}

static void start_exchange(struct nd_udp_probe *probe)
{
    probe->phase = ND_UDP_EXCHANGE;
    if (!probe->buffer && !(probe->buffer = malloc(ND_UDP_DATAGRAM_MAX))) {
        struct nd_error error;
        nd_error_set(&error, ND_ERR_NO_MEMORY, "out of memory");
        fail(probe, ND_UDP_ERROR, &error);
        return;
    }
    int status = uv_udp_recv_start(&probe->socket, on_alloc, on_receive);
    if (status != 0) {
        exchange_failed(probe, -1, status, "uv_udp_recv_start");
        return;
    }
    probe->exchange_ns = uv_hrtime();
    send_next(probe);
}

/* The next address, or the verdict of the last attempt when none is left. */
static void connect_next(struct nd_udp_probe *probe)
{
    struct nd_connect_result *path = &probe->result->path;
    probe->phase = ND_UDP_CONNECT;
    if (probe->next_address == path->address_count) {
        const struct nd_connect_attempt *last = &path->attempts[path->attempt_count - 1];
        fail(probe, nd_udp_classify(last->error.os_error), &last->error);
        return;
    }
    size_t index = probe->next_address++;
    struct nd_connect_attempt *attempt = &path->attempts[path->attempt_count++];
    memcpy(attempt->address, path->addresses[index].text, sizeof path->addresses[index].text);
    attempt->family = path->addresses[index].family;
    probe->attempt_ns = uv_hrtime();
    int status = uv_udp_init_ex(probe->loop, &probe->socket, (unsigned)attempt->family);
    if (status != 0) {
        attempt->duration_us = elapsed_us(probe->attempt_ns);
        attempt->outcome = nd_connect_classify(-status);
        nd_runtime_set_error(&attempt->error, status, "socket");
        connect_next(probe);
        return;
    }
    nd_probe_life_hold_socket(&probe->life, (uv_handle_t *)&probe->socket);
    status = uv_udp_connect(&probe->socket, &probe->destination.addresses[index].any);
    attempt->duration_us = elapsed_us(probe->attempt_ns);
    attempt->outcome = nd_connect_classify(-status);
    if (status != 0) {
        nd_runtime_set_error(&attempt->error, status, "connect");
        nd_probe_life_close_socket(&probe->life, (uv_handle_t *)&probe->socket, true);
        return;
    }
    path->connected = true;
    name_ends(probe);
    start_exchange(probe);
}

static void check_and_connect(struct nd_udp_probe *probe)
{
    struct nd_error error;
    if (probe->result->path.resolve_error.code != ND_OK) {
        fail(probe, ND_UDP_DNS_ERROR, &probe->result->path.resolve_error);
        return;
    }
    if (!nd_destination_allowed(&probe->destination, &error)) {
        probe->phase = ND_UDP_CONNECT;
        fail(probe, ND_UDP_FORBIDDEN, &error);
        return;
    }
    connect_next(probe);
}

static void on_resolved(uv_getaddrinfo_t *lookup, int status, struct addrinfo *list)
{
    struct nd_udp_probe *probe = lookup->data;
    if (!nd_probe_life_lookup_returned(&probe->life, list))
        return;
    probe->result->path.resolve_us = elapsed_us(probe->start_ns);
    nd_destination_take_lookup(&probe->destination, status, list);
    uv_freeaddrinfo(list);
    check_and_connect(probe);
}

static void on_deadline(uv_timer_t *timer)
{
    struct nd_udp_probe *probe = timer->data;
    if (probe->phase == ND_UDP_EXCHANGE) {
        conclude_silence(probe);
        return;
    }
    struct nd_error error;
    nd_error_set(&error, ND_ERR_TIMEOUT, "no %s within %u ms",
                 probe->phase == ND_UDP_RESOLVE ? "answer from the resolver" : "connection",
                 probe->request->timeout_ms);
    error.os_error = ETIMEDOUT;
    if (probe->phase == ND_UDP_RESOLVE)
        probe->result->path.resolve_us = elapsed_us(probe->start_ns);
    fail(probe, ND_UDP_TIMED_OUT, &error);
}

struct nd_udp_probe *nd_udp_start(uv_loop_t *loop, const struct nd_udp_request *request,
                                  struct nd_udp_result *result, nd_udp_done_fn done, void *context)
{
    memset(result, 0, sizeof *result);
    struct nd_udp_probe *probe = calloc(1, sizeof *probe);
    if (!probe) {
        nd_error_set(&result->error, ND_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    probe->loop = loop;
    probe->request = request;
    probe->result = result;
    probe->done = done;
    probe->context = context;
    probe->destination = (struct nd_destination){.host = request->host,
                                                 .port = request->port,
                                                 .family = request->family,
                                                 .allow = request->allow,
                                                 .result = &result->path};
    probe->start_ns = uv_hrtime();
    probe->phase = ND_UDP_RESOLVE;
    nd_probe_life_begin(&probe->life, loop, &probe->deadline, &probe->pace, release, next_attempt);
    uv_timer_start(&probe->deadline, on_deadline, request->timeout_ms, 0);
    if (nd_destination_take_literal(&probe->destination)) {
        check_and_connect(probe);
        return probe;
    }
    probe->lookup.data = probe;
    if (!nd_destination_look_up(&probe->destination, loop, &probe->lookup, on_resolved)) {
        fail(probe, ND_UDP_DNS_ERROR, &result->path.resolve_error);
        return probe;
    }
    probe->life.looking_up = true;
    return probe;
}

void nd_udp_cancel(struct nd_udp_probe *probe)
{
    struct nd_error error;
    nd_error_set(&error, ND_ERR_STOPPING, "the probe was cut short");
    fail(probe, ND_UDP_CANCELLED, &error);
}

void nd_udp_result_free(struct nd_udp_result *result)
{
    free(result->reply);
    result->reply = NULL;
}
