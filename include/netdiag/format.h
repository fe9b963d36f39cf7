/*
 * Numbers and bytes as text without the trip through snprintf: the access
 * log, every JSON answer and every address text write them per request, and
 * snprintf's format parsing costs more than the digits themselves.
 */
#ifndef NETDIAG_FORMAT_H
#define NETDIAG_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Digits in the longest decimal (UINT64_MAX); add one for a NUL. */
enum { ND_FORMAT_DECIMAL_MAX = 20 };

/* value in decimal, without leading zeros ("0" for zero), into out: at most
 * ND_FORMAT_DECIMAL_MAX characters and no NUL. Returns how many. */
size_t nd_format_decimal(uint64_t value, char *out);

/* count bytes as 2 * count lower-case hex digits, then a NUL, into out. */
void nd_format_hex(const uint8_t *bytes, size_t count, char *out);

/* Length of the valid UTF-8 sequence that starts text (1 for ASCII, NUL
 * included), or 0 when it is not one (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Reads no further than the first byte
 * that breaks the sequence, so a NUL-terminated text is never overrun. */
size_t nd_format_utf8_length(const unsigned char *text);

#endif
