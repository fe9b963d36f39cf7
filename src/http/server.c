#include "http/server.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http/deferred.h"
#include "http/json_arena.h"
#include "http/log.h"
#include "http/message.h"
#include "http/metrics.h"
#include "http/problem.h"
#include "http/request.h"
#include "http/request_deadline.h"
#include "http/routes.h"
#include "http/tls_identity.h"
#include "netdiag/clock.h"

struct nd_http_server {
    struct nd_http_config config;
    struct MHD_Daemon *daemon;
    struct nd_deferred *deferred;
    struct nd_request_deadline *deadline; /* NULL when connection_timeout_s is 0 */
    atomic_bool draining;
    atomic_bool closed_to_new; /* every new connection is closed at once */
    atomic_uint in_flight;
    atomic_uint connections;      /* open HTTP connections */
    atomic_uint_fast64_t refused; /* closed at once: over max_connections */
    atomic_uint_fast64_t next_request_id;
    uint32_t request_id_prefix;
    size_t answer_room; /* pool bytes kept free for an answer's headers */
};

static const char allowed_methods[] = "GET, HEAD, OPTIONS";

#if MHD_VERSION < 0x00097701
static const char placeholder_length[] = "0"; /* see on_request_line */
#endif

/* libmicrohttpd calls this as soon as the request line is read, before the
 * headers: the earliest moment to start the clock and keep the raw target.
 *
 * netdiag parses the query itself, from this raw copy (query.c). Left alone,
 * libmicrohttpd would also split it, right after this call, into one record
 * per argument in the connection's memory pool: some 60 bytes each, so that
 * about 110 short arguments exhausted an 8 KiB pool and the request got no
 * answer at all. Ending the target at the '?' for libmicrohttpd (both 0.9.75
 * and 1.0 look for the '?' before this call and split what follows it after)
 * leaves it no arguments to store; the copy keeps the whole target. */
static void *on_request_line(void *context, const char *uri, struct MHD_Connection *connection)
{
    struct nd_http_server *server = context;
    size_t length = strlen(uri);
    struct nd_request *request = calloc(1, sizeof *request + length + 1);
    if (!request)
        return NULL;
    request->server = server;
    request->connection = connection;
    request->start_ns = nd_clock_monotonic_ns();
    memcpy(request->target, uri, length + 1);
    request->target_length = length;
    const char *question = memchr(uri, '?', length);
    if (question)
        ((char *)uri)[question - uri + 1] = '\0';
    request->path = request->target;
    request->path_length = question ? (size_t)(question - uri) : length;
#if MHD_VERSION < 0x00097701
    /* 0.9.75 reads Content-Length itself before netdiag sees the header,
     * and its own answer to a malformed one goes out with the status line
     * and headers twice (its state machine builds them again). Its reader
     * takes the first field of a name, so a "0" placed first here keeps it
     * out of the way; netdiag's check (message.c) reads the client's fields
     * and skips this one. 1.0 answers those cases correctly itself. */
    MHD_set_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH,
                             placeholder_length);
#endif
    return request;
}

static bool valid_request_id(const char *id)
{
    size_t length = strlen(id);
    if (length == 0 || length >= ND_REQUEST_ID_MAX)
        return false;
    for (const char *p = id; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

static void assign_request_id(struct nd_request *request)
{
    const char *given = request->message.request_id;
    if (given && valid_request_id(given)) {
        memcpy(request->request_id, given, strlen(given) + 1);
        return;
    }
    struct nd_http_server *server = request->server;
    uint64_t sequence =
        atomic_fetch_add_explicit(&server->next_request_id, 1, memory_order_relaxed);
    /* 8 hex digits of the process's random prefix, then 12 of the sequence:
     * written by hand, since this runs for every request. */
    static const char hex[] = "0123456789abcdef";
    char *id = request->request_id;
    for (int i = 0; i < 8; i++)
        id[i] = hex[(server->request_id_prefix >> (28 - 4 * i)) & 0xF];
    for (int i = 0; i < 12; i++)
        id[8 + i] = hex[(sequence >> (44 - 4 * i)) & 0xF];
    id[20] = '\0';
}

static void record_client(struct nd_request *request)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(request->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info && info->client_addr)
        nd_net_format_address(info->client_addr, request->client, sizeof request->client);
    else
        snprintf(request->client, sizeof request->client, "-");
}

static enum MHD_Result queue_answer(struct nd_request *request)
{
    struct nd_http_server *server = request->server;
    if (!request->answered) {
        /* A handler that returns without answering is a bug of ours. */
        nd_reply_failure(request, ND_ERR_INTERNAL, NULL, "the handler produced no answer");
    }
    if (!request->response)
        return MHD_NO;
    struct MHD_Response *response = request->response;
    MHD_add_response_header(response, "X-Request-Id", request->request_id);
    const char *origin = server->config.cors_origin;
    if (origin && origin[0]) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        MHD_add_response_header(response, "Access-Control-Expose-Headers",
                                "X-Request-Id, Retry-After");
    }
    if (request->must_close || atomic_load_explicit(&server->draining, memory_order_relaxed))
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result result = MHD_queue_response(request->connection, request->status, response);
    MHD_destroy_response(response);
    request->response = NULL;
    request->queued = true;
    return result;
}

/* OPTIONS: the methods, and a CORS preflight answer when CORS is on. */
static void answer_options(struct nd_request *request)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return;
    MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allowed_methods);
    const char *origin = request->server->config.cors_origin;
    if (origin && origin[0] && request->route) {
        const char *asked = request->message.cors_request_headers;
        MHD_add_response_header(response, "Access-Control-Allow-Methods", allowed_methods);
        MHD_add_response_header(
            response, "Access-Control-Allow-Headers",
            asked && valid_request_id(asked) ? asked : "Authorization, Content-Type, X-Request-Id");
        MHD_add_response_header(response, "Access-Control-Max-Age", "86400");
    }
    request->response = response;
    request->status = MHD_HTTP_NO_CONTENT;
    request->answered = true;
}

static void reject_unknown_parameters(struct nd_request *request)
{
    const struct nd_route *route = request->route;
    for (size_t i = 0; i < request->query.count; i++) {
        const char *name = request->query.params[i].name;
        bool known = strcmp(name, "pretty") == 0;
        for (size_t j = 0; !known && route->params && route->params[j]; j++)
            known = strcmp(name, route->params[j]) == 0;
        if (known)
            continue;
        char accepted[512] = "";
        size_t used = 0;
        for (size_t j = 0; route->params && route->params[j]; j++) {
            int n = snprintf(accepted + used, sizeof accepted - used, "%s%s", j ? ", " : "",
                             route->params[j]);
            if (n > 0 && (size_t)n < sizeof accepted - used)
                used += (size_t)n;
        }
        nd_reply_failure(request, ND_ERR_UNEXPECTED, name,
                         "unknown query parameter '%.64s' for %s (accepted: %s%spretty)", name,
                         route->path, accepted, used ? ", " : "");
        return;
    }
}

/* Compares in time that depends on the expected token's length only, so
 * that response times do not reveal how much of a guess was right. */
static bool same_secret(const char *given, const char *expected)
{
    size_t given_length = strlen(given), expected_length = strlen(expected);
    unsigned char difference = given_length != expected_length;
    for (size_t i = 0; i < expected_length; i++)
        difference |= (unsigned char)(expected[i] ^ (i < given_length ? given[i] : 0));
    return difference == 0;
}

/* The token of "Bearer <token>", or NULL. The scheme name is
 * case-insensitive (RFC 9110 section 11.1); one or more spaces follow it. */
static const char *bearer_token(const char *header)
{
    static const char scheme[] = "Bearer";
    if (!header || strncasecmp(header, scheme, sizeof scheme - 1) != 0 ||
        header[sizeof scheme - 1] != ' ')
        return NULL;
    const char *token = header + sizeof scheme - 1;
    while (*token == ' ')
        token++;
    return token;
}

/* With --auth-token-file, every route but the open ones (routes.h) needs
 * "Authorization: Bearer <token>". False after answering 401. */
static bool authorized(struct nd_request *request)
{
    const char *expected = request->server->config.auth_token;
    if (!expected || !expected[0] || request->route->open_access)
        return true;
    const char *header = request->message.authorization;
    const char *token = bearer_token(header);
    if (token && same_secret(token, expected))
        return true;
    nd_reply_failure(request, ND_ERR_UNAUTHENTICATED, NULL,
                     header ? "the bearer token is not the one this service accepts"
                            : "this service needs an Authorization: Bearer token");
    if (request->response)
        MHD_add_response_header(request->response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                header ? "Bearer realm=\"netdiag\", error=\"invalid_token\""
                                       : "Bearer realm=\"netdiag\"");
    return false;
}

static void dispatch(struct nd_request *request, const char *method)
{
    char bad_name[72];
    bool is_options = strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0;
    if (request->path[0] == '*') {
        /* RFC 9110 section 9.3.7: "OPTIONS *" asks about the server as a
         * whole; no other method may use that target. */
        if (is_options)
            answer_options(request);
        else
            nd_reply_failure(request, ND_ERR_MALFORMED, NULL,
                             "the target '*' is for OPTIONS only (RFC 9112 3.2.4)");
        return;
    }
    if (!request->route) {
        nd_reply_failure(request, ND_ERR_NOT_FOUND, NULL, "no endpoint at '%.*s'",
                         (int)(request->path_length < 128 ? request->path_length : 128),
                         request->path);
        return;
    }
    if (is_options) {
        answer_options(request);
        return;
    }
    if (!authorized(request))
        return;
    bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    bool is_head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!is_get && !is_head) {
        nd_reply_failure(request, ND_ERR_NOT_ALLOWED, NULL,
                         "%s does not accept %.16s (allowed: %s)", request->route->path, method,
                         allowed_methods);
        if (request->response)
            MHD_add_response_header(request->response, MHD_HTTP_HEADER_ALLOW, allowed_methods);
        return;
    }
    if (request->has_body) {
        nd_reply_failure(request, ND_ERR_TOO_LARGE, NULL, "netdiag takes no request body (%s)",
                         request->message.transfer_encoding ? "Transfer-Encoding: chunked"
                                                            : "a non-zero Content-Length");
        return;
    }

    enum nd_query_status status = nd_query_parse(request->query_text, request->query_text_length,
                                                 &request->query, bad_name, sizeof bad_name);
    if (status == ND_QUERY_NO_MEMORY) {
        nd_reply_failure(request, ND_ERR_NO_MEMORY, NULL, "out of memory");
        return;
    }
    if (status != ND_QUERY_OK) {
        nd_reply_failure(request, ND_ERR_ENCODING, bad_name[0] ? bad_name : NULL,
                         "query string: %s%s%s", nd_query_status_text(status),
                         bad_name[0] ? " in parameter " : "", bad_name);
        return;
    }
    if (!nd_param_bool(request, "pretty", &request->pretty, NULL))
        return;
    reject_unknown_parameters(request);
    if (request->answered)
        return;
    request->route->handler(request);
}

static enum MHD_Result add_field(void *context, enum MHD_ValueKind kind, const char *name,
                                 const char *value)
{
    (void)kind;
#if MHD_VERSION < 0x00097701
    if (value == placeholder_length)
        return MHD_YES;
#endif
    nd_message_add_field(context, name, value ? value : "");
    return MHD_YES;
}

/* libmicrohttpd keeps the request line and the header fields in the
 * connection's memory pool until the answer is sent, with a record of about
 * 64 bytes per field, and builds the answer's status line and headers in
 * what is left. When too little is left it closes the connection without
 * any answer (0.9.75 and 1.0 alike), so netdiag refuses a request head that
 * leaves less than this for its own headers (the largest set, CORS and
 * WWW-Authenticate included, is about 600 bytes). */
enum { FIELD_RECORD_BYTES = 64, ANSWER_HEADER_ROOM = 1024 };

static size_t head_cost(const struct nd_request *request)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(request->connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t head = info ? info->header_size : 0;
    return head + request->message.fields * FIELD_RECORD_BYTES;
}

/* The socket is idle (this request's answer is the next bytes on it) and
 * its send buffer holds far more than an answer written directly. */
static bool send_plain(struct MHD_Connection *connection, struct iovec parts[2])
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return false;
    struct msghdr message = {.msg_iov = parts, .msg_iovlen = 2};
    size_t total = parts[0].iov_len + parts[1].iov_len;
    ssize_t written = sendmsg(info->connect_fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    return written == (ssize_t)total;
}

/* Under HTTPS the same bytes go out through the connection's TLS session:
 * plain bytes on the socket would break the client's TLS stream (it sees a
 * record that is not one). The session is idle here as the socket is,
 * between the request read and an answer libmicrohttpd has not begun to
 * write. Corked, head and body leave as one record. */
static bool send_over_tls(struct MHD_Connection *connection, struct iovec parts[2])
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!info || !info->tls_session)
        return false;
    gnutls_session_t session = info->tls_session;
    gnutls_record_cork(session);
    for (size_t i = 0; i < 2; i++) {
        if (parts[i].iov_len > 0 &&
            gnutls_record_send(session, parts[i].iov_base, parts[i].iov_len) !=
                (ssize_t)parts[i].iov_len)
            break;
    }
    /* Not GNUTLS_RECORD_WAIT: like send_plain, it never blocks the thread. */
    ssize_t written = gnutls_record_uncork(session, 0);
    return written == (ssize_t)(parts[0].iov_len + parts[1].iov_len);
}

/* The answer written straight to the socket, for a head too large to leave
 * libmicrohttpd room for one: status line, headers and problem body in one
 * send. The connection closes after it. False when it could not be sent
 * whole. */
static bool answer_directly(struct nd_request *request, bool with_body, enum nd_err code,
                            const char *detail)
{
    const struct nd_error error = {.code = code};
    struct nd_problem problem;
    nd_problem_from_error(&error, NULL, false, &problem);
    unsigned status = problem.status;
    snprintf(problem.detail, sizeof problem.detail, "%s", detail);
    char instance[256];
    size_t n = request->path_length < sizeof instance ? request->path_length : sizeof instance - 1;
    memcpy(instance, request->path, n);
    instance[n] = '\0';
    cJSON *tree = nd_problem_render(&problem, instance);
    char *body = tree ? cJSON_PrintUnformatted(tree) : NULL;
    cJSON_Delete(tree);
    if (!body)
        return false;
    size_t body_length = strlen(body);

    char date[64];
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    const char *origin = request->server->config.cors_origin;
    bool cors = origin && origin[0];
    char head[1536];
    int head_length =
        snprintf(head, sizeof head,
                 "HTTP/1.1 %u %s\r\nDate: %s\r\nContent-Type: application/problem+json\r\n"
                 "Content-Length: %zu\r\nCache-Control: no-store\r\nX-Request-Id: %s\r\n%s%s%s"
                 "Connection: close\r\n\r\n",
                 status, nd_problem_title(status), date, body_length, request->request_id,
                 cors ? "Access-Control-Allow-Origin: " : "", cors ? origin : "",
                 cors ? "\r\nAccess-Control-Expose-Headers: X-Request-Id, Retry-After\r\n" : "");
    bool sent = false;
    if (head_length > 0 && (size_t)head_length < sizeof head) {
        struct iovec parts[2] = {{.iov_base = head, .iov_len = (size_t)head_length},
                                 {.iov_base = body, .iov_len = with_body ? body_length : 0}};
        sent = request->server->config.tls ? send_over_tls(request->connection, parts)
                                           : send_plain(request->connection, parts);
    }
    cJSON_free(body);
    if (sent) {
        request->status = status;
        request->body_bytes = with_body ? body_length : 0;
        request->answered_directly = true;
    }
    return sent;
}

/* Set on this thread when the handler asks libmicrohttpd to close the
 * connection after writing its own answer; libmicrohttpd then reports an
 * "internal error" of the application, which this was not. */
static _Thread_local bool closing_after_direct_answer;

/* A message netdiag refuses: 400, and the connection closes, since what
 * follows the header cannot be told apart from a next request. */
static void refuse_message(struct nd_request *request, const char *detail)
{
    request->must_close = true;
    nd_reply_failure(request, ND_ERR_MALFORMED, NULL, "%s", detail);
}

/* libmicrohttpd hands the target over as a C string. A raw NUL inside it,
 * which 1.0 refuses itself (closing the connection) and 0.9.75 lets through,
 * would cut netdiag's copy short and hide the rest from the checks and the
 * log. The target and the version string both still point into the
 * connection's read buffer, where the target ends one space before the
 * version: a gap longer than the copy means it was cut. Only addresses are
 * compared; nothing is read. */
static bool target_was_cut(const struct nd_request *request, const char *url, const char *version)
{
    uintptr_t start = (uintptr_t)url, end = (uintptr_t)version;
    if (end <= start || end - start > request->server->config.connection_memory)
        return false;
    return end - start - 1 > request->target_length;
}

/* The same look at the method: 0.9.75 skips extra spaces between method and
 * target, which 1.0 (at the discipline set below) refuses; RFC 9112 section
 * 3 allows either, and netdiag refuses them under both. */
static bool method_gap_is_wide(const char *method, const char *url)
{
    uintptr_t start = (uintptr_t)method, end = (uintptr_t)url;
    return end > start && end - start > strlen(method) + 1 && end - start < 1u << 16;
}

/* The first call, with the header complete: RFC 9112's rules for the
 * target, Host and body framing, which libmicrohttpd 0.9.75 leaves to the
 * application, checked the same way under both versions. Returns false when
 * it has answered (or has to close at once). */
static bool check_message(struct nd_request *request, const char *url, const char *version,
                          bool *close_now)
{
    struct MHD_Connection *connection = request->connection;
    MHD_get_connection_values(connection, MHD_HEADER_KIND, add_field, &request->message);
    assign_request_id(request);
    struct nd_target target;
    char detail[ND_MESSAGE_DETAIL_MAX];
    bool target_ok =
        nd_target_parse(request->target, request->target_length, &target, detail, sizeof detail);
    if (target_ok) {
        request->path = target.path;
        request->path_length = target.path_length;
        request->query_text = target.query;
        request->query_text_length = target.query_length;
    }
    request->route =
        nd_route_find(request->server->config.routes, request->server->config.route_count,
                      request->path, request->path_length);

    if (head_cost(request) + request->server->answer_room >
        request->server->config.connection_memory) {
        char too_large[160];
        snprintf(too_large, sizeof too_large,
                 "the request line and headers need more than the %zu bytes this server keeps "
                 "for them (--connection-memory, less room for the answer)",
                 request->server->config.connection_memory - request->server->answer_room);
        answer_directly(request, strcmp(request->method, MHD_HTTP_METHOD_HEAD) != 0,
                        ND_ERR_HEAD_TOO_LARGE, too_large);
        *close_now = true;
        closing_after_direct_answer = true;
        return false;
    }
    if (target_was_cut(request, url, version)) {
        refuse_message(request, "the request target holds a NUL byte");
        return false;
    }
    if (method_gap_is_wide(request->method, url)) {
        refuse_message(request, "more than one space between method and target (RFC 9112 3)");
        return false;
    }
    if (!target_ok) {
        refuse_message(request, detail);
        return false;
    }
    bool http11 = strcmp(version, MHD_HTTP_VERSION_1_0) != 0;
    enum nd_message_verdict verdict =
        nd_message_check(&request->message, http11, detail, sizeof detail);
    if (verdict == ND_MESSAGE_INVALID) {
        refuse_message(request, detail);
        return false;
    }
    if (verdict == ND_MESSAGE_BODY) {
        /* netdiag takes no body: answer before it is read, then close. */
        request->has_body = true;
        request->must_close = true;
    }
    return true;
}

static enum MHD_Result handle_request(void *context, struct MHD_Connection *connection,
                                      const char *url, const char *method, const char *version,
                                      size_t *upload_data_size, void **request_context)
{
    struct nd_http_server *server = context;
    struct nd_request *request = *request_context;
    if (!request)
        return MHD_NO; /* the request line callback ran out of memory */
    if (!request->method) {
        /* First call: headers are in. A refused message, or a request with a
         * body (which netdiag never reads), is answered now. Otherwise wait
         * for the call that says the (empty) body is complete: answering
         * earlier would make libmicrohttpd close a keep-alive connection. */
        request->method = method;
        if (server->deadline) {
            const union MHD_ConnectionInfo *info =
                MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
            request->deadline_watch = info ? info->socket_context : NULL;
            nd_request_deadline_arrived(request->deadline_watch);
        }
        atomic_fetch_add_explicit(&server->in_flight, 1, memory_order_relaxed);
        if (server->config.access_log)
            record_client(request);
        bool close_now = false;
        if (!check_message(request, url, version, &close_now))
            return close_now ? MHD_NO : queue_answer(request);
        if (!request->has_body)
            return MHD_YES;
        dispatch(request, method);
        return queue_answer(request);
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* body bytes after we answered: discard */
        return MHD_YES;
    }
    if (request->queued)
        return MHD_YES;
    if (request->deferred) {
        nd_deferred_render(request); /* resumed: the slow work is over */
        return queue_answer(request);
    }
    dispatch(request, method);
    if (request->deferred)
        return MHD_YES; /* suspended until the slow work ends */
    return queue_answer(request);
}

/* Every response's JSON is built, printed and freed within this call. */
static enum MHD_Result on_request(void *context, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **request_context)
{
    (void)upload_data;
    nd_json_arena_begin();
    enum MHD_Result result = handle_request(context, connection, url, method, version,
                                            upload_data_size, request_context);
    nd_json_arena_end();
    return result;
}

static const char *termination_name(enum MHD_RequestTerminationCode termination)
{
    switch (termination) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return NULL;
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client_closed";
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
    default:
        return "error";
    }
}

/* The access line and the counters for one request, written once it is
 * over. They record what went out: a request whose answer was not sent
 * whole is logged with status 0 and the reason, and counted apart. */
static void on_completed(void *context, struct MHD_Connection *connection, void **request_context,
                         enum MHD_RequestTerminationCode termination)
{
    struct nd_http_server *server = context;
    struct nd_request *request = *request_context;
    if (!request)
        return;
    uint64_t now_ns = nd_clock_monotonic_ns();
    uint64_t duration_us = (now_ns - request->start_ns) / 1000u;
    const char *method = request->method;
    const char *unsent = termination_name(termination);
    unsigned status = request->status;
    if (request->method) {
        nd_request_deadline_rearm(request->deadline_watch, now_ns);
        atomic_fetch_sub_explicit(&server->in_flight, 1, memory_order_relaxed);
        if (request->answered_directly)
            unsent = NULL;
    } else {
        /* libmicrohttpd refused the header itself (431, 400, 413...) before
         * netdiag saw it; the status is the one it queued, if any. */
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_HTTP_STATUS);
        status = info ? info->http_status : 0;
        unsent = status ? NULL : unsent;
        method = "-";
        request->route = nd_route_find(server->config.routes, server->config.route_count,
                                       request->path, request->path_length);
    }
    if (unsent) {
        status = 0;
        nd_metrics_record_unanswered(unsent);
    } else {
        nd_metrics_record(request->route, method, status, duration_us);
    }
    if (server->config.access_log) {
        if (!request->method)
            record_client(request);
        struct nd_access_entry entry = {
            .method = method,
            .target = request->target,
            .status = status,
            .bytes = unsent ? 0 : request->body_bytes,
            .duration_us = duration_us,
            .client = request->client,
            .request_id = request->request_id[0] ? request->request_id : "-",
            .unsent = unsent,
        };
        nd_log_access(&entry);
    }
    nd_deferred_request_ended(request);
    if (request->response)
        MHD_destroy_response(request->response);
    nd_query_free(&request->query);
    free(request);
    *request_context = NULL;
}

/* libmicrohttpd, at its own limit, stops accepting and lets new clients wait
 * in the backlog until they give up. Refusing here instead closes them at
 * once, so an over-limit client gets an answer (a closed connection), not a
 * hang. The count may run over by the number of polling threads, which
 * accept concurrently. */
static enum MHD_Result on_accept(void *context, const struct sockaddr *address, socklen_t length)
{
    struct nd_http_server *server = context;
    (void)address;
    (void)length;
    if (atomic_load_explicit(&server->closed_to_new, memory_order_relaxed))
        return MHD_NO;
    if (atomic_load_explicit(&server->connections, memory_order_relaxed) >=
        server->config.max_connections) {
        atomic_fetch_add_explicit(&server->refused, 1, memory_order_relaxed);
        return MHD_NO;
    }
    return MHD_YES;
}

static void on_connection(void *context, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct nd_http_server *server = context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add_explicit(&server->connections, 1, memory_order_relaxed);
        const union MHD_ConnectionInfo *info =
            server->deadline
                ? MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD)
                : NULL;
        *socket_context =
            info ? nd_request_deadline_watch(server->deadline, info->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        /* libmicrohttpd closes the socket after this returns. */
        if (server->deadline)
            nd_request_deadline_forget(server->deadline, *socket_context);
        *socket_context = NULL;
        atomic_fetch_sub_explicit(&server->connections, 1, memory_order_relaxed);
    }
}

/* The title of the HTML page libmicrohttpd sends with its own error
 * answers, which is all the log needs of it. */
static void page_title(const char *message, char *out, size_t size)
{
    const char *start = strstr(message, "<title>");
    const char *end = start ? strstr(start, "</title>") : NULL;
    if (!start || !end) {
        snprintf(out, size, "%s", message);
        return;
    }
    start += sizeof "<title>" - 1;
    snprintf(out, size, "%.*s", (int)(end - start), start);
}

static void on_library_error(void *context, const char *format, va_list args)
    __attribute__((format(printf, 2, 0)));

/* libmicrohttpd reports here what it decides alone. Two of its messages
 * are also counted: the error answers it writes itself (for a request line
 * or header it refuses before netdiag sees the request), and the
 * connections it refuses over --per-ip-connections. Their text is the same
 * in 0.9.75 and 1.0. */
static void on_library_error(void *context, const char *format, va_list args)
{
    static const char error_answer[] = "Error processing request (HTTP response code is %u";
    static const char refused[] = "Server reached connection limit.";
    static const char application_error[] = "Application reported internal error";
    struct nd_http_server *server = context;
    char message[512];
    va_list copy;
    va_copy(copy, args);
    vsnprintf(message, sizeof message, format, args);
    /* The text, not the format: 0.9.75 passes this one as "%s\n". */
    if (closing_after_direct_answer &&
        strncmp(message, application_error, sizeof application_error - 1) == 0) {
        closing_after_direct_answer = false;
        va_end(copy);
        return;
    }
    size_t length = strlen(message);
    while (length > 0 && (message[length - 1] == '\n' || message[length - 1] == '\r'))
        message[--length] = '\0';
    if (strncmp(format, error_answer, sizeof error_answer - 1) == 0) {
        unsigned status = va_arg(copy, unsigned);
        char status_text[16], title[160];
        snprintf(status_text, sizeof status_text, "%u", status);
        page_title(message, title, sizeof title);
        nd_metrics_record_library_answer(status);
        nd_log_event("warn", "libmicrohttpd", "status", status_text, "message", title, NULL);
    } else {
        if (strncmp(format, refused, sizeof refused - 1) == 0)
            atomic_fetch_add_explicit(&server->refused, 1, memory_order_relaxed);
        nd_log_event("warn", "libmicrohttpd", "message", message, NULL);
    }
    va_end(copy);
}

static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void install_json_arena(void)
{
    if (!nd_json_arena_install())
        nd_log_event("warn", "json arena", "message",
                     "could not reserve address space; cJSON uses malloc", NULL);
}

enum nd_err nd_http_start(const struct nd_http_config *config, struct nd_http_server **out,
                          struct nd_error *error)
{
    pthread_once(&arena_once, install_json_arena);
    struct nd_http_server *server = calloc(1, sizeof *server);
    if (!server)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    server->config = *config;
    server->answer_room =
        ANSWER_HEADER_ROOM + (config->cors_origin ? strlen(config->cors_origin) : 0);
    atomic_init(&server->draining, false);
    atomic_init(&server->closed_to_new, false);
    atomic_init(&server->in_flight, 0);
    atomic_init(&server->connections, 0);
    atomic_init(&server->refused, 0);
    atomic_init(&server->next_request_id, 1);
    if (getrandom(&server->request_id_prefix, sizeof server->request_id_prefix, 0) !=
        (ssize_t)sizeof server->request_id_prefix)
        server->request_id_prefix = (uint32_t)getpid() ^ (uint32_t)time(NULL);

    nd_metrics_init();
    struct nd_deferred_config slow = {.max_waiting = config->slow_max_waiting};
    enum nd_err err = nd_deferred_start(&slow, config->runtime, &server->deferred, error);
    if (err != ND_OK) {
        free(server);
        return err;
    }
    if (config->connection_timeout_s > 0) {
        err = nd_request_deadline_start(config->runtime,
                                        (uint64_t)config->connection_timeout_s * 1000u,
                                        &server->deadline, error);
        if (err != ND_OK) {
            nd_deferred_stop(server->deferred);
            nd_deferred_free(server->deferred);
            free(server);
            return err;
        }
    }

    /* One epoll set per polling thread, not a thread per connection: the
     * thread count stays fixed however many clients connect. Suspend/resume
     * lets slow work wait without holding a thread. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (config->tls) {
        flags |= MHD_USE_TLS;
        nd_tls_identity_serve(config->tls);
    }
    unsigned threads = config->threads ? config->threads : 1;
    struct MHD_OptionItem options[16] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_library_error, server},
        {MHD_OPTION_LISTEN_SOCKET, config->listen_fd, NULL},
        /* Above ours (on_accept), so that ours decides. */
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)config->max_connections + 64 * threads, NULL},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, server},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)config->per_ip_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)config->connection_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)config->connection_memory, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_request_line, server},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, server},
    };
    size_t count = 9;
#if MHD_VERSION >= 0x00097701
    /* 1.0's client discipline at its strictest within the RFCs: it refuses
     * whitespace in the target or before a colon, bare CR and LF, obs-fold.
     * 0.9.75's MHD_OPTION_STRICT_FOR_CLIENT is not set: there it closes the
     * connection without an answer on a space in the target and corrupts its
     * answer to a missing Host, both of which netdiag's own checks
     * (message.c) answer cleanly instead. */
    options[count++] = (struct MHD_OptionItem){MHD_OPTION_CLIENT_DISCIPLINE_LVL, 1, NULL};
#endif
    if (threads > 1)
        options[count++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
    if (config->tls) {
        /* TLS 1.2 and 1.3 only (RFC 8996), with the certificate chosen per
         * handshake so that SIGHUP can renew it. */
        options[count++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
                                                   (void *)nd_tls_identity_retrieve};
        options[count++] = (struct MHD_OptionItem){
            MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
    }
    options[count] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    server->daemon = MHD_start_daemon(flags, 0, on_accept, server, on_request, server,
                                      MHD_OPTION_ARRAY, options, MHD_OPTION_END);
    if (!server->daemon) {
        nd_request_deadline_stop(server->deadline);
        nd_deferred_stop(server->deferred);
        nd_deferred_free(server->deferred);
        free(server);
        return nd_error_set(error, ND_ERR_SYSTEM,
                            "libmicrohttpd could not start (see the log line before this)");
    }
    *out = server;
    return ND_OK;
}

void nd_http_begin_drain(struct nd_http_server *server)
{
    atomic_store(&server->draining, true);
}

/* Not MHD_quiesce_daemon: in libmicrohttpd 0.9.75 (and 1.0.1) it removes the
 * listening socket from each polling thread's epoll set while that thread may
 * be removing it too, and aborts the process when it loses that race (seen
 * once in a benchmark run, on SIGTERM). The accept policy refuses instead;
 * the socket itself closes in MHD_stop_daemon. */
void nd_http_stop_accepting(struct nd_http_server *server)
{
    atomic_store(&server->draining, true);
    atomic_store(&server->closed_to_new, true);
}

bool nd_http_is_draining(const struct nd_http_server *server)
{
    return atomic_load(&server->draining);
}

unsigned nd_http_in_flight(const struct nd_http_server *server)
{
    return atomic_load(&server->in_flight);
}

void nd_http_get_connection_stats(const struct nd_http_server *server, unsigned *open,
                                  uint64_t *refused, uint64_t *timed_out)
{
    *open = atomic_load(&server->connections);
    *refused = atomic_load(&server->refused);
    *timed_out = server->deadline ? nd_request_deadline_expired(server->deadline) : 0;
}

struct nd_deferred *nd_http_deferred(const struct nd_http_server *server)
{
    return server->deferred;
}

void nd_http_stop(struct nd_http_server *server)
{
    if (!server)
        return;
    /* libmicrohttpd refuses to stop with suspended connections: expire the
     * slow work first, which resumes them, and give the polling threads a
     * moment to send those answers (503 stopping) before every connection
     * is closed. */
    nd_deferred_stop(server->deferred);
    for (int waited_ms = 0; atomic_load(&server->in_flight) > 0 && waited_ms < 1000;
         waited_ms += 10) {
        const struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    MHD_stop_daemon(server->daemon);
    nd_request_deadline_stop(server->deadline);
    nd_deferred_free(server->deferred);
    free(server);
}
