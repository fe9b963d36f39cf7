/* GET /resolve: recipe 2, host names to addresses (and addresses to names)
 * through the system resolver, on the slow-work pool so no HTTP thread waits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/deferred.h"
#include "http/handlers.h"
#include "http/request.h"
#include "http/server.h"
#include "netdiag/convert.h"
#include "netdiag/resolve.h"
#include "runtime/runtime.h"

enum { MAX_QUERIES = 16, DEFAULT_TIMEOUT_MS = 3000, MAX_TIMEOUT_MS = 10000 };

static const char *const family_choices[] = {"any", "ipv4", "ipv6", NULL};

struct forward_query {
    struct resolve_state *state;
    const char *host; /* points into the state's copy of the query */
    uv_getaddrinfo_t lookup;
    uint64_t start_ns;
    struct nd_resolve_result result;
    struct nd_error error;
};

struct reverse_query {
    struct resolve_state *state;
    const char *address;
    uv_getnameinfo_t lookup;
    uint64_t start_ns;
    struct nd_resolve_reverse result;
    struct nd_error error;
};

struct resolve_state {
    enum nd_resolve_family family;
    unsigned timeout_ms;
    size_t forward_count, reverse_count;
    struct forward_query forward[MAX_QUERIES];
    struct reverse_query reverse[MAX_QUERIES];
    /* The request's strings die with the request, which may end before a
     * lookup returns; the state keeps its own copies. */
    char *strings;
    /* The loop's. */
    struct nd_deferred_job *job;
    size_t outstanding; /* lookups not yet back */
    bool cancelled;
};

static void lookup_returned(struct resolve_state *state)
{
    if (--state->outstanding == 0)
        nd_deferred_complete(state->job);
}

static void on_forward(uv_getaddrinfo_t *lookup, int status, struct addrinfo *list)
{
    struct forward_query *query = lookup->data;
    struct resolve_state *state = query->state;
    if (!state->cancelled) {
        int gai_error, os_error;
        nd_runtime_gai_from_status(status, &gai_error, &os_error);
        nd_resolve_host_result(query->host, gai_error, os_error, list, &query->result,
                               &query->error);
        query->result.duration_us = (uv_hrtime() - query->start_ns) / 1000u;
    }
    uv_freeaddrinfo(list);
    lookup_returned(state);
}

static void on_reverse(uv_getnameinfo_t *lookup, int status, const char *name, const char *service)
{
    struct reverse_query *query = lookup->data;
    struct resolve_state *state = query->state;
    (void)service;
    if (!state->cancelled) {
        int gai_error, os_error;
        nd_runtime_gai_from_status(status, &gai_error, &os_error);
        nd_resolve_reverse_result(gai_error, os_error, name ? name : "", &query->result,
                                  &query->error);
        query->result.duration_us = (uv_hrtime() - query->start_ns) / 1000u;
    }
    lookup_returned(state);
}

/* Every lookup goes to libuv's pool at once; --slow-workers of them run at
 * a time. */
static void resolve_start(struct nd_deferred_job *job, void *context, uv_loop_t *loop)
{
    struct resolve_state *state = context;
    state->job = job;
    state->outstanding = 1; /* held until every lookup is on its way */
    struct addrinfo hints;
    nd_resolve_hints(state->family, &hints);
    for (size_t i = 0; i < state->forward_count; i++) {
        struct forward_query *query = &state->forward[i];
        query->state = state;
        query->lookup.data = query;
        query->start_ns = uv_hrtime();
        int status = uv_getaddrinfo(loop, &query->lookup, on_forward, query->host, NULL, &hints);
        if (status != 0)
            nd_runtime_set_error(&query->error, status, "uv_getaddrinfo");
        else
            state->outstanding++;
    }
    for (size_t i = 0; i < state->reverse_count; i++) {
        struct reverse_query *query = &state->reverse[i];
        struct sockaddr_storage address;
        socklen_t length;
        query->state = state;
        query->lookup.data = query;
        query->start_ns = uv_hrtime();
        if (nd_resolve_reverse_prepare(query->address, &query->result, &address, &length,
                                       &query->error) != ND_OK)
            continue;
        int status = uv_getnameinfo(loop, &query->lookup, on_reverse,
                                    (const struct sockaddr *)&address, NI_NAMEREQD);
        if (status != 0)
            nd_runtime_set_error(&query->error, status, "uv_getnameinfo");
        else
            state->outstanding++;
    }
    lookup_returned(state);
}

/* Lookups still queued leave the pool's queue (and come back cancelled);
 * those under way cannot be stopped and return in their own time. */
static void resolve_cancel(void *context)
{
    struct resolve_state *state = context;
    state->cancelled = true;
    for (size_t i = 0; i < state->forward_count; i++)
        uv_cancel((uv_req_t *)&state->forward[i].lookup);
    for (size_t i = 0; i < state->reverse_count; i++)
        uv_cancel((uv_req_t *)&state->reverse[i].lookup);
}

static void resolve_release(void *context)
{
    struct resolve_state *state = context;
    free(state->strings);
    free(state);
}

static cJSON *render_error(const struct nd_error *error)
{
    cJSON *object = cJSON_CreateObject();
    nd_json_add_string(object, "code",
                       error->gai_error ? nd_gai_name(error->gai_error) : nd_err_name(error->code));
    nd_json_add_string(object, "message", error->message);
    return object;
}

static cJSON *render_forward(const struct forward_query *query)
{
    cJSON *object = cJSON_CreateObject();
    nd_json_add_string(object, "host", query->host);
    nd_json_add_bool(object, "found", query->error.code == ND_OK);
    nd_json_add_number(object, "duration_ms", (double)query->result.duration_us / 1000.0);
    if (query->error.code != ND_OK) {
        nd_json_add_item(object, "error", render_error(&query->error));
        return object;
    }
    nd_json_add_string(object, "canonical_name", query->result.canonical_name);
    cJSON *addresses = nd_json_add_array(object, "addresses");
    for (size_t i = 0; i < query->result.address_count; i++) {
        const struct nd_resolve_address *address = &query->result.addresses[i];
        cJSON *item = cJSON_CreateObject();
        nd_json_add_string(item, "family", address->family == AF_INET ? "ipv4" : "ipv6");
        nd_json_add_string(item, "address", address->text);
        nd_json_append(addresses, item);
    }
    nd_json_add_bool(object, "truncated", query->result.truncated);
    return object;
}

static cJSON *render_reverse(const struct reverse_query *query)
{
    cJSON *object = cJSON_CreateObject();
    nd_json_add_string(object, "addr", query->address);
    nd_json_add_bool(object, "found", query->error.code == ND_OK);
    nd_json_add_number(object, "duration_ms", (double)query->result.duration_us / 1000.0);
    if (query->error.code != ND_OK)
        nd_json_add_item(object, "error", render_error(&query->error));
    else
        nd_json_add_string(object, "name", query->result.name);
    return object;
}

static void resolve_render(struct nd_request *request, void *context,
                           enum nd_deferred_outcome outcome)
{
    struct resolve_state *state = context;
    struct nd_error error;
    if (outcome != ND_DEFERRED_DONE) {
        if (outcome == ND_DEFERRED_STOPPED)
            nd_error_set(&error, ND_ERR_STOPPING, "the service is shutting down");
        else
            nd_error_set(&error, ND_ERR_TIMEOUT, "the resolver did not answer within %u ms",
                         state->timeout_ms);
        nd_reply_error(request, &error, "timeout_ms", NULL);
        return;
    }
    const struct nd_error *first_error = NULL;
    const char *first_param = NULL;
    size_t found = 0;
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "family", nd_resolve_family_name(state->family));
    cJSON *results = nd_json_add_array(body, "results");
    for (size_t i = 0; i < state->forward_count; i++) {
        const struct forward_query *query = &state->forward[i];
        nd_json_append(results, render_forward(query));
        if (query->error.code == ND_OK)
            found++;
        else if (!first_error) {
            first_error = &query->error;
            first_param = "host";
        }
    }
    for (size_t i = 0; i < state->reverse_count; i++) {
        const struct reverse_query *query = &state->reverse[i];
        nd_json_append(results, render_reverse(query));
        if (query->error.code == ND_OK)
            found++;
        else if (!first_error) {
            first_error = &query->error;
            first_param = "addr";
        }
    }
    /* Recipe 7: a failed lookup is reported, not thrown. With several
     * queries the answer lists each; when none succeeded, the first failure
     * is the answer (404 EAI_NONAME, 503 EAI_AGAIN, ...). */
    if (found == 0 && first_error) {
        cJSON_Delete(body);
        nd_reply_error(request, first_error, first_param, NULL);
        return;
    }
    nd_reply_json(request, 200, body);
}

static const struct nd_deferred_ops resolve_ops = {
    .start = resolve_start,
    .cancel = resolve_cancel,
    .render = resolve_render,
    .release = resolve_release,
};

/* Copies the values into one allocation; false when memory runs out. */
static bool copy_strings(struct resolve_state *state, const char **hosts, const char **addresses)
{
    size_t total = 0;
    for (size_t i = 0; i < state->forward_count; i++)
        total += strlen(hosts[i]) + 1;
    for (size_t i = 0; i < state->reverse_count; i++)
        total += strlen(addresses[i]) + 1;
    state->strings = malloc(total ? total : 1);
    if (!state->strings)
        return false;
    char *cursor = state->strings;
    for (size_t i = 0; i < state->forward_count; i++) {
        size_t length = strlen(hosts[i]) + 1;
        state->forward[i].host = memcpy(cursor, hosts[i], length);
        cursor += length;
    }
    for (size_t i = 0; i < state->reverse_count; i++) {
        size_t length = strlen(addresses[i]) + 1;
        state->reverse[i].address = memcpy(cursor, addresses[i], length);
        cursor += length;
    }
    return true;
}

void nd_handle_resolve(struct nd_request *request)
{
    const char *hosts[MAX_QUERIES], *addresses[MAX_QUERIES];
    size_t host_count, address_count, family_index = 0;
    uint64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!nd_param_list(request, "host", hosts, MAX_QUERIES, &host_count) ||
        !nd_param_list(request, "addr", addresses, MAX_QUERIES, &address_count) ||
        !nd_param_choice(request, "family", family_choices, &family_index, NULL) ||
        !nd_param_number(request, "timeout_ms", 1, MAX_TIMEOUT_MS, false, &timeout_ms, NULL))
        return;
    if (host_count + address_count == 0) {
        nd_reply_failure(request, ND_ERR_MISSING, "host",
                         "give host (e.g. www.python.org) or addr (e.g. 127.0.0.1)");
        return;
    }
    if (host_count + address_count > MAX_QUERIES) {
        nd_reply_failure(request, ND_ERR_TOO_MANY, "host", "at most %d lookups per request",
                         MAX_QUERIES);
        return;
    }
    /* Bad syntax is the client's mistake, told at once without a lookup. */
    struct nd_error error;
    for (size_t i = 0; i < host_count; i++) {
        if (nd_resolve_validate_name(hosts[i], &error) != ND_OK) {
            nd_reply_error(request, &error, "host", NULL);
            return;
        }
    }
    struct nd_convert_address literal;
    for (size_t i = 0; i < address_count; i++) {
        /* The literal check is cheap and never reaches the resolver. */
        if (nd_convert_text(addresses[i], &literal, &error) != ND_OK) {
            nd_reply_error(request, &error, "addr", NULL);
            return;
        }
    }

    struct resolve_state *state = calloc(1, sizeof *state);
    if (!state) {
        nd_reply_failure(request, ND_ERR_NO_MEMORY, NULL, "out of memory");
        return;
    }
    state->family = (enum nd_resolve_family)family_index;
    state->timeout_ms = (unsigned)timeout_ms;
    state->forward_count = host_count;
    state->reverse_count = address_count;
    if (!copy_strings(state, hosts, addresses)) {
        resolve_release(state);
        nd_reply_failure(request, ND_ERR_NO_MEMORY, NULL, "out of memory");
        return;
    }
    nd_deferred_submit(nd_http_deferred(request->server), request, &resolve_ops, state,
                       (unsigned)timeout_ms);
}
