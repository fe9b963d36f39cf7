#include "http/routes.h"

#include <string.h>

#include "http/handlers.h"

static const char *const no_params[] = {NULL};
static const char *const byteorder_params[] = {"value", "width", NULL};
static const char *const convert_params[] = {"ip", "hex", "int", "family", NULL};
static const char *const service_params[] = {"port", "name", "protocol", NULL};
static const char *const resolve_params[] = {"host", "addr", "family", "timeout_ms", NULL};
static const char *const sockopts_params[] = {"type",    "family",    "sndbuf",  "rcvbuf",
                                              "nodelay", "reuseaddr", "timeout", "blocking",
                                              "bind",    NULL};
static const char *const sntp_params[] = {"server", "timeout_ms", "version", NULL};
static const char *const connect_params[] = {
    "host",      "port",       "family", "timeout_ms", "send",  "send_hex",
    "http_path", "read_bytes", "expect", "proto",      "count", "interval_ms",
    "tls",       "sni",        "alpn",   "insecure",   NULL};
static const char *const fleet_params[] = {"scope", "timeout_ms", NULL};
static const char *const dns_params[] = {"name", "type",   "server", "timeout_ms",
                                         "rd",   "dnssec", "tcp",    NULL};

const struct nd_route nd_routes[] = {
    {.method = "GET",
     .path = "/",
     .handler = nd_handle_index,
     .params = no_params,
     .tag = "meta",
     .summary = "Service index"},
    {.method = "GET",
     .path = "/healthz",
     .handler = nd_handle_healthz,
     .params = no_params,
     .tag = "meta",
     .summary = "Liveness",
     .open_access = true},
    {.method = "GET",
     .path = "/readyz",
     .handler = nd_handle_readyz,
     .params = no_params,
     .tag = "meta",
     .summary = "Readiness",
     .open_access = true},
    {.method = "GET",
     .path = "/metrics",
     .handler = nd_handle_metrics,
     .params = no_params,
     .tag = "meta",
     .summary = "Prometheus metrics",
     .open_access = true},
    {.method = "GET",
     .path = "/openapi.yaml",
     .handler = nd_handle_openapi_yaml,
     .params = no_params,
     .tag = "docs",
     .summary = "This API, OpenAPI 3.1, YAML",
     .open_access = true},
    {.method = "GET",
     .path = "/openapi.json",
     .handler = nd_handle_openapi_json,
     .params = no_params,
     .tag = "docs",
     .summary = "This API, OpenAPI 3.1, JSON",
     .open_access = true},
    {.method = "GET",
     .path = "/docs",
     .handler = nd_handle_docs,
     .params = no_params,
     .tag = "docs",
     .summary = "Swagger UI",
     .open_access = true},
    {.method = "GET",
     .path = "/docs/",
     .handler = nd_handle_docs_asset,
     .params = no_params,
     .tag = "docs",
     .summary = "Swagger UI's files",
     .prefix = true,
     .open_access = true},
    {.method = "GET",
     .path = "/hostinfo",
     .handler = nd_handle_hostinfo,
     .params = no_params,
     .tag = "local",
     .summary = "Host name, its addresses and the interfaces"},
    {.method = "GET",
     .path = "/convert",
     .handler = nd_handle_convert,
     .params = convert_params,
     .tag = "local",
     .summary = "IP address text to packed bytes, hex and integer, and back"},
    {.method = "GET",
     .path = "/service",
     .handler = nd_handle_service,
     .params = service_params,
     .tag = "local",
     .summary = "Port and protocol to service name, and back"},
    {.method = "GET",
     .path = "/byteorder",
     .handler = nd_handle_byteorder,
     .params = byteorder_params,
     .tag = "local",
     .summary = "Host and network byte order: ntohl, htonl, ntohs, htons"},
    {.method = "GET",
     .path = "/resolve",
     .handler = nd_handle_resolve,
     .params = resolve_params,
     .tag = "network",
     .summary = "Host names to addresses and addresses to names (system resolver)"},
    {.method = "GET",
     .path = "/time/sntp",
     .handler = nd_handle_sntp,
     .params = sntp_params,
     .tag = "network",
     .summary = "Time and clock offset from an SNTP server"},
    {.method = "GET",
     .path = "/connect",
     .handler = nd_handle_connect,
     .params = connect_params,
     .tag = "network",
     .summary = "Connect to host:port, send, read the reply: which step fails, and how"},
    {.method = "GET",
     .path = "/dns",
     .handler = nd_handle_dns,
     .params = dns_params,
     .tag = "network",
     .summary = "Any record type from a chosen nameserver, as dig and DoH JSON answer"},
    {.method = "GET",
     .path = "/sockopts",
     .handler = nd_handle_sockopts,
     .params = sockopts_params,
     .tag = "socket options",
     .summary = "A fresh socket's options before and after a change"},
    {.method = "GET",
     .path = "/fleet",
     .handler = nd_handle_fleet,
     .params = fleet_params,
     .tag = "fleet",
     .summary = "Which pod can reach which: this pod's probes of its peers, or the whole matrix"},
    {.method = "GET",
     .path = "/fleet.html",
     .handler = nd_handle_fleet_page,
     .params = no_params,
     .tag = "fleet",
     .summary = "The fleet matrix as a colour grid (a static page that reads /fleet?scope=all)",
     .open_access = true},
};

const size_t nd_routes_count = sizeof nd_routes / sizeof nd_routes[0];
_Static_assert(sizeof nd_routes / sizeof nd_routes[0] <= ND_ROUTES_MAX, "raise ND_ROUTES_MAX");

void nd_routes_build(const struct nd_route_settings *settings, struct nd_route *routes)
{
    const struct {
        nd_handler_fn handler;
        const void *context;
    } contexts[] = {
        {nd_handle_sntp, &settings->sntp},       {nd_handle_connect, &settings->connect},
        {nd_handle_dns, &settings->dns},         {nd_handle_docs, &settings->docs},
        {nd_handle_docs_asset, &settings->docs}, {nd_handle_readyz, &settings->modules},
        {nd_handle_metrics, &settings->modules}, {nd_handle_fleet, &settings->fleet},
        {nd_handle_healthz, &settings->fleet},
    };
    for (size_t i = 0; i < nd_routes_count; i++) {
        routes[i] = nd_routes[i];
        routes[i].index = i;
        for (size_t j = 0; j < sizeof contexts / sizeof contexts[0]; j++) {
            if (routes[i].handler == contexts[j].handler)
                routes[i].context = contexts[j].context;
        }
    }
}

const struct nd_route *nd_route_find(const struct nd_route *routes, size_t count, const char *path,
                                     size_t length)
{
    for (size_t i = 0; i < count; i++) {
        const char *candidate = routes[i].path;
        size_t candidate_length = strlen(candidate);
        bool matches = routes[i].prefix ? length >= candidate_length : length == candidate_length;
        if (matches && memcmp(candidate, path, candidate_length) == 0)
            return &routes[i];
    }
    return NULL;
}
