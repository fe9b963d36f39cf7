/* GET /time/sntp: recipes 11 and 12, one SNTP query (RFC 4330) to a time
 * server. The name is resolved on a worker; the reply is awaited on the
 * reactor with a non-blocking UDP socket, so no HTTP thread waits. */
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
#include "http/server.h"
#include "netdiag/allowlist.h"
#include "netdiag/net.h"
#include "netdiag/resolve.h"
#include "netdiag/sntp.h"

enum { DEFAULT_TIMEOUT_MS = 2000, MAX_TIMEOUT_MS = 10000 };

static const char *const version_choices[] = {"3", "4", NULL};

struct sntp_state {
    char host[ND_NET_HOST_MAX];
    uint16_t port;
    unsigned version;
    unsigned timeout_ms;
    const struct nd_allowlist *allow;
    /* Filled by the worker, then by the reactor. */
    struct sockaddr_storage server;
    socklen_t server_length;
    int fd;
    struct nd_sntp_result result;
    struct nd_error error; /* ND_OK until something fails */
};

static int sntp_work(void *context)
{
    struct sntp_state *state = context;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    char port[8];
    /* Port 123 travels as a number; "ntp" is never looked up. */
    snprintf(port, sizeof port, "%u", (unsigned)state->port);
    int gai = getaddrinfo(state->host, port, &hints, &list);
    if (gai != 0) {
        nd_error_set_gai(&state->error, gai, errno, "getaddrinfo");
        return -1;
    }
    memcpy(&state->server, list->ai_addr, list->ai_addrlen);
    state->server_length = list->ai_addrlen;
    freeaddrinfo(list);

    if (!nd_allowlist_permits(state->allow, state->host, (struct sockaddr *)&state->server)) {
        char address[ND_NET_ADDRESS_TEXT_MAX];
        nd_net_format_address((struct sockaddr *)&state->server, address, sizeof address);
        nd_error_set(&state->error, ND_ERR_FORBIDDEN,
                     "server %s (%s) is not in this service's --sntp-allow list", state->host,
                     address);
        return -1;
    }

    uint8_t packet[ND_SNTP_PACKET_SIZE];
    if (nd_sntp_build_request(packet, state->version, &state->result.nonce, &state->error) !=
            ND_OK ||
        nd_sntp_open((struct sockaddr *)&state->server, state->server_length, &state->fd,
                     &state->error) != ND_OK)
        return -1;
    /* One packet per request: no retries, so no amplification. */
    if (nd_sntp_send(state->fd, packet, &state->result.send_time, &state->error) != ND_OK)
        return -1;
    return state->fd;
}

static bool sntp_readable(void *context)
{
    struct sntp_state *state = context;
    struct nd_sntp_result *result = &state->result;
    uint8_t datagram[ND_SNTP_DATAGRAM_MAX];
    size_t length;
    bool would_block = false;
    result->peer_length = sizeof result->peer;
    if (nd_sntp_receive(state->fd, datagram, sizeof datagram, &length, &result->peer,
                        &result->peer_length, &result->receive_time, &would_block,
                        &state->error) != ND_OK)
        return true;
    if (would_block)
        return false;
    result->received = true;
    if (nd_sntp_parse_reply(datagram, length, &result->reply, &state->error) != ND_OK)
        return true;
    result->parsed = true;
    enum nd_err checks =
        nd_sntp_validate(&result->reply, &result->nonce, &result->checks, &state->error);
    enum nd_err source =
        nd_sntp_check_source(&result->checks, (struct sockaddr *)&state->server,
                             state->server_length, (struct sockaddr *)&result->peer,
                             result->peer_length, checks == ND_OK ? &state->error : NULL);
    if (checks == ND_OK && source == ND_OK) {
        result->valid = true;
        nd_sntp_estimate(&result->send_time, result->reply.receive, result->reply.transmit,
                         &result->receive_time, &result->estimate);
    }
    return true;
}

static void sntp_release(void *context)
{
    struct sntp_state *state = context;
    if (state->fd >= 0)
        close(state->fd);
    free(state);
}

static void add_time(cJSON *object, const char *name, int64_t unix_ns)
{
    char text[ND_SNTP_ISO8601_SIZE];
    if (nd_sntp_format_iso8601(unix_ns, text, sizeof text, NULL) == ND_OK)
        cJSON_AddStringToObject(object, name, text);
}

static void add_timestamp(cJSON *object, const char *name, struct nd_sntp_timestamp timestamp)
{
    cJSON *item = cJSON_AddObjectToObject(object, name);
    add_time(item, "iso", nd_sntp_timestamp_to_unix_ns(timestamp));
    cJSON_AddNumberToObject(item, "unix", nd_sntp_timestamp_to_unix_seconds(timestamp));
    char raw[24];
    snprintf(raw, sizeof raw, "%08x.%08x", timestamp.seconds, timestamp.fraction);
    cJSON_AddStringToObject(item, "ntp", raw);
}

static int64_t timespec_ns(const struct timespec *time)
{
    return (int64_t)time->tv_sec * 1000000000 + time->tv_nsec;
}

static cJSON *render_reply(const struct nd_sntp_reply *reply)
{
    cJSON *object = cJSON_CreateObject();
    cJSON *leap = cJSON_AddObjectToObject(object, "leap");
    cJSON_AddNumberToObject(leap, "value", reply->leap);
    cJSON_AddStringToObject(leap, "meaning", reply->leap_text);
    cJSON_AddNumberToObject(object, "version", reply->version);
    cJSON_AddNumberToObject(object, "mode", reply->mode);
    cJSON_AddNumberToObject(object, "stratum", reply->stratum);
    cJSON_AddStringToObject(object, "stratum_meaning", reply->stratum_text);
    cJSON_AddNumberToObject(object, "poll", reply->poll);
    cJSON_AddNumberToObject(object, "precision", reply->precision);
    cJSON_AddNumberToObject(object, "precision_seconds", reply->precision_seconds);
    cJSON_AddNumberToObject(object, "root_delay_seconds", reply->root_delay_seconds);
    cJSON_AddNumberToObject(object, "root_dispersion_seconds", reply->root_dispersion_seconds);
    cJSON_AddStringToObject(object, "reference_id", reply->reference_text);
    if (reply->kiss_code[0]) {
        cJSON_AddStringToObject(object, "kiss_code", reply->kiss_code);
        cJSON_AddStringToObject(object, "kiss_meaning", reply->kiss_meaning);
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
        cJSON_AddStringToObject(item, "name", nd_sntp_check_name((enum nd_sntp_check_id)i));
        cJSON_AddStringToObject(item, "outcome", nd_sntp_outcome_name(check->outcome));
        cJSON_AddStringToObject(item, "detail", check->detail);
        cJSON_AddItemToArray(list, item);
    }
    return list;
}

static void render_server(cJSON *object, const struct sntp_state *state)
{
    cJSON *server = cJSON_AddObjectToObject(object, "server");
    cJSON_AddStringToObject(server, "host", state->host);
    cJSON_AddNumberToObject(server, "port", state->port);
    if (state->server_length > 0) {
        char address[ND_NET_ADDRESS_TEXT_MAX];
        nd_net_format_host((const struct sockaddr *)&state->server, address, sizeof address);
        cJSON_AddStringToObject(server, "address", address);
    }
}

static void sntp_render(struct nd_request *request, void *context, bool expired)
{
    struct sntp_state *state = context;
    const struct nd_sntp_result *result = &state->result;
    if (expired) {
        nd_reply_problem_format(request, 504, "timeout", "server",
                                "no reply from %s port %u within %u ms", state->host,
                                (unsigned)state->port, state->timeout_ms);
        return;
    }
    if (state->error.code == ND_OK && !result->received)
        nd_error_set(&state->error, ND_ERR_SYSTEM, "the reply could not be awaited");
    if (state->error.code != ND_OK) {
        struct nd_problem problem;
        nd_problem_from_error(&state->error, "server", &problem);
        /* The time server is upstream: not finding it or a bad answer from it
         * is a bad gateway, not a missing resource here. */
        if (state->error.code == ND_ERR_RESOLVE || state->error.code == ND_ERR_SYSTEM)
            problem.status = 502;
        cJSON *extensions = cJSON_CreateObject();
        render_server(extensions, state);
        if (result->parsed) {
            cJSON_AddItemToObject(extensions, "checks", render_checks(&result->checks));
            cJSON_AddItemToObject(extensions, "reply", render_reply(&result->reply));
        }
        problem.extensions = extensions;
        nd_reply_problem(request, &problem);
        return;
    }

    cJSON *body = cJSON_CreateObject();
    render_server(body, state);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    add_time(body, "server_time", nd_sntp_timestamp_to_unix_ns(result->reply.transmit));
    add_time(body, "local_time", timespec_ns(&result->receive_time));
    cJSON_AddNumberToObject(body, "offset_seconds", result->estimate.offset_seconds);
    cJSON_AddNumberToObject(body, "delay_seconds", result->estimate.delay_seconds);
    cJSON_AddNumberToObject(body, "stratum", result->reply.stratum);
    cJSON_AddItemToObject(body, "reply", render_reply(&result->reply));
    cJSON *timestamps = cJSON_AddObjectToObject(body, "timestamps");
    add_timestamp(timestamps, "t1_client_send",
                  nd_sntp_timestamp_from_timespec(&result->send_time));
    add_timestamp(timestamps, "t2_server_receive", result->reply.receive);
    add_timestamp(timestamps, "t3_server_transmit", result->reply.transmit);
    add_timestamp(timestamps, "t4_client_receive",
                  nd_sntp_timestamp_from_timespec(&result->receive_time));
    cJSON_AddItemToObject(body, "checks", render_checks(&result->checks));
    nd_reply_json(request, 200, body);
}

static const struct nd_deferred_ops sntp_ops = {
    .work = sntp_work,
    .readable = sntp_readable,
    .render = sntp_render,
    .release = sntp_release,
};

void nd_handle_sntp(struct nd_request *request)
{
    const struct nd_http_config *config = nd_http_get_config(request->server);
    const char *server_text;
    size_t version_index = 1;
    uint64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!nd_param_string(request, "server", &server_text) ||
        !nd_param_choice(request, "version", version_choices, &version_index, NULL) ||
        !nd_param_number(request, "timeout_ms", 1, MAX_TIMEOUT_MS, false, &timeout_ms, NULL))
        return;
    if (!server_text)
        server_text = config->sntp_default_server;

    struct sntp_state *state = calloc(1, sizeof *state);
    if (!state) {
        nd_reply_problem_format(request, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    state->fd = -1;
    state->version = version_index == 0 ? 3 : 4;
    state->timeout_ms = (unsigned)timeout_ms;
    state->allow = config->sntp_allow;

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
