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

enum { MAX_QUERIES = 16, DEFAULT_TIMEOUT_MS = 3000, MAX_TIMEOUT_MS = 10000 };

static const char *const family_choices[] = {"any", "ipv4", "ipv6", NULL};

struct forward_query {
    const char *host; /* points into the state's copy of the query */
    struct nd_resolve_result result;
    struct nd_error error;
};

struct reverse_query {
    const char *address;
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
     * worker finishes; the state keeps its own copies. */
    char *strings;
};

static int resolve_work(void *context)
{
    struct resolve_state *state = context;
    for (size_t i = 0; i < state->forward_count; i++) {
        struct forward_query *query = &state->forward[i];
        nd_resolve_host(query->host, state->family, &query->result, &query->error);
    }
    for (size_t i = 0; i < state->reverse_count; i++) {
        struct reverse_query *query = &state->reverse[i];
        nd_resolve_reverse(query->address, &query->result, &query->error);
    }
    return -1;
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
    cJSON_AddStringToObject(object, "code",
                            error->gai_error ? nd_gai_name(error->gai_error)
                                             : nd_err_name(error->code));
    cJSON_AddStringToObject(object, "message", error->message);
    return object;
}

static cJSON *render_forward(const struct forward_query *query)
{
    cJSON *object = cJSON_CreateObject();
    cJSON_AddStringToObject(object, "host", query->host);
    cJSON_AddBoolToObject(object, "found", query->error.code == ND_OK);
    cJSON_AddNumberToObject(object, "duration_ms", (double)query->result.duration_us / 1000.0);
    if (query->error.code != ND_OK) {
        cJSON_AddItemToObject(object, "error", render_error(&query->error));
        return object;
    }
    cJSON_AddStringToObject(object, "canonical_name", query->result.canonical_name);
    cJSON *addresses = cJSON_AddArrayToObject(object, "addresses");
    for (size_t i = 0; i < query->result.address_count; i++) {
        const struct nd_resolve_address *address = &query->result.addresses[i];
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "family", address->family == AF_INET ? "ipv4" : "ipv6");
        cJSON_AddStringToObject(item, "address", address->text);
        cJSON_AddItemToArray(addresses, item);
    }
    cJSON_AddBoolToObject(object, "truncated", query->result.truncated);
    return object;
}

static cJSON *render_reverse(const struct reverse_query *query)
{
    cJSON *object = cJSON_CreateObject();
    cJSON_AddStringToObject(object, "addr", query->address);
    cJSON_AddBoolToObject(object, "found", query->error.code == ND_OK);
    cJSON_AddNumberToObject(object, "duration_ms", (double)query->result.duration_us / 1000.0);
    if (query->error.code != ND_OK)
        cJSON_AddItemToObject(object, "error", render_error(&query->error));
    else
        cJSON_AddStringToObject(object, "name", query->result.name);
    return object;
}

static void resolve_render(struct nd_request *request, void *context, bool expired)
{
    struct resolve_state *state = context;
    if (expired) {
        nd_reply_problem_format(request, 504, "timeout", "timeout_ms",
                                "the resolver did not answer within %u ms", state->timeout_ms);
        return;
    }
    const struct nd_error *first_error = NULL;
    const char *first_param = NULL;
    size_t found = 0;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "family", nd_resolve_family_name(state->family));
    cJSON *results = cJSON_AddArrayToObject(body, "results");
    for (size_t i = 0; i < state->forward_count; i++) {
        const struct forward_query *query = &state->forward[i];
        cJSON_AddItemToArray(results, render_forward(query));
        if (query->error.code == ND_OK)
            found++;
        else if (!first_error) {
            first_error = &query->error;
            first_param = "host";
        }
    }
    for (size_t i = 0; i < state->reverse_count; i++) {
        const struct reverse_query *query = &state->reverse[i];
        cJSON_AddItemToArray(results, render_reverse(query));
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
    .work = resolve_work,
    .readable = NULL,
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
        nd_reply_problem_format(request, 400, "missing_parameter", "host",
                                "give host (e.g. www.python.org) or addr (e.g. 127.0.0.1)");
        return;
    }
    if (host_count + address_count > MAX_QUERIES) {
        nd_reply_problem_format(request, 400, "too_many_values", "host",
                                "at most %d lookups per request", MAX_QUERIES);
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
        nd_reply_problem_format(request, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    state->family = (enum nd_resolve_family)family_index;
    state->timeout_ms = (unsigned)timeout_ms;
    state->forward_count = host_count;
    state->reverse_count = address_count;
    if (!copy_strings(state, hosts, addresses)) {
        resolve_release(state);
        nd_reply_problem_format(request, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    nd_deferred_submit(nd_http_deferred(request->server), request, &resolve_ops, state,
                       (unsigned)timeout_ms);
}
