/* GET /fleet: which node cannot reach which. scope=self is this pod's view,
 * one row per peer, from the engine's last rounds (src/fleet/fleet.c);
 * scope=all fetches every other peer's view (on the runtime, bounded) and
 * assembles the matrix, node by node. /fleet.html draws it; /metrics gets
 * the per-peer histograms and counters. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet/fleet.h"
#include "http/deferred.h"
#include "http/handlers.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/routes.h"
#include "http/server.h"

enum {
    DEFAULT_TIMEOUT_MS = 3000,
    MAX_TIMEOUT_MS = 10000,
    DEADLINE_MARGIN_MS = 1000, /* the fan-out keeps its own deadline */
};

static const char *const scope_choices[] = {"self", "all", NULL};
enum { SCOPE_SELF, SCOPE_ALL };

/* The page /fleet.html serves (cmake/embed_text.py, from src/http/fleet.html). */
extern const unsigned char nd_fleet_page[];
extern const size_t nd_fleet_page_length;

static void add_ms(cJSON *object, const char *name, uint64_t microseconds)
{
    nd_json_add_number(object, name, (double)microseconds / 1000.0);
}

/* Seconds between a monotonic instant and the view's now, to the millisecond. */
static void add_age(cJSON *object, const char *name, const struct nd_fleet_view *view,
                    uint64_t at_ns)
{
    uint64_t elapsed = view->now_ns > at_ns ? view->now_ns - at_ns : 0;
    nd_json_add_number(object, name, (double)(elapsed / 1000000) / 1000.0);
}

/* "2026-11-28T10:00:00.123Z" */
static void add_time(cJSON *object, const char *name, int64_t at_ms)
{
    time_t seconds = (time_t)(at_ms / 1000);
    struct tm parts;
    char text[40], whole[32];
    if (!gmtime_r(&seconds, &parts) ||
        strftime(whole, sizeof whole, "%Y-%m-%dT%H:%M:%S", &parts) == 0)
        return;
    snprintf(text, sizeof text, "%s.%03dZ", whole, (int)(at_ms % 1000));
    nd_json_add_string(object, name, text);
}

static const char *peer_state(const struct nd_fleet_peer *peer)
{
    const struct nd_fleet_round *last = nd_fleet_peer_last(peer);
    if (!last)
        return "unknown";
    return nd_fleet_round_healthy(last) ? "healthy" : "unhealthy";
}

/* What the last round's failure was, in one word: the TCP probe's outcome,
 * bad_status for an answer that was not 200, the UDP probe's outcome; "ok". */
static const char *round_result(const struct nd_fleet_round *round)
{
    if (!round->tcp_ok)
        return round->tcp_outcome == ND_CONNECT_CONNECTED
                   ? "bad_status"
                   : nd_connect_outcome_name(round->tcp_outcome);
    if (round->udp_probed && !round->udp_ok)
        return nd_udp_outcome_name(round->udp_outcome);
    return "ok";
}

/* Datagrams lost over the rounds kept, in percent; -1 when none was sent. */
static double loss_percent(const struct nd_fleet_peer *peer)
{
    unsigned sent = 0, answered = 0;
    for (unsigned i = 0; i < peer->round_count; i++) {
        sent += peer->rounds[i].udp_sent;
        answered += peer->rounds[i].udp_answered;
    }
    return sent ? 100.0 * (sent - answered) / sent : -1;
}

static cJSON *render_last_error(const struct nd_fleet_view *view, const struct nd_fleet_peer *peer)
{
    if (!peer->has_error)
        return cJSON_CreateNull();
    cJSON *error = cJSON_CreateObject();
    nd_json_add_string(error, "probe", peer->error_probe);
    nd_json_add_string(error, "phase", peer->error_phase);
    nd_json_add_string(error, "result", peer->error_result);
    const struct nd_error *cause = &peer->error;
    nd_json_add_string(error, "code",
                       cause->gai_error  ? nd_gai_name(cause->gai_error)
                       : cause->os_error ? nd_errno_name(cause->os_error)
                                         : peer->error_result);
    nd_json_add_string(error, "message", cause->message);
    add_time(error, "at", peer->error_at_ms);
    int64_t age_ms = view->now_ms - peer->error_at_ms;
    nd_json_add_number(error, "age_s", (double)(age_ms > 0 ? age_ms : 0) / 1000.0);
    return error;
}

static cJSON *render_peer(const struct nd_fleet_view *view, const struct nd_fleet_peer *peer)
{
    cJSON *object = cJSON_CreateObject();
    const struct nd_fleet_round *last = nd_fleet_peer_last(peer);
    nd_json_add_string(object, "address", peer->address);
    if (peer->node[0])
        nd_json_add_string(object, "node", peer->node);
    else
        nd_json_add_null(object, "node");
    nd_json_add_bool(object, "self", peer->self);
    nd_json_add_string(object, "state", peer_state(peer));
    add_time(object, "since", peer->since_ms);
    if (!last) {
        nd_json_add_null(object, "last_probe");
        nd_json_add_null(object, "age_s");
        nd_json_add_null(object, "result");
        nd_json_add_null(object, "tcp");
        nd_json_add_null(object, "udp");
    } else {
        add_time(object, "last_probe", last->at_ms);
        add_age(object, "age_s", view, last->at_ns);
        nd_json_add_string(object, "result", round_result(last));
        cJSON *tcp = nd_json_add_object(object, "tcp");
        nd_json_add_bool(tcp, "ok", last->tcp_ok);
        nd_json_add_string(tcp, "result", nd_connect_outcome_name(last->tcp_outcome));
        if (last->connect_us)
            add_ms(tcp, "connect_ms", last->connect_us);
        else
            nd_json_add_null(tcp, "connect_ms");
        if (last->http_status) {
            nd_json_add_integer(tcp, "http_status", last->http_status);
            add_ms(tcp, "http_ms", last->http_us);
        } else {
            nd_json_add_null(tcp, "http_status");
            nd_json_add_null(tcp, "http_ms");
        }
        if (!last->udp_probed) {
            nd_json_add_null(object, "udp");
        } else {
            cJSON *udp = nd_json_add_object(object, "udp");
            nd_json_add_bool(udp, "ok", last->udp_ok);
            nd_json_add_string(udp, "result", nd_udp_outcome_name(last->udp_outcome));
            nd_json_add_integer(udp, "sent", last->udp_sent);
            nd_json_add_integer(udp, "answered", last->udp_answered);
            if (last->udp_answered)
                add_ms(udp, "rtt_ms", last->udp_rtt_us);
            else
                nd_json_add_null(udp, "rtt_ms");
        }
    }
    double loss = loss_percent(peer);
    if (loss < 0)
        nd_json_add_null(object, "loss_percent");
    else
        nd_json_add_number(object, "loss_percent", (double)(long)(loss * 10 + 0.5) / 10);
    unsigned healthy = 0;
    for (unsigned i = 0; i < peer->round_count; i++)
        healthy += nd_fleet_round_healthy(&peer->rounds[i]);
    nd_json_add_integer(object, "rounds", peer->round_count);
    nd_json_add_integer(object, "healthy_rounds", healthy);
    nd_json_add_item(object, "last_error", render_last_error(view, peer));
    return object;
}

static cJSON *render_discovery(const struct nd_fleet_view *view)
{
    const struct nd_fleet_config *config = view->config;
    const struct nd_fleet_discovery *discovery = &view->discovery;
    cJSON *object = cJSON_CreateObject();
    nd_json_add_string(object, "name", config->peers_name);
    char server[ND_NET_ADDRESS_TEXT_MAX + 8];
    snprintf(server, sizeof server, strchr(config->dns_server.host, ':') ? "[%s]:%u" : "%s:%u",
             config->dns_server.host, (unsigned)config->dns_server.port);
    nd_json_add_string(object, "server", server);
    if (!discovery->done) {
        nd_json_add_null(object, "ok");
        return object;
    }
    nd_json_add_bool(object, "ok", discovery->ok);
    char rcode[16];
    if (discovery->error.code == ND_OK || discovery->rcode != 0)
        nd_json_add_string(object, "rcode",
                           nd_dns_rcode_name(discovery->rcode, rcode, sizeof rcode));
    else
        nd_json_add_null(object, "rcode");
    add_ms(object, "query_time_ms", discovery->query_time_us);
    add_time(object, "at", discovery->at_ms);
    add_age(object, "age_s", view, discovery->at_ns);
    nd_json_add_integer(object, "addresses", discovery->addresses);
    nd_json_add_integer(object, "dropped", discovery->dropped);
    nd_json_add_integer(object, "lookups", discovery->lookups);
    nd_json_add_integer(object, "failures", discovery->failures);
    if (discovery->error.code == ND_OK) {
        nd_json_add_null(object, "error");
    } else {
        cJSON *error = nd_json_add_object(object, "error");
        const struct nd_error *cause = &discovery->error;
        nd_json_add_string(error, "code",
                           cause->gai_error                  ? nd_gai_name(cause->gai_error)
                           : cause->os_error                 ? nd_errno_name(cause->os_error)
                           : cause->code == ND_ERR_TIMEOUT   ? "timeout"
                           : cause->code == ND_ERR_NOT_FOUND ? "nxdomain"
                                                             : "bad_answer");
        nd_json_add_string(error, "message", cause->message);
    }
    return object;
}

static cJSON *render_self(const struct nd_fleet_view *view)
{
    const struct nd_fleet_config *config = view->config;
    cJSON *self = cJSON_CreateObject();
    if (config->pod_ip[0])
        nd_json_add_string(self, "address", config->pod_ip);
    else
        nd_json_add_null(self, "address");
    if (config->node_name[0])
        nd_json_add_string(self, "node", config->node_name);
    else
        nd_json_add_null(self, "node");
    return self;
}

/* The peers by the state of their last round. */
struct peer_counts {
    unsigned healthy, unhealthy, unknown;
};

static struct peer_counts count_peers(const struct nd_fleet_view *view)
{
    struct peer_counts counts = {0};
    for (size_t i = 0; i < view->peer_count; i++) {
        const struct nd_fleet_round *last = nd_fleet_peer_last(&view->peers[i]);
        if (!last)
            counts.unknown++;
        else if (nd_fleet_round_healthy(last))
            counts.healthy++;
        else
            counts.unhealthy++;
    }
    return counts;
}

static void add_summary(cJSON *object, const struct nd_fleet_view *view)
{
    struct peer_counts counts = count_peers(view);
    cJSON *summary = nd_json_add_object(object, "summary");
    nd_json_add_integer(summary, "peers", view->peer_count);
    nd_json_add_integer(summary, "healthy", counts.healthy);
    nd_json_add_integer(summary, "unhealthy", counts.unhealthy);
    nd_json_add_integer(summary, "unknown", counts.unknown);
}

/* This pod's view: who it is, its last lookup, a row per peer. */
static cJSON *render_view(const struct nd_fleet_view *view)
{
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "scope", "self");
    nd_json_add_item(body, "self", render_self(view));
    add_time(body, "generated_at", view->now_ms);
    nd_json_add_integer(body, "interval_s", view->config->interval_s);
    nd_json_add_integer(body, "rounds", view->rounds);
    nd_json_add_item(body, "peers_dns", render_discovery(view));
    add_summary(body, view);
    cJSON *peers = nd_json_add_array(body, "peers");
    for (size_t i = 0; i < view->peer_count; i++)
        nd_json_append(peers, render_peer(view, &view->peers[i]));
    return body;
}

/* --- scope=all ---------------------------------------------------------------------- */

struct fanout_state {
    struct nd_fleet *fleet;
    unsigned timeout_ms;
    struct nd_fleet_fanout fanout;
    struct nd_deferred_job *job;
    bool running;
};

static void on_fanout_done(void *context)
{
    struct fanout_state *state = context;
    state->running = false;
    nd_deferred_complete(state->job);
}

static void fanout_start(struct nd_deferred_job *job, void *context, uv_loop_t *loop)
{
    struct fanout_state *state = context;
    state->job = job;
    state->running = nd_fleet_fanout_start(&state->fanout, state->fleet, loop, state->timeout_ms,
                                           on_fanout_done, state);
    if (!state->running)
        nd_deferred_complete(job);
}

static void fanout_cancel(void *context)
{
    struct fanout_state *state = context;
    if (state->running)
        nd_fleet_fanout_cancel(&state->fanout);
}

static void fanout_release(void *context)
{
    struct fanout_state *state = context;
    nd_fleet_fanout_free(&state->fanout);
    free(state);
    /* A matrix is megabytes of short-lived JSON trees on an HTTP thread's
     * malloc arena, which glibc keeps (a 50-peer matrix left 8 MB resident
     * in a 12 MB process); give the free pages back. */
    malloc_trim(0);
}

/* A cell: what one pod's view says of one peer, in a few members. A
 * peer's /fleet entry has them all; the matrix keeps the ones a grid shows. */
static cJSON *cell_from_entry(const cJSON *entry)
{
    static const char *const kept[] = {"address", "node", "state",        "result",     "age_s",
                                       "tcp",     "udp",  "loss_percent", "last_error", NULL};
    cJSON *cell = cJSON_CreateObject();
    for (const char *const *name = kept; *name; name++) {
        const cJSON *member = cJSON_GetObjectItemCaseSensitive(entry, *name);
        if (member)
            nd_json_add_item(cell, *name, cJSON_Duplicate(member, true));
    }
    return cell;
}

/* The cells of a row in the columns' order: null where the row's pod does
 * not know that peer (yet). */
static cJSON *row_cells(const cJSON *peers, const struct nd_fleet_view *view)
{
    cJSON *cells = cJSON_CreateArray();
    for (size_t i = 0; i < view->peer_count; i++) {
        const cJSON *found = NULL, *entry;
        cJSON_ArrayForEach(entry, peers)
        {
            const cJSON *address = cJSON_GetObjectItemCaseSensitive(entry, "address");
            if (cJSON_IsString(address) &&
                strcmp(address->valuestring, view->peers[i].address) == 0) {
                found = entry;
                break;
            }
        }
        nd_json_append(cells, found ? cell_from_entry(found) : cJSON_CreateNull());
    }
    return cells;
}

static cJSON *row_from(const char *address, const char *node)
{
    cJSON *from = cJSON_CreateObject();
    if (address && address[0])
        nd_json_add_string(from, "address", address);
    else
        nd_json_add_null(from, "address"); /* this pod, without --pod-ip */
    if (node && node[0])
        nd_json_add_string(from, "node", node);
    else
        nd_json_add_null(from, "node");
    return from;
}

/* The freshest round a view reports: how old the row is. */
static void add_row_age(cJSON *row, const cJSON *peers)
{
    double freshest = -1;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, peers)
    {
        const cJSON *age = cJSON_GetObjectItemCaseSensitive(entry, "age_s");
        if (cJSON_IsNumber(age) && (freshest < 0 || age->valuedouble < freshest))
            freshest = age->valuedouble;
    }
    if (freshest < 0)
        nd_json_add_null(row, "age_s");
    else
        nd_json_add_number(row, "age_s", freshest);
}

static cJSON *unreachable_row(const struct nd_fleet_fetch *fetch, const char *result,
                              const char *phase, const char *code, const char *message)
{
    cJSON *row = cJSON_CreateObject();
    nd_json_add_item(row, "from", row_from(fetch->address, fetch->node));
    nd_json_add_bool(row, "reachable", false);
    if (fetch->started)
        add_ms(row, "fetch_ms", fetch->took_us);
    else
        nd_json_add_null(row, "fetch_ms");
    nd_json_add_null(row, "age_s");
    cJSON *error = nd_json_add_object(row, "error");
    nd_json_add_string(error, "phase", phase);
    nd_json_add_string(error, "result", result);
    nd_json_add_string(error, "code", code);
    nd_json_add_string(error, "message", message);
    nd_json_add_null(row, "cells");
    return row;
}

/* A fetched view as a row; a peer that did not answer with one is
 * unreachable from here, and its row unknown rather than empty. */
static cJSON *fetched_row(const struct nd_fleet_fetch *fetch, const struct nd_fleet_view *view)
{
    if (!fetch->started)
        return unreachable_row(fetch, "not_fetched", "none", "not_fetched",
                               "the request's timeout passed before this peer's turn came");
    const struct nd_connect_result *result = &fetch->result;
    if (!fetch->ok) {
        const struct nd_error *cause = &result->error;
        return unreachable_row(fetch, nd_connect_outcome_name(result->outcome),
                               nd_connect_phase_name(result->failed_phase),
                               cause->gai_error  ? nd_gai_name(cause->gai_error)
                               : cause->os_error ? nd_errno_name(cause->os_error)
                                                 : nd_connect_outcome_name(result->outcome),
                               cause->message);
    }
    char message[160];
    if (fetch->status != 200) {
        snprintf(message, sizeof message, "GET /fleet answered %u%s", fetch->status,
                 fetch->status == 401 ? " (the peers do not share this pod's bearer token)" : "");
        return unreachable_row(fetch, "bad_status", "status", "bad_status", message);
    }
    cJSON *peer_view = cJSON_ParseWithLength((const char *)fetch->body, fetch->body_length);
    const cJSON *peers = cJSON_GetObjectItemCaseSensitive(peer_view, "peers");
    if (!cJSON_IsArray(peers)) {
        cJSON_Delete(peer_view);
        return unreachable_row(fetch, "bad_answer", "receive", "bad_answer",
                               "the answer to GET /fleet is not a fleet view");
    }
    cJSON *row = cJSON_CreateObject();
    const cJSON *self = cJSON_GetObjectItemCaseSensitive(peer_view, "self");
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(self, "node");
    nd_json_add_item(
        row, "from",
        row_from(fetch->address, cJSON_IsString(node) ? node->valuestring : fetch->node));
    nd_json_add_bool(row, "reachable", true);
    add_ms(row, "fetch_ms", fetch->took_us);
    add_row_age(row, peers);
    const cJSON *generated = cJSON_GetObjectItemCaseSensitive(peer_view, "generated_at");
    if (cJSON_IsString(generated))
        nd_json_add_string(row, "generated_at", generated->valuestring);
    nd_json_add_null(row, "error");
    /* null until that pod's first lookup has ended, as for this pod's own. */
    const cJSON *dns = cJSON_GetObjectItemCaseSensitive(peer_view, "peers_dns");
    const cJSON *dns_ok = cJSON_GetObjectItemCaseSensitive(dns, "ok");
    if (cJSON_IsBool(dns_ok))
        nd_json_add_bool(row, "dns_ok", cJSON_IsTrue(dns_ok));
    else
        nd_json_add_null(row, "dns_ok");
    nd_json_add_item(row, "cells", row_cells(peers, view));
    cJSON_Delete(peer_view);
    return row;
}

/* This pod's own row, from its view (no request to itself). */
static cJSON *own_row(const struct nd_fleet_view *view, cJSON *own_view)
{
    cJSON *row = cJSON_CreateObject();
    const struct nd_fleet_config *config = view->config;
    nd_json_add_item(row, "from", row_from(config->pod_ip, config->node_name));
    nd_json_add_bool(row, "reachable", true);
    nd_json_add_number(row, "fetch_ms", 0);
    const cJSON *peers = cJSON_GetObjectItemCaseSensitive(own_view, "peers");
    add_row_age(row, peers);
    add_time(row, "generated_at", view->now_ms);
    nd_json_add_null(row, "error");
    if (view->discovery.done)
        nd_json_add_bool(row, "dns_ok", view->discovery.ok);
    else
        nd_json_add_null(row, "dns_ok");
    nd_json_add_item(row, "cells", row_cells(peers, view));
    return row;
}

static void add_matrix_summary(cJSON *body, const cJSON *rows)
{
    unsigned reachable = 0, unreachable = 0, healthy = 0, unhealthy = 0, unknown = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "reachable"))) {
            unreachable++;
            continue;
        }
        reachable++;
        const cJSON *cell;
        cJSON_ArrayForEach(cell, cJSON_GetObjectItemCaseSensitive(row, "cells"))
        {
            const cJSON *state = cJSON_GetObjectItemCaseSensitive(cell, "state");
            if (cJSON_IsString(state) && strcmp(state->valuestring, "healthy") == 0)
                healthy++;
            else if (cJSON_IsString(state) && strcmp(state->valuestring, "unhealthy") == 0)
                unhealthy++;
            else
                unknown++;
        }
    }
    cJSON *summary = nd_json_add_object(body, "summary");
    nd_json_add_integer(summary, "nodes", (uint64_t)(reachable + unreachable));
    nd_json_add_integer(summary, "rows_reachable", reachable);
    nd_json_add_integer(summary, "rows_unreachable", unreachable);
    nd_json_add_integer(summary, "cells_healthy", healthy);
    nd_json_add_integer(summary, "cells_unhealthy", unhealthy);
    nd_json_add_integer(summary, "cells_unknown", unknown);
}

static cJSON *render_matrix(const struct nd_fleet_view *view, const struct nd_fleet_fanout *fanout,
                            unsigned timeout_ms)
{
    cJSON *own_view = render_view(view);
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "scope", "all");
    nd_json_add_item(body, "self", render_self(view));
    add_time(body, "generated_at", view->now_ms);
    nd_json_add_integer(body, "interval_s", view->config->interval_s);
    nd_json_add_integer(body, "timeout_ms", timeout_ms);
    nd_json_add_item(body, "peers_dns", render_discovery(view));
    cJSON *columns = nd_json_add_array(body, "columns");
    for (size_t i = 0; i < view->peer_count; i++)
        nd_json_append(columns, row_from(view->peers[i].address, view->peers[i].node));
    cJSON *rows = cJSON_CreateArray();
    /* Rows in the columns' order; this pod's own first when it is not among them. */
    bool own_listed = false;
    for (size_t i = 0; i < view->peer_count; i++) {
        if (view->peers[i].self) {
            nd_json_append(rows, own_row(view, own_view));
            own_listed = true;
            continue;
        }
        /* A row for every column: a peer found after the fan-out began
         * has none fetched, and says so. */
        const struct nd_fleet_fetch *fetch = NULL;
        for (size_t j = 0; j < fanout->count && !fetch; j++) {
            if (strcmp(fanout->fetches[j].address, view->peers[i].address) == 0)
                fetch = &fanout->fetches[j];
        }
        if (fetch) {
            nd_json_append(rows, fetched_row(fetch, view));
        } else {
            struct nd_fleet_fetch missing = {.started = false};
            memcpy(missing.address, view->peers[i].address, sizeof missing.address);
            memcpy(missing.node, view->peers[i].node, sizeof missing.node);
            nd_json_append(rows, unreachable_row(&missing, "not_fetched", "none", "not_fetched",
                                                 "found under the name after the fan-out began"));
        }
    }
    if (!own_listed) {
        cJSON *row = own_row(view, own_view);
        cJSON_InsertItemInArray(rows, 0, row);
    }
    add_matrix_summary(body, rows);
    nd_json_add_item(body, "rows", rows);
    cJSON_Delete(own_view);
    return body;
}

static void fanout_render(struct nd_request *request, void *context,
                          enum nd_deferred_outcome outcome)
{
    struct fanout_state *state = context;
    struct nd_error error;
    if (outcome == ND_DEFERRED_STOPPED) {
        nd_error_set(&error, ND_ERR_STOPPING, "the service is shutting down");
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }
    if (state->fanout.out_of_memory) {
        nd_error_set(&error, ND_ERR_NO_MEMORY, "out of memory for the fan-out");
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }
    if (outcome == ND_DEFERRED_TIMED_OUT) {
        /* The fan-out keeps its own deadline, a margin before this one; a
         * loop so late that this one came first may still be writing the
         * fetches, so none is read. */
        nd_error_set(&error, ND_ERR_TIMEOUT, "the fan-out did not end within %u ms",
                     state->timeout_ms + DEADLINE_MARGIN_MS);
        nd_reply_error(request, &error, "timeout_ms", NULL);
        return;
    }
    struct nd_fleet_view view;
    if (nd_fleet_snapshot(state->fleet, &view, &error) != ND_OK) {
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }
    nd_reply_json(request, 200, render_matrix(&view, &state->fanout, state->timeout_ms));
    nd_fleet_view_free(&view);
}

static const struct nd_deferred_ops fanout_ops = {
    .start = fanout_start,
    .cancel = fanout_cancel,
    .render = fanout_render,
    .release = fanout_release,
};

void nd_handle_fleet(struct nd_request *request)
{
    const struct nd_fleet_settings *settings = request->route->context;
    size_t scope = SCOPE_SELF;
    uint64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    bool has_timeout;
    if (!nd_param_choice(request, "scope", scope_choices, &scope, NULL) ||
        !nd_param_number(request, "timeout_ms", 100, MAX_TIMEOUT_MS, false, &timeout_ms,
                         &has_timeout))
        return;
    struct nd_error error;
    if (has_timeout && scope != SCOPE_ALL) {
        nd_error_set(&error, ND_ERR_INVALID, "timeout_ms goes with scope=all");
        nd_reply_error(request, &error, "timeout_ms", NULL);
        return;
    }
    if (!settings->fleet) {
        nd_error_set(&error, ND_ERR_NOT_FOUND,
                     "the fleet view is off: start netdiag with --peers-dns NAME (a headless "
                     "Service's name) to turn it on");
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }
    if (scope == SCOPE_SELF) {
        struct nd_fleet_view view;
        if (nd_fleet_snapshot(settings->fleet, &view, &error) != ND_OK) {
            nd_reply_error(request, &error, NULL, NULL);
            return;
        }
        nd_reply_json(request, 200, render_view(&view));
        nd_fleet_view_free(&view);
        return;
    }
    struct fanout_state *state = calloc(1, sizeof *state);
    if (!state) {
        nd_error_set(&error, ND_ERR_NO_MEMORY, "out of memory");
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }
    state->fleet = settings->fleet;
    state->timeout_ms = (unsigned)timeout_ms;
    nd_deferred_submit(nd_http_deferred(request->server), request, &fanout_ops, state,
                       (unsigned)timeout_ms + DEADLINE_MARGIN_MS);
}

void nd_handle_fleet_page(struct nd_request *request)
{
    nd_reply_static(request, 200, "text/html; charset=utf-8", (const char *)nd_fleet_page,
                    nd_fleet_page_length);
}

/* --- /metrics ----------------------------------------------------------------------- */

/* A label value: Prometheus's text format escapes backslash, quote and newline. */
static void label_value(const char *text, char *out, size_t size)
{
    size_t used = 0;
    for (; *text && used + 3 < size; text++) {
        if (*text == '\\' || *text == '"') {
            out[used++] = '\\';
            out[used++] = *text;
        } else if (*text == '\n') {
            out[used++] = '\\';
            out[used++] = 'n';
        } else {
            out[used++] = *text;
        }
    }
    out[used] = '\0';
}

static void render_histogram(struct nd_metrics_text *text, const char *name, const char *labels,
                             const uint64_t *buckets, uint64_t sum_us)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i < ND_CONNECT_BUCKETS; i++) {
        cumulative += buckets[i];
        if (i + 1 < ND_CONNECT_BUCKETS)
            nd_metrics_append(text, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels,
                              (double)nd_connect_bucket_bounds_us[i] / 1e6,
                              (unsigned long long)cumulative);
        else
            nd_metrics_append(text, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
                              (unsigned long long)cumulative);
    }
    nd_metrics_append(text, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels,
                      (double)sum_us / 1e6, name, labels, (unsigned long long)cumulative);
}

void nd_fleet_metrics(void *context, struct nd_metrics_text *text)
{
    struct nd_fleet_view view;
    struct nd_error error;
    if (nd_fleet_snapshot(context, &view, &error) != ND_OK) {
        text->failed = 1;
        return;
    }
    struct peer_counts counts = count_peers(&view);
    nd_metrics_family(text, "netdiag_fleet_peers_healthy", "gauge",
                      "Peers whose last round was healthy (GET /healthz 200, UDP echo answered).");
    nd_metrics_append(text, "netdiag_fleet_peers_healthy %u\n", counts.healthy);
    nd_metrics_family(text, "netdiag_fleet_peers", "gauge",
                      "Peers found under --peers-dns, by the state of their last round.");
    nd_metrics_append(text,
                      "netdiag_fleet_peers{state=\"healthy\"} %u\nnetdiag_fleet_peers{state="
                      "\"unhealthy\"} %u\nnetdiag_fleet_peers{state=\"unknown\"} %u\n",
                      counts.healthy, counts.unhealthy, counts.unknown);
    nd_metrics_family(text, "netdiag_fleet_rounds_total", "counter", "Probe rounds started.");
    nd_metrics_append(text, "netdiag_fleet_rounds_total %llu\n", (unsigned long long)view.rounds);
    nd_metrics_family(text, "netdiag_fleet_dns_lookups_total", "counter",
                      "Lookups of the peers' name, by result (failed: no answer, or not "
                      "NOERROR).");
    nd_metrics_append(text,
                      "netdiag_fleet_dns_lookups_total{result=\"ok\"} %llu\n"
                      "netdiag_fleet_dns_lookups_total{result=\"failed\"} %llu\n",
                      (unsigned long long)(view.discovery.lookups - view.discovery.failures),
                      (unsigned long long)view.discovery.failures);

    /* Per peer: labelled by address and node, so that the series are as
     * many as the peers, which --peers-max bounds; a peer that leaves takes
     * its series with it. */
    static const struct {
        const char *name, *help;
        size_t buckets, sum;
    } histograms[] = {
        {"netdiag_fleet_connect_seconds", "TCP connect to a peer's HTTP port.",
         offsetof(struct nd_fleet_peer_stats, connect_buckets),
         offsetof(struct nd_fleet_peer_stats, connect_sum_us)},
        {"netdiag_fleet_http_seconds", "From the connection to the first byte of GET /healthz.",
         offsetof(struct nd_fleet_peer_stats, http_buckets),
         offsetof(struct nd_fleet_peer_stats, http_sum_us)},
        {"netdiag_fleet_udp_rtt_seconds", "UDP echo round trips (a round's average).",
         offsetof(struct nd_fleet_peer_stats, udp_rtt_buckets),
         offsetof(struct nd_fleet_peer_stats, udp_rtt_sum_us)},
    };
    for (size_t h = 0; h < sizeof histograms / sizeof histograms[0]; h++) {
        nd_metrics_family(text, histograms[h].name, "histogram", histograms[h].help);
        for (size_t i = 0; i < view.peer_count; i++) {
            const struct nd_fleet_peer *peer = &view.peers[i];
            char node[ND_FLEET_NODE_MAX * 2],
                labels[ND_FLEET_NODE_MAX * 2 + ND_NET_ADDRESS_TEXT_MAX + 32];
            label_value(peer->node, node, sizeof node);
            snprintf(labels, sizeof labels, "peer=\"%s\",node=\"%s\"", peer->address, node);
            const char *stats = (const char *)&peer->stats;
            render_histogram(text, histograms[h].name, labels,
                             (const uint64_t *)(stats + histograms[h].buckets),
                             *(const uint64_t *)(stats + histograms[h].sum));
        }
    }
    nd_metrics_family(text, "netdiag_fleet_probe_errors_total", "counter",
                      "Failed probes of a peer, by probe (tcp, http, udp) and how they failed.");
    for (size_t i = 0; i < view.peer_count; i++) {
        const struct nd_fleet_peer *peer = &view.peers[i];
        char node[ND_FLEET_NODE_MAX * 2];
        label_value(peer->node, node, sizeof node);
        const struct nd_fleet_peer_stats *stats = &peer->stats;
        for (int k = 0; k < ND_CONNECT_OUTCOME_COUNT; k++) {
            if (stats->tcp_errors[k])
                nd_metrics_append(text,
                                  "netdiag_fleet_probe_errors_total{peer=\"%s\",node=\"%s\",probe="
                                  "\"tcp\",error=\"%s\"} %llu\n",
                                  peer->address, node,
                                  nd_connect_outcome_name((enum nd_connect_outcome)k),
                                  (unsigned long long)stats->tcp_errors[k]);
        }
        if (stats->http_errors)
            nd_metrics_append(text,
                              "netdiag_fleet_probe_errors_total{peer=\"%s\",node=\"%s\",probe="
                              "\"http\",error=\"bad_status\"} %llu\n",
                              peer->address, node, (unsigned long long)stats->http_errors);
        for (int k = 0; k < ND_UDP_OUTCOME_COUNT; k++) {
            if (stats->udp_errors[k])
                nd_metrics_append(text,
                                  "netdiag_fleet_probe_errors_total{peer=\"%s\",node=\"%s\",probe="
                                  "\"udp\",error=\"%s\"} %llu\n",
                                  peer->address, node, nd_udp_outcome_name((enum nd_udp_outcome)k),
                                  (unsigned long long)stats->udp_errors[k]);
        }
    }
    nd_fleet_view_free(&view);
}
