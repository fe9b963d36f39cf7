#include "netdiag/allowlist.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "netdiag/parse.h"

/* "PORT" or "LOW-HIGH", each 1-65535. */
static bool parse_ports(const char *text, struct nd_allowlist_entry *out)
{
    char low_text[8];
    const char *dash = strchr(text, '-');
    size_t low_length = dash ? (size_t)(dash - text) : strlen(text);
    if (low_length == 0 || low_length >= sizeof low_text)
        return false;
    memcpy(low_text, text, low_length);
    low_text[low_length] = '\0';
    uint64_t low, high;
    if (nd_parse_decimal(low_text, 65535, &low) != ND_OK || low == 0)
        return false;
    high = low;
    if (dash && (nd_parse_decimal(dash + 1, 65535, &high) != ND_OK || high < low))
        return false;
    out->port_low = (uint16_t)low;
    out->port_high = (uint16_t)high;
    return true;
}

/* Splits "[v6/len]:ports", "v4/len:ports" or "name:ports" into the entry's
 * address part (in text) and its ports; a bare IPv6 entry has no port. */
static enum nd_err split_ports(const char *entry, char *text, size_t size,
                               struct nd_allowlist_entry *out, struct nd_error *error)
{
    const char *ports = NULL;
    size_t length = strlen(entry);
    if (entry[0] == '[') {
        const char *close = strchr(entry, ']');
        if (!close || (close[1] != '\0' && close[1] != ':'))
            return nd_error_set(error, ND_ERR_INVALID,
                                "allow-list entry '%s' is not [IPV6] or [IPV6]:PORTS", entry);
        entry++;
        length = (size_t)(close - entry);
        if (close[1] == ':')
            ports = close + 2;
    } else {
        const char *colon = strchr(entry, ':');
        if (colon && !strchr(colon + 1, ':')) {
            length = (size_t)(colon - entry);
            ports = colon + 1;
        }
    }
    if (length == 0 || length >= size)
        return nd_error_set(error, ND_ERR_INVALID, "allow-list entry '%.40s' is empty or too long",
                            entry);
    memcpy(text, entry, length);
    text[length] = '\0';
    out->port_low = 0;
    out->port_high = 65535;
    if (ports && !parse_ports(ports, out))
        return nd_error_set(error, ND_ERR_INVALID,
                            "allow-list entry '%s': ports must be PORT or LOW-HIGH, 1-65535",
                            entry);
    return ND_OK;
}

static enum nd_err parse_entry(const char *entry, struct nd_allowlist_entry *out,
                               struct nd_error *error)
{
    char text[ND_ALLOWLIST_NAME_MAX];
    memset(out, 0, sizeof *out);
    enum nd_err err = split_ports(entry, text, sizeof text, out, error);
    if (err != ND_OK)
        return err;
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
    out->nothing = false;
    if (!text || text[0] == '\0')
        return ND_OK;
    if (strcmp(text, "off") == 0) {
        out->nothing = true;
        return ND_OK;
    }
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

static const uint8_t *address_bytes(const struct sockaddr *address)
{
    if (address && address->sa_family == AF_INET)
        return (const uint8_t *)&((const struct sockaddr_in *)address)->sin_addr;
    if (address && address->sa_family == AF_INET6)
        return (const uint8_t *)&((const struct sockaddr_in6 *)address)->sin6_addr;
    return NULL;
}

static bool network_contains(const struct nd_allowlist_entry *entry, const struct sockaddr *address)
{
    const uint8_t *bytes = address_bytes(address);
    return entry->is_network && bytes && entry->family == address->sa_family &&
           prefix_matches(entry->address, bytes, entry->prefix_length);
}

static bool allows_port(const struct nd_allowlist_entry *entry, uint16_t port)
{
    return port == 0 || (port >= entry->port_low && port <= entry->port_high);
}

bool nd_allowlist_permits(const struct nd_allowlist *list, const char *host,
                          const struct sockaddr *address, uint16_t port)
{
    if (list->nothing)
        return false;
    if (list->count == 0)
        return true;
    for (size_t i = 0; i < list->count; i++) {
        const struct nd_allowlist_entry *entry = &list->entries[i];
        bool named = !entry->is_network && host && strcasecmp(entry->name, host) == 0;
        if ((named || network_contains(entry, address)) && allows_port(entry, port))
            return true;
    }
    return false;
}

/* The prefix length of the sensitive block that holds bytes (of family),
 * or -1 when none does. */
static int sensitive_block(int family, const uint8_t *bytes)
{
    static const uint8_t alibaba_metadata[4] = {100, 100, 100, 200};
    static const uint8_t aws_metadata_v6[16] = {0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54};
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    if (family == AF_INET) {
        if (bytes[0] == 169 && bytes[1] == 254)
            return 16;
        return memcmp(bytes, alibaba_metadata, 4) == 0 ? 32 : -1;
    }
    if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80)
        return 10;
    if (memcmp(bytes, aws_metadata_v6, 16) == 0)
        return 128;
    /* An IPv4-mapped address reaches the IPv4 host. */
    if (memcmp(bytes, mapped, 12) == 0) {
        int block = sensitive_block(AF_INET, bytes + 12);
        return block < 0 ? -1 : 96 + block;
    }
    return -1;
}

bool nd_allowlist_sensitive(const struct sockaddr *address)
{
    const uint8_t *bytes = address_bytes(address);
    return bytes && sensitive_block(address->sa_family, bytes) >= 0;
}

bool nd_allowlist_permits_destination(const struct nd_allowlist *list, const char *host,
                                      const struct sockaddr *address, uint16_t port)
{
    const uint8_t *bytes = address_bytes(address);
    int block = bytes ? sensitive_block(address->sa_family, bytes) : -1;
    if (block < 0 || list->nothing)
        return nd_allowlist_permits(list, host, address, port);
    /* Named means a network no wider than the sensitive block itself:
     * 0.0.0.0/0 lets the world through, not the metadata service. */
    for (size_t i = 0; i < list->count; i++) {
        const struct nd_allowlist_entry *entry = &list->entries[i];
        if (network_contains(entry, address) && (int)entry->prefix_length >= block &&
            allows_port(entry, port))
            return true;
    }
    return false;
}
