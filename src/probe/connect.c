#include "probe/connect.h"

#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "probe/destination.h"
#include "probe/probe_life.h"
#include "runtime/runtime.h"

const uint64_t nd_connect_bucket_bounds_us[ND_CONNECT_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000, 10000000, UINT64_MAX};

struct nd_connect_probe {
    struct nd_probe_life life; /* first: the handles' data serves it as well */
    uv_loop_t *loop;
    const struct nd_connect_request *request;
    struct nd_connect_result *result;
    nd_connect_done_fn done;
    void *context;
    uv_timer_t deadline; /* the whole probe */
    uv_timer_t quiet;    /* silence after the last byte */
    uv_getaddrinfo_t lookup;
    uv_tcp_t socket;
    uv_connect_t connecting;
    uv_write_t writing;
    struct nd_tls_session *tls;
    struct nd_tls_trust_waiter trust_waiter; /* queued while the system's anchors load */
    uint8_t *ciphertext;                     /* what the socket read, for the TLS session */
    unsigned tls_writes;                     /* TLS records on their way to the socket */
    bool tls_send_pending;                   /* the payload is among them */
    struct nd_destination destination;
    size_t next_address;
    enum nd_connect_phase phase;
    uint64_t start_ns, attempt_ns, connected_ns, first_byte_ns;
};

/* Indexed by the enums; a missing name is a compile error, not a NULL. */
static const char *const phase_names[ND_CONNECT_PHASE_COUNT] = {
    [ND_CONNECT_RESOLVE] = "resolve",     [ND_CONNECT_CONNECT] = "connect",
    [ND_CONNECT_HANDSHAKE] = "handshake", [ND_CONNECT_VERIFY] = "verify",
    [ND_CONNECT_SEND] = "send",           [ND_CONNECT_FIRST_BYTE] = "first_byte",
    [ND_CONNECT_RECEIVE] = "receive",     [ND_CONNECT_EXPECT] = "expect",
};

static const char *const outcome_names[ND_CONNECT_OUTCOME_COUNT] = {
    [ND_CONNECT_CONNECTED] = "connected", [ND_CONNECT_REFUSED] = "refused",
    [ND_CONNECT_TIMED_OUT] = "timeout",   [ND_CONNECT_UNREACHABLE] = "unreachable",
    [ND_CONNECT_RESET] = "reset",         [ND_CONNECT_BLOCKED] = "blocked",
    [ND_CONNECT_FORBIDDEN] = "forbidden", [ND_CONNECT_DNS_ERROR] = "dns_error",
    [ND_CONNECT_CLOSED] = "closed",       [ND_CONNECT_NOT_FOUND] = "not_found",
    [ND_CONNECT_TLS_ALERT] = "tls_alert", [ND_CONNECT_TLS_ERROR] = "tls_error",
    [ND_CONNECT_UNTRUSTED] = "untrusted", [ND_CONNECT_CANCELLED] = "cancelled",
    [ND_CONNECT_ERROR] = "error",
};

static const char *const end_names[] = {"none",  "closed",  "limit", "expect",
                                        "quiet", "timeout", "reset"};

const char *nd_connect_phase_name(enum nd_connect_phase phase)
{
    return (unsigned)phase < ND_CONNECT_PHASE_COUNT ? phase_names[phase] : "unknown";
}

const char *nd_connect_outcome_name(enum nd_connect_outcome outcome)
{
    return (unsigned)outcome < ND_CONNECT_OUTCOME_COUNT ? outcome_names[outcome] : "unknown";
}

const char *nd_connect_end_name(enum nd_connect_end end)
{
    return (unsigned)end < sizeof end_names / sizeof end_names[0] ? end_names[end] : "unknown";
}

enum nd_connect_outcome nd_connect_classify(int os_error)
{
    switch (os_error) {
    case 0:
        return ND_CONNECT_CONNECTED;
    case ECONNREFUSED:
        return ND_CONNECT_REFUSED;
    case ETIMEDOUT:
        return ND_CONNECT_TIMED_OUT;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case EADDRNOTAVAIL:
        return ND_CONNECT_UNREACHABLE;
    case ECONNRESET:
    case EPIPE:
        return ND_CONNECT_RESET;
    case EACCES:
    case EPERM:
        return ND_CONNECT_BLOCKED;
    default:
        return ND_CONNECT_ERROR;
    }
}

static uint64_t elapsed_us(uint64_t since_ns)
{
    return (uv_hrtime() - since_ns) / 1000u;
}

void nd_connect_count_duration(atomic_uint_fast64_t *buckets, atomic_uint_fast64_t *sum,
                               uint64_t duration_us)
{
    size_t bucket = 0;
    while (duration_us > nd_connect_bucket_bounds_us[bucket])
        bucket++;
    atomic_fetch_add_explicit(&buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(sum, duration_us, memory_order_relaxed);
}

static void record_stats(const struct nd_connect_probe *probe)
{
    struct nd_connect_stats *stats = probe->request->stats;
    const struct nd_connect_result *result = probe->result;
    if (!stats)
        return;
    atomic_fetch_add_explicit(&stats->outcomes[result->outcome], 1, memory_order_relaxed);
    nd_connect_count_duration(stats->total_buckets, &stats->total_sum_us, result->total_us);
    if (result->connected)
        nd_connect_count_duration(stats->connect_buckets, &stats->connect_sum_us,
                                  result->attempts[result->attempt_count - 1].duration_us);
    if (result->got_first_byte)
        nd_connect_count_duration(stats->first_byte_buckets, &stats->first_byte_sum_us,
                                  result->first_byte_us);
}

static void release(struct nd_probe_life *life)
{
    struct nd_connect_probe *probe = (struct nd_connect_probe *)life;
    nd_connect_done_fn done = probe->done;
    void *context = probe->context;
    nd_tls_session_free(probe->tls);
    free(probe->ciphertext);
    free(probe);
    done(context);
}

static void connect_next(struct nd_connect_probe *probe);

static void next_attempt(struct nd_probe_life *life)
{
    connect_next((struct nd_connect_probe *)life);
}

/* The probe is over: the verdict, then every handle closes; done follows
 * the last close. */
static void finish(struct nd_connect_probe *probe, bool ok, enum nd_connect_outcome outcome,
                   const struct nd_error *error)
{
    if (probe->life.finished)
        return;
    struct nd_connect_result *result = probe->result;
    result->ok = ok;
    result->failed_phase = probe->phase;
    result->outcome = outcome;
    if (error)
        result->error = *error;
    result->total_us = elapsed_us(probe->start_ns);
    record_stats(probe);
    if (probe->request->tls)
        nd_tls_trust_unwait(probe->request->trust, &probe->trust_waiter);
    nd_probe_life_finish(&probe->life, &probe->deadline, &probe->quiet,
                         (uv_handle_t *)&probe->socket, &probe->lookup);
}

static void fail(struct nd_connect_probe *probe, enum nd_connect_outcome outcome,
                 const struct nd_error *error)
{
    finish(probe, false, outcome, error);
}

/* A failure told by errno (from a libuv status). */
static void fail_errno(struct nd_connect_probe *probe, int status, const char *call)
{
    struct nd_error error;
    nd_runtime_set_error(&error, status, call);
    fail(probe, nd_connect_classify(-status), &error);
}

static void reply_over(struct nd_connect_probe *probe, enum nd_connect_end end)
{
    struct nd_connect_result *result = probe->result;
    result->ended_by = end;
    result->receive_us = elapsed_us(probe->first_byte_ns);
    if (probe->request->expect_length > 0 && !result->expect_found) {
        probe->phase = ND_CONNECT_EXPECT;
        struct nd_error error;
        nd_error_set(&error, ND_ERR_NOT_FOUND, "the reply (%zu bytes) does not contain '%.64s'",
                     result->received_length, probe->request->expect);
        fail(probe, ND_CONNECT_NOT_FOUND, &error);
        return;
    }
    finish(probe, true, ND_CONNECT_CONNECTED, NULL);
}

static void on_quiet(uv_timer_t *timer)
{
    reply_over(timer->data, ND_CONNECT_END_QUIET);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer)
{
    struct nd_connect_probe *probe = handle->data;
    struct nd_connect_result *result = probe->result;
    (void)suggested;
    /* Allocated when the first byte comes: a thousand probes waiting on
     * silent servers hold no buffers. */
    if (!result->received)
        result->received = malloc(probe->request->read_limit);
    if (!result->received) {
        *buffer = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    *buffer = uv_buf_init((char *)result->received + result->received_length,
                          (unsigned)(probe->request->read_limit - result->received_length));
}

static bool expect_found(const struct nd_connect_probe *probe)
{
    const struct nd_connect_result *result = probe->result;
    return probe->request->expect_length > 0 &&
           memmem(result->received, result->received_length, probe->request->expect,
                  probe->request->expect_length) != NULL;
}

/* count more bytes of the reply are in result->received. */
static void got_bytes(struct nd_connect_probe *probe, size_t count)
{
    struct nd_connect_result *result = probe->result;
    if (!result->got_first_byte) {
        result->got_first_byte = true;
        result->first_byte_us = elapsed_us(probe->connected_ns);
        probe->first_byte_ns = uv_hrtime();
        probe->phase = ND_CONNECT_RECEIVE;
    }
    result->received_length += count;
    if (expect_found(probe)) {
        result->expect_found = true;
        reply_over(probe, ND_CONNECT_END_EXPECT);
    } else if (result->received_length == probe->request->read_limit) {
        reply_over(probe, ND_CONNECT_END_LIMIT);
    } else {
        uv_timer_start(&probe->quiet, on_quiet, ND_CONNECT_QUIET_MS, 0);
    }
}

/* The peer closed (or reset, when reset) while a reply was awaited. */
static void peer_closed(struct nd_connect_probe *probe, bool reset)
{
    if (probe->result->got_first_byte) {
        reply_over(probe, reset ? ND_CONNECT_END_RESET : ND_CONNECT_END_CLOSED);
        return;
    }
    struct nd_error error;
    nd_error_set(&error, ND_ERR_PROTOCOL, "the peer closed the connection without sending a byte");
    fail(probe, ND_CONNECT_CLOSED, &error);
}

static void on_read(uv_stream_t *stream, ssize_t count, const uv_buf_t *buffer)
{
    struct nd_connect_probe *probe = stream->data;
    (void)buffer;
    if (probe->life.finished || count == 0)
        return;
    if (count > 0) {
        got_bytes(probe, (size_t)count);
        return;
    }
    if (count == UV_EOF || probe->result->got_first_byte) {
        peer_closed(probe, count != UV_EOF);
        return;
    }
    fail_errno(probe, (int)count, "recv");
}

static void drain_tls(struct nd_connect_probe *probe);

static void await_reply(struct nd_connect_probe *probe)
{
    if (!probe->request->await_reply) {
        finish(probe, true, ND_CONNECT_CONNECTED, NULL);
        return;
    }
    probe->phase = ND_CONNECT_FIRST_BYTE;
    if (probe->tls) {
        drain_tls(probe); /* the socket is read already, for the session */
        return;
    }
    int status = uv_read_start((uv_stream_t *)&probe->socket, on_alloc, on_read);
    if (status != 0)
        fail_errno(probe, status, "uv_read_start");
}

static void on_written(uv_write_t *request, int status)
{
    struct nd_connect_probe *probe = request->data;
    if (probe->life.finished)
        return;
    probe->result->send_us = elapsed_us(probe->attempt_ns);
    if (status != 0) {
        fail_errno(probe, status, "send");
        return;
    }
    probe->result->sent = probe->request->send_length;
    await_reply(probe);
}

static void name_ends(struct nd_connect_probe *probe)
{
    struct sockaddr_storage address;
    int length = sizeof address;
    if (uv_tcp_getsockname(&probe->socket, (struct sockaddr *)&address, &length) == 0)
        nd_net_format_address((struct sockaddr *)&address, probe->result->local,
                              sizeof probe->result->local);
    length = sizeof address;
    if (uv_tcp_getpeername(&probe->socket, (struct sockaddr *)&address, &length) == 0)
        nd_net_format_address((struct sockaddr *)&address, probe->result->peer,
                              sizeof probe->result->peer);
}

/* --- TLS: the session rides on the stream; the socket is read all along
 * and what it reads is fed to the session. --- */

struct tls_write {
    uv_write_t request;
    struct nd_connect_probe *probe;
    uint8_t *data;
};

static void on_tls_written(uv_write_t *request, int status)
{
    struct tls_write *write = (struct tls_write *)request;
    struct nd_connect_probe *probe = write->probe;
    free(write->data);
    free(write);
    probe->tls_writes--;
    if (probe->life.finished)
        return;
    if (status != 0) {
        fail_errno(probe, status, "send");
        return;
    }
    if (probe->tls_writes == 0 && probe->tls_send_pending) {
        probe->tls_send_pending = false;
        probe->result->send_us = elapsed_us(probe->attempt_ns);
        probe->result->sent = probe->request->send_length;
        await_reply(probe);
    }
}

/* Sends the records the session made; false after failing the probe. */
static bool flush_tls(struct nd_connect_probe *probe)
{
    uint8_t *data;
    size_t length;
    if (!nd_tls_take_output(probe->tls, &data, &length))
        return true;
    struct tls_write *write = malloc(sizeof *write);
    if (!write) {
        free(data);
        struct nd_error error;
        nd_error_set(&error, ND_ERR_NO_MEMORY, "out of memory");
        fail(probe, ND_CONNECT_ERROR, &error);
        return false;
    }
    write->probe = probe;
    write->data = data;
    uv_buf_t buffer = uv_buf_init((char *)data, (unsigned)length);
    int status =
        uv_write(&write->request, (uv_stream_t *)&probe->socket, &buffer, 1, on_tls_written);
    if (status != 0) {
        free(data);
        free(write);
        fail_errno(probe, status, "send");
        return false;
    }
    probe->tls_writes++;
    return true;
}

/* Decrypts what came into the reply, as far as it goes. */
static void drain_tls(struct nd_connect_probe *probe)
{
    struct nd_connect_result *result = probe->result;
    while (!probe->life.finished) {
        if (!result->received && !(result->received = malloc(probe->request->read_limit))) {
            struct nd_error error;
            nd_error_set(&error, ND_ERR_NO_MEMORY, "out of memory");
            fail(probe, ND_CONNECT_ERROR, &error);
            return;
        }
        size_t count;
        struct nd_error error;
        enum nd_tls_step step =
            nd_tls_read(probe->tls, result->received + result->received_length,
                        probe->request->read_limit - result->received_length, &count, &error);
        flush_tls(probe); /* a read may answer the peer (a key update) */
        if (step == ND_TLS_WANT_MORE)
            return;
        if (step == ND_TLS_FAILED && result->got_first_byte) {
            reply_over(probe, ND_CONNECT_END_RESET);
            return;
        }
        if (step == ND_TLS_FAILED) {
            fail(probe, ND_CONNECT_TLS_ERROR, &error);
            return;
        }
        if (count == 0) {
            peer_closed(probe, false);
            return;
        }
        got_bytes(probe, count);
    }
}

static void send_over_tls(struct nd_connect_probe *probe)
{
    if (probe->request->send_length == 0) {
        await_reply(probe);
        return;
    }
    probe->phase = ND_CONNECT_SEND;
    probe->attempt_ns = uv_hrtime();
    struct nd_error error;
    if (nd_tls_write(probe->tls, probe->request->send, probe->request->send_length, &error) !=
        ND_OK) {
        fail(probe, ND_CONNECT_TLS_ERROR, &error);
        return;
    }
    probe->tls_send_pending = true;
    flush_tls(probe);
}

static void step_handshake(struct nd_connect_probe *probe)
{
    struct nd_connect_result *result = probe->result;
    struct nd_error error;
    enum nd_tls_step step = nd_tls_handshake(probe->tls, result->tls, &error);
    if (!flush_tls(probe) || step == ND_TLS_WANT_MORE)
        return;
    result->handshake_us = elapsed_us(probe->attempt_ns);
    if (step == ND_TLS_FAILED) {
        fail(probe, result->tls->alert[0] ? ND_CONNECT_TLS_ALERT : ND_CONNECT_TLS_ERROR, &error);
        return;
    }
    probe->phase = ND_CONNECT_VERIFY;
    if (!result->tls->verified && !probe->request->insecure) {
        nd_error_set(&error, ND_ERR_PROTOCOL, "the certificate does not verify: %s",
                     result->tls->verify_message);
        fail(probe, ND_CONNECT_UNTRUSTED, &error);
        return;
    }
    send_over_tls(probe);
}

static void on_tls_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer)
{
    struct nd_connect_probe *probe = handle->data;
    enum { CIPHERTEXT_READ = 16384 };
    (void)suggested;
    if (!probe->ciphertext)
        probe->ciphertext = malloc(CIPHERTEXT_READ);
    *buffer = uv_buf_init((char *)probe->ciphertext, probe->ciphertext ? CIPHERTEXT_READ : 0);
}

static void on_tls_read(uv_stream_t *stream, ssize_t count, const uv_buf_t *buffer)
{
    struct nd_connect_probe *probe = stream->data;
    if (probe->life.finished || count == 0)
        return;
    if (count > 0) {
        struct nd_error error;
        if (nd_tls_feed(probe->tls, (const uint8_t *)buffer->base, (size_t)count, &error) !=
            ND_OK) {
            fail(probe, ND_CONNECT_ERROR, &error);
            return;
        }
    } else if (count == UV_EOF) {
        nd_tls_feed_end(probe->tls);
    } else {
        fail_errno(probe, (int)count, "recv");
        return;
    }
    if (probe->phase == ND_CONNECT_HANDSHAKE)
        step_handshake(probe);
    else if (probe->phase == ND_CONNECT_FIRST_BYTE || probe->phase == ND_CONNECT_RECEIVE)
        drain_tls(probe);
}

static void start_handshake(struct nd_connect_probe *probe)
{
    const struct nd_connect_request *request = probe->request;
    probe->attempt_ns = uv_hrtime();
    struct nd_error error;
    struct nd_tls_options options = {.server_name = request->server_name[0] ? request->server_name
                                                                            : request->host,
                                     .alpn = request->alpn};
    if (nd_tls_session_new(request->trust, &options, &probe->tls, &error) != ND_OK) {
        fail(probe, ND_CONNECT_TLS_ERROR, &error);
        return;
    }
    int status = uv_read_start((uv_stream_t *)&probe->socket, on_tls_alloc, on_tls_read);
    if (status != 0) {
        fail_errno(probe, status, "uv_read_start");
        return;
    }
    step_handshake(probe);
}

static void on_trust_ready(struct nd_tls_trust_waiter *waiter)
{
    struct nd_connect_probe *probe =
        (struct nd_connect_probe *)((char *)waiter -
                                    offsetof(struct nd_connect_probe, trust_waiter));
    probe->result->anchors_wait_us = elapsed_us(probe->attempt_ns);
    start_handshake(probe);
}

struct trust_load {
    uv_work_t work;
    struct nd_tls_trust *trust;
};

static void load_trust(uv_work_t *work)
{
    nd_tls_trust_load_system(((struct trust_load *)work)->trust);
}

static void on_trust_loaded(uv_work_t *work, int status)
{
    (void)status; /* a work request is never cancelled here */
    struct trust_load *load = (struct trust_load *)work;
    nd_tls_trust_loaded(load->trust);
    free(load);
}

/* The system's anchors are read on the first handshake that needs them, on
 * libuv's pool; the handshakes that come meanwhile wait for that load. */
static void start_tls(struct nd_connect_probe *probe)
{
    struct nd_connect_result *result = probe->result;
    probe->phase = ND_CONNECT_HANDSHAKE;
    result->tls = calloc(1, sizeof *result->tls);
    if (!result->tls) {
        struct nd_error error;
        nd_error_set(&error, ND_ERR_NO_MEMORY, "out of memory");
        fail(probe, ND_CONNECT_ERROR, &error);
        return;
    }
    struct nd_tls_trust *trust = probe->request->trust;
    probe->trust_waiter.ready = on_trust_ready;
    probe->attempt_ns = uv_hrtime();
    switch (nd_tls_trust_wait(trust, &probe->trust_waiter)) {
    case ND_TLS_TRUST_READY:
        start_handshake(probe);
        return;
    case ND_TLS_TRUST_QUEUED:
        return;
    case ND_TLS_TRUST_LOAD:
        break;
    }
    struct trust_load *load = malloc(sizeof *load);
    if (load) {
        load->trust = trust;
        if (uv_queue_work(probe->loop, &load->work, load_trust, on_trust_loaded) == 0)
            return;
        free(load);
    }
    /* No memory for the request: load here, on the loop, once. */
    nd_tls_trust_load_system(trust);
    nd_tls_trust_loaded(trust);
}

static void on_connected(uv_connect_t *request, int status)
{
    struct nd_connect_probe *probe = request->data;
    if (probe->life.finished)
        return; /* cancelled: the socket is closing */
    struct nd_connect_result *result = probe->result;
    struct nd_connect_attempt *attempt = &result->attempts[result->attempt_count - 1];
    attempt->duration_us = elapsed_us(probe->attempt_ns);
    attempt->outcome = nd_connect_classify(-status);
    if (status != 0) {
        nd_runtime_set_error(&attempt->error, status, "connect");
        nd_probe_life_close_socket(&probe->life, (uv_handle_t *)&probe->socket, true);
        return;
    }
    result->connected = true;
    probe->connected_ns = uv_hrtime();
    name_ends(probe);
    if (probe->request->tls) {
        start_tls(probe);
        return;
    }
    if (probe->request->send_length == 0) {
        await_reply(probe);
        return;
    }
    probe->phase = ND_CONNECT_SEND;
    probe->attempt_ns = uv_hrtime();
    uv_buf_t buffer =
        uv_buf_init((char *)probe->request->send, (unsigned)probe->request->send_length);
    probe->writing.data = probe;
    status = uv_write(&probe->writing, (uv_stream_t *)&probe->socket, &buffer, 1, on_written);
    if (status != 0)
        fail_errno(probe, status, "send");
}

/* The next address, or the verdict when none is left: the last attempt's. */
static void connect_next(struct nd_connect_probe *probe)
{
    struct nd_connect_result *result = probe->result;
    probe->phase = ND_CONNECT_CONNECT;
    if (probe->next_address == result->address_count) {
        const struct nd_connect_attempt *last = &result->attempts[result->attempt_count - 1];
        fail(probe, last->outcome, &last->error);
        return;
    }
    size_t index = probe->next_address++;
    struct nd_connect_attempt *attempt = &result->attempts[result->attempt_count++];
    memcpy(attempt->address, result->addresses[index].text, sizeof result->addresses[index].text);
    attempt->family = result->addresses[index].family;
    probe->attempt_ns = uv_hrtime();
    uv_tcp_init(probe->loop, &probe->socket);
    nd_probe_life_hold_socket(&probe->life, (uv_handle_t *)&probe->socket);
    probe->connecting.data = probe;
    int status = uv_tcp_connect(&probe->connecting, &probe->socket,
                                &probe->destination.addresses[index].any, on_connected);
    if (status != 0) {
        attempt->outcome = nd_connect_classify(-status);
        nd_runtime_set_error(&attempt->error, status, "connect");
        nd_probe_life_close_socket(&probe->life, (uv_handle_t *)&probe->socket, true);
    }
}

/* After the resolve step: a host that gave no address fails there; otherwise
 * every address must be one the operator allows (nd_destination_allowed,
 * with the sensitive-address rule) before any is tried. */
static void check_and_connect(struct nd_connect_probe *probe)
{
    struct nd_connect_result *result = probe->result;
    struct nd_error error;
    if (result->resolve_error.code != ND_OK) {
        fail(probe, ND_CONNECT_DNS_ERROR, &result->resolve_error);
        return;
    }
    if (!nd_destination_allowed(&probe->destination, &error)) {
        probe->phase = ND_CONNECT_CONNECT;
        fail(probe, ND_CONNECT_FORBIDDEN, &error);
        return;
    }
    connect_next(probe);
}

static void on_resolved(uv_getaddrinfo_t *lookup, int status, struct addrinfo *list)
{
    struct nd_connect_probe *probe = lookup->data;
    if (!nd_probe_life_lookup_returned(&probe->life, list))
        return;
    probe->result->resolve_us = elapsed_us(probe->start_ns);
    nd_destination_take_lookup(&probe->destination, status, list);
    uv_freeaddrinfo(list);
    check_and_connect(probe);
}

static void on_deadline(uv_timer_t *timer)
{
    struct nd_connect_probe *probe = timer->data;
    struct nd_connect_result *result = probe->result;
    if (probe->phase == ND_CONNECT_RECEIVE) {
        reply_over(probe, ND_CONNECT_END_TIMEOUT);
        return;
    }
    static const char *const waiting_for[ND_CONNECT_PHASE_COUNT] = {
        [ND_CONNECT_RESOLVE] = "answer from the resolver",
        [ND_CONNECT_CONNECT] = "connection",
        [ND_CONNECT_HANDSHAKE] = "end of the TLS handshake",
        [ND_CONNECT_VERIFY] = "verification",
        [ND_CONNECT_SEND] = "end of the send",
        [ND_CONNECT_FIRST_BYTE] = "first byte",
        [ND_CONNECT_RECEIVE] = "end of the reply",
        [ND_CONNECT_EXPECT] = "expected text",
    };
    struct nd_error error;
    nd_error_set(&error, ND_ERR_TIMEOUT, "no %s within %u ms", waiting_for[probe->phase],
                 probe->request->timeout_ms);
    error.os_error = ETIMEDOUT;
    if (probe->phase == ND_CONNECT_CONNECT && result->attempt_count > 0) {
        struct nd_connect_attempt *attempt = &result->attempts[result->attempt_count - 1];
        attempt->duration_us = elapsed_us(probe->attempt_ns);
        attempt->outcome = ND_CONNECT_TIMED_OUT;
        attempt->error = error;
    }
    if (probe->phase == ND_CONNECT_RESOLVE)
        result->resolve_us = elapsed_us(probe->start_ns);
    fail(probe, ND_CONNECT_TIMED_OUT, &error);
}

struct nd_connect_probe *nd_connect_start(uv_loop_t *loop, const struct nd_connect_request *request,
                                          struct nd_connect_result *result, nd_connect_done_fn done,
                                          void *context)
{
    memset(result, 0, sizeof *result);
    struct nd_connect_probe *probe = calloc(1, sizeof *probe);
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
                                                 .result = result};
    probe->start_ns = uv_hrtime();
    probe->phase = ND_CONNECT_RESOLVE;
    nd_probe_life_begin(&probe->life, loop, &probe->deadline, &probe->quiet, release, next_attempt);
    uv_timer_start(&probe->deadline, on_deadline, request->timeout_ms, 0);
    if (nd_destination_take_literal(&probe->destination)) {
        check_and_connect(probe);
        return probe;
    }
    probe->lookup.data = probe;
    if (!nd_destination_look_up(&probe->destination, loop, &probe->lookup, on_resolved)) {
        fail(probe, ND_CONNECT_DNS_ERROR, &result->resolve_error);
        return probe;
    }
    probe->life.looking_up = true;
    return probe;
}

void nd_connect_cancel(struct nd_connect_probe *probe)
{
    struct nd_error error;
    nd_error_set(&error, ND_ERR_STOPPING, "the probe was cut short");
    fail(probe, ND_CONNECT_CANCELLED, &error);
}

void nd_connect_result_free(struct nd_connect_result *result)
{
    free(result->received);
    result->received = NULL;
    free(result->tls);
    result->tls = NULL;
}
