#include "netdiag/sntp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "netdiag/clock.h"

/* NTP era 0 starts 1900-01-01T00:00:00Z; the Unix epoch is 70 years (17 of
 * them leap years) later. */
static const int64_t ntp_to_unix_seconds = 2208988800;
static const int64_t era_seconds = INT64_C(1) << 32;
static const int64_t nanoseconds_per_second = 1000000000;

enum {
    OFFSET_FLAGS = 0,
    OFFSET_STRATUM = 1,
    OFFSET_POLL = 2,
    OFFSET_PRECISION = 3,
    OFFSET_ROOT_DELAY = 4,
    OFFSET_ROOT_DISPERSION = 8,
    OFFSET_REFERENCE_ID = 12,
    OFFSET_REFERENCE = 16,
    OFFSET_ORIGIN = 24,
    OFFSET_RECEIVE = 32,
    OFFSET_TRANSMIT = 40,
    CLIENT_MODE = 3,
    SERVER_MODE = 4,
    BROADCAST_MODE = 5,
    UNSYNCHRONIZED_LEAP = 3,
    UNSYNCHRONIZED_STRATUM = 16,
    ENDPOINT_TEXT_SIZE = 72,
};

/* Rounds to the nearest nanosecond; the result can be 1000000000. */
static int64_t fraction_to_ns(uint32_t fraction)
{
    return (int64_t)(((uint64_t)fraction * 1000000000u + (UINT64_C(1) << 31)) >> 32);
}

/* ns must be in [0, 1e9); rounding never reaches 2^32 in that range. */
static uint32_t ns_to_fraction(int64_t ns)
{
    return (uint32_t)((((uint64_t)ns << 32) + 500000000u) / 1000000000u);
}

int64_t nd_sntp_timestamp_to_unix_ns(struct nd_sntp_timestamp timestamp)
{
    int64_t seconds = timestamp.seconds;
    /* RFC 4330 section 3: with the top bit clear the time is past
     * 2036-02-07T06:28:16Z, counted from the start of era 1. */
    if (!(timestamp.seconds & UINT32_C(0x80000000)))
        seconds += era_seconds;
    return (seconds - ntp_to_unix_seconds) * nanoseconds_per_second +
           fraction_to_ns(timestamp.fraction);
}

struct nd_sntp_timestamp nd_sntp_timestamp_from_unix_ns(int64_t unix_ns)
{
    int64_t seconds = unix_ns / nanoseconds_per_second;
    int64_t remainder = unix_ns % nanoseconds_per_second;
    if (remainder < 0) {
        remainder += nanoseconds_per_second;
        seconds -= 1;
    }
    /* The wire keeps only the seconds within the era (modulo 2^32). */
    uint64_t ntp_seconds = (uint64_t)(seconds + ntp_to_unix_seconds);
    struct nd_sntp_timestamp timestamp = {(uint32_t)ntp_seconds, ns_to_fraction(remainder)};
    return timestamp;
}

struct timespec nd_sntp_timestamp_to_timespec(struct nd_sntp_timestamp timestamp)
{
    int64_t unix_ns = nd_sntp_timestamp_to_unix_ns(timestamp);
    int64_t seconds = unix_ns / nanoseconds_per_second;
    int64_t remainder = unix_ns % nanoseconds_per_second;
    if (remainder < 0) {
        remainder += nanoseconds_per_second;
        seconds -= 1;
    }
    struct timespec time = {.tv_sec = (time_t)seconds, .tv_nsec = (long)remainder};
    return time;
}

struct nd_sntp_timestamp nd_sntp_timestamp_from_timespec(const struct timespec *time)
{
    int64_t seconds = time->tv_sec + time->tv_nsec / nanoseconds_per_second;
    int64_t nanoseconds = time->tv_nsec % nanoseconds_per_second;
    if (nanoseconds < 0) {
        nanoseconds += nanoseconds_per_second;
        seconds -= 1;
    }
    /* Unsigned arithmetic: any tv_sec wraps into the era instead of overflowing. */
    uint64_t ntp_seconds = (uint64_t)seconds + (uint64_t)ntp_to_unix_seconds;
    struct nd_sntp_timestamp timestamp = {(uint32_t)ntp_seconds, ns_to_fraction(nanoseconds)};
    return timestamp;
}

double nd_sntp_timestamp_to_unix_seconds(struct nd_sntp_timestamp timestamp)
{
    int64_t unix_ns = nd_sntp_timestamp_to_unix_ns(timestamp);
    return (double)(unix_ns / nanoseconds_per_second) +
           (double)(unix_ns % nanoseconds_per_second) / 1e9;
}

static uint32_t read_u32(const uint8_t *wire)
{
    return (uint32_t)wire[0] << 24 | (uint32_t)wire[1] << 16 | (uint32_t)wire[2] << 8 |
           (uint32_t)wire[3];
}

static void write_u32(uint32_t value, uint8_t *wire)
{
    wire[0] = (uint8_t)(value >> 24);
    wire[1] = (uint8_t)(value >> 16);
    wire[2] = (uint8_t)(value >> 8);
    wire[3] = (uint8_t)value;
}

void nd_sntp_timestamp_encode(struct nd_sntp_timestamp timestamp, uint8_t wire[8])
{
    write_u32(timestamp.seconds, wire);
    write_u32(timestamp.fraction, wire + 4);
}

struct nd_sntp_timestamp nd_sntp_timestamp_decode(const uint8_t wire[8])
{
    struct nd_sntp_timestamp timestamp = {read_u32(wire), read_u32(wire + 4)};
    return timestamp;
}

enum nd_err nd_sntp_format_iso8601(int64_t unix_ns, char *buffer, size_t size,
                                   struct nd_error *error)
{
    int64_t seconds = unix_ns / nanoseconds_per_second;
    int64_t remainder = unix_ns % nanoseconds_per_second;
    if (remainder < 0) {
        remainder += nanoseconds_per_second;
        seconds -= 1;
    }
    if (buffer && size > 0)
        buffer[0] = '\0';
    time_t unix_seconds = (time_t)seconds;
    struct tm calendar;
    if (!gmtime_r(&unix_seconds, &calendar))
        return nd_error_set(error, ND_ERR_RANGE, "time %lld s is outside the calendar range",
                            (long long)seconds);
    char text[ND_SNTP_ISO8601_SIZE];
    int length =
        snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", calendar.tm_year + 1900,
                 calendar.tm_mon + 1, calendar.tm_mday, calendar.tm_hour, calendar.tm_min,
                 calendar.tm_sec, (int)(remainder / 1000000));
    if (length < 0 || (size_t)length >= sizeof text)
        return nd_error_set(error, ND_ERR_RANGE, "time %lld s has no ISO 8601 text",
                            (long long)seconds);
    if (!buffer || (size_t)length >= size)
        return nd_error_set(error, ND_ERR_RANGE,
                            "buffer of %zu bytes is too small for a %d-character time", size,
                            length);
    memcpy(buffer, text, (size_t)length + 1);
    return ND_OK;
}

static enum nd_err fill_random(uint8_t *bytes, size_t count, struct nd_error *error)
{
    size_t filled = 0;
    while (filled < count) {
        ssize_t got = getrandom(bytes + filled, count - filled, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return nd_error_set_errno(error, errno, "getrandom");
        }
        filled += (size_t)got;
    }
    return ND_OK;
}

enum nd_err nd_sntp_build_request(uint8_t packet[ND_SNTP_PACKET_SIZE], unsigned version,
                                  struct nd_sntp_timestamp *nonce, struct nd_error *error)
{
    if (version != 3 && version != 4)
        return nd_error_set(error, ND_ERR_INVALID, "NTP version %u is not supported; use 3 or 4",
                            version);
    /* RFC 5905 section 15 / RFC 4330 section 5: an unpredictable transmit
     * timestamp, echoed back as the origin, lets us reject replies forged by
     * anyone who did not see the request. Zero would read as "no origin", so
     * draw again in the 2^-64 case that it comes up. */
    uint8_t random[8];
    do {
        enum nd_err code = fill_random(random, sizeof random, error);
        if (code != ND_OK)
            return code;
    } while (read_u32(random) == 0 && read_u32(random + 4) == 0);

    memset(packet, 0, ND_SNTP_PACKET_SIZE);
    packet[OFFSET_FLAGS] = (uint8_t)(version << 3 | CLIENT_MODE);
    memcpy(packet + OFFSET_TRANSMIT, random, sizeof random);
    *nonce = nd_sntp_timestamp_decode(random);
    return ND_OK;
}

static const char *leap_text(unsigned leap)
{
    static const char *const texts[] = {
        "no warning",
        "last minute has 61 seconds",
        "last minute has 59 seconds",
        "alarm condition (clock not synchronized)",
    };
    return leap < 4 ? texts[leap] : "invalid";
}

static const char *mode_text(unsigned mode)
{
    static const char *const texts[] = {
        "reserved", "symmetric active", "symmetric passive",   "client",
        "server",   "broadcast",        "NTP control message", "reserved for private use",
    };
    return mode < 8 ? texts[mode] : "invalid";
}

static const char *stratum_text(unsigned stratum)
{
    if (stratum == 0)
        return "unspecified or invalid (kiss-o'-death)";
    if (stratum == 1)
        return "primary server";
    if (stratum < UNSYNCHRONIZED_STRATUM)
        return "secondary server";
    if (stratum == UNSYNCHRONIZED_STRATUM)
        return "unsynchronized";
    return "reserved";
}

struct kiss {
    const char *code;
    const char *meaning;
};

/* RFC 5905 section 7.4, figure 12. */
static const struct kiss kiss_table[] = {
    {"ACST", "the association belongs to a unicast server"},
    {"AUTH", "server authentication failed"},
    {"AUTO", "autokey sequence failed"},
    {"BCST", "the association belongs to a broadcast server"},
    {"CRYP", "cryptographic authentication or identification failed"},
    {"DENY", "access denied by remote server"},
    {"DROP", "lost peer in symmetric mode"},
    {"RSTR", "access denied due to local policy"},
    {"INIT", "the association has not yet synchronized for the first time"},
    {"MCST", "the association belongs to a dynamically discovered server"},
    {"NKEY", "no key found; either the key was never installed or is not trusted"},
    {"RATE", "rate exceeded; the server has temporarily denied access because the client "
             "exceeded the rate threshold"},
    {"RMOT", "alteration of association from a remote host running ntpdc"},
    {"STEP", "a step change in system time has occurred, but the association has not yet "
             "resynchronized"},
};

static const char *kiss_meaning(const char *code)
{
    for (size_t i = 0; i < sizeof kiss_table / sizeof kiss_table[0]; i++) {
        if (strcmp(kiss_table[i].code, code) == 0)
            return kiss_table[i].meaning;
    }
    return "unknown kiss code";
}

/* What RFC 5905 section 7.4 tells a client to do on the codes that demand it. */
static const char *kiss_action(const char *code)
{
    if (strcmp(code, "DENY") == 0 || strcmp(code, "RSTR") == 0)
        return " (stop sending requests to this server)";
    if (strcmp(code, "RATE") == 0)
        return " (poll this server less often)";
    return "";
}

static void format_reference(unsigned stratum, const uint8_t bytes[4], uint32_t id,
                             char text[ND_SNTP_REFERENCE_TEXT_SIZE])
{
    /* RFC 5905 section 7.3: below stratum 2 the field is four ASCII
     * characters, left-justified and zero-padded; from stratum 2 it names the
     * upstream server by its IPv4 address. */
    if (stratum >= 2) {
        if (inet_ntop(AF_INET, bytes, text, ND_SNTP_REFERENCE_TEXT_SIZE))
            return;
    } else {
        size_t length = 4;
        while (length > 0 && bytes[length - 1] == 0)
            length--;
        bool printable = true;
        for (size_t i = 0; i < length; i++) {
            if (bytes[i] < 0x20 || bytes[i] > 0x7e)
                printable = false;
        }
        if (printable) {
            memcpy(text, bytes, length);
            text[length] = '\0';
            return;
        }
    }
    snprintf(text, ND_SNTP_REFERENCE_TEXT_SIZE, "0x%08x", (unsigned)id);
}

static int signed_byte(uint8_t byte)
{
    return byte < 0x80 ? byte : byte - 0x100;
}

/* Exact for every exponent a signed byte can hold, and needs no libm. */
static double power_of_two(int exponent)
{
    double value = 1.0;
    for (int i = 0; i < exponent; i++)
        value *= 2.0;
    for (int i = 0; i > exponent; i--)
        value /= 2.0;
    return value;
}

enum nd_err nd_sntp_parse_reply(const uint8_t *data, size_t length, struct nd_sntp_reply *out,
                                struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    if (!data || length < ND_SNTP_PACKET_SIZE)
        return nd_error_set(error, ND_ERR_PROTOCOL, "reply is %zu bytes, an NTP header is %d",
                            data ? length : 0, ND_SNTP_PACKET_SIZE);
    out->length = length;
    out->leap = data[OFFSET_FLAGS] >> 6;
    out->leap_text = leap_text(out->leap);
    out->version = (data[OFFSET_FLAGS] >> 3) & 0x7;
    out->mode = data[OFFSET_FLAGS] & 0x7;
    out->mode_text = mode_text(out->mode);
    out->stratum = data[OFFSET_STRATUM];
    out->stratum_text = stratum_text(out->stratum);
    out->poll = signed_byte(data[OFFSET_POLL]);
    out->precision = signed_byte(data[OFFSET_PRECISION]);
    out->precision_seconds = power_of_two(out->precision);
    out->root_delay_raw = read_u32(data + OFFSET_ROOT_DELAY);
    out->root_delay_seconds = out->root_delay_raw / 65536.0;
    out->root_dispersion_raw = read_u32(data + OFFSET_ROOT_DISPERSION);
    out->root_dispersion_seconds = out->root_dispersion_raw / 65536.0;
    out->reference_id = read_u32(data + OFFSET_REFERENCE_ID);
    format_reference(out->stratum, data + OFFSET_REFERENCE_ID, out->reference_id,
                     out->reference_text);
    out->kiss_meaning = "";
    if (out->stratum == 0) {
        memcpy(out->kiss_code, out->reference_text, sizeof out->kiss_code);
        out->kiss_meaning = kiss_meaning(out->kiss_code);
    }
    out->reference = nd_sntp_timestamp_decode(data + OFFSET_REFERENCE);
    out->origin = nd_sntp_timestamp_decode(data + OFFSET_ORIGIN);
    out->receive = nd_sntp_timestamp_decode(data + OFFSET_RECEIVE);
    out->transmit = nd_sntp_timestamp_decode(data + OFFSET_TRANSMIT);
    return ND_OK;
}

static const char *const check_names[ND_SNTP_CHECK_COUNT] = {
    [ND_SNTP_CHECK_MODE] = "mode",
    [ND_SNTP_CHECK_VERSION] = "version",
    [ND_SNTP_CHECK_ORIGIN_MATCHES_NONCE] = "origin_matches_nonce",
    [ND_SNTP_CHECK_TRANSMIT_NONZERO] = "transmit_nonzero",
    [ND_SNTP_CHECK_STRATUM] = "stratum",
    [ND_SNTP_CHECK_LEAP] = "leap",
    [ND_SNTP_CHECK_SOURCE_ADDRESS] = "source_address",
};

const char *nd_sntp_check_name(enum nd_sntp_check_id id)
{
    if ((unsigned)id >= ND_SNTP_CHECK_COUNT)
        return "unknown";
    return check_names[id];
}

const char *nd_sntp_outcome_name(enum nd_sntp_outcome outcome)
{
    switch (outcome) {
    case ND_SNTP_NOT_CHECKED:
        return "not_checked";
    case ND_SNTP_PASSED:
        return "passed";
    case ND_SNTP_FAILED:
        return "failed";
    }
    return "unknown";
}

static void record_check(struct nd_sntp_checks *checks, enum nd_sntp_check_id id, bool passed,
                         const char *format, ...) __attribute__((format(printf, 4, 5)));

static void record_check(struct nd_sntp_checks *checks, enum nd_sntp_check_id id, bool passed,
                         const char *format, ...)
{
    struct nd_sntp_check *check = &checks->items[id];
    check->outcome = passed ? ND_SNTP_PASSED : ND_SNTP_FAILED;
    va_list args;
    va_start(args, format);
    vsnprintf(check->detail, sizeof check->detail, format, args);
    va_end(args);
}

static bool same_timestamp(struct nd_sntp_timestamp first, struct nd_sntp_timestamp second)
{
    return first.seconds == second.seconds && first.fraction == second.fraction;
}

static enum nd_err first_failure(const struct nd_sntp_checks *checks, struct nd_error *error)
{
    for (size_t i = 0; i < ND_SNTP_CHECK_COUNT; i++) {
        const struct nd_sntp_check *check = &checks->items[i];
        if (check->outcome == ND_SNTP_FAILED)
            return nd_error_set(error, ND_ERR_PROTOCOL, "reply failed the %s check: %s",
                                check->name, check->detail);
    }
    return ND_OK;
}

enum nd_err nd_sntp_validate(const struct nd_sntp_reply *reply,
                             const struct nd_sntp_timestamp *nonce, struct nd_sntp_checks *checks,
                             struct nd_error *error)
{
    memset(checks, 0, sizeof *checks);
    for (size_t i = 0; i < ND_SNTP_CHECK_COUNT; i++)
        checks->items[i].name = check_names[i];
    snprintf(checks->items[ND_SNTP_CHECK_SOURCE_ADDRESS].detail,
             sizeof checks->items[ND_SNTP_CHECK_SOURCE_ADDRESS].detail,
             "compared by the socket layer");

    /* RFC 4330 section 5: a unicast reply is mode 4. Mode 5 is a broadcast
     * anyone on the segment may send; it answers nobody's request. */
    if (reply->mode == SERVER_MODE)
        record_check(checks, ND_SNTP_CHECK_MODE, true, "mode 4 (server)");
    else if (reply->mode == BROADCAST_MODE)
        record_check(checks, ND_SNTP_CHECK_MODE, false,
                     "mode 5 (broadcast) is not a reply to our request");
    else
        record_check(checks, ND_SNTP_CHECK_MODE, false, "mode %u (%s), expected 4 (server)",
                     reply->mode, reply->mode_text);

    /* Servers answer in the request's version or in their own, so 3 and 4 are
     * both taken; older versions lack the kiss-o'-death and leap semantics. */
    if (reply->version == 3 || reply->version == 4)
        record_check(checks, ND_SNTP_CHECK_VERSION, true, "version %u (3 and 4 are accepted)",
                     reply->version);
    else
        record_check(checks, ND_SNTP_CHECK_VERSION, false, "version %u, expected 3 or 4",
                     reply->version);

    /* RFC 4330 section 5 / RFC 5905 section 8: the origin must echo the
     * transmit field we sent, or this is a stale, duplicated or forged reply. */
    if (same_timestamp(reply->origin, *nonce))
        record_check(checks, ND_SNTP_CHECK_ORIGIN_MATCHES_NONCE, true,
                     "origin 0x%08x.%08x matches the nonce we sent", (unsigned)nonce->seconds,
                     (unsigned)nonce->fraction);
    else if (reply->origin.seconds == 0 && reply->origin.fraction == 0)
        record_check(checks, ND_SNTP_CHECK_ORIGIN_MATCHES_NONCE, false,
                     "origin is zero: the server did not echo our transmit timestamp");
    else
        record_check(checks, ND_SNTP_CHECK_ORIGIN_MATCHES_NONCE, false,
                     "origin 0x%08x.%08x is not the nonce 0x%08x.%08x we sent",
                     (unsigned)reply->origin.seconds, (unsigned)reply->origin.fraction,
                     (unsigned)nonce->seconds, (unsigned)nonce->fraction);

    /* RFC 4330 section 5: a zero transmit timestamp means the server has no
     * time to give. */
    if (reply->transmit.seconds == 0 && reply->transmit.fraction == 0)
        record_check(checks, ND_SNTP_CHECK_TRANSMIT_NONZERO, false, "transmit timestamp is zero");
    else
        record_check(checks, ND_SNTP_CHECK_TRANSMIT_NONZERO, true, "transmit timestamp 0x%08x.%08x",
                     (unsigned)reply->transmit.seconds, (unsigned)reply->transmit.fraction);

    /* RFC 4330 section 8: stratum 0 is a kiss-o'-death carrying a code in the
     * reference id; 16 is an unsynchronized server, above that reserved. */
    if (reply->stratum == 0 && reply->kiss_code[0] != '\0')
        record_check(checks, ND_SNTP_CHECK_STRATUM, false, "kiss-o'-death %s: %s%s",
                     reply->kiss_code, reply->kiss_meaning, kiss_action(reply->kiss_code));
    else if (reply->stratum == 0)
        record_check(checks, ND_SNTP_CHECK_STRATUM, false,
                     "stratum 0 (kiss-o'-death) without a kiss code");
    else if (reply->stratum < UNSYNCHRONIZED_STRATUM)
        record_check(checks, ND_SNTP_CHECK_STRATUM, true, "stratum %u (%s)", reply->stratum,
                     reply->stratum_text);
    else
        record_check(checks, ND_SNTP_CHECK_STRATUM, false, "stratum %u (%s), expected 1 to 15",
                     reply->stratum, reply->stratum_text);

    /* RFC 4330 section 5: leap 3 is the alarm condition; the clock has never
     * been synchronized and its time must not be used. */
    record_check(checks, ND_SNTP_CHECK_LEAP, reply->leap != UNSYNCHRONIZED_LEAP, "leap %u: %s",
                 reply->leap, reply->leap_text);

    return first_failure(checks, error);
}

bool nd_sntp_same_endpoint(const struct sockaddr *first, socklen_t first_length,
                           const struct sockaddr *second, socklen_t second_length)
{
    if (!first || !second || first_length < sizeof(sa_family_t) ||
        second_length < sizeof(sa_family_t) || first->sa_family != second->sa_family)
        return false;
    if (first->sa_family == AF_INET) {
        struct sockaddr_in one;
        struct sockaddr_in two;
        if (first_length < sizeof one || second_length < sizeof two)
            return false;
        /* Copies, because a struct sockaddr * need not be aligned for sockaddr_in. */
        memcpy(&one, first, sizeof one);
        memcpy(&two, second, sizeof two);
        return one.sin_port == two.sin_port && one.sin_addr.s_addr == two.sin_addr.s_addr;
    }
    if (first->sa_family == AF_INET6) {
        struct sockaddr_in6 one;
        struct sockaddr_in6 two;
        if (first_length < sizeof one || second_length < sizeof two)
            return false;
        memcpy(&one, first, sizeof one);
        memcpy(&two, second, sizeof two);
        if (one.sin6_port != two.sin6_port ||
            memcmp(&one.sin6_addr, &two.sin6_addr, sizeof one.sin6_addr) != 0)
            return false;
        /* fe80::1 on one interface is not fe80::1 on another. */
        if (IN6_IS_ADDR_LINKLOCAL(&one.sin6_addr))
            return one.sin6_scope_id == two.sin6_scope_id;
        return true;
    }
    return false;
}

static void format_endpoint(const struct sockaddr *address, socklen_t length, char *text,
                            size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (address && length >= sizeof(struct sockaddr_in) && address->sa_family == AF_INET) {
        struct sockaddr_in ipv4;
        memcpy(&ipv4, address, sizeof ipv4);
        if (inet_ntop(AF_INET, &ipv4.sin_addr, host, sizeof host)) {
            snprintf(text, size, "%s:%u", host, (unsigned)ntohs(ipv4.sin_port));
            return;
        }
    } else if (address && length >= sizeof(struct sockaddr_in6) && address->sa_family == AF_INET6) {
        struct sockaddr_in6 ipv6;
        memcpy(&ipv6, address, sizeof ipv6);
        if (inet_ntop(AF_INET6, &ipv6.sin6_addr, host, sizeof host)) {
            snprintf(text, size, "[%s]:%u", host, (unsigned)ntohs(ipv6.sin6_port));
            return;
        }
    }
    snprintf(text, size, "an address of family %d",
             address && length >= sizeof(sa_family_t) ? address->sa_family : -1);
}

enum nd_err nd_sntp_check_source(struct nd_sntp_checks *checks, const struct sockaddr *asked,
                                 socklen_t asked_length, const struct sockaddr *answered,
                                 socklen_t answered_length, struct nd_error *error)
{
    char asked_text[ENDPOINT_TEXT_SIZE];
    char answered_text[ENDPOINT_TEXT_SIZE];
    format_endpoint(asked, asked_length, asked_text, sizeof asked_text);
    format_endpoint(answered, answered_length, answered_text, sizeof answered_text);
    checks->items[ND_SNTP_CHECK_SOURCE_ADDRESS].name = check_names[ND_SNTP_CHECK_SOURCE_ADDRESS];
    /* RFC 4330 section 5: a reply from anywhere but the address and port we
     * asked is not an answer to us. */
    if (nd_sntp_same_endpoint(asked, asked_length, answered, answered_length)) {
        record_check(checks, ND_SNTP_CHECK_SOURCE_ADDRESS, true,
                     "reply came from %s, where the request went", answered_text);
        return ND_OK;
    }
    record_check(checks, ND_SNTP_CHECK_SOURCE_ADDRESS, false,
                 "reply came from %s, but the request went to %s", answered_text, asked_text);
    return nd_error_set(error, ND_ERR_PROTOCOL, "reply failed the source_address check: %s",
                        checks->items[ND_SNTP_CHECK_SOURCE_ADDRESS].detail);
}

static uint64_t fixed_point(struct nd_sntp_timestamp timestamp)
{
    return (uint64_t)timestamp.seconds << 32 | timestamp.fraction;
}

/* later - earlier in nanoseconds. RFC 5905 section 6: the 64-bit difference
 * of two timestamps, taken modulo 2^64 and read as signed, is right even when
 * they straddle an era boundary, provided they are within 68 years. */
static int64_t difference_ns(uint64_t later, uint64_t earlier)
{
    uint64_t difference = later - earlier;
    bool negative = difference >> 63;
    uint64_t magnitude = negative ? 0 - difference : difference;
    int64_t ns =
        (int64_t)(magnitude >> 32) * nanoseconds_per_second + fraction_to_ns((uint32_t)magnitude);
    return negative ? -ns : ns;
}

void nd_sntp_estimate(const struct timespec *t1, struct nd_sntp_timestamp t2,
                      struct nd_sntp_timestamp t3, const struct timespec *t4,
                      struct nd_sntp_estimate *out)
{
    uint64_t client_send = fixed_point(nd_sntp_timestamp_from_timespec(t1));
    uint64_t server_receive = fixed_point(t2);
    uint64_t server_transmit = fixed_point(t3);
    uint64_t client_receive = fixed_point(nd_sntp_timestamp_from_timespec(t4));
    /* Each difference is at most 2^31 s (about 2.1e18 ns), so the sums below
     * stay inside int64. */
    out->offset_ns = (difference_ns(server_receive, client_send) +
                      difference_ns(server_transmit, client_receive)) /
                     2;
    out->delay_ns =
        difference_ns(client_receive, client_send) - difference_ns(server_transmit, server_receive);
    out->offset_seconds = (double)out->offset_ns / 1e9;
    out->delay_seconds = (double)out->delay_ns / 1e9;
}

enum nd_err nd_sntp_open(const struct sockaddr *server, socklen_t server_length, int *socket_out,
                         struct nd_error *error)
{
    *socket_out = -1;
    bool usable = server && server_length >= sizeof(sa_family_t) &&
                  ((server->sa_family == AF_INET && server_length >= sizeof(struct sockaddr_in)) ||
                   (server->sa_family == AF_INET6 && server_length >= sizeof(struct sockaddr_in6)));
    if (!usable)
        return nd_error_set(error, ND_ERR_INVALID,
                            "server address is not a complete IPv4 or IPv6 "
                            "socket address");
    int socket_fd = socket(server->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (socket_fd < 0)
        return nd_error_set_errno(error, errno, "socket");
    /* connect() on a UDP socket sends nothing. It fixes the peer, so the
     * kernel drops datagrams from any other address or port instead of
     * queueing them for us, and an ICMP port unreachable provoked by our
     * request is reported as ECONNREFUSED on the next receive. */
    if (connect(socket_fd, server, server_length) != 0) {
        int saved = errno;
        close(socket_fd);
        return nd_error_set_errno(error, saved, "connect");
    }
    *socket_out = socket_fd;
    return ND_OK;
}

enum nd_err nd_sntp_send(int socket_fd, const uint8_t packet[ND_SNTP_PACKET_SIZE],
                         struct timespec *send_time, struct nd_error *error)
{
    ssize_t sent;
    do {
        if (clock_gettime(CLOCK_REALTIME, send_time) != 0)
            return nd_error_set_errno(error, errno, "clock_gettime");
        sent = send(socket_fd, packet, ND_SNTP_PACKET_SIZE, 0);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return nd_error_set_errno(error, errno, "send");
    if (sent != ND_SNTP_PACKET_SIZE)
        return nd_error_set(error, ND_ERR_SYSTEM, "send took %zd of %d bytes", sent,
                            ND_SNTP_PACKET_SIZE);
    return ND_OK;
}

enum nd_err nd_sntp_receive_error(int os_error, struct nd_error *error)
{
    nd_error_set_errno(error, os_error, "recvfrom");
    if (os_error == ECONNREFUSED && error)
        snprintf(error->message, sizeof error->message,
                 "recvfrom: connection refused (an ICMP port unreachable came back: no NTP "
                 "server listens there)");
    return ND_ERR_SYSTEM;
}

enum nd_err nd_sntp_receive(int socket_fd, uint8_t *buffer, size_t size, size_t *length,
                            struct sockaddr_storage *peer, socklen_t *peer_length,
                            struct timespec *receive_time, bool *would_block,
                            struct nd_error *error)
{
    *would_block = false;
    ssize_t received;
    do {
        *peer_length = sizeof *peer;
        received = recvfrom(socket_fd, buffer, size, 0, (struct sockaddr *)peer, peer_length);
    } while (received < 0 && errno == EINTR);
    if (received < 0) {
        int saved = errno;
        if (saved == EAGAIN || saved == EWOULDBLOCK) {
            *would_block = true;
            return ND_OK;
        }
        return nd_sntp_receive_error(saved, error);
    }
    if (clock_gettime(CLOCK_REALTIME, receive_time) != 0)
        return nd_error_set_errno(error, errno, "clock_gettime");
    *length = (size_t)received;
    return ND_OK;
}

enum nd_err nd_sntp_take_reply(const uint8_t *datagram, size_t length,
                               const struct timespec *receive_time, const struct sockaddr *server,
                               socklen_t server_length, const struct sockaddr *peer,
                               socklen_t peer_length, struct nd_sntp_result *result,
                               bool *discarded, struct nd_error *error)
{
    *discarded = false;
    struct nd_sntp_reply reply;
    struct nd_sntp_checks checks;
    enum nd_err code = nd_sntp_parse_reply(datagram, length, &reply, error);
    if (code != ND_OK) {
        result->received = true;
        result->receive_time = *receive_time;
        return code;
    }
    enum nd_err validation = nd_sntp_validate(&reply, &result->nonce, &checks, NULL);
    /* The connected socket already filters senders; the datagram's address
     * is a second look. */
    enum nd_err source =
        nd_sntp_check_source(&checks, server, server_length, peer, peer_length, NULL);
    const struct nd_sntp_check *origin = &checks.items[ND_SNTP_CHECK_ORIGIN_MATCHES_NONCE];
    const struct nd_sntp_check *from = &checks.items[ND_SNTP_CHECK_SOURCE_ADDRESS];
    if (origin->outcome == ND_SNTP_FAILED || from->outcome == ND_SNTP_FAILED) {
        /* RFC 5905 section 8: bogus. A stale or forged datagram must not end
         * a query the real reply may still answer. */
        *discarded = true;
        result->discarded++;
        snprintf(result->discarded_reason, sizeof result->discarded_reason, "%s",
                 origin->outcome == ND_SNTP_FAILED ? origin->detail : from->detail);
        return ND_OK;
    }
    result->received = true;
    result->receive_time = *receive_time;
    memcpy(&result->peer, peer,
           peer_length < sizeof result->peer ? peer_length : sizeof result->peer);
    result->peer_length = peer_length;
    result->parsed = true;
    result->reply = reply;
    result->checks = checks;
    if (validation != ND_OK || source != ND_OK)
        return first_failure(&result->checks, error);
    result->valid = true;
    nd_sntp_estimate(&result->send_time, reply.receive, reply.transmit, receive_time,
                     &result->estimate);
    return ND_OK;
}

static enum nd_err exchange(int socket_fd, const struct sockaddr *server, socklen_t server_length,
                            const uint8_t request[ND_SNTP_PACKET_SIZE], int timeout_ms,
                            struct nd_sntp_result *out, struct nd_error *error)
{
    uint64_t start = nd_clock_monotonic_ns();
    enum nd_err code = nd_sntp_send(socket_fd, request, &out->send_time, error);
    if (code != ND_OK)
        return code;
    uint64_t deadline = start + (uint64_t)timeout_ms * 1000000u;
    uint8_t datagram[ND_SNTP_DATAGRAM_MAX];
    for (;;) {
        uint64_t now = nd_clock_monotonic_ns();
        if (now >= deadline) {
            char server_text[ENDPOINT_TEXT_SIZE];
            format_endpoint(server, server_length, server_text, sizeof server_text);
            return nd_error_set(error, ND_ERR_TIMEOUT, "no reply from %s within %d ms", server_text,
                                timeout_ms);
        }
        /* Rounded up, so poll never spins with 0 while time remains. */
        struct pollfd waiting = {.fd = socket_fd, .events = POLLIN};
        int ready = poll(&waiting, 1, (int)((deadline - now + 999999u) / 1000000u));
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            return nd_error_set_errno(error, errno, "poll");
        }
        if (ready == 0)
            continue;
        bool would_block, discarded;
        size_t length = 0;
        struct sockaddr_storage peer;
        socklen_t peer_length;
        struct timespec receive_time;
        code = nd_sntp_receive(socket_fd, datagram, sizeof datagram, &length, &peer, &peer_length,
                               &receive_time, &would_block, error);
        if (code != ND_OK)
            return code;
        if (would_block)
            continue;
        code = nd_sntp_take_reply(datagram, length, &receive_time, server, server_length,
                                  (struct sockaddr *)&peer, peer_length, out, &discarded, error);
        if (code != ND_OK || !discarded)
            return code;
    }
}

enum nd_err nd_sntp_query(const struct sockaddr *server, socklen_t server_length, unsigned version,
                          int timeout_ms, struct nd_sntp_result *out, struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    if (timeout_ms <= 0)
        return nd_error_set(error, ND_ERR_RANGE, "timeout %d ms is not positive", timeout_ms);
    uint8_t request[ND_SNTP_PACKET_SIZE];
    enum nd_err code = nd_sntp_build_request(request, version, &out->nonce, error);
    if (code != ND_OK)
        return code;
    int socket_fd;
    code = nd_sntp_open(server, server_length, &socket_fd, error);
    if (code != ND_OK)
        return code;
    code = exchange(socket_fd, server, server_length, request, timeout_ms, out, error);
    /* Nothing is buffered for sending on a UDP socket, so close cannot lose
     * data and its result would change nothing. */
    (void)close(socket_fd);
    return code;
}
