/*
 * A minimal HTTP GET for `netdiag --healthcheck`: container images carry no
 * curl, so the binary checks itself. HTTP/1.0 over one TCP connection, in
 * TLS for an https:// URL (the certificate is not checked: this asks the
 * process beside it whether it serves, not whether its certificate is good).
 */
#ifndef NETDIAG_HTTP_PROBE_H
#define NETDIAG_HTTP_PROBE_H

#include "netdiag/error.h"

/* GETs url ("http[s]://HOST:PORT/PATH", IPv6 as [ADDR]) and stores the status
 * code. ND_ERR_INVALID for a URL of another form, ND_ERR_TIMEOUT when the
 * whole exchange takes longer than timeout_ms, ND_ERR_SYSTEM or
 * ND_ERR_RESOLVE for connection failures, ND_ERR_PROTOCOL for an answer
 * that is not HTTP. */
enum nd_err nd_http_probe(const char *url, int timeout_ms, unsigned *status,
                          struct nd_error *error);

#endif
