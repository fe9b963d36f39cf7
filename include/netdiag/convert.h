/*
 * Recipe 3: converting IP addresses between text, packed bytes, hex and
 * integers, plus what kind of address it is. IPv4 and IPv6 alike.
 */
#ifndef NETDIAG_CONVERT_H
#define NETDIAG_CONVERT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netdiag/error.h"

enum {
    /* Longest input text accepted; the longest address inet_pton takes is 45
     * characters (INET6_ADDRSTRLEN - 1), the rest is slack for error messages. */
    ND_CONVERT_TEXT_MAX = 64,
    ND_CONVERT_PACKED_MAX = 16,
    ND_CONVERT_HEX_SIZE = 2 * ND_CONVERT_PACKED_MAX + 1,
    /* 2^128 - 1 has 39 decimal digits. */
    ND_CONVERT_DECIMAL_SIZE = 40,
    /* 32 nibbles, each with its dot, then "ip6.arpa" (RFC 3596 section 2.5). */
    ND_CONVERT_REVERSE_POINTER_SIZE = 74,
    ND_CONVERT_REASON_SIZE = 256,
};

/* Kinds of address, as bit numbers in nd_convert_address.properties. Each one
 * is a prefix test, so more than one can hold (255.255.255.255 is broadcast
 * and inside the reserved 240.0.0.0/4). */
enum nd_convert_property {
    ND_CONVERT_UNSPECIFIED,   /* 0.0.0.0, :: */
    ND_CONVERT_LOOPBACK,      /* 127.0.0.0/8, ::1 */
    ND_CONVERT_PRIVATE,       /* RFC 1918; IPv6 unique local fc00::/7 (RFC 4193) */
    ND_CONVERT_LINK_LOCAL,    /* 169.254.0.0/16, fe80::/10 */
    ND_CONVERT_MULTICAST,     /* 224.0.0.0/4, ff00::/8 */
    ND_CONVERT_BROADCAST,     /* 255.255.255.255 */
    ND_CONVERT_DOCUMENTATION, /* RFC 5737 TEST-NET-1/2/3, 2001:db8::/32 (RFC 3849) */
    ND_CONVERT_SHARED,        /* 100.64.0.0/10, carrier-grade NAT (RFC 6598) */
    ND_CONVERT_RESERVED,      /* 240.0.0.0/4 */
    ND_CONVERT_IPV4_MAPPED,   /* ::ffff:0:0/96 */
    /* Any other block of the IANA special-purpose registries (198.18.0.0/15
     * benchmarking, 100::/64 discard-only...); the block is in special. */
    ND_CONVERT_SPECIAL_PURPOSE,
    /* Globally reachable: in no special-purpose block, or in one the
     * registry marks globally reachable (192.0.0.9, 64:ff9b::/96...), and
     * not multicast or link-local. */
    ND_CONVERT_GLOBAL,
    ND_CONVERT_PROPERTY_COUNT
};

/* What the registry says of "Globally Reachable". */
enum nd_convert_reachability {
    ND_CONVERT_REACHABLE_NO,
    ND_CONVERT_REACHABLE_YES,
    ND_CONVERT_REACHABLE_NOT_APPLICABLE, /* "N/A": deprecated blocks, 6to4, Teredo */
};

/* One row of the IANA IPv4 or IPv6 Special-Purpose Address Registry
 * (RFC 6890 and its updates, as the registries stood in 2025). */
struct nd_convert_special_block {
    int family;
    uint8_t prefix[ND_CONVERT_PACKED_MAX];
    unsigned prefix_length; /* bits */
    const char *block;      /* "198.18.0.0/15" */
    const char *name;       /* the registry's name for it */
    const char *reference;  /* "RFC 2544" */
    enum nd_convert_reachability globally_reachable;
};

/* Every row of both registries, and how many. */
extern const struct nd_convert_special_block nd_convert_special_blocks[];
extern const size_t nd_convert_special_block_count;

/* Stable lower-case name of a property ("link_local"); NULL when property is
 * not below ND_CONVERT_PROPERTY_COUNT. */
const char *nd_convert_property_name(enum nd_convert_property property);

struct nd_convert_address {
    int family;                                            /* AF_INET or AF_INET6 */
    uint8_t packed[ND_CONVERT_PACKED_MAX];                 /* network byte order */
    size_t packed_length;                                  /* 4 or 16 */
    char text[INET6_ADDRSTRLEN];                           /* canonical form from inet_ntop */
    char packed_hex[ND_CONVERT_HEX_SIZE];                  /* lower case, no prefix: "7f000001" */
    uint32_t ipv4_integer;                                 /* host-order value; 0 for IPv6 */
    char integer[ND_CONVERT_DECIMAL_SIZE];                 /* the value in decimal, either family */
    char reverse_pointer[ND_CONVERT_REVERSE_POINTER_SIZE]; /* "1.0.0.127.in-addr.arpa" */
    unsigned properties; /* bit (1u << ND_CONVERT_x) set for each property that holds */
    /* The most specific special-purpose block the address is in, or NULL. */
    const struct nd_convert_special_block *special;
};

/* True when the address has the property. */
bool nd_convert_has_property(const struct nd_convert_address *address,
                             enum nd_convert_property property);

/* Strict text parse with inet_pton: text containing ':' is read as IPv6, all
 * other text as dotted-quad IPv4 (no short forms, no octal, no hex).
 * ND_ERR_INVALID for NULL, empty, longer than ND_CONVERT_TEXT_MAX, or not an
 * address. out is fully written on ND_OK and left untouched otherwise. */
enum nd_err nd_convert_text(const char *text, struct nd_convert_address *out,
                            struct nd_error *error);

/* Packed hex to address, with an optional 0x/0X prefix, either case.
 * family: AF_UNSPEC infers it from the digit count (8 -> IPv4, 32 -> IPv6),
 * AF_INET needs exactly 8 digits, AF_INET6 exactly 32.
 * ND_ERR_INVALID for a non-hex character, a wrong digit count, an unsupported
 * family, or text longer than ND_CONVERT_TEXT_MAX. */
enum nd_err nd_convert_hex(const char *hex, int family, struct nd_convert_address *out,
                           struct nd_error *error);

/* Decimal integer (up to 128 bits, leading zeros allowed) to address.
 * family: AF_UNSPEC means IPv4 unless the value exceeds 0xFFFFFFFF.
 * ND_ERR_INVALID for anything but decimal digits, an unsupported family or
 * text longer than ND_CONVERT_TEXT_MAX; ND_ERR_RANGE above 0xFFFFFFFF for
 * AF_INET or above 2^128 - 1. */
enum nd_err nd_convert_integer(const char *decimal, int family, struct nd_convert_address *out,
                               struct nd_error *error);

/* How the historical inet_aton reads a text, compared with inet_pton. */
struct nd_convert_legacy {
    bool accepted;        /* inet_aton accepts the text */
    bool strict_accepted; /* inet_pton(AF_INET) accepts the text */
    /* inet_aton accepts the text and inet_pton rejects it (or, in principle,
     * reads another address) */
    bool differs;
    char address[INET_ADDRSTRLEN]; /* what inet_aton yields; "" when not accepted */
    /* Why they differ, e.g. "inet_aton reads '010' as octal (8)"; "" when they
     * do not. */
    char reason[ND_CONVERT_REASON_SIZE];
};

/* Works on any text, including text inet_pton rejects (that is the point);
 * text containing ':' is simply not accepted by inet_aton. When both accept,
 * they agree, because inet_pton's dotted quad is a subset of inet_aton's forms.
 * ND_ERR_INVALID for NULL or text longer than ND_CONVERT_TEXT_MAX; out is
 * fully written on ND_OK. */
enum nd_err nd_convert_legacy_ipv4(const char *text, struct nd_convert_legacy *out,
                                   struct nd_error *error);

#endif
