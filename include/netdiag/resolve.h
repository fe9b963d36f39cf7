/*
 * Recipe 2: a host name to its addresses through the system resolver
 * (getaddrinfo, so /etc/hosts and nsswitch apply), and an address back to its
 * name (getnameinfo). Recipe 7: resolver failures come back as data, with
 * their EAI_* value, never as a crash or a silent empty answer.
 */
#ifndef NETDIAG_RESOLVE_H
#define NETDIAG_RESOLVE_H

#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netdiag/error.h"

enum {
    ND_RESOLVE_NAME_MAX = 254, /* 253 characters + NUL (RFC 1035 section 2.3.4, RFC 1123) */
    ND_RESOLVE_ADDRESSES_MAX = 32,
    ND_RESOLVE_CANONICAL_MAX = 1025, /* NI_MAXHOST */
};

enum nd_resolve_family { ND_RESOLVE_ANY, ND_RESOLVE_IPV4, ND_RESOLVE_IPV6 };

struct nd_resolve_address {
    int family; /* AF_INET or AF_INET6 */
    char text[INET6_ADDRSTRLEN];
};

struct nd_resolve_result {
    char canonical_name[ND_RESOLVE_CANONICAL_MAX]; /* from AI_CANONNAME; "" when none */
    struct nd_resolve_address addresses[ND_RESOLVE_ADDRESSES_MAX];
    size_t address_count;
    bool truncated;       /* the name had more distinct addresses than fit */
    uint64_t duration_us; /* how long getaddrinfo took (CLOCK_MONOTONIC) */
};

/* Syntax check before anything reaches the resolver. ND_ERR_INVALID, with a
 * message naming the problem, for an empty (or NULL) name, one over 253
 * characters (one trailing dot allowed and not counted), a label over 63
 * characters, an empty label ("a..b", ".a", "."), a character outside
 * [A-Za-z0-9-_.] (so any UTF-8 byte: IDNs must arrive as "xn--" A-labels), or
 * a label starting or ending with '-'. IPv4 dotted quads pass as names; IPv6
 * literals (whatever inet_pton(AF_INET6) accepts, so no "[...]" and no zone)
 * are accepted as they are. A name whose last label is a number but which is
 * not a strict dotted quad ("010.0.0.1", "1.2.3", "2130706433") is refused:
 * getaddrinfo would read it as inet_aton does, and the message says how.
 * Leaves *error untouched on success. */
enum nd_err nd_resolve_validate_name(const char *name, struct nd_error *error);

/* getaddrinfo(name, NULL, {family, socktype 0, AI_CANONNAME}) through the
 * system resolver (/etc/hosts and nsswitch apply); addresses deduplicated
 * (getaddrinfo answers once per socket type) in the resolver's order. The name
 * is validated first: ND_ERR_INVALID for bad syntax, with no lookup made.
 * Resolver failures are ND_ERR_RESOLVE with error->gai_error = EAI_* (and
 * error->os_error = errno for EAI_SYSTEM) and a message such as
 * "getaddrinfo(www.example.invalid): Name or service not known" (names over
 * 100 characters are shortened with "..." there). A numeric literal of the
 * other family ("127.0.0.1" with ND_RESOLVE_IPV6) is EAI_ADDRFAMILY. *out is
 * zeroed first; duration_us is set on resolver failures too. On success
 * *error is cleared (code ND_OK). Blocking and thread-safe. */
enum nd_err nd_resolve_host(const char *name, enum nd_resolve_family family,
                            struct nd_resolve_result *out, struct nd_error *error);

/* The two halves of nd_resolve_host, for a caller that runs getaddrinfo
 * itself (the runtime does, on libuv's pool): the hints it asks with, and
 * the result made of what getaddrinfo answered (gai_error 0 and list, or
 * EAI_* and errno for EAI_SYSTEM). *out is zeroed first, duration_us too:
 * the caller, who timed the lookup, sets it. Errors as nd_resolve_host. */
void nd_resolve_hints(enum nd_resolve_family family, struct addrinfo *hints);
enum nd_err nd_resolve_host_result(const char *name, int gai_error, int os_error,
                                   const struct addrinfo *list, struct nd_resolve_result *out,
                                   struct nd_error *error);

struct nd_resolve_reverse {
    int family;
    char address[INET6_ADDRSTRLEN]; /* canonical text of the input */
    char name[ND_RESOLVE_CANONICAL_MAX];
    uint64_t duration_us;
};

/* getnameinfo(address, NI_NAMEREQD): no numeric fallback, so an address
 * without a name is ND_ERR_RESOLVE with EAI_NONAME. ND_ERR_INVALID ("'x' is
 * not an IP address ...") when the text is not a strict inet_pton IPv4 or
 * IPv6 literal. family and address are filled before the lookup, so they are
 * valid on ND_ERR_RESOLVE too; name is "" then. On success *error is cleared.
 * Blocking and thread-safe. */
enum nd_err nd_resolve_reverse(const char *address, struct nd_resolve_reverse *out,
                               struct nd_error *error);

/* The halves of nd_resolve_reverse: the checked literal as a socket address
 * for getnameinfo (family and address of *out filled, the rest zeroed), and
 * the result of getnameinfo(NI_NAMEREQD)'s answer. Errors as nd_resolve_reverse. */
enum nd_err nd_resolve_reverse_prepare(const char *address, struct nd_resolve_reverse *out,
                                       struct sockaddr_storage *storage, socklen_t *length,
                                       struct nd_error *error);
enum nd_err nd_resolve_reverse_result(int gai_error, int os_error, const char *name,
                                      struct nd_resolve_reverse *out, struct nd_error *error);

/* "any", "ipv4" or "ipv6". */
const char *nd_resolve_family_name(enum nd_resolve_family family);

#endif
