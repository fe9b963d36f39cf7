/* The endpoint handlers, one file each under src/http/handler_<name>.c, and
 * the settings some of them take: each reads its own from the route it was
 * registered with (request->route->context), never from a global. */
#ifndef NETDIAG_HTTP_HANDLERS_H
#define NETDIAG_HTTP_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>

struct nd_request;
struct nd_allowlist;
struct nd_metrics_text;
struct nd_dns_servers;

/* /time/sntp. */
struct nd_sntp_settings {
    const char *default_server;       /* "host", "host:port" or "[v6]:port" */
    const struct nd_allowlist *allow; /* servers it may query; empty = any */
};

/* /dns. */
struct nd_dns_settings {
    const struct nd_dns_servers *servers; /* the default (the first) and server=all's list */
    const struct nd_allowlist *allow;     /* servers it may query; empty = any */
};

/* /dns's counters for /metrics: queries by rcode and transport, durations. */
void nd_dns_metrics_render(struct nd_metrics_text *text);

/* /docs and its files. */
struct nd_docs_settings {
    const char *directory; /* Swagger UI's files; NULL or "" = not installed */
};

/* /connect. */
struct nd_connect_stats;
struct nd_tls_trust;
struct nd_udp_stats;
struct nd_connect_settings {
    const struct nd_allowlist *allow; /* "off" disables the endpoint */
    struct nd_connect_stats *stats;   /* for /metrics */
    struct nd_udp_stats *udp_stats;   /* proto=udp's, for /metrics */
    struct nd_tls_trust *trust;       /* tls=1's anchors: the system's and --tls-ca-file */
};

/* /fleet, /fleet.html, and what /healthz says of this pod. */
struct nd_fleet;
struct nd_fleet_settings {
    struct nd_fleet *fleet; /* NULL: the fleet view is off (no --peers-dns) */
    const char *node_name;  /* this pod's node (--node-name); "" = unknown */
};

/* What other modules (the echo listener, the probes) tell /readyz and
 * /metrics. */
typedef bool (*nd_ready_fn)(void *context, char *reason, size_t size);
typedef void (*nd_metrics_fn)(void *context, struct nd_metrics_text *text);
enum { ND_METRICS_SOURCES_MAX = 8 };
struct nd_module_reports {
    nd_ready_fn ready; /* may be NULL; false with a short reason when not ready */
    void *ready_context;
    struct {
        nd_metrics_fn render; /* appends the module's metrics */
        void *context;
    } metrics[ND_METRICS_SOURCES_MAX];
    size_t metrics_count;
};

void nd_handle_index(struct nd_request *request);
void nd_handle_healthz(struct nd_request *request);
void nd_handle_readyz(struct nd_request *request);
void nd_handle_metrics(struct nd_request *request);
void nd_handle_openapi_yaml(struct nd_request *request);
void nd_handle_openapi_json(struct nd_request *request);
void nd_handle_docs(struct nd_request *request);
void nd_handle_docs_asset(struct nd_request *request);
void nd_handle_byteorder(struct nd_request *request);
void nd_handle_convert(struct nd_request *request);
void nd_handle_service(struct nd_request *request);
void nd_handle_hostinfo(struct nd_request *request);
void nd_handle_resolve(struct nd_request *request);
void nd_handle_sntp(struct nd_request *request);
void nd_handle_dns(struct nd_request *request);
void nd_handle_sockopts(struct nd_request *request);
void nd_handle_connect(struct nd_request *request);
void nd_handle_fleet(struct nd_request *request);
void nd_handle_fleet_page(struct nd_request *request);

/* /connect's counters (context: its struct nd_connect_stats), for /metrics. */
void nd_connect_metrics(void *context, struct nd_metrics_text *text);

/* /connect?proto=udp's counters (context: its struct nd_udp_stats). */
void nd_connect_udp_metrics(void *context, struct nd_metrics_text *text);

/* The anchors tls=1 trusts, by source (context: the struct nd_tls_trust). */
void nd_tls_trust_metrics(void *context, struct nd_metrics_text *text);

/* The fleet view's per-peer series (context: its struct nd_fleet). */
void nd_fleet_metrics(void *context, struct nd_metrics_text *text);

#endif
