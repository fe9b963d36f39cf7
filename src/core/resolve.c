#include "netdiag/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netdiag/clock.h"
#include "netdiag/convert.h"
#include "netdiag/net.h"

static bool name_character(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* A label that inet_aton reads as a number: decimal digits, or 0x hex. */
static bool numeric_label(const char *label, size_t length)
{
    size_t start = 0;
    bool hex = length >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X');
    if (hex)
        start = 2;
    for (size_t i = start; i < length; i++) {
        char c = label[i];
        bool digit =
            (c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
        if (!digit)
            return false;
    }
    return true;
}

/* A name whose last label is a number is not a host name (RFC 1123 section
 * 2.1: a top-level label is never all-numeric), so it can only be an IPv4
 * literal. getaddrinfo reads such text the way the legacy inet_aton does
 * ("010.0.0.1" is 8.0.0.1, "1.2.3" is 1.2.0.3); netdiag takes only the strict
 * dotted quad inet_pton accepts, as /convert does, and says what the legacy
 * reading would have been. */
static enum nd_err check_numeric_name(const char *name, const char *last_label, size_t length,
                                      struct nd_error *error)
{
    struct in_addr literal;
    if (!numeric_label(last_label, length) || inet_pton(AF_INET, name, &literal) == 1)
        return ND_OK;
    struct nd_convert_legacy legacy;
    if (nd_convert_legacy_ipv4(name, &legacy, NULL) == ND_OK && legacy.accepted)
        return nd_error_set(error, ND_ERR_INVALID,
                            "'%.64s' is not a valid IPv4 address (inet_pton) nor a host name "
                            "(its last label is a number); the legacy inet_aton, and so "
                            "getaddrinfo, would read it as %s",
                            name, legacy.address);
    return nd_error_set(error, ND_ERR_INVALID,
                        "'%.64s' is not a valid IPv4 address (inet_pton) nor a host name (its "
                        "last label is a number)",
                        name);
}

enum nd_err nd_resolve_validate_name(const char *name, struct nd_error *error)
{
    if (!name || name[0] == '\0')
        return nd_error_set(error, ND_ERR_INVALID, "host name is empty");
    struct in6_addr literal;
    if (strchr(name, ':') && inet_pton(AF_INET6, name, &literal) == 1)
        return ND_OK;

    size_t length = strlen(name);
    /* RFC 1035 section 2.3.4: 255 octets on the wire is 253 characters of
     * text; a trailing dot (the root) is allowed and not counted. */
    size_t significant = name[length - 1] == '.' ? length - 1 : length;
    if (significant > 253)
        return nd_error_set(error, ND_ERR_INVALID,
                            "host name is %zu characters long; at most 253 are allowed",
                            significant);
    if (significant == 0)
        return nd_error_set(error, ND_ERR_INVALID, "host name '.' has no labels");

    size_t label_start = 0;
    for (size_t i = 0; i <= significant; i++) {
        char c = i < significant ? name[i] : '.';
        if (c != '.') {
            if (!name_character(c))
                return nd_error_set(error, ND_ERR_INVALID,
                                    "character %zu of the host name is not a letter, digit, "
                                    "'-', '_' or '.'",
                                    i + 1);
            continue;
        }
        size_t label_length = i - label_start;
        if (label_length == 0)
            return nd_error_set(error, ND_ERR_INVALID,
                                "host name has an empty label at character %zu (as in 'a..b')",
                                i + 1);
        /* RFC 1035 section 2.3.4: labels are 63 octets or less. */
        if (label_length > 63)
            return nd_error_set(error, ND_ERR_INVALID,
                                "a label of the host name is %zu characters long; at most 63",
                                label_length);
        /* RFC 952 / RFC 1123 section 2.1: no hyphen at either end of a label. */
        if (name[label_start] == '-' || name[i - 1] == '-')
            return nd_error_set(error, ND_ERR_INVALID,
                                "a label of the host name starts or ends with '-'");
        if (i < significant)
            label_start = i + 1;
    }
    return check_numeric_name(name, name + label_start, significant - label_start, error);
}

static int family_hint(enum nd_resolve_family family)
{
    switch (family) {
    case ND_RESOLVE_IPV4:
        return AF_INET;
    case ND_RESOLVE_IPV6:
        return AF_INET6;
    case ND_RESOLVE_ANY:
        break;
    }
    return AF_UNSPEC;
}

static bool already_listed(const struct nd_resolve_result *out, const char *text)
{
    for (size_t i = 0; i < out->address_count; i++) {
        if (strcmp(out->addresses[i].text, text) == 0)
            return true;
    }
    return false;
}

void nd_resolve_hints(enum nd_resolve_family family, struct addrinfo *hints)
{
    memset(hints, 0, sizeof *hints);
    hints->ai_family = family_hint(family);
    hints->ai_flags = AI_CANONNAME;
}

enum nd_err nd_resolve_host_result(const char *name, int gai_error, int os_error,
                                   const struct addrinfo *list, struct nd_resolve_result *out,
                                   struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    if (gai_error != 0) {
        /* A 253-character name would push gai_strerror's reason, the part a
         * user needs, past the end of the ND_ERROR_MESSAGE_MAX message. */
        enum { SHOWN_NAME_MAX = 100 };
        char call[SHOWN_NAME_MAX + 32];
        snprintf(call, sizeof call, "getaddrinfo(%.*s%s)", (int)SHOWN_NAME_MAX, name,
                 strlen(name) > SHOWN_NAME_MAX ? "..." : "");
        return nd_error_set_gai(error, gai_error, os_error, call);
    }
    if (list && list->ai_canonname)
        snprintf(out->canonical_name, sizeof out->canonical_name, "%s", list->ai_canonname);
    for (const struct addrinfo *entry = list; entry; entry = entry->ai_next) {
        const void *raw;
        if (entry->ai_family == AF_INET)
            raw = &((const struct sockaddr_in *)entry->ai_addr)->sin_addr;
        else if (entry->ai_family == AF_INET6)
            raw = &((const struct sockaddr_in6 *)entry->ai_addr)->sin6_addr;
        else
            continue;
        char text[INET6_ADDRSTRLEN];
        if (!inet_ntop(entry->ai_family, raw, text, sizeof text) || already_listed(out, text))
            continue;
        if (out->address_count == ND_RESOLVE_ADDRESSES_MAX) {
            out->truncated = true;
            break;
        }
        struct nd_resolve_address *address = &out->addresses[out->address_count++];
        address->family = entry->ai_family;
        memcpy(address->text, text, sizeof text);
    }
    nd_error_clear(error);
    return ND_OK;
}

enum nd_err nd_resolve_host(const char *name, enum nd_resolve_family family,
                            struct nd_resolve_result *out, struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    enum nd_err err = nd_resolve_validate_name(name, error);
    if (err != ND_OK)
        return err;
    struct addrinfo hints;
    nd_resolve_hints(family, &hints);
    struct addrinfo *list = NULL;
    uint64_t start = nd_clock_monotonic_ns();
    int gai = getaddrinfo(name, NULL, &hints, &list);
    int saved_errno = errno;
    uint64_t duration_us = (nd_clock_monotonic_ns() - start) / 1000u;
    err = nd_resolve_host_result(name, gai, saved_errno, list, out, error);
    out->duration_us = duration_us;
    if (list)
        freeaddrinfo(list);
    return err;
}

enum nd_err nd_resolve_reverse_prepare(const char *address, struct nd_resolve_reverse *out,
                                       struct sockaddr_storage *storage, socklen_t *length,
                                       struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    memset(storage, 0, sizeof *storage);
    *length = address ? nd_net_address_from_literal(address, 0, storage) : 0;
    if (*length == 0)
        return nd_error_set(error, ND_ERR_INVALID,
                            "'%.64s' is not an IP address (an IPv4 or IPv6 literal is expected)",
                            address ? address : "");
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)storage;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)storage;
    out->family = storage->ss_family;
    const void *raw =
        out->family == AF_INET ? (const void *)&v4->sin_addr : (const void *)&v6->sin6_addr;
    if (!inet_ntop(out->family, raw, out->address, sizeof out->address))
        return nd_error_set_errno(error, errno, "inet_ntop");
    return ND_OK;
}

enum nd_err nd_resolve_reverse_result(int gai_error, int os_error, const char *name,
                                      struct nd_resolve_reverse *out, struct nd_error *error)
{
    if (gai_error != 0) {
        out->name[0] = '\0';
        char call[INET6_ADDRSTRLEN + 16];
        snprintf(call, sizeof call, "getnameinfo(%s)", out->address);
        return nd_error_set_gai(error, gai_error, os_error, call);
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    nd_error_clear(error);
    return ND_OK;
}

enum nd_err nd_resolve_reverse(const char *address, struct nd_resolve_reverse *out,
                               struct nd_error *error)
{
    struct sockaddr_storage storage;
    socklen_t length = 0;
    enum nd_err err = nd_resolve_reverse_prepare(address, out, &storage, &length, error);
    if (err != ND_OK)
        return err;
    char name[ND_RESOLVE_CANONICAL_MAX];
    uint64_t start = nd_clock_monotonic_ns();
    int gai =
        getnameinfo((struct sockaddr *)&storage, length, name, sizeof name, NULL, 0, NI_NAMEREQD);
    int saved_errno = errno;
    out->duration_us = (nd_clock_monotonic_ns() - start) / 1000u;
    return nd_resolve_reverse_result(gai, saved_errno, name, out, error);
}

const char *nd_resolve_family_name(enum nd_resolve_family family)
{
    switch (family) {
    case ND_RESOLVE_IPV4:
        return "ipv4";
    case ND_RESOLVE_IPV6:
        return "ipv6";
    case ND_RESOLVE_ANY:
        break;
    }
    return "any";
}
