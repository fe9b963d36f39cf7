/* The SNTP reply parser and validator (src/core/sntp.c): any datagram. */
#include "fuzz.h"
#include "netdiag/sntp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nd_sntp_reply reply;
    struct nd_error error;
    if (nd_sntp_parse_reply(data, size, &reply, &error) != ND_OK) {
        if (size >= ND_SNTP_PACKET_SIZE)
            abort(); /* a full header always parses */
        return 0;
    }
    struct nd_sntp_timestamp nonce = {.seconds = 0xe8000000u, .fraction = 12345};
    struct nd_sntp_checks checks;
    nd_sntp_validate(&reply, &nonce, &checks, &error);
    struct timespec t1 = {.tv_sec = 1764000000, .tv_nsec = 1000};
    struct timespec t4 = {.tv_sec = 1764000000, .tv_nsec = 900000000};
    struct nd_sntp_estimate estimate;
    nd_sntp_estimate(&t1, reply.receive, reply.transmit, &t4, &estimate);
    char text[ND_SNTP_ISO8601_SIZE];
    nd_sntp_format_iso8601(nd_sntp_timestamp_to_unix_ns(reply.transmit), text, sizeof text, &error);
    nd_sntp_format_iso8601(nd_sntp_timestamp_to_unix_ns(reply.reference), text, sizeof text,
                           &error);
    return 0;
}
