#include "netdiag/allowlist.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "netdiag/parse.h"

static enum nd_err parse_entry(const char *entry, struct nd_allowlist_entry *out,
                               struct nd_error *error)
{
    char text[ND_ALLOWLIST_NAME_MAX];
    if (strlen(entry) >= sizeof text || entry[0] == '\0')
        return nd_error_set(error, ND_ERR_INVALID, "allow-list entry '%.40s' is empty or too long",
                            entry);
    memset(out, 0, sizeof *out);
    snprintf(text, sizeof text, "%s", entry);
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';

    if (inet_pton(AF_INET, text, out->address) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, text, out->address) == 1)
        out->family = AF_INET6;

    if (out->family == 0) {
        if (slash)
            return nd_error_set(error, ND_ERR_INVALID,
                                "allow-list entry '%s': a prefix length needs an address", entry);
        for (const char *p = text; *p; p++) {
            bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_';
            if (!ok)
                return nd_error_set(error, ND_ERR_INVALID,
                                    "allow-list entry '%s' is neither a host name nor an address",
                                    entry);
        }
        snprintf(out->name, sizeof out->name, "%s", text);
        return ND_OK;
    }

    unsigned maximum = out->family == AF_INET ? 32 : 128;
    uint64_t prefix = maximum;
    if (slash && nd_parse_decimal(slash + 1, maximum, &prefix) != ND_OK)
        return nd_error_set(error, ND_ERR_INVALID,
                            "allow-list entry '%s': prefix length must be 0-%u", entry, maximum);
    out->is_network = true;
    out->prefix_length = (unsigned)prefix;
    return ND_OK;
}

enum nd_err nd_allowlist_parse(const char *text, struct nd_allowlist *out, struct nd_error *error)
{
    out->count = 0;
    if (!text || text[0] == '\0')
        return ND_OK;
    const char *cursor = text;
    for (;;) {
        size_t length = strcspn(cursor, ",");
        char entry[ND_ALLOWLIST_NAME_MAX + 8];
        if (length >= sizeof entry)
            return nd_error_set(error, ND_ERR_INVALID, "allow-list entry '%.40s...' is too long",
                                cursor);
        memcpy(entry, cursor, length);
        entry[length] = '\0';
        if (out->count == ND_ALLOWLIST_MAX)
            return nd_error_set(error, ND_ERR_RANGE, "at most %d allow-list entries",
                                ND_ALLOWLIST_MAX);
        enum nd_err err = parse_entry(entry, &out->entries[out->count], error);
        if (err != ND_OK)
            return err;
        out->count++;
        if (cursor[length] == '\0')
            return ND_OK;
        cursor += length + 1;
    }
}

static bool prefix_matches(const uint8_t *network, const uint8_t *address, unsigned prefix_length)
{
    unsigned whole = prefix_length / 8, rest = prefix_length % 8;
    if (memcmp(network, address, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (network[whole] & mask) == (address[whole] & mask);
}

bool nd_allowlist_permits(const struct nd_allowlist *list, const char *host,
                          const struct sockaddr *address)
{
    if (list->count == 0)
        return true;
    const uint8_t *bytes = NULL;
    int family = address ? address->sa_family : 0;
    if (family == AF_INET)
        bytes = (const uint8_t *)&((const struct sockaddr_in *)address)->sin_addr;
    else if (family == AF_INET6)
        bytes = (const uint8_t *)&((const struct sockaddr_in6 *)address)->sin6_addr;

    for (size_t i = 0; i < list->count; i++) {
        const struct nd_allowlist_entry *entry = &list->entries[i];
        if (!entry->is_network) {
            if (host && strcasecmp(entry->name, host) == 0)
                return true;
        } else if (bytes && entry->family == family &&
                   prefix_matches(entry->address, bytes, entry->prefix_length)) {
            return true;
        }
    }
    return false;
}
