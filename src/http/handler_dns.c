/* GET /dns: any record type from a chosen nameserver (or every default one
 * side by side), answered as dig and the DNS-over-HTTPS JSON APIs answer.
 * The exchange runs on the runtime's loop (src/probe/dns_query.c); no HTTP
 * thread waits. The DNS outcome is data: NXDOMAIN and SERVFAIL are a 200
 * with Status set; only a server that did not answer, or not in DNS, is an
 * HTTP error. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "http/deferred.h"
#include "http/dns_json.h"
#include "http/handlers.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/routes.h"
#include "http/server.h"
#include "netdiag/dns.h"
#include "netdiag/resolve.h"
#include "probe/dns_query.h"

enum {
    DEFAULT_TIMEOUT_MS = 3000,
    MAX_TIMEOUT_MS = 10000,
    /* The probes time themselves out; the request's deadline is a safety
     * net behind them, late enough that their own answer is what renders. */
    DEADLINE_MARGIN_MS = 500,
};

struct server_query {
    struct dns_state *state;
    struct nd_net_endpoint endpoint;
    struct nd_dns_query probe;
};

struct dns_state {
    char name[ND_DNS_NAME_TEXT_MAX]; /* as asked, after PTR's rewriting */
    uint16_t type;
    bool all;
    unsigned timeout_ms;
    struct nd_dns_query_request request; /* host and port set per server */
    uint8_t query[ND_DNS_QUERY_MAX];
    /* The loop's. */
    struct nd_deferred_job *job;
    size_t outstanding;
    size_t count;
    struct server_query servers[];
};

/* --- Metrics: bounded labels, counted when an answer is rendered. --- */

static const char *const rcode_labels[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                           "NOTIMP",  "REFUSED", "other",    "no_answer"};
enum { RCODE_LABELS = sizeof rcode_labels / sizeof rcode_labels[0] };
enum { RCODE_OTHER = RCODE_LABELS - 2, RCODE_NO_ANSWER = RCODE_LABELS - 1 };

/* Query time bounds in microseconds, 100 µs to 10 s. */
static const uint64_t duration_bounds_us[] = {100,     250,     500,     1000,    2500,   5000,
                                              10000,   25000,   50000,   100000,  250000, 500000,
                                              1000000, 2500000, 5000000, 10000000};
enum { DURATION_BUCKETS = sizeof duration_bounds_us / sizeof duration_bounds_us[0] };

static atomic_uint_fast64_t queries[2][RCODE_LABELS]; /* [transport][rcode] */
static atomic_uint_fast64_t duration_buckets[DURATION_BUCKETS];
static atomic_uint_fast64_t duration_count, duration_sum_us;

static void count_query(const struct nd_dns_query_result *result,
                        const struct nd_dns_message *message)
{
    size_t rcode = RCODE_NO_ANSWER;
    if (message)
        rcode = message->rcode < RCODE_OTHER ? message->rcode : RCODE_OTHER;
    atomic_fetch_add_explicit(&queries[result->transport][rcode], 1, memory_order_relaxed);
    if (!message)
        return;
    size_t bucket = 0;
    while (bucket < DURATION_BUCKETS && result->query_time_us > duration_bounds_us[bucket])
        bucket++;
    if (bucket < DURATION_BUCKETS)
        atomic_fetch_add_explicit(&duration_buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&duration_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&duration_sum_us, result->query_time_us, memory_order_relaxed);
}

void nd_dns_metrics_render(struct nd_metrics_text *text)
{
    nd_metrics_family(text, "netdiag_dns_queries_total", "counter",
                      "DNS queries /dns sent, by the transport of the last exchange and the "
                      "response code (no_answer: none came).");
    for (int transport = 0; transport < 2; transport++) {
        for (size_t rcode = 0; rcode < RCODE_LABELS; rcode++)
            nd_metrics_append(
                text, "netdiag_dns_queries_total{transport=\"%s\",rcode=\"%s\"} %llu\n",
                nd_dns_transport_name((enum nd_dns_transport)transport), rcode_labels[rcode],
                (unsigned long long)atomic_load_explicit(&queries[transport][rcode],
                                                         memory_order_relaxed));
    }
    nd_metrics_family(text, "netdiag_dns_query_duration_seconds", "histogram",
                      "Time from a DNS query's first packet to its reply (retries and the TCP "
                      "fallback included), for queries answered.");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < DURATION_BUCKETS; b++) {
        cumulative += atomic_load_explicit(&duration_buckets[b], memory_order_relaxed);
        nd_metrics_append(text, "netdiag_dns_query_duration_seconds_bucket{le=\"%g\"} %llu\n",
                          (double)duration_bounds_us[b] / 1e6, (unsigned long long)cumulative);
    }
    uint64_t count = atomic_load_explicit(&duration_count, memory_order_relaxed);
    if (count < cumulative)
        count = cumulative;
    nd_metrics_append(text, "netdiag_dns_query_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                      (unsigned long long)count);
    nd_metrics_append(text, "netdiag_dns_query_duration_seconds_sum %.6f\n",
                      (double)atomic_load_explicit(&duration_sum_us, memory_order_relaxed) / 1e6);
    nd_metrics_append(text, "netdiag_dns_query_duration_seconds_count %llu\n",
                      (unsigned long long)count);
}

/* --- On the loop. --- */

static void on_probe_done(struct nd_dns_query *probe, void *context)
{
    struct server_query *server = context;
    (void)probe;
    if (--server->state->outstanding == 0)
        nd_deferred_complete(server->state->job);
}

static void dns_start(struct nd_deferred_job *job, void *context, uv_loop_t *loop)
{
    struct dns_state *state = context;
    state->job = job;
    state->outstanding = state->count;
    for (size_t i = 0; i < state->count; i++) {
        struct server_query *server = &state->servers[i];
        struct nd_dns_query_request request = state->request;
        memcpy(request.host, server->endpoint.host, sizeof request.host);
        request.port = server->endpoint.port;
        nd_dns_query_start(&server->probe, loop, &request, on_probe_done, server);
    }
}

static void dns_cancel(void *context)
{
    struct dns_state *state = context;
    for (size_t i = 0; i < state->count; i++)
        nd_dns_query_cancel(&state->servers[i].probe);
}

static void dns_release(void *context)
{
    struct dns_state *state = context;
    for (size_t i = 0; i < state->count; i++)
        nd_dns_query_release(&state->servers[i].probe);
    free(state);
}

/* --- Rendering, on an HTTP thread. --- */

static void add_server(cJSON *object, const struct server_query *server)
{
    const struct nd_dns_query_result *result = &server->probe.result;
    cJSON *item = nd_json_add_object(object, "server");
    nd_json_add_string(item, "host", server->endpoint.host);
    nd_json_add_integer(item, "port", server->endpoint.port);
    if (result->server_length > 0) {
        char address[ND_NET_ADDRESS_TEXT_MAX];
        nd_net_format_host((const struct sockaddr *)&result->server, address, sizeof address);
        nd_json_add_string(item, "address", address);
    }
}

static void add_exchange(cJSON *object, const struct server_query *server)
{
    const struct nd_dns_query_result *result = &server->probe.result;
    nd_json_add_string(object, "transport", nd_dns_transport_name(result->transport));
    nd_json_add_bool(object, "udp_truncated", result->udp_truncated);
    nd_json_add_integer(object, "udp_packets_sent", result->udp_sent);
    if (result->discarded > 0) {
        cJSON *discarded = nd_json_add_object(object, "discarded");
        nd_json_add_integer(discarded, "replies", result->discarded);
        nd_json_add_string(discarded, "last_reason", result->discarded_reason);
    }
}

/* The answer of one server, or NULL with *error set when there was none. */
static cJSON *render_answer(const struct server_query *server, struct nd_error *error)
{
    const struct nd_dns_query_result *result = &server->probe.result;
    *error = result->error;
    if (error->code == ND_OK && !result->reply)
        nd_error_set(error, ND_ERR_SYSTEM, "the reply could not be awaited");
    struct nd_dns_message message;
    if (error->code != ND_OK ||
        nd_dns_parse_message(result->reply, result->reply_length, &message, error) != ND_OK) {
        count_query(result, NULL);
        return NULL;
    }
    count_query(result, &message);
    cJSON *object = cJSON_CreateObject();
    add_server(object, server);
    add_exchange(object, server);
    nd_json_add_number(object, "query_time_ms", (double)result->query_time_us / 1000.0);
    nd_json_add_integer(object, "message_size", result->reply_length);
    nd_dns_json_add_message(object, &message);
    nd_dns_message_free(&message);
    return object;
}

static cJSON *failure_extensions(const struct server_query *server)
{
    const struct nd_dns_query_result *result = &server->probe.result;
    cJSON *extensions = cJSON_CreateObject();
    add_server(extensions, server);
    /* How far the exchange got, when one began. */
    if (result->server_length > 0 && result->error.code != ND_ERR_FORBIDDEN)
        add_exchange(extensions, server);
    return extensions;
}

static void render_all(struct nd_request *request, struct dns_state *state)
{
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "name", state->name);
    char type_name[ND_DNS_TYPE_NAME_MAX];
    nd_json_add_string(body, "type", nd_dns_type_name(state->type, type_name, sizeof type_name));
    cJSON *results = nd_json_add_array(body, "results");
    const struct server_query *first_failure = NULL;
    struct nd_error first_error = {0};
    size_t answered = 0;
    for (size_t i = 0; i < state->count; i++) {
        struct nd_error error;
        cJSON *answer = render_answer(&state->servers[i], &error);
        if (answer) {
            answered++;
            nd_json_append(results, answer);
            continue;
        }
        struct nd_problem problem;
        nd_problem_from_error(&error, "server", true, &problem);
        cJSON *failed = failure_extensions(&state->servers[i]);
        cJSON *item = nd_json_add_object(failed, "error");
        nd_json_add_integer(item, "status", problem.status);
        nd_json_add_string(item, "code", problem.code);
        nd_json_add_string(item, "detail", error.message);
        nd_json_append(results, failed);
        if (!first_failure) {
            first_failure = &state->servers[i];
            first_error = error;
        }
    }
    /* Side by side is the point: one answer is enough for a 200. */
    if (answered == 0 && first_failure) {
        cJSON *extensions = cJSON_CreateObject();
        nd_json_add_item(extensions, "results", cJSON_DetachItemFromObject(body, "results"));
        cJSON_Delete(body);
        nd_reply_upstream_error(request, &first_error, "server", extensions);
        return;
    }
    nd_reply_json(request, 200, body);
}

static void dns_render(struct nd_request *request, void *context, enum nd_deferred_outcome outcome)
{
    struct dns_state *state = context;
    struct nd_error error;
    if (outcome != ND_DEFERRED_DONE) {
        if (outcome == ND_DEFERRED_STOPPED)
            nd_error_set(&error, ND_ERR_STOPPING,
                         "the service is shutting down; the query for %.64s was cut short",
                         state->name);
        else
            nd_error_set(&error, ND_ERR_TIMEOUT, "no server answered within %u ms",
                         state->timeout_ms);
        nd_reply_upstream_error(request, &error, "server", NULL);
        return;
    }
    if (state->all) {
        render_all(request, state);
        return;
    }
    cJSON *answer = render_answer(&state->servers[0], &error);
    if (!answer) {
        nd_reply_upstream_error(request, &error, "server", failure_extensions(&state->servers[0]));
        return;
    }
    nd_reply_json(request, 200, answer);
}

static const struct nd_deferred_ops dns_ops = {
    .start = dns_start,
    .cancel = dns_cancel,
    .render = dns_render,
    .release = dns_release,
};

/* --- Parameters, on an HTTP thread. --- */

static void reply_no_memory(struct nd_request *request)
{
    struct nd_error error;
    nd_error_set(&error, ND_ERR_NO_MEMORY, "out of memory");
    nd_reply_error(request, &error, NULL, NULL);
}

/* The servers to ask: the default, every default (all), or the one given. */
static bool parse_servers(struct nd_request *request, const struct nd_dns_settings *settings,
                          const char *text, struct nd_dns_servers *servers, bool *all)
{
    struct nd_error error;
    *all = text && strcmp(text, "all") == 0;
    if (!text || *all) {
        *servers = *settings->servers;
        if (!*all)
            servers->count = servers->count > 0 ? 1 : 0;
        return true;
    }
    servers->count = 1;
    if (nd_net_parse_host_port(text, ND_DNS_PORT, &servers->servers[0], &error) != ND_OK ||
        nd_resolve_validate_name(servers->servers[0].host, &error) != ND_OK) {
        nd_reply_error(request, &error, "server", NULL);
        return false;
    }
    return true;
}

void nd_handle_dns(struct nd_request *request)
{
    const struct nd_dns_settings *settings = request->route->context;
    const char *name, *type_text, *server_text;
    uint64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    bool recursion = true, dnssec = false, tcp = false;
    if (!nd_param_string(request, "name", &name) || !nd_param_string(request, "type", &type_text) ||
        !nd_param_string(request, "server", &server_text) ||
        !nd_param_number(request, "timeout_ms", 1, MAX_TIMEOUT_MS, false, &timeout_ms, NULL) ||
        !nd_param_bool(request, "rd", &recursion, NULL) ||
        !nd_param_bool(request, "dnssec", &dnssec, NULL) ||
        !nd_param_bool(request, "tcp", &tcp, NULL))
        return;
    struct nd_error error;
    if (!name) {
        nd_error_set(&error, ND_ERR_MISSING,
                     "give name (e.g. example.com, or 192.0.2.1 with type=PTR)");
        nd_reply_error(request, &error, "name", NULL);
        return;
    }
    uint16_t type = 1;
    if (type_text && nd_dns_parse_type(type_text, &type, &error) != ND_OK) {
        nd_reply_error(request, &error, "type", NULL);
        return;
    }
    char asked[ND_DNS_NAME_TEXT_MAX];
    if (nd_dns_query_name(name, type, asked, sizeof asked, &error) != ND_OK) {
        nd_reply_error(request, &error, "name", NULL);
        return;
    }
    struct nd_dns_servers servers;
    bool all;
    if (!parse_servers(request, settings, server_text, &servers, &all))
        return;

    struct dns_state *state =
        calloc(1, sizeof *state + servers.count * sizeof(struct server_query));
    if (!state) {
        reply_no_memory(request);
        return;
    }
    memcpy(state->name, asked, sizeof state->name);
    state->type = type;
    state->all = all;
    state->timeout_ms = (unsigned)timeout_ms;
    state->count = servers.count;
    for (size_t i = 0; i < servers.count; i++) {
        state->servers[i].state = state;
        state->servers[i].endpoint = servers.servers[i];
    }
    struct nd_dns_query_options options = {
        .type = type, .recursion_desired = recursion, .dnssec = dnssec};
    size_t length = 0;
    if (getrandom(&options.id, sizeof options.id, 0) != (ssize_t)sizeof options.id) {
        nd_error_set_errno(&error, errno, "getrandom");
        free(state);
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }
    if (nd_dns_build_query(asked, &options, state->query, sizeof state->query, &length, &error) !=
        ND_OK) {
        free(state);
        nd_reply_error(request, &error, "name", NULL);
        return;
    }
    state->request = (struct nd_dns_query_request){
        .allow = settings->allow,
        .query = state->query,
        .query_length = length,
        .tcp_only = tcp,
        .timeout_ms = (unsigned)timeout_ms,
    };
    nd_deferred_submit(nd_http_deferred(request->server), request, &dns_ops, state,
                       (unsigned)timeout_ms + DEADLINE_MARGIN_MS);
}
