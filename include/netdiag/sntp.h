/*
 * A Simple Network Time Protocol client (RFC 4330, with the packet format and
 * on-wire rules of NTPv4, RFC 5905), written against the socket API with no
 * NTP library. The work is split so an event loop can drive it: pure codec,
 * validation and arithmetic functions, thin socket helpers around one
 * non-blocking connected UDP socket, and nd_sntp_query, a blocking wrapper
 * built from those pieces for tools and tests.
 *
 * Nothing here allocates; every result lands in a caller-owned struct or buffer.
 */
#ifndef NETDIAG_SNTP_H
#define NETDIAG_SNTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "netdiag/error.h"

enum {
    /* The IANA port for NTP, used as a number so no services lookup is involved. */
    ND_SNTP_PORT = 123,
    /* The fixed NTP header; extension fields and a MAC may follow it. */
    ND_SNTP_PACKET_SIZE = 48,
    /* Receive buffer size: the header plus room for extension fields we ignore. */
    ND_SNTP_DATAGRAM_MAX = 1024,
    /* "2026-11-25T10:00:00.123Z" needs 25 bytes; years past 9999 need more. */
    ND_SNTP_ISO8601_SIZE = 32,
    /* Reference id text: "255.255.255.255", "0x0123abcd" or up to four ASCII characters. */
    ND_SNTP_REFERENCE_TEXT_SIZE = 16,
    ND_SNTP_CHECK_DETAIL_MAX = 192,
};

/* The NTP 64-bit timestamp: seconds since the start of the era and a binary
 * fraction of a second (units of 2^-32 s, about 233 picoseconds). */
struct nd_sntp_timestamp {
    uint32_t seconds;
    uint32_t fraction;
};

/*
 * Conversions between NTP timestamps and Unix time. A timestamp whose seconds
 * have the most significant bit set is in era 0 (1968-01-20 .. 2036-02-07);
 * one with the bit clear is in era 1, counted from 2036-02-07T06:28:16Z
 * (RFC 4330 section 3), so the mapping covers 1968 .. 2104. Unix times outside
 * that window wrap modulo 2^32 seconds. Nanosecond conversions round to the
 * nearest unit both ways, so a nanosecond value survives a round trip exactly.
 */
int64_t nd_sntp_timestamp_to_unix_ns(struct nd_sntp_timestamp timestamp);
struct nd_sntp_timestamp nd_sntp_timestamp_from_unix_ns(int64_t unix_ns);
struct timespec nd_sntp_timestamp_to_timespec(struct nd_sntp_timestamp timestamp);
struct nd_sntp_timestamp nd_sntp_timestamp_from_timespec(const struct timespec *time);
/* Seconds since the Unix epoch as a double: about a microsecond of precision
 * today, so use it for display, never for offset arithmetic. */
double nd_sntp_timestamp_to_unix_seconds(struct nd_sntp_timestamp timestamp);

/* Big-endian wire form of a timestamp (8 bytes). */
void nd_sntp_timestamp_encode(struct nd_sntp_timestamp timestamp, uint8_t wire[8]);
struct nd_sntp_timestamp nd_sntp_timestamp_decode(const uint8_t wire[8]);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, milliseconds truncated toward the
 * past) into buffer. ND_ERR_RANGE when buffer is too small (ND_SNTP_ISO8601_SIZE
 * is always enough) or the time is outside what gmtime_r can represent. */
enum nd_err nd_sntp_format_iso8601(int64_t unix_ns, char *buffer, size_t size,
                                   struct nd_error *error);

/*
 * Builds a 48-byte client request: LI 0, VN version (3 or 4), mode 3, all other
 * fields zero except the transmit timestamp, which carries a random non-zero
 * 64-bit nonce from getrandom(). A server copies it into the origin timestamp
 * of its reply, so a reply whose origin differs did not answer this request.
 * The real send time (T1) is not in the packet; nd_sntp_send records it.
 * ND_ERR_INVALID for another version, ND_ERR_SYSTEM when getrandom fails.
 */
enum nd_err nd_sntp_build_request(uint8_t packet[ND_SNTP_PACKET_SIZE], unsigned version,
                                  struct nd_sntp_timestamp *nonce, struct nd_error *error);

/* Every header field of a reply, decoded. The const char * members point to
 * static strings (never NULL) and need no freeing. */
struct nd_sntp_reply {
    size_t length;         /* bytes received; those past the header are ignored */
    unsigned leap;         /* leap indicator, 0..3 */
    const char *leap_text; /* e.g. "no warning" */
    unsigned version;      /* 0..7 as sent; nd_sntp_validate accepts 3 and 4 */
    unsigned mode;         /* 0..7; a server's reply is 4 */
    const char *mode_text; /* e.g. "server" */
    unsigned stratum;      /* 0 kiss-o'-death, 1 primary, 2..15 secondary, 16 unsynchronized */
    const char *stratum_text;
    int poll;      /* log2 of the poll interval in seconds */
    int precision; /* log2 of the server clock's precision in seconds */
    double precision_seconds;
    uint32_t root_delay_raw; /* NTP short format, unsigned 16.16 seconds */
    double root_delay_seconds;
    uint32_t root_dispersion_raw;
    double root_dispersion_seconds;
    uint32_t reference_id; /* host byte order */
    /* Stratum 0 and 1: the ASCII code ("RATE", "GPS", "LOCL") with trailing NULs
     * stripped, or "0x..." hex when a byte is not printable. Stratum 2 and up:
     * the upstream server's IPv4 address as text (for an IPv6 upstream, RFC 5905
     * puts the first four bytes of an MD5 hash here, which reads as an address). */
    char reference_text[ND_SNTP_REFERENCE_TEXT_SIZE];
    /* Stratum 0 only (else ""): the kiss code, the same text as reference_text. */
    char kiss_code[ND_SNTP_REFERENCE_TEXT_SIZE];
    /* Stratum 0 only (else ""): RFC 5905 section 7.4's meaning of the code. */
    const char *kiss_meaning;
    struct nd_sntp_timestamp reference; /* when the server's clock was last set */
    struct nd_sntp_timestamp origin;    /* our request's transmit field, echoed */
    struct nd_sntp_timestamp receive;   /* T2: the request arrived at the server */
    struct nd_sntp_timestamp transmit;  /* T3: the reply left the server */
};

/* Decodes a reply. ND_ERR_PROTOCOL ("reply is N bytes, an NTP header is 48")
 * for a datagram shorter than the header, leaving *out zeroed; longer ones are
 * accepted and the bytes past the header ignored. */
enum nd_err nd_sntp_parse_reply(const uint8_t *data, size_t length, struct nd_sntp_reply *out,
                                struct nd_error *error);

/* The checks a reply must pass, in the order they are reported. */
enum nd_sntp_check_id {
    ND_SNTP_CHECK_MODE,                 /* "mode": 4 (server) */
    ND_SNTP_CHECK_VERSION,              /* "version": 3 or 4 */
    ND_SNTP_CHECK_ORIGIN_MATCHES_NONCE, /* "origin_matches_nonce" */
    ND_SNTP_CHECK_TRANSMIT_NONZERO,     /* "transmit_nonzero" */
    ND_SNTP_CHECK_STRATUM,              /* "stratum": 1..15; 0 is a kiss-o'-death */
    ND_SNTP_CHECK_LEAP,                 /* "leap": not 3 (clock not synchronized) */
    ND_SNTP_CHECK_SOURCE_ADDRESS,       /* "source_address": filled by nd_sntp_check_source */
    ND_SNTP_CHECK_COUNT
};

enum nd_sntp_outcome {
    ND_SNTP_NOT_CHECKED = 0,
    ND_SNTP_PASSED,
    ND_SNTP_FAILED,
};

struct nd_sntp_check {
    const char *name; /* nd_sntp_check_name() of its index */
    enum nd_sntp_outcome outcome;
    char detail[ND_SNTP_CHECK_DETAIL_MAX]; /* what was seen, e.g. "mode 5 (broadcast), expected 4
                                              (server)" */
};

/* Indexed by enum nd_sntp_check_id; always ND_SNTP_CHECK_COUNT entries. */
struct nd_sntp_checks {
    struct nd_sntp_check items[ND_SNTP_CHECK_COUNT];
};

/* Stable snake_case name of a check ("origin_matches_nonce"); "unknown" out of range. */
const char *nd_sntp_check_name(enum nd_sntp_check_id id);
/* "not_checked", "passed" or "failed". */
const char *nd_sntp_outcome_name(enum nd_sntp_outcome outcome);

/*
 * Runs every check except source_address (left ND_SNTP_NOT_CHECKED for the
 * socket layer) against the nonce sent in the request, filling checks.
 * ND_OK when none failed; otherwise ND_ERR_PROTOCOL with the first failure's
 * name and detail in error. Reply versions 3 and 4 are accepted whichever
 * version was asked, because servers differ in which they echo.
 */
enum nd_err nd_sntp_validate(const struct nd_sntp_reply *reply,
                             const struct nd_sntp_timestamp *nonce, struct nd_sntp_checks *checks,
                             struct nd_error *error);

/* True when both are AF_INET or AF_INET6 endpoints with the same family,
 * address and port (and scope for IPv6 link-local addresses). */
bool nd_sntp_same_endpoint(const struct sockaddr *first, socklen_t first_length,
                           const struct sockaddr *second, socklen_t second_length);

/* Fills the source_address check: the reply must come from the address and
 * port the request went to. ND_OK or ND_ERR_PROTOCOL (detail in error). */
enum nd_err nd_sntp_check_source(struct nd_sntp_checks *checks, const struct sockaddr *asked,
                                 socklen_t asked_length, const struct sockaddr *answered,
                                 socklen_t answered_length, struct nd_error *error);

/* Clock offset and round-trip delay (RFC 5905 section 8):
 *   offset = ((T2 - T1) + (T3 - T4)) / 2,   delay = (T4 - T1) - (T3 - T2).
 * A positive offset means the server's clock is ahead of ours. */
struct nd_sntp_estimate {
    int64_t offset_ns;
    int64_t delay_ns;
    double offset_seconds;
    double delay_seconds;
};

/* T1 and T4 are the client's CLOCK_REALTIME send and receive times, T2 and T3
 * the server's receive and transmit timestamps. The differences are taken in
 * NTP's own modular 64-bit arithmetic, as RFC 5905 section 6 recommends, so
 * they stay correct across the 2036 era boundary as long as the four times lie
 * within 68 years of each other. The delay is not clamped: a slightly negative
 * delay means the server's clock is coarser than the path is short. */
void nd_sntp_estimate(const struct timespec *t1, struct nd_sntp_timestamp t2,
                      struct nd_sntp_timestamp t3, const struct timespec *t4,
                      struct nd_sntp_estimate *out);

/*
 * Socket helpers. nd_sntp_open creates a non-blocking, close-on-exec UDP socket
 * of the server's family and connects it; the caller closes *socket_out.
 * ND_ERR_INVALID for a family other than AF_INET/AF_INET6 or a short length,
 * ND_ERR_SYSTEM (with errno) when socket() or connect() fails.
 */
enum nd_err nd_sntp_open(const struct sockaddr *server, socklen_t server_length, int *socket_out,
                         struct nd_error *error);

/* Reads CLOCK_REALTIME into *send_time (T1) immediately before sending the
 * 48-byte packet on a connected socket. ND_ERR_SYSTEM on failure. */
enum nd_err nd_sntp_send(int socket_fd, const uint8_t packet[ND_SNTP_PACKET_SIZE],
                         struct timespec *send_time, struct nd_error *error);

/*
 * Reads one datagram (up to size bytes; the rest of a longer one is dropped)
 * with recvfrom, recording the sender in *peer and *peer_length and CLOCK_REALTIME
 * right after arrival in *receive_time (T4). When nothing is queued it returns
 * ND_OK with *would_block set and nothing else written. A pending ICMP error
 * comes back as ND_ERR_SYSTEM, e.g. ECONNREFUSED for "port unreachable".
 */
enum nd_err nd_sntp_receive(int socket_fd, uint8_t *buffer, size_t size, size_t *length,
                            struct sockaddr_storage *peer, socklen_t *peer_length,
                            struct timespec *receive_time, bool *would_block,
                            struct nd_error *error);

/* A receive that failed with os_error, as ND_ERR_SYSTEM; ECONNREFUSED is
 * told for what it means on a connected UDP socket. */
enum nd_err nd_sntp_receive_error(int os_error, struct nd_error *error);

/* Everything one query learned, including how it failed. */
struct nd_sntp_result {
    struct nd_sntp_timestamp nonce; /* the transmit field we sent */
    struct timespec send_time;      /* T1, CLOCK_REALTIME */
    /* Datagrams that were not an answer to this request (RFC 5905 section
     * 8: an origin other than our nonce is bogus), dropped while waiting on;
     * the last one's reason, or "". */
    unsigned discarded;
    char discarded_reason[ND_SNTP_CHECK_DETAIL_MAX];
    bool received;                /* a datagram arrived; the fields below are set */
    struct timespec receive_time; /* T4, CLOCK_REALTIME */
    struct sockaddr_storage peer; /* where the datagram came from */
    socklen_t peer_length;
    bool parsed; /* it held a full header: reply and checks are set */
    struct nd_sntp_reply reply;
    struct nd_sntp_checks checks;
    bool valid; /* every check passed: estimate is set */
    struct nd_sntp_estimate estimate;
};

/*
 * What one datagram that reached a query's socket means; the one reply
 * pipeline of the blocking query and of the runtime's. Returns
 *   ND_OK            and *discarded: not an answer to this request (its
 *                    origin is not our nonce, or it came from elsewhere):
 *                    counted in result->discarded, and the query goes on
 *                    waiting, as RFC 5905 section 8 says of bogus packets;
 *   ND_OK            a valid reply: result is complete, estimate set;
 *   ND_ERR_PROTOCOL  the server answered with something unusable (short,
 *                    a kiss-o'-death, unsynchronized, wrong mode...):
 *                    result->reply and checks hold what was seen.
 * receive_time is T4, read when the datagram arrived.
 */
enum nd_err nd_sntp_take_reply(const uint8_t *datagram, size_t length,
                               const struct timespec *receive_time, const struct sockaddr *server,
                               socklen_t server_length, const struct sockaddr *peer,
                               socklen_t peer_length, struct nd_sntp_result *result,
                               bool *discarded, struct nd_error *error);

/*
 * One blocking query: open, send, wait with poll() up to timeout_ms for the
 * first datagram, then parse, validate and estimate. out is always fully
 * written (zeroed first). Returns
 *   ND_OK            a valid reply; out->estimate is set;
 *   ND_ERR_INVALID   version not 3 or 4, or an unusable address;
 *   ND_ERR_RANGE     timeout_ms not positive;
 *   ND_ERR_TIMEOUT   nothing arrived in time;
 *   ND_ERR_PROTOCOL  the reply was short or failed a check (out->reply and
 *                    out->checks are still filled when it was a full header);
 *   ND_ERR_SYSTEM    a system call failed (ECONNREFUSED: nothing listens there).
 */
enum nd_err nd_sntp_query(const struct sockaddr *server, socklen_t server_length, unsigned version,
                          int timeout_ms, struct nd_sntp_result *out, struct nd_error *error);

#endif
