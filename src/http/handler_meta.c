/* /, /healthz and /readyz: what the service is and whether it can take traffic. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "http/deferred.h"
#include "http/handlers.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/routes.h"
#include "http/server.h"
#include "netdiag/version.h"

void nd_handle_index(struct nd_request *request)
{
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "service", "netdiag");
    nd_json_add_string(body, "version", NETDIAG_VERSION);
    nd_json_add_string(body, "description",
                       "Socket API recipes as JSON endpoints: byte order, address "
                       "conversion, services, host and interfaces");
    cJSON *links = nd_json_add_object(body, "links");
    nd_json_add_string(links, "docs", "/docs");
    nd_json_add_string(links, "openapi", "/openapi.json");
    cJSON *endpoints = nd_json_add_array(body, "endpoints");
    for (size_t i = 0; i < nd_routes_count; i++) {
        cJSON *endpoint = cJSON_CreateObject();
        nd_json_add_string(endpoint, "method", nd_routes[i].method);
        char path[64];
        /* A prefix route serves a family of paths, named as OpenAPI does. */
        snprintf(path, sizeof path, nd_routes[i].prefix ? "%s{file}" : "%s", nd_routes[i].path);
        nd_json_add_string(endpoint, "path", path);
        nd_json_add_string(endpoint, "summary", nd_routes[i].summary);
        nd_json_append(endpoints, endpoint);
    }
    nd_reply_json(request, 200, body);
}

/* The node, when known, is in the body for people and in a header for the
 * fleet view's probes, which read the head alone. */
void nd_handle_healthz(struct nd_request *request)
{
    const struct nd_fleet_settings *fleet = request->route->context;
    const char *node = fleet && fleet->node_name ? fleet->node_name : "";
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "status", "ok");
    nd_json_add_string(body, "version", NETDIAG_VERSION);
    if (node[0])
        nd_json_add_string(body, "node", node);
    nd_reply_json(request, 200, body);
    if (node[0])
        nd_reply_add_header(request, "Netdiag-Node", node);
}

void nd_handle_readyz(struct nd_request *request)
{
    const struct nd_module_reports *modules = request->route->context;
    char reason[128] = "";
    bool ready = true;
    if (nd_http_is_draining(request->server)) {
        snprintf(reason, sizeof reason, "draining: shutting down");
        ready = false;
    } else if (modules && modules->ready) {
        ready = modules->ready(modules->ready_context, reason, sizeof reason);
    }
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "status", ready ? "ready" : "not_ready");
    if (!ready)
        nd_json_add_string(body, "reason", reason);
    nd_reply_json(request, ready ? 200 : 503, body);
}

static void render_server_metrics(struct nd_metrics_text *text, struct nd_http_server *server)
{
    nd_metrics_family(text, "netdiag_http_requests_in_flight", "gauge",
                      "Requests received and not yet completely answered.");
    nd_metrics_append(text, "netdiag_http_requests_in_flight %u\n", nd_http_in_flight(server));

    unsigned open;
    uint64_t refused, timed_out;
    nd_http_get_connection_stats(server, &open, &refused, &timed_out);
    nd_metrics_family(text, "netdiag_http_connections_open", "gauge", "Open HTTP connections.");
    nd_metrics_append(text, "netdiag_http_connections_open %u\n", open);
    nd_metrics_family(
        text, "netdiag_http_connections_refused_total", "counter",
        "HTTP connections closed at once: --max-connections or --per-ip-connections reached.");
    nd_metrics_append(text, "netdiag_http_connections_refused_total %llu\n",
                      (unsigned long long)refused);
    nd_metrics_family(text, "netdiag_http_connections_timed_out_total", "counter",
                      "HTTP connections closed because a request had not arrived whole within "
                      "--connection-timeout.");
    nd_metrics_append(text, "netdiag_http_connections_timed_out_total %llu\n",
                      (unsigned long long)timed_out);

    struct nd_deferred_stats slow;
    nd_deferred_get_stats(nd_http_deferred(server), &slow);
    nd_metrics_family(text, "netdiag_slow_requests_waiting", "gauge",
                      "DNS and SNTP requests in progress (suspended, off the HTTP threads).");
    nd_metrics_append(text, "netdiag_slow_requests_waiting %llu\n",
                      (unsigned long long)slow.waiting);
    nd_metrics_family(text, "netdiag_slow_queue_depth", "gauge",
                      "Slow requests waiting for a worker thread.");
    nd_metrics_append(text, "netdiag_slow_queue_depth %llu\n", (unsigned long long)slow.queued);
    nd_metrics_family(text, "netdiag_slow_requests_rejected_total", "counter",
                      "Slow requests refused with 503 because the bound was reached.");
    nd_metrics_append(text, "netdiag_slow_requests_rejected_total %llu\n",
                      (unsigned long long)slow.rejected);
    nd_metrics_family(text, "netdiag_slow_requests_expired_total", "counter",
                      "Slow requests answered by their deadline (504).");
    nd_metrics_append(text, "netdiag_slow_requests_expired_total %llu\n",
                      (unsigned long long)slow.expired);
    nd_metrics_family(text, "netdiag_slow_requests_completed_total", "counter",
                      "Slow requests whose work finished before the deadline.");
    nd_metrics_append(text, "netdiag_slow_requests_completed_total %llu\n",
                      (unsigned long long)slow.completed);
}

void nd_handle_metrics(struct nd_request *request)
{
    struct nd_metrics_text text = {0};
    nd_metrics_render(&text);
    render_server_metrics(&text, request->server);
    nd_dns_metrics_render(&text);
    const struct nd_module_reports *modules = request->route->context;
    for (size_t i = 0; modules && i < modules->metrics_count; i++)
        modules->metrics[i].render(modules->metrics[i].context, &text);
    if (text.failed) {
        free(text.data);
        nd_reply_failure(request, ND_ERR_NO_MEMORY, NULL, "out of memory");
        return;
    }
    nd_reply_text(request, 200, "text/plain; version=0.0.4; charset=utf-8", text.data, text.length);
}
