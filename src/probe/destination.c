#include "probe/destination.h"

#include <stdio.h>
#include <string.h>

#include "netdiag/net.h"
#include "runtime/runtime.h"

static void add_address(struct nd_destination *destination, const struct sockaddr *address)
{
    struct nd_connect_result *result = destination->result;
    char text[sizeof result->addresses[0].text];
    nd_net_format_host(address, text, sizeof text);
    for (size_t i = 0; i < result->address_count; i++) {
        if (strcmp(result->addresses[i].text, text) == 0)
            return;
    }
    if (result->address_count == ND_CONNECT_ADDRESSES_MAX) {
        result->addresses_truncated = true;
        return;
    }
    size_t index = result->address_count++;
    result->addresses[index].family = address->sa_family;
    memcpy(result->addresses[index].text, text, sizeof text);
    union nd_destination_address *stored = &destination->addresses[index];
    uint16_t port = htons(destination->port);
    if (address->sa_family == AF_INET6) {
        memcpy(&stored->v6, address, sizeof stored->v6);
        stored->v6.sin6_port = port;
    } else {
        memcpy(&stored->v4, address, sizeof stored->v4);
        stored->v4.sin_port = port;
    }
}

bool nd_destination_take_literal(struct nd_destination *destination)
{
    struct sockaddr_storage storage;
    if (nd_net_address_from_literal(destination->host, 0, &storage) == 0)
        return false;
    struct nd_connect_result *result = destination->result;
    result->literal = true;
    enum nd_resolve_family family = destination->family;
    if ((family == ND_RESOLVE_IPV4 && storage.ss_family != AF_INET) ||
        (family == ND_RESOLVE_IPV6 && storage.ss_family != AF_INET6)) {
        nd_error_set_gai(&result->resolve_error, EAI_ADDRFAMILY, 0, "getaddrinfo");
        snprintf(result->resolve_error.message, sizeof result->resolve_error.message,
                 "%.64s is not an %s address", destination->host,
                 family == ND_RESOLVE_IPV4 ? "IPv4" : "IPv6");
        return true;
    }
    add_address(destination, (struct sockaddr *)&storage);
    return true;
}

bool nd_destination_look_up(const struct nd_destination *destination, uv_loop_t *loop,
                            uv_getaddrinfo_t *lookup, uv_getaddrinfo_cb resolved)
{
    struct addrinfo hints;
    nd_resolve_hints(destination->family, &hints);
    hints.ai_socktype = SOCK_STREAM; /* each address once, not once per socket type */
    hints.ai_flags = 0;
    int status = uv_getaddrinfo(loop, lookup, resolved, destination->host, NULL, &hints);
    if (status != 0) {
        nd_runtime_set_error(&destination->result->resolve_error, status, "uv_getaddrinfo");
        return false;
    }
    return true;
}

bool nd_destination_take_lookup(struct nd_destination *destination, int status,
                                const struct addrinfo *list)
{
    struct nd_connect_result *result = destination->result;
    if (status != 0) {
        int gai_error, os_error;
        nd_runtime_gai_from_status(status, &gai_error, &os_error);
        struct nd_resolve_result ignored;
        nd_resolve_host_result(destination->host, gai_error, os_error, NULL, &ignored,
                               &result->resolve_error);
        return false;
    }
    for (const struct addrinfo *entry = list; entry; entry = entry->ai_next) {
        if (entry->ai_family == AF_INET || entry->ai_family == AF_INET6)
            add_address(destination, entry->ai_addr);
    }
    /* An answer with no IPv4 or IPv6 address in it is no address at all:
     * the probes go on only with one to try. */
    if (result->address_count == 0) {
        struct nd_resolve_result ignored;
        nd_resolve_host_result(destination->host, EAI_NODATA, 0, NULL, &ignored,
                               &result->resolve_error);
        return false;
    }
    return true;
}

bool nd_destination_allowed(const struct nd_destination *destination, struct nd_error *error)
{
    const struct nd_connect_result *result = destination->result;
    if (!destination->allow)
        return true;
    for (size_t i = 0; i < result->address_count; i++) {
        if (nd_allowlist_permits_destination(destination->allow, destination->host,
                                             &destination->addresses[i].any, destination->port))
            continue;
        if (result->literal)
            nd_error_set(error, ND_ERR_FORBIDDEN,
                         "%s port %u is not in this service's --connect-allow list",
                         result->addresses[i].text, (unsigned)destination->port);
        else
            nd_error_set(error, ND_ERR_FORBIDDEN,
                         "%.100s (address %s) port %u is not in this service's "
                         "--connect-allow list",
                         destination->host, result->addresses[i].text, (unsigned)destination->port);
        return false;
    }
    return true;
}
