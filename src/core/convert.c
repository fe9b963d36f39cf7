#include "netdiag/convert.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netdiag/net.h"
#include "netdiag/format.h"
#include "netdiag/parse.h"

static const char *const property_names[ND_CONVERT_PROPERTY_COUNT] = {
    [ND_CONVERT_UNSPECIFIED] = "unspecified",
    [ND_CONVERT_LOOPBACK] = "loopback",
    [ND_CONVERT_PRIVATE] = "private",
    [ND_CONVERT_LINK_LOCAL] = "link_local",
    [ND_CONVERT_MULTICAST] = "multicast",
    [ND_CONVERT_BROADCAST] = "broadcast",
    [ND_CONVERT_DOCUMENTATION] = "documentation",
    [ND_CONVERT_SHARED] = "shared",
    [ND_CONVERT_RESERVED] = "reserved",
    [ND_CONVERT_IPV4_MAPPED] = "ipv4_mapped",
    [ND_CONVERT_SPECIAL_PURPOSE] = "special_purpose",
    [ND_CONVERT_GLOBAL] = "global",
};

const char *nd_convert_property_name(enum nd_convert_property property)
{
    if ((unsigned)property >= ND_CONVERT_PROPERTY_COUNT)
        return NULL;
    return property_names[property];
}

bool nd_convert_has_property(const struct nd_convert_address *address,
                             enum nd_convert_property property)
{
    if ((unsigned)property >= ND_CONVERT_PROPERTY_COUNT)
        return false;
    return (address->properties & (1u << property)) != 0;
}

struct special_prefix {
    int family;
    uint8_t bytes[ND_CONVERT_PACKED_MAX];
    unsigned length; /* in bits */
    enum nd_convert_property property;
};

/* The kinds of address the properties name, each a prefix. */
static const struct special_prefix special_prefixes[] = {
    {AF_INET, {0, 0, 0, 0}, 32, ND_CONVERT_UNSPECIFIED},
    {AF_INET, {127}, 8, ND_CONVERT_LOOPBACK},
    {AF_INET, {10}, 8, ND_CONVERT_PRIVATE},
    {AF_INET, {172, 16}, 12, ND_CONVERT_PRIVATE},
    {AF_INET, {192, 168}, 16, ND_CONVERT_PRIVATE},
    {AF_INET, {169, 254}, 16, ND_CONVERT_LINK_LOCAL},
    {AF_INET, {224}, 4, ND_CONVERT_MULTICAST},
    {AF_INET, {255, 255, 255, 255}, 32, ND_CONVERT_BROADCAST},
    {AF_INET, {192, 0, 2}, 24, ND_CONVERT_DOCUMENTATION},
    {AF_INET, {198, 51, 100}, 24, ND_CONVERT_DOCUMENTATION},
    {AF_INET, {203, 0, 113}, 24, ND_CONVERT_DOCUMENTATION},
    {AF_INET, {100, 64}, 10, ND_CONVERT_SHARED},
    {AF_INET, {240}, 4, ND_CONVERT_RESERVED},
    {AF_INET6, {0}, 128, ND_CONVERT_UNSPECIFIED},
    {AF_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, ND_CONVERT_LOOPBACK},
    {AF_INET6, {0xfc}, 7, ND_CONVERT_PRIVATE},
    {AF_INET6, {0xfe, 0x80}, 10, ND_CONVERT_LINK_LOCAL},
    {AF_INET6, {0xff}, 8, ND_CONVERT_MULTICAST},
    {AF_INET6, {0x20, 0x01, 0x0d, 0xb8}, 32, ND_CONVERT_DOCUMENTATION},
    {AF_INET6, {0x3f, 0xff}, 20, ND_CONVERT_DOCUMENTATION},
    {AF_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, ND_CONVERT_IPV4_MAPPED},
};

/* The IANA IPv4 and IPv6 Special-Purpose Address Registries, every row,
 * with their "Globally Reachable" column. A more specific row overrides the
 * one around it (192.0.0.9/32 inside 192.0.0.0/24); an "N/A" row leaves the
 * decision to the one around it, or to "not global" when there is none. */
const struct nd_convert_special_block nd_convert_special_blocks[] = {
    {AF_INET, {0}, 8, "0.0.0.0/8", "\"This network\"", "RFC 791", ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {0},
     32,
     "0.0.0.0/32",
     "\"This host on this network\"",
     "RFC 1122",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET, {10}, 8, "10.0.0.0/8", "Private-Use", "RFC 1918", ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {100, 64},
     10,
     "100.64.0.0/10",
     "Shared Address Space",
     "RFC 6598",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET, {127}, 8, "127.0.0.0/8", "Loopback", "RFC 1122", ND_CONVERT_REACHABLE_NO},
    {AF_INET, {169, 254}, 16, "169.254.0.0/16", "Link Local", "RFC 3927", ND_CONVERT_REACHABLE_NO},
    {AF_INET, {172, 16}, 12, "172.16.0.0/12", "Private-Use", "RFC 1918", ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {192, 0, 0},
     24,
     "192.0.0.0/24",
     "IETF Protocol Assignments",
     "RFC 6890",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {192, 0, 0, 0},
     29,
     "192.0.0.0/29",
     "IPv4 Service Continuity Prefix",
     "RFC 7335",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {192, 0, 0, 8},
     32,
     "192.0.0.8/32",
     "IPv4 dummy address",
     "RFC 7600",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {192, 0, 0, 9},
     32,
     "192.0.0.9/32",
     "Port Control Protocol Anycast",
     "RFC 7723",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET,
     {192, 0, 0, 10},
     32,
     "192.0.0.10/32",
     "Traversal Using Relays around NAT Anycast",
     "RFC 8155",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET,
     {192, 0, 0, 170},
     32,
     "192.0.0.170/32",
     "NAT64/DNS64 Discovery",
     "RFC 8880",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {192, 0, 0, 171},
     32,
     "192.0.0.171/32",
     "NAT64/DNS64 Discovery",
     "RFC 8880",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {192, 0, 2},
     24,
     "192.0.2.0/24",
     "Documentation (TEST-NET-1)",
     "RFC 5737",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {192, 31, 196},
     24,
     "192.31.196.0/24",
     "AS112-v4",
     "RFC 7535",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET, {192, 52, 193}, 24, "192.52.193.0/24", "AMT", "RFC 7450", ND_CONVERT_REACHABLE_YES},
    {AF_INET,
     {192, 88, 99},
     24,
     "192.88.99.0/24",
     "Deprecated (6to4 Relay Anycast)",
     "RFC 7526",
     ND_CONVERT_REACHABLE_NOT_APPLICABLE},
    {AF_INET, {192, 168}, 16, "192.168.0.0/16", "Private-Use", "RFC 1918", ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {192, 175, 48},
     24,
     "192.175.48.0/24",
     "Direct Delegation AS112 Service",
     "RFC 7534",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET, {198, 18}, 15, "198.18.0.0/15", "Benchmarking", "RFC 2544", ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {198, 51, 100},
     24,
     "198.51.100.0/24",
     "Documentation (TEST-NET-2)",
     "RFC 5737",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {203, 0, 113},
     24,
     "203.0.113.0/24",
     "Documentation (TEST-NET-3)",
     "RFC 5737",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET, {240}, 4, "240.0.0.0/4", "Reserved", "RFC 1112", ND_CONVERT_REACHABLE_NO},
    {AF_INET,
     {255, 255, 255, 255},
     32,
     "255.255.255.255/32",
     "Limited Broadcast",
     "RFC 919",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET6,
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
     128,
     "::1/128",
     "Loopback Address",
     "RFC 4291",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET6, {0}, 128, "::/128", "Unspecified Address", "RFC 4291", ND_CONVERT_REACHABLE_NO},
    {AF_INET6,
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff},
     96,
     "::ffff:0:0/96",
     "IPv4-mapped Address",
     "RFC 4291",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET6,
     {0, 0x64, 0xff, 0x9b},
     96,
     "64:ff9b::/96",
     "IPv4-IPv6 Translat.",
     "RFC 6052",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET6,
     {0, 0x64, 0xff, 0x9b, 0, 1},
     48,
     "64:ff9b:1::/48",
     "IPv4-IPv6 Translat.",
     "RFC 8215",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET6,
     {1},
     64,
     "100::/64",
     "Discard-Only Address Block",
     "RFC 6666",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET6,
     {1, 0, 0, 0, 0, 0, 0, 1},
     64,
     "100:0:0:1::/64",
     "Dummy IPv6 Prefix",
     "RFC 9780",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET6,
     {0x20, 0x01},
     23,
     "2001::/23",
     "IETF Protocol Assignments",
     "RFC 2928",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET6,
     {0x20, 0x01},
     32,
     "2001::/32",
     "TEREDO",
     "RFC 4380",
     ND_CONVERT_REACHABLE_NOT_APPLICABLE},
    {AF_INET6,
     {0x20, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
     128,
     "2001:1::1/128",
     "Port Control Protocol Anycast",
     "RFC 7723",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET6,
     {0x20, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},
     128,
     "2001:1::2/128",
     "Traversal Using Relays around NAT Anycast",
     "RFC 8155",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET6,
     {0x20, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3},
     128,
     "2001:1::3/128",
     "DNS-SD Service Registration Protocol Anycast",
     "RFC 9665",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET6,
     {0x20, 0x01, 0, 2},
     48,
     "2001:2::/48",
     "Benchmarking",
     "RFC 5180",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET6, {0x20, 0x01, 0, 3}, 32, "2001:3::/32", "AMT", "RFC 7450", ND_CONVERT_REACHABLE_YES},
    {AF_INET6,
     {0x20, 0x01, 0, 4, 1, 0x12},
     48,
     "2001:4:112::/48",
     "AS112-v6",
     "RFC 7535",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET6,
     {0x20, 0x01, 0, 0x10},
     28,
     "2001:10::/28",
     "Deprecated (previously ORCHID)",
     "RFC 4843",
     ND_CONVERT_REACHABLE_NOT_APPLICABLE},
    {AF_INET6,
     {0x20, 0x01, 0, 0x20},
     28,
     "2001:20::/28",
     "ORCHIDv2",
     "RFC 7343",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET6,
     {0x20, 0x01, 0, 0x30},
     28,
     "2001:30::/28",
     "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
     "RFC 9374",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET6,
     {0x20, 0x01, 0x0d, 0xb8},
     32,
     "2001:db8::/32",
     "Documentation",
     "RFC 3849",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET6,
     {0x20, 0x02},
     16,
     "2002::/16",
     "6to4",
     "RFC 3056",
     ND_CONVERT_REACHABLE_NOT_APPLICABLE},
    {AF_INET6,
     {0x26, 0x20, 0, 0x4f, 0x80},
     48,
     "2620:4f:8000::/48",
     "Direct Delegation AS112 Service",
     "RFC 7534",
     ND_CONVERT_REACHABLE_YES},
    {AF_INET6, {0x3f, 0xff}, 20, "3fff::/20", "Documentation", "RFC 9637", ND_CONVERT_REACHABLE_NO},
    {AF_INET6,
     {0x5f},
     16,
     "5f00::/16",
     "Segment Routing (SRv6) SIDs",
     "RFC 9602",
     ND_CONVERT_REACHABLE_NO},
    {AF_INET6, {0xfc}, 7, "fc00::/7", "Unique-Local", "RFC 4193", ND_CONVERT_REACHABLE_NO},
    {AF_INET6,
     {0xfe, 0x80},
     10,
     "fe80::/10",
     "Link-Local Unicast",
     "RFC 4291",
     ND_CONVERT_REACHABLE_NO},
};

const size_t nd_convert_special_block_count =
    sizeof nd_convert_special_blocks / sizeof nd_convert_special_blocks[0];

static bool prefix_matches(const uint8_t *packed, const uint8_t *prefix, unsigned length)
{
    unsigned whole_bytes = length / 8;
    unsigned rest_bits = length % 8;
    if (memcmp(packed, prefix, whole_bytes) != 0)
        return false;
    if (rest_bits == 0)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest_bits));
    return (packed[whole_bytes] & mask) == (prefix[whole_bytes] & mask);
}

/* Sets address->special to the most specific registry row holding it, and
 * returns whether the registry makes it globally reachable: the most
 * specific row that says yes or no decides; an address in no row is. */
static bool registry_lookup(struct nd_convert_address *address)
{
    unsigned special_length = 0, deciding_length = 0;
    bool reachable = true;
    bool listed = false;
    for (size_t i = 0; i < nd_convert_special_block_count; i++) {
        const struct nd_convert_special_block *row = &nd_convert_special_blocks[i];
        if (row->family != address->family ||
            !prefix_matches(address->packed, row->prefix, row->prefix_length))
            continue;
        if (!address->special || row->prefix_length >= special_length) {
            address->special = row;
            special_length = row->prefix_length;
        }
        listed = true;
        if (row->globally_reachable != ND_CONVERT_REACHABLE_NOT_APPLICABLE &&
            row->prefix_length >= deciding_length) {
            deciding_length = row->prefix_length;
            reachable = row->globally_reachable == ND_CONVERT_REACHABLE_YES;
        }
    }
    /* Only "N/A" rows (6to4, a deprecated block): nothing says reachable. */
    if (listed && deciding_length == 0)
        reachable = false;
    return reachable;
}

static void classify(struct nd_convert_address *address)
{
    unsigned properties = 0;
    for (size_t i = 0; i < sizeof special_prefixes / sizeof special_prefixes[0]; i++) {
        const struct special_prefix *prefix = &special_prefixes[i];
        if (prefix->family == address->family &&
            prefix_matches(address->packed, prefix->bytes, prefix->length))
            properties |= 1u << prefix->property;
    }
    bool reachable = registry_lookup(address);
    if (properties == 0 && address->special && !reachable)
        properties = 1u << ND_CONVERT_SPECIAL_PURPOSE;
    if (properties == 0 && reachable)
        properties = 1u << ND_CONVERT_GLOBAL;
    address->properties = properties;
}

/* Schoolbook long division by 10 over the big-endian bytes, so a 128-bit
 * value needs no compiler-specific integer type. */
static void format_decimal(const uint8_t *packed, size_t length, char *out)
{
    uint8_t work[ND_CONVERT_PACKED_MAX];
    char reversed[ND_CONVERT_DECIMAL_SIZE];
    size_t digits = 0;
    bool nonzero;
    memcpy(work, packed, length);
    do {
        unsigned remainder = 0;
        nonzero = false;
        for (size_t i = 0; i < length; i++) {
            unsigned current = remainder * 256 + work[i];
            work[i] = (uint8_t)(current / 10);
            remainder = current % 10;
            if (work[i] != 0)
                nonzero = true;
        }
        reversed[digits++] = (char)('0' + remainder);
    } while (nonzero);
    for (size_t i = 0; i < digits; i++)
        out[i] = reversed[digits - 1 - i];
    out[digits] = '\0';
}

/* RFC 1035 section 3.5 (in-addr.arpa) and RFC 3596 section 2.5 (ip6.arpa):
 * the least significant octet or nibble comes first. */
static void format_reverse_pointer(int family, const uint8_t *packed,
                                   char out[ND_CONVERT_REVERSE_POINTER_SIZE])
{
    static const char ipv4_suffix[] = ".in-addr.arpa", ipv6_suffix[] = "ip6.arpa";
    _Static_assert(ND_CONVERT_REVERSE_POINTER_SIZE >= INET_ADDRSTRLEN - 1 + sizeof ipv4_suffix &&
                       ND_CONVERT_REVERSE_POINTER_SIZE >=
                           4 * ND_CONVERT_PACKED_MAX + sizeof ipv6_suffix,
                   "the longest reverse pointer fits");
    if (family == AF_INET) {
        const uint8_t reversed[4] = {packed[3], packed[2], packed[1], packed[0]};
        char *end = nd_net_format_ipv4(reversed, out);
        memcpy(end, ipv4_suffix, sizeof ipv4_suffix);
        return;
    }
    char *p = out;
    for (size_t i = ND_CONVERT_PACKED_MAX; i-- > 0;) {
        char pair[3];
        nd_format_hex(&packed[i], 1, pair);
        *p++ = pair[1];
        *p++ = '.';
        *p++ = pair[0];
        *p++ = '.';
    }
    memcpy(p, ipv6_suffix, sizeof ipv6_suffix);
}

/* Fills every field of out from the packed bytes; out is written only on
 * success so a failed call leaves the caller's struct as it was. */
static enum nd_err describe(int family, const uint8_t *packed, struct nd_convert_address *out,
                            struct nd_error *error)
{
    struct nd_convert_address address;
    memset(&address, 0, sizeof address);
    address.family = family;
    address.packed_length = family == AF_INET ? 4 : 16;
    memcpy(address.packed, packed, address.packed_length);
    if (family == AF_INET)
        *nd_net_format_ipv4(packed, address.text) = '\0';
    else if (!inet_ntop(family, address.packed, address.text, sizeof address.text))
        return nd_error_set_errno(error, errno, "inet_ntop");
    nd_format_hex(address.packed, address.packed_length, address.packed_hex);
    if (family == AF_INET)
        address.ipv4_integer = (uint32_t)packed[0] << 24 | (uint32_t)packed[1] << 16 |
                               (uint32_t)packed[2] << 8 | packed[3];
    format_decimal(address.packed, address.packed_length, address.integer);
    format_reverse_pointer(family, address.packed, address.reverse_pointer);
    classify(&address);
    *out = address;
    return ND_OK;
}

/* Checked before any message quotes the input, so messages stay short. */
static enum nd_err check_length(const char *text, const char *what, struct nd_error *error)
{
    if (!text || text[0] == '\0')
        return nd_error_set(error, ND_ERR_INVALID, "the %s is empty", what);
    if (strnlen(text, ND_CONVERT_TEXT_MAX + 1) > ND_CONVERT_TEXT_MAX)
        return nd_error_set(error, ND_ERR_INVALID, "the %s is longer than %d characters", what,
                            ND_CONVERT_TEXT_MAX);
    return ND_OK;
}

enum nd_err nd_convert_text(const char *text, struct nd_convert_address *out,
                            struct nd_error *error)
{
    enum nd_err status = check_length(text, "address", error);
    if (status != ND_OK)
        return status;
    /* inet_pton has no "any family": a colon can only appear in IPv6 text. */
    int family = strchr(text, ':') ? AF_INET6 : AF_INET;
    uint8_t packed[ND_CONVERT_PACKED_MAX];
    int result = inet_pton(family, text, packed);
    if (result < 0)
        return nd_error_set_errno(error, errno, "inet_pton");
    if (result == 0)
        return nd_error_set(error, ND_ERR_INVALID,
                            "'%s' is not a valid IPv4 or IPv6 address (inet_pton)", text);
    return describe(family, packed, out, error);
}

static enum nd_err check_family(int family, struct nd_error *error)
{
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
        return nd_error_set(error, ND_ERR_INVALID,
                            "address family %d is not supported (use IPv4 or IPv6)", family);
    return ND_OK;
}

static void store_big_endian(uint64_t value, uint8_t *out, size_t length)
{
    for (size_t i = length; i-- > 0;) {
        out[i] = (uint8_t)value;
        value >>= 8;
    }
}

enum nd_err nd_convert_hex(const char *hex, int family, struct nd_convert_address *out,
                           struct nd_error *error)
{
    enum nd_err status = check_length(hex, "hex address", error);
    if (status != ND_OK)
        return status;
    status = check_family(family, error);
    if (status != ND_OK)
        return status;
    const char *digits = hex;
    if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
        digits += 2;
    size_t count = strlen(digits);
    if (count == 0 || strspn(digits, "0123456789abcdefABCDEF") != count)
        return nd_error_set(error, ND_ERR_INVALID, "'%s' is not a hexadecimal number", hex);
    if (family == AF_UNSPEC) {
        if (count != 8 && count != 32)
            return nd_error_set(error, ND_ERR_INVALID,
                                "'%s' has %zu hex digits; expected 8 (IPv4) or 32 (IPv6)", hex,
                                count);
        family = count == 8 ? AF_INET : AF_INET6;
    }
    size_t expected = family == AF_INET ? 8 : 32;
    if (count != expected)
        return nd_error_set(error, ND_ERR_INVALID, "'%s' has %zu hex digits; %s needs exactly %zu",
                            hex, count, family == AF_INET ? "IPv4" : "IPv6", expected);

    /* nd_parse_hex stops at 64 bits, so IPv6 is read as two halves. */
    uint8_t packed[ND_CONVERT_PACKED_MAX];
    uint64_t value;
    if (family == AF_INET) {
        if (nd_parse_hex(digits, UINT32_MAX, &value) != ND_OK)
            return nd_error_set(error, ND_ERR_INVALID, "'%s' is not a hexadecimal number", hex);
        store_big_endian(value, packed, 4);
    } else {
        char high_half[17];
        memcpy(high_half, digits, 16);
        high_half[16] = '\0';
        if (nd_parse_hex(high_half, UINT64_MAX, &value) != ND_OK)
            return nd_error_set(error, ND_ERR_INVALID, "'%s' is not a hexadecimal number", hex);
        store_big_endian(value, packed, 8);
        if (nd_parse_hex(digits + 16, UINT64_MAX, &value) != ND_OK)
            return nd_error_set(error, ND_ERR_INVALID, "'%s' is not a hexadecimal number", hex);
        store_big_endian(value, packed + 8, 8);
    }
    return describe(family, packed, out, error);
}

/* Multiply-and-add over 16 big-endian bytes; false when the value no longer
 * fits 128 bits. The digits have been checked already. */
static bool parse_decimal_128(const char *digits, uint8_t *packed)
{
    memset(packed, 0, ND_CONVERT_PACKED_MAX);
    for (const char *p = digits; *p; p++) {
        unsigned carry = (unsigned)(*p - '0');
        for (size_t i = ND_CONVERT_PACKED_MAX; i-- > 0;) {
            unsigned current = packed[i] * 10u + carry;
            packed[i] = (uint8_t)current;
            carry = current >> 8;
        }
        if (carry != 0)
            return false;
    }
    return true;
}

enum nd_err nd_convert_integer(const char *decimal, int family, struct nd_convert_address *out,
                               struct nd_error *error)
{
    enum nd_err status = check_length(decimal, "integer address", error);
    if (status != ND_OK)
        return status;
    status = check_family(family, error);
    if (status != ND_OK)
        return status;
    if (strspn(decimal, "0123456789") != strlen(decimal))
        return nd_error_set(error, ND_ERR_INVALID, "'%s' is not a decimal integer", decimal);
    uint8_t packed[ND_CONVERT_PACKED_MAX];
    if (!parse_decimal_128(decimal, packed))
        return nd_error_set(error, ND_ERR_RANGE, "%s exceeds 2^128-1, the largest IPv6 address",
                            decimal);
    static const uint8_t zeros[ND_CONVERT_PACKED_MAX - 4];
    bool fits_ipv4 = memcmp(packed, zeros, sizeof zeros) == 0;
    if (family == AF_UNSPEC)
        family = fits_ipv4 ? AF_INET : AF_INET6;
    if (family == AF_INET6)
        return describe(AF_INET6, packed, out, error);
    if (!fits_ipv4)
        return nd_error_set(error, ND_ERR_RANGE,
                            "%s exceeds 4294967295 (0xFFFFFFFF), the largest IPv4 address",
                            decimal);
    return describe(AF_INET, packed + sizeof zeros, out, error);
}

static void append_reason(char *reason, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void append_reason(char *reason, size_t size, const char *format, ...)
{
    size_t used = strlen(reason);
    if (used > 0 && used + 2 < size) {
        memcpy(reason + used, "; ", 3);
        used += 2;
    }
    va_list args;
    va_start(args, format);
    vsnprintf(reason + used, size - used, format, args);
    va_end(args);
}

/* Names each way in which glibc's inet_aton (inet_addr.c) is looser than
 * inet_pton: numbers-and-dots stops at the first whitespace, a part with a
 * leading 0x is hexadecimal and one with a leading 0 is octal (the strtoul
 * convention), and fewer than four parts let the last one fill the remaining
 * bytes (4.2BSD's class A/B forms). */
static void explain_legacy(const char *text, const struct nd_convert_legacy *legacy, char *reason,
                           size_t size)
{
    size_t numeric_length = 0;
    while (text[numeric_length] && !isspace((unsigned char)text[numeric_length]))
        numeric_length++;
    unsigned parts = 0;
    for (size_t start = 0; start <= numeric_length;) {
        size_t end = start;
        while (end < numeric_length && text[end] != '.')
            end++;
        char part[ND_CONVERT_TEXT_MAX + 1];
        memcpy(part, text + start, end - start);
        part[end - start] = '\0';
        parts++;
        bool is_hex = part[0] == '0' && (part[1] == 'x' || part[1] == 'X');
        bool is_octal = !is_hex && part[0] == '0' && part[1] != '\0';
        if (is_hex || is_octal)
            append_reason(reason, size, "inet_aton reads '%s' as %s (%lu)", part,
                          is_hex ? "hexadecimal" : "octal", strtoul(part, NULL, 0));
        start = end + 1;
    }
    if (parts < 4)
        append_reason(reason, size, "inet_aton accepts short forms: '%.*s' = %s",
                      (int)numeric_length, text, legacy->address);
    if (text[numeric_length] != '\0')
        append_reason(reason, size, "inet_aton stops at the first whitespace and ignores the rest");
    if (reason[0] == '\0')
        append_reason(reason, size, "inet_aton accepts '%s' as %s but inet_pton does not", text,
                      legacy->address);
}

enum nd_err nd_convert_legacy_ipv4(const char *text, struct nd_convert_legacy *out,
                                   struct nd_error *error)
{
    if (!text)
        return nd_error_set(error, ND_ERR_INVALID, "the address is missing");
    if (strnlen(text, ND_CONVERT_TEXT_MAX + 1) > ND_CONVERT_TEXT_MAX)
        return nd_error_set(error, ND_ERR_INVALID, "the address is longer than %d characters",
                            ND_CONVERT_TEXT_MAX);
    struct nd_convert_legacy legacy;
    memset(&legacy, 0, sizeof legacy);
    struct in_addr strict;
    int result = inet_pton(AF_INET, text, &strict);
    if (result < 0)
        return nd_error_set_errno(error, errno, "inet_pton");
    legacy.strict_accepted = result == 1;
    struct in_addr loose;
    legacy.accepted = inet_aton(text, &loose) != 0;
    if (legacy.accepted) {
        const uint8_t *octets = (const uint8_t *)&loose.s_addr;
        *nd_net_format_ipv4(octets, legacy.address) = '\0';
        legacy.differs = !legacy.strict_accepted || strict.s_addr != loose.s_addr;
        if (legacy.differs)
            explain_legacy(text, &legacy, legacy.reason, sizeof legacy.reason);
    }
    *out = legacy;
    return ND_OK;
}
