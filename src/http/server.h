/*
 * The HTTP server: libmicrohttpd with its own polling threads (epoll), the
 * route table, access log, request ids, CORS and a graceful drain.
 */
#ifndef NETDIAG_HTTP_SERVER_H
#define NETDIAG_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netdiag/error.h"

struct nd_route;
struct nd_runtime;
struct nd_tls_identity;

struct nd_http_config {
    int listen_fd;               /* bound and listening; the server owns it once started */
    unsigned threads;            /* polling threads, each with its own epoll set */
    unsigned max_connections;    /* beyond it, new connections are refused */
    unsigned per_ip_connections; /* 0 = unlimited */
    /* Closes a connection idle that long, or whose next request has not
     * arrived whole that long after it opened or its last response ended. */
    unsigned connection_timeout_s;
    size_t connection_memory; /* per-connection buffer: bounds request line and headers */
    bool access_log;
    const char *cors_origin;       /* NULL or "" = no CORS headers */
    struct nd_runtime *runtime;    /* where slow requests and deadlines wait */
    const struct nd_route *routes; /* nd_routes_build's; they must outlive the server */
    size_t route_count;
    unsigned slow_max_waiting;   /* slow requests (DNS, SNTP) in progress at most */
    const char *auth_token;      /* bearer token most routes require; NULL or "" = none */
    struct nd_tls_identity *tls; /* serve HTTPS with it; NULL = plain HTTP */
};

struct nd_http_server;

/* Starts serving. On success *out is owned by the caller and released by
 * nd_http_stop. */
enum nd_err nd_http_start(const struct nd_http_config *config, struct nd_http_server **out,
                          struct nd_error *error);

/* Turns /readyz not-ready and asks clients to close after their current
 * response; new connections are still accepted, so that a load balancer has
 * time to notice before the door closes. */
void nd_http_begin_drain(struct nd_http_server *server);

/* From now on every new connection is closed as soon as it is accepted.
 * Requests already received go on. */
void nd_http_stop_accepting(struct nd_http_server *server);

bool nd_http_is_draining(const struct nd_http_server *server);

/* Requests received and not yet completely answered. */
unsigned nd_http_in_flight(const struct nd_http_server *server);

/* Open HTTP connections, those closed at once over max_connections, and
 * those closed because a request took longer than connection_timeout_s to
 * arrive whole. */
void nd_http_get_connection_stats(const struct nd_http_server *server, unsigned *open,
                                  uint64_t *refused, uint64_t *timed_out);

/* Closes every connection, joins the threads and frees the server. */
void nd_http_stop(struct nd_http_server *server);

/* The engine for slow work (DNS, UDP), for handlers that defer. */
struct nd_deferred *nd_http_deferred(const struct nd_http_server *server);

#endif
