#include "netdiag/parse.h"

#include <stdbool.h>
#include <string.h>

int nd_parse_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static enum nd_err parse_digits(const char *text, unsigned base, uint64_t max, uint64_t *out)
{
    if (!text || text[0] == '\0')
        return ND_ERR_INVALID;
    uint64_t value = 0;
    bool overflow = false;
    for (const char *p = text; *p; p++) {
        int digit = nd_parse_hex_digit(*p);
        if (digit < 0 || (unsigned)digit >= base)
            return ND_ERR_INVALID;
        /* Keep scanning after an overflow so "99999999999999999999x" is
         * reported as malformed rather than as out of range. */
        if (value > (UINT64_MAX - (uint64_t)digit) / base)
            overflow = true;
        else
            value = value * base + (uint64_t)digit;
    }
    if (overflow || value > max)
        return ND_ERR_RANGE;
    *out = value;
    return ND_OK;
}

/* "0", or a first digit other than 0: a leading zero reads as octal to
 * strtoul and inet_aton, and is no JSON or OpenAPI integer either. */
static bool no_leading_zero(const char *text)
{
    return !text || text[0] != '0' || text[1] == '\0';
}

enum nd_err nd_parse_decimal(const char *text, uint64_t max, uint64_t *out)
{
    if (!no_leading_zero(text))
        return ND_ERR_INVALID;
    return parse_digits(text, 10, max, out);
}

enum nd_err nd_parse_hex(const char *text, uint64_t max, uint64_t *out)
{
    return parse_digits(text, 16, max, out);
}

enum nd_err nd_parse_hex_bytes(const char *text, uint8_t *out, size_t capacity, size_t *length)
{
    size_t digits = text ? strlen(text) : 0;
    *length = 0;
    if (!text || digits % 2 != 0)
        return ND_ERR_INVALID;
    if (digits / 2 > capacity)
        return ND_ERR_RANGE;
    for (size_t i = 0; i < digits; i += 2) {
        int high = nd_parse_hex_digit(text[i]), low = nd_parse_hex_digit(text[i + 1]);
        if (high < 0 || low < 0)
            return ND_ERR_INVALID;
        out[i / 2] = (uint8_t)(high << 4 | low);
    }
    *length = digits / 2;
    return ND_OK;
}

enum nd_err nd_parse_number(const char *text, uint64_t max, uint64_t *out)
{
    /* Hex digits may be padded with zeros ("0x000004d2"), up to 64 bits. */
    if (text && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        return strlen(text + 2) > 16 ? ND_ERR_INVALID : parse_digits(text + 2, 16, max, out);
    return nd_parse_decimal(text, max, out);
}

enum nd_err nd_parse_seconds(const char *text, uint64_t max_seconds, uint64_t *microseconds)
{
    if (!text)
        return ND_ERR_INVALID;
    const char *dot = strchr(text, '.');
    char whole[24];
    size_t whole_length = dot ? (size_t)(dot - text) : strlen(text);
    if (whole_length == 0 || whole_length >= sizeof whole)
        return whole_length == 0 ? ND_ERR_INVALID : ND_ERR_RANGE;
    memcpy(whole, text, whole_length);
    whole[whole_length] = '\0';
    uint64_t seconds;
    enum nd_err err = nd_parse_decimal(whole, UINT64_MAX, &seconds);
    if (err != ND_OK)
        return err;
    uint64_t fraction = 0;
    if (dot) {
        const char *digits = dot + 1;
        size_t count = strlen(digits);
        if (count == 0 || count > 6)
            return ND_ERR_INVALID;
        err = parse_digits(digits, 10, 999999, &fraction);
        if (err != ND_OK)
            return ND_ERR_INVALID;
        for (size_t i = count; i < 6; i++)
            fraction *= 10;
    }
    if (seconds > max_seconds || (seconds == max_seconds && fraction > 0))
        return ND_ERR_RANGE;
    *microseconds = seconds * 1000000u + fraction;
    return ND_OK;
}

enum nd_err nd_parse_bool(const char *text, bool *out)
{
    static const char *const truthy[] = {"1", "true", "yes", "on"};
    static const char *const falsy[] = {"0", "false", "no", "off"};
    if (!text)
        return ND_ERR_INVALID;
    for (size_t i = 0; i < sizeof truthy / sizeof truthy[0]; i++) {
        if (strcmp(text, truthy[i]) == 0) {
            *out = true;
            return ND_OK;
        }
        if (strcmp(text, falsy[i]) == 0) {
            *out = false;
            return ND_OK;
        }
    }
    return ND_ERR_INVALID;
}
