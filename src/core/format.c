#include "netdiag/format.h"

#include <string.h>

size_t nd_format_decimal(uint64_t value, char *out)
{
    /* The digits come out last first: write them from the end, then copy. */
    char digits[ND_FORMAT_DECIMAL_MAX];
    size_t at = sizeof digits;
    do {
        digits[--at] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    size_t count = sizeof digits - at;
    memcpy(out, digits + at, count);
    return count;
}

void nd_format_hex(const uint8_t *bytes, size_t count, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < count; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0F];
    }
    out[2 * count] = '\0';
}
