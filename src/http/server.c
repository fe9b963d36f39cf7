#include "http/server.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "http/deferred.h"
#include "http/json_arena.h"
#include "http/log.h"
#include "http/metrics.h"
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
};

static const char allowed_methods[] = "GET, HEAD, OPTIONS";

/* libmicrohttpd calls this as soon as the request line is read, before the
 * headers: the earliest moment to start the clock and keep the raw target. */
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
    const char *question = memchr(uri, '?', length);
    request->path_length = question ? (size_t)(question - uri) : length;
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
    const char *given =
        MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, "X-Request-Id");
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
        nd_reply_problem_format(request, 500, "internal_error", NULL,
                                "the handler produced no answer");
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
    if (atomic_load_explicit(&server->draining, memory_order_relaxed))
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
    if (origin && origin[0]) {
        const char *asked = MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND,
                                                        "Access-Control-Request-Headers");
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

static bool has_request_body(struct MHD_Connection *connection, const char **length_text)
{
    *length_text =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (*length_text && strcmp(*length_text, "0") != 0)
        return true;
    return MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
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
        nd_reply_problem_format(request, 400, "unknown_parameter", name,
                                "unknown query parameter '%.64s' for %s (accepted: %s%spretty)",
                                name, route->path, accepted, used ? ", " : "");
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

/* With --auth-token-file, every route but the probes and metrics needs
 * "Authorization: Bearer <token>". False after answering 401. */
static bool authorized(struct nd_request *request)
{
    const char *token = request->server->config.auth_token;
    if (!token || !token[0] || request->route->open_access)
        return true;
    const char *header =
        MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, "Authorization");
    static const char scheme[] = "Bearer ";
    if (header && strncmp(header, scheme, sizeof scheme - 1) == 0 &&
        same_secret(header + sizeof scheme - 1, token))
        return true;
    nd_reply_problem_format(request, 401, "unauthorized", NULL,
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
    const char *query_text = request->target + request->path_length;
    size_t query_length = strlen(query_text);
    if (query_length > 0) {
        query_text++;
        query_length--;
    }

    struct nd_http_server *server = request->server;
    request->route = nd_route_find(server->config.routes, server->config.route_count,
                                   request->target, request->path_length);
    if (!request->route) {
        nd_reply_problem_format(request, 404, "not_found", NULL, "no endpoint at '%.*s'",
                                (int)(request->path_length < 128 ? request->path_length : 128),
                                request->target);
        return;
    }
    if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0) {
        answer_options(request);
        return;
    }
    if (!authorized(request))
        return;
    bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    bool is_head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!is_get && !is_head) {
        nd_reply_problem_format(request, 405, "method_not_allowed", NULL,
                                "%s does not accept %.16s (allowed: %s)", request->route->path,
                                method, allowed_methods);
        if (request->response)
            MHD_add_response_header(request->response, MHD_HTTP_HEADER_ALLOW, allowed_methods);
        return;
    }

    enum nd_query_status status =
        nd_query_parse(query_text, query_length, &request->query, bad_name, sizeof bad_name);
    if (status == ND_QUERY_NO_MEMORY) {
        nd_reply_problem_format(request, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    if (status != ND_QUERY_OK) {
        nd_reply_problem_format(request, 400, "invalid_query", bad_name[0] ? bad_name : NULL,
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

static enum MHD_Result handle_request(void *context, struct MHD_Connection *connection,
                                      const char *method, size_t *upload_data_size,
                                      void **request_context)
{
    struct nd_http_server *server = context;
    struct nd_request *request = *request_context;
    if (!request)
        return MHD_NO; /* the request line callback ran out of memory */
    if (!request->method) {
        /* First call: headers are in. A GET has no body, so one announced is
         * refused before it is read. Otherwise wait for the call that says
         * the (empty) body is complete: answering earlier would make
         * libmicrohttpd close a keep-alive connection. */
        request->method = method;
        if (server->deadline) {
            const union MHD_ConnectionInfo *info =
                MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
            request->deadline_watch = info ? info->socket_context : NULL;
            nd_request_deadline_arrived(request->deadline_watch);
        }
        atomic_fetch_add_explicit(&server->in_flight, 1, memory_order_relaxed);
        assign_request_id(request);
        if (server->config.access_log)
            record_client(request);
        const char *length_text;
        if (!has_request_body(connection, &length_text))
            return MHD_YES;
        nd_reply_problem_format(request, 413, "body_not_allowed", NULL,
                                "netdiag takes no request body (Content-Length: %.20s)",
                                length_text ? length_text : "chunked");
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
    (void)url;
    (void)version;
    (void)upload_data;
    nd_json_arena_begin();
    enum MHD_Result result =
        handle_request(context, connection, method, upload_data_size, request_context);
    nd_json_arena_end();
    return result;
}

static void on_completed(void *context, struct MHD_Connection *connection, void **request_context,
                         enum MHD_RequestTerminationCode termination)
{
    struct nd_http_server *server = context;
    struct nd_request *request = *request_context;
    (void)connection;
    (void)termination;
    if (!request)
        return;
    if (request->method) {
        uint64_t now_ns = nd_clock_monotonic_ns();
        uint64_t duration_us = (now_ns - request->start_ns) / 1000u;
        nd_request_deadline_rearm(request->deadline_watch, now_ns);
        nd_metrics_record(request->route, request->method, request->status, duration_us);
        if (server->config.access_log) {
            struct nd_access_entry entry = {
                .method = request->method,
                .target = request->target,
                .status = request->status,
                .bytes = request->body_bytes,
                .duration_us = duration_us,
                .client = request->client,
                .request_id = request->request_id,
            };
            nd_log_access(&entry);
        }
        atomic_fetch_sub_explicit(&server->in_flight, 1, memory_order_relaxed);
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

static void on_library_error(void *context, const char *format, va_list args)
    __attribute__((format(printf, 2, 0)));

static void on_library_error(void *context, const char *format, va_list args)
{
    char message[512];
    (void)context;
    vsnprintf(message, sizeof message, format, args);
    size_t length = strlen(message);
    while (length > 0 && (message[length - 1] == '\n' || message[length - 1] == '\r'))
        message[--length] = '\0';
    nd_log_event("warn", "libmicrohttpd", "message", message, NULL);
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
