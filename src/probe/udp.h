/*
 * /connect's UDP probe on the runtime: resolve, check the destination list,
 * then a connected UDP socket to the first address that takes one, and the
 * same datagram sent count times, interval_ms apart, each reply timed.
 * A connected socket matters twice: the kernel hands it only datagrams from
 * that address and port, and it reports an ICMP port unreachable as
 * ECONNREFUSED, the one clear "nothing listens there" UDP has. Silence says
 * much less: the datagram or its reply may have been dropped by a filter,
 * or nothing listens and no ICMP came back (hosts rate-limit and filter it);
 * the probe reports it as no_reply and says so. Everything runs on the loop
 * thread under one deadline; knows nothing of HTTP or JSON.
 */
#ifndef NETDIAG_PROBE_UDP_H
#define NETDIAG_PROBE_UDP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "probe/connect.h"

enum {
    ND_UDP_COUNT_MAX = 10,
    /* The largest datagram: 65,507 bytes over IPv4, 65,527 over IPv6. */
    ND_UDP_DATAGRAM_MAX = 65536,
};

/* The steps: resolve and connect as the TCP probe's (connect() on a UDP
 * socket sends nothing: it picks the route and the source address), then
 * the datagrams and their replies. */
enum nd_udp_phase {
    ND_UDP_RESOLVE,
    ND_UDP_CONNECT,
    ND_UDP_EXCHANGE,
    ND_UDP_PHASE_COUNT,
};

/* How one datagram, or the probe, ended. */
enum nd_udp_outcome {
    ND_UDP_REPLIED,     /* a datagram came back ("ok" for the probe) */
    ND_UDP_NO_REPLY,    /* silence: filtered, or nothing listens and no ICMP said so */
    ND_UDP_REFUSED,     /* ICMP port unreachable: ECONNREFUSED */
    ND_UDP_UNREACHABLE, /* ICMP host or network unreachable, or no route */
    ND_UDP_BLOCKED,     /* EACCES, EPERM: a local firewall rule */
    ND_UDP_TIMED_OUT,   /* the deadline passed before the exchange began */
    ND_UDP_FORBIDDEN,   /* the destination list said no; nothing was sent */
    ND_UDP_DNS_ERROR,
    ND_UDP_CANCELLED,
    ND_UDP_ERROR, /* anything else; the errno says what */
    ND_UDP_OUTCOME_COUNT,
};

/* Counters of every UDP probe, for metrics; read from any thread. */
struct nd_udp_stats {
    atomic_uint_fast64_t outcomes[ND_UDP_OUTCOME_COUNT];
    atomic_uint_fast64_t datagrams_sent, datagrams_answered;
    /* Round trips of answered datagrams, in nd_connect_bucket_bounds_us. */
    atomic_uint_fast64_t rtt_buckets[ND_CONNECT_BUCKETS];
    atomic_uint_fast64_t rtt_sum_us;
};

struct nd_udp_request {
    char host[ND_NET_HOST_MAX];
    uint16_t port;
    enum nd_resolve_family family;
    unsigned timeout_ms; /* the whole probe */
    uint8_t send[ND_CONNECT_SEND_MAX];
    size_t send_length; /* 0 sends empty datagrams */
    unsigned count;     /* datagrams, 1 to ND_UDP_COUNT_MAX */
    unsigned interval_ms;
    size_t read_limit; /* bytes of the first reply kept */
    const struct nd_allowlist *allow;
    struct nd_udp_stats *stats; /* may be NULL */
};

struct nd_udp_datagram {
    uint64_t sent_us; /* from the start of the exchange */
    enum nd_udp_outcome outcome;
    uint64_t rtt_us;       /* when replied */
    size_t reply_length;   /* the whole reply's */
    bool reply_identical;  /* the reply is the datagram sent, byte for byte */
    struct nd_error error; /* when refused, unreachable, blocked or in error */
};

struct nd_udp_result {
    /* Resolve and connect, in the TCP probe's fields: literal, resolve_us,
     * resolve_error, addresses, address_count, addresses_truncated,
     * attempts, attempt_count, connected, local, peer. */
    struct nd_connect_result path;
    uint64_t total_us;
    /* The exchange with the address used (after a refusal, the next one
     * is tried and the exchange starts again). */
    struct nd_udp_datagram datagrams[ND_UDP_COUNT_MAX];
    unsigned sent, answered;
    unsigned extra_replies; /* beyond one per datagram: duplicates, or late */
    uint64_t rtt_min_us, rtt_max_us, rtt_sum_us;
    uint8_t *reply; /* the first reply's first read_limit bytes; malloc'd, nd_udp_result_free */
    size_t reply_length;
    /* verdict: ok when any datagram was answered */
    bool ok;
    enum nd_udp_phase failed_phase; /* when !ok */
    enum nd_udp_outcome outcome;    /* REPLIED when ok */
    struct nd_error error;          /* when !ok */
};

typedef void (*nd_udp_done_fn)(void *context);

struct nd_udp_probe;

/* On the loop thread: starts a probe of request into result (zeroed here);
 * both must live until done(context), which runs once, on the loop thread,
 * after every handle is closed, never from within this call. NULL when
 * memory runs out (result says so; done is not called). */
struct nd_udp_probe *nd_udp_start(uv_loop_t *loop, const struct nd_udp_request *request,
                                  struct nd_udp_result *result, nd_udp_done_fn done, void *context);

/* On the loop thread: ends the probe now, as cancelled; done follows. */
void nd_udp_cancel(struct nd_udp_probe *probe);

void nd_udp_result_free(struct nd_udp_result *result);

/* Stable names: "resolve", "connect", "exchange"; "replied", "no_reply",
 * "refused", ... */
const char *nd_udp_phase_name(enum nd_udp_phase phase);
const char *nd_udp_outcome_name(enum nd_udp_outcome outcome);

/* How a UDP call that failed with errno ended (ECONNREFUSED: refused). */
enum nd_udp_outcome nd_udp_classify(int os_error);

/* error from a libuv status of call on a connected UDP socket, os_error
 * set; a refusal says it was an ICMP port unreachable and that nothing
 * listens on port_words ("that port"). */
void nd_udp_status_error(struct nd_error *error, int status, const char *call,
                         const char *port_words);

#endif
