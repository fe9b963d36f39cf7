/* GET /time/sntp: recipes 11 and 12, one SNTP query (RFC 4330) to a time
 * server, on the runtime's loop: the name is looked up on libuv's pool, the
 * reply awaited on a non-blocking UDP socket, so no HTTP thread waits. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/deferred.h"
#include "http/handlers.h"
#include "http/request.h"
#include "http/routes.h"
#include "http/server.h"
#include "netdiag/allowlist.h"
#include "netdiag/net.h"
#include "netdiag/resolve.h"
#include "netdiag/sntp.h"
#include "runtime/runtime.h"

enum { DEFAULT_TIMEOUT_MS = 2000, MAX_TIMEOUT_MS = 10000 };

static const char *const version_choices[] = {"3", "4", NULL};

struct sntp_state {
    /* Set by the handler before the work starts. */
    char host[ND_NET_HOST_MAX];
    uint16_t port;
    unsigned version;
    unsigned timeout_ms;
    const struct nd_allowlist *allow;
    /* The loop's. */
    struct nd_deferred_job *job;
    uv_getaddrinfo_t lookup;
    uv_udp_t socket;
    bool looking_up, socket_open, cancelled;
    uint8_t datagram[ND_SNTP_DATAGRAM_MAX];
    /* What render reads: written on the loop until the job completes or is
     * cancelled, never after. */
    struct sockaddr_storage server;
    socklen_t server_length;
    struct nd_sntp_result result;
    struct nd_error error; /* ND_OK until something fails */
};

static void on_socket_closed(uv_handle_t *handle)
{
    struct sntp_state *state = handle->data;
    nd_deferred_complete(state->job);
}

/* The query is over, answered or not. */
static void finish(struct sntp_state *state)
{
    if (!state->socket_open) {
        nd_deferred_complete(state->job);
        return;
    }
    state->socket_open = false;
    uv_close((uv_handle_t *)&state->socket, on_socket_closed);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer)
{
    struct sntp_state *state = handle->data;
    (void)suggested;
    *buffer = uv_buf_init((char *)state->datagram, sizeof state->datagram);
}

static void on_datagram(uv_udp_t *socket, ssize_t length, const uv_buf_t *buffer,
                        const struct sockaddr *peer, unsigned flags)
{
    struct sntp_state *state = socket->data;
    (void)buffer;
    (void)flags; /* a longer datagram is cut to the buffer; only the header counts */
    if (length == 0 && !peer)
        return; /* nothing more to read now */
    if (length < 0) {
        nd_sntp_receive_error((int)-length, &state->error);
        finish(state);
        return;
    }
    struct timespec receive_time;
    if (clock_gettime(CLOCK_REALTIME, &receive_time) != 0) {
        nd_error_set_errno(&state->error, errno, "clock_gettime");
        finish(state);
        return;
    }
    socklen_t peer_length =
        peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    bool discarded;
    nd_sntp_take_reply(state->datagram, (size_t)length, &receive_time,
                       (struct sockaddr *)&state->server, state->server_length, peer, peer_length,
                       &state->result, &discarded, &state->error);
    if (!discarded)
        finish(state);
}

/* One packet per request: no retries, so no amplification. */
static void send_request(struct sntp_state *state, uv_loop_t *loop)
{
    uint8_t packet[ND_SNTP_PACKET_SIZE];
    int fd;
    if (nd_sntp_build_request(packet, state->version, &state->result.nonce, &state->error) !=
            ND_OK ||
        nd_sntp_open((struct sockaddr *)&state->server, state->server_length, &fd, &state->error) !=
            ND_OK) {
        finish(state);
        return;
    }
    int status = uv_udp_init(loop, &state->socket);
    if (status == 0) {
        status = uv_udp_open(&state->socket, fd);
        if (status != 0)
            close(fd);
        state->socket_open = true;
    } else {
        close(fd);
    }
    state->socket.data = state;
    if (status != 0) {
        nd_runtime_set_error(&state->error, status, "uv_udp_open");
        finish(state);
        return;
    }
    if (nd_sntp_send(fd, packet, &state->result.send_time, &state->error) != ND_OK) {
        finish(state);
        return;
    }
    status = uv_udp_recv_start(&state->socket, on_alloc, on_datagram);
    if (status != 0) {
        nd_runtime_set_error(&state->error, status, "uv_udp_recv_start");
        finish(state);
    }
}

static void on_resolved(uv_getaddrinfo_t *lookup, int status, struct addrinfo *list)
{
    struct sntp_state *state = lookup->data;
    state->looking_up = false;
    if (state->cancelled) {
        uv_freeaddrinfo(list);
        finish(state);
        return;
    }
    if (status != 0) {
        int gai_error, os_error;
        nd_runtime_gai_from_status(status, &gai_error, &os_error);
        nd_error_set_gai(&state->error, gai_error, os_error, "getaddrinfo");
        finish(state);
        return;
    }
    memcpy(&state->server, list->ai_addr, list->ai_addrlen);
    state->server_length = list->ai_addrlen;
    uv_freeaddrinfo(list);
    if (!nd_allowlist_permits(state->allow, state->host, (struct sockaddr *)&state->server,
                              state->port)) {
        char address[ND_NET_ADDRESS_TEXT_MAX];
        nd_net_format_address((struct sockaddr *)&state->server, address, sizeof address);
        nd_error_set(&state->error, ND_ERR_FORBIDDEN,
                     "server %s (%s) is not in this service's --sntp-allow list", state->host,
                     address);
        finish(state);
        return;
    }
    send_request(state, lookup->loop);
}

static void sntp_start(struct nd_deferred_job *job, void *context, uv_loop_t *loop)
{
    struct sntp_state *state = context;
    state->job = job;
    state->lookup.data = state;
    /* Port 123 travels as a number; "ntp" is never looked up. */
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)state->port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
    int status = uv_getaddrinfo(loop, &state->lookup, on_resolved, state->host, port, &hints);
    if (status != 0) {
        nd_runtime_set_error(&state->error, status, "uv_getaddrinfo");
        finish(state);
        return;
    }
    state->looking_up = true;
}

static void sntp_cancel(void *context)
{
    struct sntp_state *state = context;
    state->cancelled = true;
    /* A lookup not yet started is taken off the pool's queue; one under way
     * comes back in on_resolved, which sees the cancel. */
    if (state->looking_up)
        uv_cancel((uv_req_t *)&state->lookup);
    else
        finish(state);
}

static void sntp_release(void *context)
{
    free(context);
}

static void add_time(cJSON *object, const char *name, int64_t unix_ns)
{
    char text[ND_SNTP_ISO8601_SIZE];
    if (nd_sntp_format_iso8601(unix_ns, text, sizeof text, NULL) == ND_OK)
        nd_json_add_string(object, name, text);
}

static void add_timestamp(cJSON *object, const char *name, struct nd_sntp_timestamp timestamp)
{
    cJSON *item = nd_json_add_object(object, name);
    add_time(item, "iso", nd_sntp_timestamp_to_unix_ns(timestamp));
    nd_json_add_number(item, "unix", nd_sntp_timestamp_to_unix_seconds(timestamp));
    char raw[24];
    snprintf(raw, sizeof raw, "%08x.%08x", timestamp.seconds, timestamp.fraction);
    nd_json_add_string(item, "ntp", raw);
}

static int64_t timespec_ns(const struct timespec *time)
{
    return (int64_t)time->tv_sec * 1000000000 + time->tv_nsec;
}

static cJSON *render_reply(const struct nd_sntp_reply *reply)
{
    cJSON *object = cJSON_CreateObject();
    cJSON *leap = nd_json_add_object(object, "leap");
    nd_json_add_number(leap, "value", reply->leap);
    nd_json_add_string(leap, "meaning", reply->leap_text);
    nd_json_add_number(object, "version", reply->version);
    nd_json_add_number(object, "mode", reply->mode);
    nd_json_add_number(object, "stratum", reply->stratum);
    nd_json_add_string(object, "stratum_meaning", reply->stratum_text);
    nd_json_add_number(object, "poll", reply->poll);
    nd_json_add_number(object, "precision", reply->precision);
    nd_json_add_number(object, "precision_seconds", reply->precision_seconds);
    nd_json_add_number(object, "root_delay_seconds", reply->root_delay_seconds);
    nd_json_add_number(object, "root_dispersion_seconds", reply->root_dispersion_seconds);
    nd_json_add_string(object, "reference_id", reply->reference_text);
    if (reply->kiss_code[0]) {
        nd_json_add_string(object, "kiss_code", reply->kiss_code);
        nd_json_add_string(object, "kiss_meaning", reply->kiss_meaning);
    }
    add_timestamp(object, "reference_time", reply->reference);
    add_timestamp(object, "origin_time", reply->origin);
    add_timestamp(object, "receive_time", reply->receive);
    add_timestamp(object, "transmit_time", reply->transmit);
    return object;
}

static cJSON *render_checks(const struct nd_sntp_checks *checks)
{
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < ND_SNTP_CHECK_COUNT; i++) {
        const struct nd_sntp_check *check = &checks->items[i];
        cJSON *item = cJSON_CreateObject();
        nd_json_add_string(item, "name", nd_sntp_check_name((enum nd_sntp_check_id)i));
        nd_json_add_string(item, "outcome", nd_sntp_outcome_name(check->outcome));
        nd_json_add_string(item, "detail", check->detail);
        nd_json_append(list, item);
    }
    return list;
}

static void render_server(cJSON *object, const struct sntp_state *state)
{
    cJSON *server = nd_json_add_object(object, "server");
    nd_json_add_string(server, "host", state->host);
    nd_json_add_number(server, "port", state->port);
    if (state->server_length > 0) {
        char address[ND_NET_ADDRESS_TEXT_MAX];
        nd_net_format_host((const struct sockaddr *)&state->server, address, sizeof address);
        nd_json_add_string(server, "address", address);
    }
}

/* The problem for a query that did not end with a valid reply: the server,
 * and as much of the exchange as there was. */
static void reply_failure(struct nd_request *request, const struct sntp_state *state,
                          const struct nd_error *error)
{
    const struct nd_sntp_result *result = &state->result;
    cJSON *extensions = cJSON_CreateObject();
    render_server(extensions, state);
    if (result->parsed) {
        nd_json_add_item(extensions, "checks", render_checks(&result->checks));
        nd_json_add_item(extensions, "reply", render_reply(&result->reply));
    }
    if (result->discarded > 0) {
        cJSON *discarded = nd_json_add_object(extensions, "discarded");
        nd_json_add_integer(discarded, "datagrams", result->discarded);
        nd_json_add_string(discarded, "last_reason", result->discarded_reason);
    }
    nd_reply_upstream_error(request, error, "server", extensions);
}

static void sntp_render(struct nd_request *request, void *context, enum nd_deferred_outcome outcome)
{
    struct sntp_state *state = context;
    const struct nd_sntp_result *result = &state->result;
    struct nd_error error = state->error;
    if (outcome == ND_DEFERRED_TIMED_OUT)
        nd_error_set(&error, ND_ERR_TIMEOUT, "no reply from %s port %u within %u ms%s", state->host,
                     (unsigned)state->port, state->timeout_ms,
                     result->discarded ? " (only datagrams that did not answer this request)" : "");
    else if (outcome == ND_DEFERRED_STOPPED)
        nd_error_set(&error, ND_ERR_STOPPING,
                     "the service is shutting down; the query to %s was cut short", state->host);
    else if (error.code == ND_OK && !result->valid)
        nd_error_set(&error, ND_ERR_SYSTEM, "the reply could not be awaited");
    if (error.code != ND_OK) {
        reply_failure(request, state, &error);
        return;
    }

    cJSON *body = cJSON_CreateObject();
    render_server(body, state);
    add_time(body, "server_time", nd_sntp_timestamp_to_unix_ns(result->reply.transmit));
    add_time(body, "local_time", timespec_ns(&result->receive_time));
    nd_json_add_number(body, "offset_seconds", result->estimate.offset_seconds);
    nd_json_add_number(body, "delay_seconds", result->estimate.delay_seconds);
    nd_json_add_number(body, "stratum", result->reply.stratum);
    nd_json_add_item(body, "reply", render_reply(&result->reply));
    cJSON *timestamps = nd_json_add_object(body, "timestamps");
    add_timestamp(timestamps, "t1_client_send",
                  nd_sntp_timestamp_from_timespec(&result->send_time));
    add_timestamp(timestamps, "t2_server_receive", result->reply.receive);
    add_timestamp(timestamps, "t3_server_transmit", result->reply.transmit);
    add_timestamp(timestamps, "t4_client_receive",
                  nd_sntp_timestamp_from_timespec(&result->receive_time));
    nd_json_add_item(body, "checks", render_checks(&result->checks));
    if (result->discarded > 0) {
        cJSON *discarded = nd_json_add_object(body, "discarded");
        nd_json_add_integer(discarded, "datagrams", result->discarded);
        nd_json_add_string(discarded, "last_reason", result->discarded_reason);
    }
    nd_reply_json(request, 200, body);
}

static const struct nd_deferred_ops sntp_ops = {
    .start = sntp_start,
    .cancel = sntp_cancel,
    .render = sntp_render,
    .release = sntp_release,
};

void nd_handle_sntp(struct nd_request *request)
{
    const struct nd_sntp_settings *settings = request->route->context;
    const char *server_text;
    size_t version_index = 1;
    uint64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!nd_param_string(request, "server", &server_text) ||
        !nd_param_choice(request, "version", version_choices, &version_index, NULL) ||
        !nd_param_number(request, "timeout_ms", 1, MAX_TIMEOUT_MS, false, &timeout_ms, NULL))
        return;
    if (!server_text)
        server_text = settings->default_server;

    struct sntp_state *state = calloc(1, sizeof *state);
    if (!state) {
        struct nd_error error;
        nd_error_set(&error, ND_ERR_NO_MEMORY, "out of memory");
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }
    state->version = version_index == 0 ? 3 : 4;
    state->timeout_ms = (unsigned)timeout_ms;
    state->allow = settings->allow;

    struct nd_net_endpoint endpoint;
    struct nd_error error;
    if (nd_net_parse_host_port(server_text, ND_SNTP_PORT, &endpoint, &error) != ND_OK) {
        sntp_release(state);
        nd_reply_error(request, &error, "server", NULL);
        return;
    }
    memcpy(state->host, endpoint.host, sizeof state->host);
    state->port = endpoint.port;
    if (nd_resolve_validate_name(state->host, &error) != ND_OK) {
        sntp_release(state);
        nd_reply_error(request, &error, "server", NULL);
        return;
    }
    nd_deferred_submit(nd_http_deferred(request->server), request, &sntp_ops, state,
                       (unsigned)timeout_ms);
}
