#include "http/routes.h"

#include <string.h>

#include "http/handlers.h"

static const char *const no_params[] = {NULL};
static const char *const byteorder_params[] = {"value", "width", NULL};
static const char *const convert_params[] = {"ip", "hex", "int", "family", NULL};
static const char *const service_params[] = {"port", "name", "protocol", NULL};
static const char *const resolve_params[] = {"host", "addr", "family", "timeout_ms", NULL};
static const char *const sntp_params[] = {"server", "timeout_ms", "version", NULL};

const struct nd_route nd_routes[] = {
    {"GET", "/", nd_handle_index, no_params, "meta", "Service index"},
    {"GET", "/healthz", nd_handle_healthz, no_params, "meta", "Liveness"},
    {"GET", "/readyz", nd_handle_readyz, no_params, "meta", "Readiness"},
    {"GET", "/metrics", nd_handle_metrics, no_params, "meta", "Prometheus metrics"},
    {"GET", "/hostinfo", nd_handle_hostinfo, no_params, "local",
     "Host name, its addresses and the interfaces"},
    {"GET", "/convert", nd_handle_convert, convert_params, "local",
     "IP address text to packed bytes, hex and integer, and back"},
    {"GET", "/service", nd_handle_service, service_params, "local",
     "Port and protocol to service name, and back"},
    {"GET", "/byteorder", nd_handle_byteorder, byteorder_params, "local",
     "Host and network byte order: ntohl, htonl, ntohs, htons"},
    {"GET", "/resolve", nd_handle_resolve, resolve_params, "network",
     "Host names to addresses and addresses to names (system resolver)"},
    {"GET", "/time/sntp", nd_handle_sntp, sntp_params, "network",
     "Time and clock offset from an SNTP server"},
};

const size_t nd_routes_count = sizeof nd_routes / sizeof nd_routes[0];

const struct nd_route *nd_route_find(const char *path, size_t length)
{
    for (size_t i = 0; i < nd_routes_count; i++) {
        const char *candidate = nd_routes[i].path;
        if (strlen(candidate) == length && memcmp(candidate, path, length) == 0)
            return &nd_routes[i];
    }
    return NULL;
}
