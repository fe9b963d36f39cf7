/*
 * The step every probe starts with: a host (a name or an IP literal) to the
 * addresses it may try, each with the port, and the operator's destination
 * list checked on every one of them before any is used, so that a name
 * cannot be made to point somewhere forbidden afterwards (DNS rebinding).
 * The probe owns the lookup (its uv_getaddrinfo_t, and the callback that
 * hands the answer to nd_destination_take_lookup); these functions start it
 * and make the step's record in the probe's struct nd_connect_result
 * (literal, resolve_error, addresses, address_count, addresses_truncated),
 * the shape /connect reports for every protocol.
 */
#ifndef NETDIAG_PROBE_DESTINATION_H
#define NETDIAG_PROBE_DESTINATION_H

#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "probe/connect.h"

/* Sized for what it holds, not a sockaddr_storage: a thousand probes may
 * wait at once, each with ND_CONNECT_ADDRESSES_MAX of these. */
union nd_destination_address {
    struct sockaddr any;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

struct nd_destination {
    /* The caller's, set before the first call. */
    const char *host;
    uint16_t port;
    enum nd_resolve_family family;
    const struct nd_allowlist *allow; /* NULL: anywhere */
    struct nd_connect_result *result;
    /* Filled in: result->addresses[i] as socket addresses, with the port. */
    union nd_destination_address addresses[ND_CONNECT_ADDRESSES_MAX];
};

/* True when the host is an IP literal, its own one address (or, when it is
 * not of the family asked, result->resolve_error says so: EAI_ADDRFAMILY);
 * false for a name, to be looked up. */
bool nd_destination_take_literal(struct nd_destination *destination);

/* For a host that is not a literal: starts uv_getaddrinfo on lookup (its
 * data set by the caller), asking for each address once, whatever the
 * socket type. False when it could not start (result->resolve_error says
 * why); resolved is then never called. */
bool nd_destination_look_up(const struct nd_destination *destination, uv_loop_t *loop,
                            uv_getaddrinfo_t *lookup, uv_getaddrinfo_cb resolved);

/* The lookup's answer: status is uv_getaddrinfo's; on success the IPv4
 * and IPv6 addresses of list, each once, in order. False when the lookup
 * failed (result->resolve_error says how). The list stays the caller's. */
bool nd_destination_take_lookup(struct nd_destination *destination, int status,
                                const struct addrinfo *list);

/* True when the list allows every address; otherwise false with error
 * (ND_ERR_FORBIDDEN) naming the first that it does not. */
bool nd_destination_allowed(const struct nd_destination *destination, struct nd_error *error);

#endif
