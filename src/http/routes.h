/*
 * The route table: one row per endpoint, as data. Adding an endpoint is adding
 * a row and a handler. A test compares the rows with openapi/openapi.yaml.
 */
#ifndef NETDIAG_HTTP_ROUTES_H
#define NETDIAG_HTTP_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

struct nd_request;

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
};

extern const struct nd_route nd_routes[];
extern const size_t nd_routes_count;

/* The route for a path (not NUL-terminated, length bytes), or NULL. */
const struct nd_route *nd_route_find(const char *path, size_t length);

#endif
