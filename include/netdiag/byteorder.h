/*
 * Recipe 5: host and network byte order. Shows what ntohl/htonl/ntohs/htons
 * do to an integer on this host and which bytes each order puts in memory.
 */
#ifndef NETDIAG_BYTEORDER_H
#define NETDIAG_BYTEORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "netdiag/error.h"

enum nd_byteorder_endianness {
    ND_BYTEORDER_LITTLE,
    ND_BYTEORDER_BIG,
};

/* The byte order of this host, detected at run time from how a 16-bit
 * integer is laid out in memory. */
enum nd_byteorder_endianness nd_byteorder_host(void);

/* "little" or "big"; never NULL ("unknown" for a value outside the enum). */
const char *nd_byteorder_name(enum nd_byteorder_endianness endianness);

/* The 32-bit ("long") conversions of a value. */
struct nd_byteorder_32 {
    uint32_t value;
    uint32_t network_to_host; /* ntohl(value) */
    uint32_t host_to_network; /* htonl(value) */
    uint8_t host_bytes[4];    /* value as this host stores it, lowest address first */
    uint8_t network_bytes[4]; /* value in network (big-endian) order */
};

/* The 16-bit ("short") conversions of a value. */
struct nd_byteorder_16 {
    uint16_t value;
    uint16_t network_to_host; /* ntohs(value) */
    uint16_t host_to_network; /* htons(value) */
    uint8_t host_bytes[2];
    uint8_t network_bytes[2];
};

struct nd_byteorder_result {
    enum nd_byteorder_endianness host;
    bool has_32; /* false only when width 16 was asked for */
    struct nd_byteorder_32 bits_32;
    bool has_16; /* width 16, or width 0 (auto) and the value fits 16 bits */
    struct nd_byteorder_16 bits_16;
};

/* Converts value with the real ntohl/htonl/ntohs/htons.
 * width: 0 = auto (32-bit section always, 16-bit section too when value <= 0xFFFF,
 *        as the recipe prints both for 1234), 16 = only the 16-bit section,
 *        32 = only the 32-bit section.
 * Errors: ND_ERR_INVALID when width is not 0, 16 or 32; ND_ERR_RANGE when value
 * does not fit the width (above 0xFFFFFFFF, or above 0xFFFF with width 16).
 * out is fully written on ND_OK and left untouched otherwise. */
enum nd_err nd_byteorder_convert(uint64_t value, unsigned width, struct nd_byteorder_result *out,
                                 struct nd_error *error);

#endif
