#include "netdiag/byteorder.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

enum nd_byteorder_endianness nd_byteorder_host(void)
{
    /* Looking at memory rather than trusting __BYTE_ORDER__ keeps the answer
     * true to the machine the binary actually runs on. */
    const uint16_t probe = 0x0102;
    uint8_t first_byte;
    memcpy(&first_byte, &probe, 1);
    return first_byte == 0x01 ? ND_BYTEORDER_BIG : ND_BYTEORDER_LITTLE;
}

const char *nd_byteorder_name(enum nd_byteorder_endianness endianness)
{
    switch (endianness) {
    case ND_BYTEORDER_LITTLE:
        return "little";
    case ND_BYTEORDER_BIG:
        return "big";
    }
    return "unknown";
}

static void convert_32(uint32_t value, struct nd_byteorder_32 *out)
{
    out->value = value;
    out->network_to_host = ntohl(value);
    out->host_to_network = htonl(value);
    memcpy(out->host_bytes, &value, sizeof out->host_bytes);
    memcpy(out->network_bytes, &out->host_to_network, sizeof out->network_bytes);
}

static void convert_16(uint16_t value, struct nd_byteorder_16 *out)
{
    out->value = value;
    out->network_to_host = ntohs(value);
    out->host_to_network = htons(value);
    memcpy(out->host_bytes, &value, sizeof out->host_bytes);
    memcpy(out->network_bytes, &out->host_to_network, sizeof out->network_bytes);
}

enum nd_err nd_byteorder_convert(uint64_t value, unsigned width, struct nd_byteorder_result *out,
                                 struct nd_error *error)
{
    if (width != 0 && width != 16 && width != 32)
        return nd_error_set(error, ND_ERR_INVALID, "width %u is not supported (use 16 or 32)",
                            width);
    if (value > UINT32_MAX)
        return nd_error_set(error, ND_ERR_RANGE,
                            "value %" PRIu64 " does not fit in 32 bits (max 0xFFFFFFFF)", value);
    if (width == 16 && value > UINT16_MAX)
        return nd_error_set(error, ND_ERR_RANGE,
                            "value %" PRIu64 " does not fit in 16 bits (max 0xFFFF)", value);

    struct nd_byteorder_result result;
    memset(&result, 0, sizeof result);
    result.host = nd_byteorder_host();
    result.has_32 = width != 16;
    if (result.has_32)
        convert_32((uint32_t)value, &result.bits_32);
    result.has_16 = width == 16 || (width == 0 && value <= UINT16_MAX);
    if (result.has_16)
        convert_16((uint16_t)value, &result.bits_16);
    *out = result;
    return ND_OK;
}
