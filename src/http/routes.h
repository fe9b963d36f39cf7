/*
 * The route table: one row per endpoint, as data. Adding an endpoint is adding
 * a row and a handler. A test compares the rows with openapi/openapi.yaml.
 */
#ifndef NETDIAG_HTTP_ROUTES_H
#define NETDIAG_HTTP_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "http/handlers.h"

struct nd_request;

enum { ND_ROUTES_MAX = 32 }; /* rows the table may grow to (metrics keep a slot per row) */

typedef void (*nd_handler_fn)(struct nd_request *request);

struct nd_route {
    const char *method; /* "GET"; HEAD and OPTIONS are answered wherever GET is */
    const char *path;
    nd_handler_fn handler;
    const char *const *params; /* accepted query parameters, NULL-terminated; "pretty" is global */
    const char *tag;
    const char *summary;
    bool prefix; /* matches every path that starts with path, itself included (/docs/...) */
    /* Needs no token even with --auth-token-file: the probes, metrics, and
     * the API's own documentation (Swagger UI loads it before the user can
     * give it a token with its Authorize button). */
    bool open_access;
    const void *context; /* the handler's settings (handlers.h), or NULL */
    size_t index;        /* the row's position in nd_routes */
};

/* The table: every endpoint, without settings. */
extern const struct nd_route nd_routes[];
extern const size_t nd_routes_count;

/* The settings of the handlers that take any; they must outlive the server. */
struct nd_route_settings {
    struct nd_sntp_settings sntp;
    struct nd_connect_settings connect;
    struct nd_dns_settings dns;
    struct nd_fleet_settings fleet; /* also /healthz's */
    struct nd_docs_settings docs;
    struct nd_module_reports modules; /* for /readyz and /metrics */
};

/* Fills routes (nd_routes_count rows) with the table, each row given its
 * handler's settings as its context. */
void nd_routes_build(const struct nd_route_settings *settings, struct nd_route *routes);

/* The route among routes (count rows) for a path (not NUL-terminated,
 * length bytes), or NULL. */
const struct nd_route *nd_route_find(const struct nd_route *routes, size_t count, const char *path,
                                     size_t length);

#endif
