/*
 * Strict parsing of the numbers and switches netdiag accepts from outside.
 * Stricter than strtoul on purpose: no sign, no leading or trailing space,
 * no octal, no silent wrap-around, so "-1" or "12abc" is an error, not a value.
 */
#ifndef NETDIAG_PARSE_H
#define NETDIAG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netdiag/error.h"

/* Decimal digits only, without a leading zero ("0" itself aside: "08" and
 * "018755" are errors, as they are no integers in JSON or OpenAPI and read
 * as octal elsewhere). ND_ERR_INVALID for anything else, ND_ERR_RANGE above
 * max. */
enum nd_err nd_parse_decimal(const char *text, uint64_t max, uint64_t *out);

/* Decimal as nd_parse_decimal, or hexadecimal with a 0x/0X prefix and at
 * most 16 digits (zeros in front allowed). Errors as nd_parse_decimal. */
enum nd_err nd_parse_number(const char *text, uint64_t max, uint64_t *out);

/* One hexadecimal digit's value (either case), or -1 for any other character. */
int nd_parse_hex_digit(char c);

/* Hexadecimal digits only, no prefix, into up to 64 bits. */
enum nd_err nd_parse_hex(const char *text, uint64_t max, uint64_t *out);

/* Bytes written as pairs of hex digits ("48656c6c6f", either case, nothing
 * else) into out; *length says how many. ND_ERR_INVALID for an odd count or
 * another character, ND_ERR_RANGE past capacity bytes. */
enum nd_err nd_parse_hex_bytes(const char *text, uint8_t *out, size_t capacity, size_t *length);

/* Seconds as "100", "0.5" or "2.25" (no sign, no exponent, no leading zero
 * before the point, at most six decimals) into microseconds; ND_ERR_RANGE
 * above max_seconds. */
enum nd_err nd_parse_seconds(const char *text, uint64_t max_seconds, uint64_t *microseconds);

/* "0"/"1"/"true"/"false"/"yes"/"no"/"on"/"off" (lower case). */
enum nd_err nd_parse_bool(const char *text, bool *out);

#endif
