/* GET /connect: recipe 7 for real. Can this host reach host:port, and where
 * exactly does it fail: the name, the connection, the send or the reply?
 * The probes (src/probe/connect.c for TCP, src/probe/udp.c for UDP) run on
 * the runtime's loop; this handler checks the parameters, hands the probe
 * over and renders what it found. A probe that ran is a 200 whatever it
 * found: a refused connection is a diagnosis, not an error of this
 * service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/deferred.h"
#include "http/handlers.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/routes.h"
#include "http/server.h"
#include "netdiag/format.h"
#include "netdiag/http_reply.h"
#include "netdiag/parse.h"
#include "netdiag/resolve.h"
#include "netdiag/version.h"
#include "probe/connect.h"
#include "probe/tls.h"
#include "probe/udp.h"

enum {
    DEFAULT_TIMEOUT_MS = 3000,
    MAX_TIMEOUT_MS = 10000,
    DEFAULT_READ_BYTES = 4096,
    DEFAULT_COUNT = 1,
    DEFAULT_INTERVAL_MS = 200,
    MIN_INTERVAL_MS = 10,
    MAX_INTERVAL_MS = 5000,
    HTTP_PATH_MAX = 1024,
    /* The probe keeps its own deadline; this one only guards the guard. */
    DEADLINE_MARGIN_MS = 1000,
    BODY_PREFIX_MAX = 1024,
};

static const char *const family_choices[] = {"any", "ipv4", "ipv6", NULL};
enum { PROTO_TCP, PROTO_UDP };
static const char *const proto_choices[] = {"tcp", "udp", NULL};

struct connect_state {
    struct nd_connect_request request; /* set before the work starts */
    uint8_t *payload;                  /* what request.send points to, sized to it */
    bool http;                         /* the send is recipe 7's GET */
    struct nd_connect_result result;
    struct nd_deferred_job *job;
    struct nd_connect_probe *probe; /* NULL once it is done */
};

static void on_probe_done(void *context)
{
    struct connect_state *state = context;
    state->probe = NULL;
    nd_deferred_complete(state->job);
}

static void connect_start(struct nd_deferred_job *job, void *context, uv_loop_t *loop)
{
    struct connect_state *state = context;
    state->job = job;
    state->probe = nd_connect_start(loop, &state->request, &state->result, on_probe_done, state);
    if (!state->probe)
        nd_deferred_complete(job);
}

static void connect_cancel(void *context)
{
    struct connect_state *state = context;
    if (state->probe)
        nd_connect_cancel(state->probe);
}

static void connect_release(void *context)
{
    struct connect_state *state = context;
    nd_connect_result_free(&state->result);
    free(state->payload);
    free(state);
}

static void add_ms(cJSON *object, const char *name, uint64_t microseconds)
{
    nd_json_add_number(object, name, (double)microseconds / 1000.0);
}

/* An error by name: the errno or EAI_* one when the system gave one, else
 * the probe's own word for what happened. */
static cJSON *render_error_named(const struct nd_error *error, const char *word)
{
    cJSON *object = cJSON_CreateObject();
    const char *code = error->gai_error  ? nd_gai_name(error->gai_error)
                       : error->os_error ? nd_errno_name(error->os_error)
                                         : word;
    nd_json_add_string(object, "code", code);
    nd_json_add_string(object, "message", error->message);
    return object;
}

static cJSON *render_error(const struct nd_error *error, enum nd_connect_outcome outcome)
{
    return render_error_named(error, nd_connect_outcome_name(outcome));
}

static const char *family_name(int family)
{
    return family == AF_INET6 ? "ipv6" : "ipv4";
}

static cJSON *phase_object(cJSON *phases, enum nd_connect_phase phase)
{
    cJSON *object = nd_json_append(phases, cJSON_CreateObject());
    nd_json_add_string(object, "phase", nd_connect_phase_name(phase));
    return object;
}

static void render_resolve(cJSON *phases, const struct nd_connect_result *result)
{
    cJSON *object = phase_object(phases, ND_CONNECT_RESOLVE);
    add_ms(object, "duration_ms", result->resolve_us);
    nd_json_add_bool(object, "literal", result->literal);
    cJSON *addresses = nd_json_add_array(object, "addresses");
    for (size_t i = 0; i < result->address_count; i++) {
        cJSON *address = nd_json_append(addresses, cJSON_CreateObject());
        nd_json_add_string(address, "family", family_name(result->addresses[i].family));
        nd_json_add_string(address, "address", result->addresses[i].text);
    }
    if (result->addresses_truncated)
        nd_json_add_bool(object, "truncated", true);
    if (result->resolve_error.code != ND_OK)
        nd_json_add_item(object, "error",
                         render_error(&result->resolve_error, ND_CONNECT_DNS_ERROR));
}

static void render_attempts(cJSON *phases, const struct nd_connect_result *result)
{
    cJSON *object = phase_object(phases, ND_CONNECT_CONNECT);
    cJSON *attempts = nd_json_add_array(object, "attempts");
    for (size_t i = 0; i < result->attempt_count; i++) {
        const struct nd_connect_attempt *attempt = &result->attempts[i];
        cJSON *item = nd_json_append(attempts, cJSON_CreateObject());
        nd_json_add_string(item, "address", attempt->address);
        nd_json_add_string(item, "family", family_name(attempt->family));
        add_ms(item, "duration_ms", attempt->duration_us);
        nd_json_add_string(item, "result", nd_connect_outcome_name(attempt->outcome));
        if (attempt->outcome != ND_CONNECT_CONNECTED)
            nd_json_add_item(item, "error", render_error(&attempt->error, attempt->outcome));
    }
}

/* Received bytes as text when they are UTF-8, else as hex. */
static void add_bytes(cJSON *object, const uint8_t *bytes, size_t length)
{
    if (nd_format_is_utf8(bytes, length)) {
        char *text = cJSON_malloc(length + 1);
        if (!text)
            return;
        memcpy(text, bytes, length);
        text[length] = '\0';
        nd_json_add_item(object, "text", cJSON_CreateString(text));
        cJSON_free(text);
        return;
    }
    char *hex = cJSON_malloc(2 * length + 1);
    if (!hex)
        return;
    nd_format_hex(bytes, length, hex);
    nd_json_add_item(object, "hex", cJSON_CreateString(hex));
    cJSON_free(hex);
}

/* A header value may hold any byte but a control one; JSON wants UTF-8. */
static void add_text_field(cJSON *object, const char *name, const char *value)
{
    size_t length = strlen(value);
    if (nd_format_is_utf8((const uint8_t *)value, length)) {
        nd_json_add_string(object, name, value);
        return;
    }
    char clean[ND_HTTP_REPLY_VALUE_MAX];
    for (size_t i = 0; i <= length && i < sizeof clean; i++)
        clean[i] = (unsigned char)value[i] < 0x80 ? value[i] : '?';
    clean[sizeof clean - 1] = '\0';
    nd_json_add_string(object, name, clean);
}

/* Recipe 7's reply, read as HTTP. */
static void render_http(cJSON *body, const struct nd_http_reply *reply,
                        const struct nd_connect_result *result)
{
    cJSON *http = nd_json_add_object(body, "http");
    nd_json_add_string(http, "version", reply->version);
    nd_json_add_integer(http, "status", reply->status);
    add_text_field(http, "reason", reply->reason);
    cJSON *headers = nd_json_add_array(http, "headers");
    for (size_t i = 0; i < reply->field_count; i++) {
        cJSON *header = nd_json_append(headers, cJSON_CreateObject());
        nd_json_add_string(header, "name", reply->fields[i].name);
        add_text_field(header, "value", reply->fields[i].value);
    }
    if (reply->fields_dropped)
        nd_json_add_integer(http, "headers_dropped", reply->fields_dropped);
    nd_json_add_bool(http, "head_complete", reply->head_complete);
    if (reply->head_complete) {
        size_t body_length = result->received_length - reply->body_offset;
        nd_json_add_integer(http, "body_bytes", body_length);
        cJSON *prefix = nd_json_add_object(http, "body_prefix");
        add_bytes(prefix, result->received + reply->body_offset,
                  body_length < BODY_PREFIX_MAX ? body_length : BODY_PREFIX_MAX);
    }
}

/* "2026-11-28T10:00:00Z" */
static void add_time(cJSON *object, const char *name, time_t when)
{
    struct tm parts;
    char text[32];
    if (!gmtime_r(&when, &parts) || strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts) == 0)
        return;
    nd_json_add_string(object, name, text);
}

static cJSON *render_certificate(const struct nd_tls_certificate *certificate, time_t now)
{
    cJSON *object = cJSON_CreateObject();
    add_text_field(object, "subject", certificate->subject);
    add_text_field(object, "issuer", certificate->issuer);
    nd_json_add_string(object, "serial", certificate->serial);
    cJSON *names = nd_json_add_array(object, "alt_names");
    for (size_t i = 0; i < certificate->alt_name_count; i++) {
        cJSON *name = nd_json_append(names, cJSON_CreateObject());
        nd_json_add_string(name, "type", certificate->alt_names[i].type);
        add_text_field(name, "value", certificate->alt_names[i].value);
    }
    if (certificate->alt_names_truncated)
        nd_json_add_bool(object, "alt_names_truncated", true);
    add_time(object, "not_before", certificate->not_before);
    add_time(object, "not_after", certificate->not_after);
    /* Whole days, rounded toward the past: -1 on the day after expiry. */
    double seconds_left = difftime(certificate->not_after, now);
    nd_json_add_number(object, "days_left",
                       (double)(long long)(seconds_left / 86400.0 - (seconds_left < 0 ? 1 : 0)));
    cJSON *key = nd_json_add_object(object, "public_key");
    nd_json_add_string(key, "algorithm", certificate->public_key_algorithm);
    nd_json_add_integer(key, "bits", certificate->public_key_bits);
    nd_json_add_string(object, "signature_algorithm", certificate->signature_algorithm);
    nd_json_add_string(object, "sha256", certificate->sha256);
    nd_json_add_bool(object, "self_signed", certificate->self_signed);
    return object;
}

/* The session as negotiated, the chain as sent, and the verification. */
static void render_tls(cJSON *body, const struct nd_connect_request *request,
                       const struct nd_connect_result *result)
{
    const struct nd_tls_session_info *info = result->tls;
    cJSON *tls = nd_json_add_object(body, "tls");
    nd_json_add_string(tls, "server_name",
                       request->server_name[0] ? request->server_name : request->host);
    if (result->anchors_wait_us)
        add_ms(tls, "anchors_load_ms", result->anchors_wait_us);
    if (info->version[0]) {
        nd_json_add_string(tls, "version", info->version);
        nd_json_add_string(tls, "cipher_suite", info->cipher_suite);
        if (info->group[0])
            nd_json_add_string(tls, "group", info->group);
        else
            nd_json_add_null(tls, "group");
        if (info->alpn[0])
            nd_json_add_string(tls, "alpn", info->alpn);
        else
            nd_json_add_null(tls, "alpn");
        nd_json_add_bool(tls, "resumed", info->resumed);
        nd_json_add_bool(tls, "verified", info->verified);
        cJSON *reasons = nd_json_add_array(tls, "reasons");
        for (size_t i = 0; i < info->reason_count; i++)
            nd_json_append(reasons, cJSON_CreateString(info->reasons[i]));
        if (!info->verified)
            nd_json_add_string(tls, "verify_message", info->verify_message);
        nd_json_add_bool(tls, "insecure", request->insecure);
    }
    if (info->alert[0])
        nd_json_add_string(tls, "alert", info->alert);
    cJSON *chain = nd_json_add_array(tls, "chain");
    time_t now = time(NULL);
    for (size_t i = 0; i < info->chain_length; i++)
        nd_json_append(chain, render_certificate(&info->chain[i], now));
    if (info->chain_truncated)
        nd_json_add_bool(tls, "chain_truncated", true);
}

static cJSON *render_phases(const struct nd_connect_request *request,
                            const struct nd_connect_result *result)
{
    cJSON *phases = cJSON_CreateArray();
    if (!result->literal || result->resolve_error.code != ND_OK || result->address_count)
        render_resolve(phases, result);
    if (result->attempt_count > 0)
        render_attempts(phases, result);
    if (result->tls && result->connected) {
        cJSON *handshake = phase_object(phases, ND_CONNECT_HANDSHAKE);
        add_ms(handshake, "duration_ms", result->handshake_us);
        if (result->tls->version[0]) {
            cJSON *verify = phase_object(phases, ND_CONNECT_VERIFY);
            nd_json_add_bool(verify, "verified", result->tls->verified);
        }
    }
    if (result->connected && request->send_length > 0) {
        cJSON *send = phase_object(phases, ND_CONNECT_SEND);
        nd_json_add_integer(send, "bytes", result->sent);
        add_ms(send, "duration_ms", result->send_us);
    }
    if (result->connected && request->await_reply &&
        (result->got_first_byte || result->failed_phase >= ND_CONNECT_FIRST_BYTE)) {
        cJSON *first = phase_object(phases, ND_CONNECT_FIRST_BYTE);
        if (result->got_first_byte)
            add_ms(first, "duration_ms", result->first_byte_us);
    }
    if (result->got_first_byte) {
        cJSON *receive = phase_object(phases, ND_CONNECT_RECEIVE);
        nd_json_add_integer(receive, "bytes", result->received_length);
        add_ms(receive, "duration_ms", result->receive_us);
        nd_json_add_string(receive, "ended_by", nd_connect_end_name(result->ended_by));
    }
    return phases;
}

/* The verdict first, then how it came about, phase by phase, then what was
 * received. */
static cJSON *render_probe(const struct connect_state *state)
{
    const struct nd_connect_request *request = &state->request;
    const struct nd_connect_result *result = &state->result;
    bool ok = result->ok;
    enum nd_connect_phase failed_phase = result->failed_phase;
    struct nd_error error = result->error;
    enum nd_connect_outcome outcome = result->outcome;
    /* An HTTP probe whose reply is not HTTP failed at the reply. */
    struct nd_http_reply reply;
    bool http =
        state->http && result->got_first_byte &&
        nd_http_reply_parse(result->received, result->received_length, &reply, &error) == ND_OK;
    if (http && reply.status == 0) {
        nd_error_set(&error, ND_ERR_PROTOCOL, "the reply ended before its status line did");
        http = false;
    }
    if (state->http && result->got_first_byte && !http && ok) {
        ok = false;
        failed_phase = ND_CONNECT_RECEIVE;
        outcome = ND_CONNECT_ERROR;
    }

    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "host", request->host);
    nd_json_add_integer(body, "port", request->port);
    nd_json_add_string(body, "family", family_choices[request->family]);
    nd_json_add_string(body, "proto", "tcp");
    nd_json_add_bool(body, "ok", ok);
    nd_json_add_string(body, "result", ok ? "ok" : nd_connect_outcome_name(outcome));
    if (ok) {
        nd_json_add_null(body, "failed_phase");
        nd_json_add_null(body, "error");
    } else {
        nd_json_add_string(body, "failed_phase", nd_connect_phase_name(failed_phase));
        nd_json_add_item(body, "error", render_error(&error, outcome));
    }
    add_ms(body, "total_ms", result->total_us);
    if (result->connected) {
        nd_json_add_string(body, "local", result->local);
        nd_json_add_string(body, "peer", result->peer);
    }
    nd_json_add_item(body, "phases", render_phases(request, result));
    if (result->got_first_byte) {
        cJSON *received = nd_json_add_object(body, "reply");
        nd_json_add_integer(received, "bytes", result->received_length);
        add_bytes(received, result->received, result->received_length);
    }
    if (result->tls)
        render_tls(body, request, result);
    if (http)
        render_http(body, &reply, result);
    if (request->expect_length > 0) {
        cJSON *expect = nd_json_add_object(body, "expect");
        nd_json_add_string(expect, "text", request->expect);
        nd_json_add_bool(expect, "found", result->expect_found);
    }
    return body;
}

/* A probe that did not run to its end answers with a problem: the service
 * stopping, the guard deadline, or no memory. True when it did. */
static bool reply_unfinished(struct nd_request *request, enum nd_deferred_outcome outcome,
                             unsigned timeout_ms, const struct nd_error *result_error)
{
    struct nd_error error;
    if (outcome == ND_DEFERRED_STOPPED) {
        nd_error_set(&error, ND_ERR_STOPPING,
                     "the service is shutting down; the probe was cut short");
        nd_reply_error(request, &error, NULL, NULL);
        return true;
    }
    if (outcome == ND_DEFERRED_TIMED_OUT) {
        nd_error_set(&error, ND_ERR_TIMEOUT, "the probe did not end within %u ms",
                     timeout_ms + DEADLINE_MARGIN_MS);
        nd_reply_error(request, &error, "timeout_ms", NULL);
        return true;
    }
    if (result_error->code == ND_ERR_NO_MEMORY) {
        nd_reply_error(request, result_error, NULL, NULL);
        return true;
    }
    return false;
}

/* A destination the list does not allow: 403, with what the name resolved to. */
static void reply_forbidden(struct nd_request *request, const struct nd_connect_result *path,
                            const struct nd_error *error)
{
    cJSON *extensions = cJSON_CreateObject();
    cJSON *addresses = nd_json_add_array(extensions, "addresses");
    for (size_t i = 0; i < path->address_count; i++)
        nd_json_append(addresses, cJSON_CreateString(path->addresses[i].text));
    nd_reply_error(request, error, "host", extensions);
}

static void connect_render(struct nd_request *request, void *context,
                           enum nd_deferred_outcome outcome)
{
    struct connect_state *state = context;
    const struct nd_connect_result *result = &state->result;
    if (reply_unfinished(request, outcome, state->request.timeout_ms, &result->error))
        return;
    if (result->outcome == ND_CONNECT_FORBIDDEN) {
        reply_forbidden(request, result, &result->error);
        return;
    }
    nd_reply_json(request, 200, render_probe(state));
}

static const struct nd_deferred_ops connect_ops = {
    .start = connect_start,
    .cancel = connect_cancel,
    .render = connect_render,
    .release = connect_release,
};

/* A path as RFC 9112's origin-form wants it: '/', then visible characters. */
static bool valid_path(const char *path)
{
    if (path[0] != '/')
        return false;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f)
            return false;
    }
    return true;
}

/* What goes out after connecting, in an allocation of its own size: most
 * probes send a few bytes, and a thousand of them may wait at once. */
static bool set_payload(struct connect_state *state, const uint8_t *data, size_t length)
{
    state->payload = malloc(length ? length : 1);
    if (!state->payload)
        return false;
    memcpy(state->payload, data, length);
    state->request.send = state->payload;
    state->request.send_length = length;
    return true;
}

/* Recipe 7's request: GET path HTTP/1.0, with the Host a server needs. */
static bool build_http_request(struct connect_state *state, const char *path)
{
    struct nd_connect_request *request = &state->request;
    bool ipv6 = strchr(request->host, ':') != NULL;
    char host[ND_NET_HOST_MAX + 16];
    if (request->port == 80)
        snprintf(host, sizeof host, ipv6 ? "[%s]" : "%s", request->host);
    else
        snprintf(host, sizeof host, ipv6 ? "[%s]:%u" : "%s:%u", request->host,
                 (unsigned)request->port);
    char text[ND_CONNECT_SEND_MAX];
    int length = snprintf(text, sizeof text,
                          "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: netdiag/%s\r\n"
                          "Accept: */*\r\nConnection: close\r\n\r\n",
                          path, host, NETDIAG_VERSION);
    if (length < 0 || (size_t)length >= sizeof text)
        return false;
    state->http = true;
    return set_payload(state, (const uint8_t *)text, (size_t)length);
}

static bool bad(struct nd_request *request, const char *param, enum nd_err code,
                const char *message)
{
    struct nd_error error;
    nd_error_set(&error, code, "%s", message);
    nd_reply_error(request, &error, param, NULL);
    return false;
}

/* send or send_hex, decoded into bytes (ND_CONNECT_SEND_MAX of them);
 * *given is false when neither was. */
static bool take_send_bytes(struct nd_request *request, uint8_t *bytes, size_t *length, bool *given)
{
    const char *send, *send_hex;
    if (!nd_param_string(request, "send", &send) ||
        !nd_param_string(request, "send_hex", &send_hex))
        return false;
    *given = send || send_hex;
    *length = 0;
    if (send && strlen(send) > ND_CONNECT_SEND_MAX)
        return bad(request, "send", ND_ERR_RANGE, "send is longer than 4096 bytes");
    if (send_hex) {
        enum nd_err err = nd_parse_hex_bytes(send_hex, bytes, ND_CONNECT_SEND_MAX, length);
        if (err != ND_OK)
            return bad(request, "send_hex", err,
                       err == ND_ERR_RANGE ? "send_hex is more than 4096 bytes"
                                           : "send_hex must be pairs of hex digits");
        if (send)
            return bad(request, "send_hex", ND_ERR_INVALID, "give one of send and send_hex");
    }
    if (send) {
        *length = strlen(send);
        memcpy(bytes, send, *length);
    }
    return true;
}

/* send, send_hex and http_path: what goes out after connecting. Each is
 * checked on its own first, so that a malformed one is named as such. */
static bool take_payload(struct nd_request *request, struct connect_state *state)
{
    const char *path;
    uint8_t bytes[ND_CONNECT_SEND_MAX];
    size_t length;
    bool given;
    if (!nd_param_string(request, "http_path", &path) ||
        !take_send_bytes(request, bytes, &length, &given))
        return false;
    if (path && (strlen(path) > HTTP_PATH_MAX || !valid_path(path)))
        return bad(request, "http_path", ND_ERR_INVALID,
                   "http_path must start with '/' and hold visible characters only, at most "
                   "1024 of them");
    if (path && given)
        return bad(request, "http_path", ND_ERR_INVALID,
                   "give one of send, send_hex and http_path");
    if (path && !build_http_request(state, path))
        return bad(request, "http_path", ND_ERR_RANGE, "the request would be too long");
    if (given && !set_payload(state, bytes, length))
        return bad(request, NULL, ND_ERR_NO_MEMORY, "out of memory");
    return true;
}

/* tls, sni, alpn and insecure: each checked on its own first, so that a
 * malformed one is named as such. */
static bool take_tls(struct nd_request *request, struct connect_state *state, bool tls,
                     const char *sni, const char *alpn, bool insecure)
{
    struct nd_connect_request *probe = &state->request;
    struct nd_error error;
    if (sni && strlen(sni) >= sizeof probe->server_name)
        return bad(request, "sni", ND_ERR_INVALID, "sni is too long");
    if (sni && nd_resolve_validate_name(sni, &error) != ND_OK) {
        nd_reply_error(request, &error, "sni", NULL);
        return false;
    }
    if (alpn) {
        size_t length = strlen(alpn);
        bool valid = length > 0 && length < sizeof probe->alpn && alpn[0] != ',' &&
                     alpn[length - 1] != ',' && !strstr(alpn, ",,");
        for (size_t i = 0; valid && i < length; i++)
            valid = alpn[i] > ' ' && alpn[i] < 0x7f;
        if (!valid)
            return bad(request, "alpn", ND_ERR_INVALID,
                       "alpn is protocol names separated by commas, e.g. h2,http/1.1 (at most "
                       "127 characters)");
    }
    const char *without = sni ? "sni" : alpn ? "alpn" : insecure ? "insecure" : NULL;
    if (!tls && without)
        return bad(request, without, ND_ERR_INVALID, "sni, alpn and insecure go with tls=1");
    probe->tls = tls;
    probe->insecure = insecure;
    if (sni)
        memcpy(probe->server_name, sni, strlen(sni) + 1);
    if (alpn)
        memcpy(probe->alpn, alpn, strlen(alpn) + 1);
    return true;
}

/* What a probe of either protocol takes: where, and the budget. */
struct destination {
    char host[ND_NET_HOST_MAX];
    uint16_t port;
    enum nd_resolve_family family;
    unsigned timeout_ms;
    size_t read_bytes;
    bool has_read_bytes;
};

/* host, port, family, timeout_ms and read_bytes. False after answering 400,
 * or 403 when /connect is off. */
static bool take_destination(struct nd_request *request, const struct nd_connect_settings *settings,
                             struct destination *out)
{
    const char *host;
    uint64_t port = 0, timeout_ms = DEFAULT_TIMEOUT_MS, read_bytes = DEFAULT_READ_BYTES;
    size_t family_index = 0;
    bool has_port;
    if (!nd_param_string(request, "host", &host) ||
        !nd_param_number(request, "port", 1, 65535, false, &port, &has_port) ||
        !nd_param_choice(request, "family", family_choices, &family_index, NULL) ||
        !nd_param_number(request, "timeout_ms", 1, MAX_TIMEOUT_MS, false, &timeout_ms, NULL) ||
        !nd_param_number(request, "read_bytes", 1, ND_CONNECT_READ_MAX, false, &read_bytes,
                         &out->has_read_bytes))
        return false;
    if (!host || !has_port) {
        nd_reply_failure(request, ND_ERR_MISSING, host ? "port" : "host",
                         "give host and port, e.g. host=localhost&port=9900");
        return false;
    }
    struct nd_error error;
    if (settings->allow->nothing) {
        nd_error_set(&error, ND_ERR_FORBIDDEN,
                     "/connect is disabled on this service (--connect-allow off)");
        nd_reply_error(request, &error, NULL, NULL);
        return false;
    }
    /* "[::1]" as well as "::1". */
    size_t host_length = strlen(host);
    if (host[0] == '[' && host_length > 2 && host[host_length - 1] == ']') {
        host++;
        host_length -= 2;
    }
    if (host_length >= sizeof out->host)
        return bad(request, "host", ND_ERR_INVALID, "host is too long");
    memcpy(out->host, host, host_length);
    out->host[host_length] = '\0';
    if (nd_resolve_validate_name(out->host, &error) != ND_OK) {
        nd_reply_error(request, &error, "host", NULL);
        return false;
    }
    out->port = (uint16_t)port;
    out->family = (enum nd_resolve_family)family_index;
    out->timeout_ms = (unsigned)timeout_ms;
    out->read_bytes = (size_t)read_bytes;
    return true;
}

/* A parameter of the other protocol's probe: 400 naming it. */
static bool refuse_other_proto(struct nd_request *request, const char *const *names,
                               const char *proto)
{
    for (; *names; names++) {
        const char *value;
        if (!nd_param_string(request, *names, &value))
            return false;
        if (value) {
            nd_reply_failure(request, ND_ERR_INVALID, *names, "%s applies to proto=%s only", *names,
                             proto);
            return false;
        }
    }
    return true;
}

static void connect_udp(struct nd_request *request, const struct nd_connect_settings *settings,
                        const struct destination *destination);

void nd_handle_connect(struct nd_request *request)
{
    const struct nd_connect_settings *settings = request->route->context;
    size_t proto = PROTO_TCP;
    struct destination destination;
    if (!nd_param_choice(request, "proto", proto_choices, &proto, NULL) ||
        !take_destination(request, settings, &destination))
        return;
    if (proto == PROTO_UDP) {
        connect_udp(request, settings, &destination);
        return;
    }
    static const char *const udp_only[] = {"count", "interval_ms", NULL};
    const char *expect, *sni, *alpn;
    bool tls = false, insecure = false;
    if (!refuse_other_proto(request, udp_only, "udp") ||
        !nd_param_bool(request, "tls", &tls, NULL) ||
        !nd_param_bool(request, "insecure", &insecure, NULL) ||
        !nd_param_string(request, "sni", &sni) || !nd_param_string(request, "alpn", &alpn) ||
        !nd_param_string(request, "expect", &expect))
        return;
    if (expect && strlen(expect) >= ND_CONNECT_EXPECT_MAX) {
        bad(request, "expect", ND_ERR_RANGE, "expect is longer than 255 bytes");
        return;
    }
    struct connect_state *state = calloc(1, sizeof *state);
    if (!state) {
        bad(request, NULL, ND_ERR_NO_MEMORY, "out of memory");
        return;
    }
    struct nd_connect_request *probe = &state->request;
    memcpy(probe->host, destination.host, sizeof probe->host);
    probe->port = destination.port;
    probe->family = destination.family;
    probe->timeout_ms = destination.timeout_ms;
    probe->allow = settings->allow;
    probe->stats = settings->stats;
    if (!take_payload(request, state) || !take_tls(request, state, tls, sni, alpn, insecure)) {
        connect_release(state);
        return;
    }
    probe->trust = settings->trust;
    if (expect) {
        probe->expect_length = strlen(expect);
        memcpy(probe->expect, expect, probe->expect_length + 1);
    }
    /* A reply is awaited when something was sent, or asked for. */
    probe->await_reply = probe->send_length > 0 || destination.has_read_bytes || expect;
    probe->read_limit = destination.read_bytes;
    nd_deferred_submit(nd_http_deferred(request->server), request, &connect_ops, state,
                       destination.timeout_ms + DEADLINE_MARGIN_MS);
}

/* --- proto=udp ------------------------------------------------------------------ */

struct udp_state {
    struct nd_udp_request request;
    struct nd_udp_result result;
    struct nd_deferred_job *job;
    struct nd_udp_probe *probe; /* NULL once it is done */
};

static void on_udp_done(void *context)
{
    struct udp_state *state = context;
    state->probe = NULL;
    nd_deferred_complete(state->job);
}

static void udp_start(struct nd_deferred_job *job, void *context, uv_loop_t *loop)
{
    struct udp_state *state = context;
    state->job = job;
    state->probe = nd_udp_start(loop, &state->request, &state->result, on_udp_done, state);
    if (!state->probe)
        nd_deferred_complete(job);
}

static void udp_cancel(void *context)
{
    struct udp_state *state = context;
    if (state->probe)
        nd_udp_cancel(state->probe);
}

static void udp_release(void *context)
{
    struct udp_state *state = context;
    nd_udp_result_free(&state->result);
    free(state);
}

/* Each datagram sent, what came of it, and the loss and round trips. */
static void render_exchange(cJSON *phases, const struct udp_state *state)
{
    const struct nd_udp_request *request = &state->request;
    const struct nd_udp_result *result = &state->result;
    cJSON *object = nd_json_append(phases, cJSON_CreateObject());
    nd_json_add_string(object, "phase", nd_udp_phase_name(ND_UDP_EXCHANGE));
    nd_json_add_integer(object, "count", request->count);
    nd_json_add_integer(object, "interval_ms", request->interval_ms);
    nd_json_add_integer(object, "sent", result->sent);
    nd_json_add_integer(object, "answered", result->answered);
    nd_json_add_number(object, "loss_percent",
                       result->sent ? 100.0 * (result->sent - result->answered) / result->sent
                                    : 0.0);
    nd_json_add_integer(object, "extra_replies", result->extra_replies);
    if (result->answered > 0) {
        cJSON *rtt = nd_json_add_object(object, "rtt_ms");
        add_ms(rtt, "min", result->rtt_min_us);
        add_ms(rtt, "avg", result->rtt_sum_us / result->answered);
        add_ms(rtt, "max", result->rtt_max_us);
    }
    cJSON *datagrams = nd_json_add_array(object, "datagrams");
    for (unsigned i = 0; i < result->sent; i++) {
        const struct nd_udp_datagram *datagram = &result->datagrams[i];
        cJSON *item = nd_json_append(datagrams, cJSON_CreateObject());
        nd_json_add_integer(item, "sequence", i + 1);
        add_ms(item, "sent_ms", datagram->sent_us);
        nd_json_add_integer(item, "bytes", request->send_length);
        nd_json_add_string(item, "result", nd_udp_outcome_name(datagram->outcome));
        if (datagram->outcome == ND_UDP_REPLIED) {
            add_ms(item, "rtt_ms", datagram->rtt_us);
            nd_json_add_integer(item, "reply_bytes", datagram->reply_length);
            nd_json_add_bool(item, "identical", datagram->reply_identical);
        } else if (datagram->outcome != ND_UDP_NO_REPLY) {
            nd_json_add_item(
                item, "error",
                render_error_named(&datagram->error, nd_udp_outcome_name(datagram->outcome)));
        }
    }
}

static cJSON *render_udp_probe(const struct udp_state *state)
{
    const struct nd_udp_request *request = &state->request;
    const struct nd_udp_result *result = &state->result;
    const struct nd_connect_result *path = &result->path;
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "host", request->host);
    nd_json_add_integer(body, "port", request->port);
    nd_json_add_string(body, "family", family_choices[request->family]);
    nd_json_add_string(body, "proto", "udp");
    nd_json_add_bool(body, "ok", result->ok);
    nd_json_add_string(body, "result", result->ok ? "ok" : nd_udp_outcome_name(result->outcome));
    if (result->ok) {
        nd_json_add_null(body, "failed_phase");
        nd_json_add_null(body, "error");
    } else {
        nd_json_add_string(body, "failed_phase", nd_udp_phase_name(result->failed_phase));
        nd_json_add_item(body, "error",
                         render_error_named(&result->error, nd_udp_outcome_name(result->outcome)));
    }
    if (result->outcome == ND_UDP_NO_REPLY)
        nd_json_add_string(
            body, "note",
            "UDP silence is ambiguous: a firewall may have dropped the datagrams or their replies, "
            "or nothing listens there and the ICMP port unreachable that would say so was "
            "filtered or rate-limited on the way. Only a reply or a refusal is a clear answer.");
    add_ms(body, "total_ms", result->total_us);
    if (path->connected) {
        nd_json_add_string(body, "local", path->local);
        nd_json_add_string(body, "peer", path->peer);
    }
    cJSON *phases = nd_json_add_array(body, "phases");
    if (!path->literal || path->resolve_error.code != ND_OK || path->address_count)
        render_resolve(phases, path);
    if (path->attempt_count > 0)
        render_attempts(phases, path);
    if (path->connected)
        render_exchange(phases, state);
    if (result->answered > 0) {
        cJSON *reply = nd_json_add_object(body, "reply");
        nd_json_add_integer(reply, "bytes", result->reply_length);
        add_bytes(reply, result->reply, result->reply_length);
    }
    return body;
}

static void udp_render(struct nd_request *request, void *context, enum nd_deferred_outcome outcome)
{
    struct udp_state *state = context;
    const struct nd_udp_result *result = &state->result;
    if (reply_unfinished(request, outcome, state->request.timeout_ms, &result->error))
        return;
    if (result->outcome == ND_UDP_FORBIDDEN) {
        reply_forbidden(request, &result->path, &result->error);
        return;
    }
    nd_reply_json(request, 200, render_udp_probe(state));
}

static const struct nd_deferred_ops udp_ops = {
    .start = udp_start,
    .cancel = udp_cancel,
    .render = udp_render,
    .release = udp_release,
};

/* proto=udp: send (or send_hex) is the datagram, sent count times
 * interval_ms apart; all of them must fit in timeout_ms. */
static void connect_udp(struct nd_request *request, const struct nd_connect_settings *settings,
                        const struct destination *destination)
{
    static const char *const tcp_only[] = {"http_path", "expect",   "tls", "sni",
                                           "alpn",      "insecure", NULL};
    uint64_t count = DEFAULT_COUNT, interval_ms = DEFAULT_INTERVAL_MS;
    if (!refuse_other_proto(request, tcp_only, "tcp") ||
        !nd_param_number(request, "count", 1, ND_UDP_COUNT_MAX, false, &count, NULL) ||
        !nd_param_number(request, "interval_ms", MIN_INTERVAL_MS, MAX_INTERVAL_MS, false,
                         &interval_ms, NULL))
        return;
    if ((count - 1) * interval_ms >= destination->timeout_ms) {
        nd_reply_failure(request, ND_ERR_RANGE, "interval_ms",
                         "%llu datagrams %llu ms apart take %llu ms, and timeout_ms is %u",
                         (unsigned long long)count, (unsigned long long)interval_ms,
                         (unsigned long long)((count - 1) * interval_ms), destination->timeout_ms);
        return;
    }
    struct udp_state *state = calloc(1, sizeof *state);
    if (!state) {
        bad(request, NULL, ND_ERR_NO_MEMORY, "out of memory");
        return;
    }
    struct nd_udp_request *probe = &state->request;
    bool given;
    if (!take_send_bytes(request, probe->send, &probe->send_length, &given)) {
        udp_release(state);
        return;
    }
    if (!given) {
        udp_release(state);
        nd_reply_failure(request, ND_ERR_MISSING, "send",
                         "proto=udp needs the datagram: send or send_hex");
        return;
    }
    memcpy(probe->host, destination->host, sizeof probe->host);
    probe->port = destination->port;
    probe->family = destination->family;
    probe->timeout_ms = destination->timeout_ms;
    probe->count = (unsigned)count;
    probe->interval_ms = (unsigned)interval_ms;
    probe->read_limit = destination->read_bytes;
    probe->allow = settings->allow;
    probe->stats = settings->udp_stats;
    nd_deferred_submit(nd_http_deferred(request->server), request, &udp_ops, state,
                       destination->timeout_ms + DEADLINE_MARGIN_MS);
}

static void render_histogram(struct nd_metrics_text *text, const char *name, const char *help,
                             const atomic_uint_fast64_t *buckets, const atomic_uint_fast64_t *sum)
{
    nd_metrics_family(text, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < ND_CONNECT_BUCKETS; i++) {
        cumulative += atomic_load_explicit(&buckets[i], memory_order_relaxed);
        if (i + 1 < ND_CONNECT_BUCKETS)
            nd_metrics_append(text, "%s_bucket{le=\"%g\"} %llu\n", name,
                              (double)nd_connect_bucket_bounds_us[i] / 1e6,
                              (unsigned long long)cumulative);
        else
            nd_metrics_append(text, "%s_bucket{le=\"+Inf\"} %llu\n", name,
                              (unsigned long long)cumulative);
    }
    nd_metrics_append(text, "%s_sum %.6f\n%s_count %llu\n", name,
                      (double)atomic_load_explicit(sum, memory_order_relaxed) / 1e6, name,
                      (unsigned long long)cumulative);
}

void nd_connect_metrics(void *context, struct nd_metrics_text *text)
{
    struct nd_connect_stats *stats = context;
    nd_metrics_family(text, "netdiag_connect_probes_total", "counter",
                      "/connect probes by how they ended.");
    for (int i = 0; i < ND_CONNECT_OUTCOME_COUNT; i++)
        nd_metrics_append(
            text, "netdiag_connect_probes_total{result=\"%s\"} %llu\n",
            nd_connect_outcome_name((enum nd_connect_outcome)i),
            (unsigned long long)atomic_load_explicit(&stats->outcomes[i], memory_order_relaxed));
    render_histogram(text, "netdiag_connect_duration_seconds",
                     "Whole /connect probes, from the name lookup to the last byte.",
                     stats->total_buckets, &stats->total_sum_us);
    render_histogram(text, "netdiag_connect_connect_seconds",
                     "/connect's connect phase, the attempt that succeeded.",
                     stats->connect_buckets, &stats->connect_sum_us);
    render_histogram(text, "netdiag_connect_first_byte_seconds",
                     "/connect's time from the connection to the reply's first byte.",
                     stats->first_byte_buckets, &stats->first_byte_sum_us);
}

void nd_connect_udp_metrics(void *context, struct nd_metrics_text *text)
{
    struct nd_udp_stats *stats = context;
    nd_metrics_family(text, "netdiag_connect_udp_probes_total", "counter",
                      "/connect?proto=udp probes by how they ended (replied: any reply came).");
    for (int i = 0; i < ND_UDP_OUTCOME_COUNT; i++)
        nd_metrics_append(
            text, "netdiag_connect_udp_probes_total{result=\"%s\"} %llu\n",
            nd_udp_outcome_name((enum nd_udp_outcome)i),
            (unsigned long long)atomic_load_explicit(&stats->outcomes[i], memory_order_relaxed));
    nd_metrics_value(text, "netdiag_connect_udp_datagrams_sent_total", "counter",
                     "Datagrams /connect?proto=udp sent.",
                     atomic_load_explicit(&stats->datagrams_sent, memory_order_relaxed));
    nd_metrics_value(text, "netdiag_connect_udp_datagrams_answered_total", "counter",
                     "Datagrams /connect?proto=udp sent that a reply answered.",
                     atomic_load_explicit(&stats->datagrams_answered, memory_order_relaxed));
    render_histogram(text, "netdiag_connect_udp_rtt_seconds",
                     "/connect?proto=udp's round trips, datagram to reply.", stats->rtt_buckets,
                     &stats->rtt_sum_us);
}

void nd_tls_trust_metrics(void *context, struct nd_metrics_text *text)
{
    unsigned system, file;
    nd_tls_trust_counts(context, &system, &file);
    nd_metrics_family(text, "netdiag_tls_trust_anchors", "gauge",
                      "Certificates tls=1 and the fleet's HTTPS probes trust, by source: the "
                      "system's store (0 until the first handshake needs it, or when there is "
                      "none) and --tls-ca-file.");
    nd_metrics_append(text, "netdiag_tls_trust_anchors{source=\"system\"} %u\n", system);
    nd_metrics_append(text, "netdiag_tls_trust_anchors{source=\"file\"} %u\n", file);
}
