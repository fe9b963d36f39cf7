/*
 * Recipe 7 as a probe on the runtime: resolve a name, connect to each of its
 * addresses in turn until one answers (as Python's socket.create_connection
 * does), send what the caller gave, read the reply, and say which step
 * failed and how, by name. Everything runs on the loop thread, non-blocking,
 * under one deadline for the whole probe; no thread waits per probe. Every
 * address is checked against the operator's destination list after it is
 * resolved and before it is connected to, so DNS rebinding cannot get round
 * it. Reused by the fleet view; knows nothing of HTTP or JSON.
 */
#ifndef NETDIAG_PROBE_CONNECT_H
#define NETDIAG_PROBE_CONNECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "netdiag/allowlist.h"
#include "netdiag/error.h"
#include "netdiag/net.h"
#include "netdiag/resolve.h"
#include "probe/tls.h"

enum {
    ND_CONNECT_ADDRESSES_MAX = 16,
    ND_CONNECT_SEND_MAX = 4096,
    ND_CONNECT_READ_MAX = 65536,
    ND_CONNECT_EXPECT_MAX = 256,
    /* After the last byte, this much silence ends the reply: a server that
     * answers and keeps the connection open (an echo, HTTP/1.1 keep-alive)
     * does not hold the probe until its deadline. */
    ND_CONNECT_QUIET_MS = 250,
};

/* The steps, in the order they run. */
enum nd_connect_phase {
    ND_CONNECT_RESOLVE,
    ND_CONNECT_CONNECT,
    ND_CONNECT_HANDSHAKE, /* tls */
    ND_CONNECT_VERIFY,    /* tls: the certificate chain against the trust store */
    ND_CONNECT_SEND,
    ND_CONNECT_FIRST_BYTE,
    ND_CONNECT_RECEIVE,
    ND_CONNECT_EXPECT,
    ND_CONNECT_PHASE_COUNT,
};

/* How one connect attempt, or the probe, ended. */
enum nd_connect_outcome {
    ND_CONNECT_CONNECTED,
    ND_CONNECT_REFUSED,     /* ECONNREFUSED: nothing listens there (or a RST from a filter) */
    ND_CONNECT_TIMED_OUT,   /* no answer at all: filtered, or the host is down */
    ND_CONNECT_UNREACHABLE, /* ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL: no route */
    ND_CONNECT_RESET,       /* ECONNRESET */
    ND_CONNECT_BLOCKED,     /* EACCES, EPERM: a local firewall rule */
    ND_CONNECT_FORBIDDEN,   /* the destination list said no; nothing was sent */
    ND_CONNECT_DNS_ERROR,   /* the name did not resolve */
    ND_CONNECT_CLOSED,      /* the peer closed without a byte where a reply was awaited */
    ND_CONNECT_NOT_FOUND,   /* the reply lacked the expected text */
    ND_CONNECT_TLS_ALERT,   /* the TLS handshake ended with an alert (tls->alert names it) */
    ND_CONNECT_TLS_ERROR,   /* the TLS handshake or a record failed otherwise */
    ND_CONNECT_UNTRUSTED,   /* the certificate chain does not verify (tls->reasons say why) */
    ND_CONNECT_CANCELLED,   /* cut short by the caller */
    ND_CONNECT_ERROR,       /* anything else; the errno says what */
    ND_CONNECT_OUTCOME_COUNT,
};

/* Why a reply ended. */
enum nd_connect_end {
    ND_CONNECT_END_NONE,    /* no reply was awaited, or none came */
    ND_CONNECT_END_CLOSED,  /* the peer closed its side */
    ND_CONNECT_END_LIMIT,   /* read_limit bytes came */
    ND_CONNECT_END_EXPECT,  /* the expected text came */
    ND_CONNECT_END_QUIET,   /* ND_CONNECT_QUIET_MS of silence */
    ND_CONNECT_END_TIMEOUT, /* the deadline */
    ND_CONNECT_END_RESET,   /* the peer reset the connection after sending */
};

/* Counters of every probe that used them, for metrics; shared by probes on
 * the loop, read from any thread. */
enum { ND_CONNECT_BUCKETS = 12 };
extern const uint64_t nd_connect_bucket_bounds_us[ND_CONNECT_BUCKETS]; /* the last is +Inf */
/* One duration into a histogram of ND_CONNECT_BUCKETS in those bounds, and
 * into its sum: the TCP probe's phases and the UDP probe's round trips are
 * counted alike, so that /metrics shows them on the same scale. */
void nd_connect_count_duration(atomic_uint_fast64_t *buckets, atomic_uint_fast64_t *sum,
                               uint64_t duration_us);
struct nd_connect_stats {
    atomic_uint_fast64_t outcomes[ND_CONNECT_OUTCOME_COUNT];
    /* Durations of the connect and first-byte phases and of whole probes. */
    atomic_uint_fast64_t connect_buckets[ND_CONNECT_BUCKETS],
        first_byte_buckets[ND_CONNECT_BUCKETS], total_buckets[ND_CONNECT_BUCKETS];
    atomic_uint_fast64_t connect_sum_us, first_byte_sum_us, total_sum_us;
};

struct nd_connect_request {
    char host[ND_NET_HOST_MAX]; /* a name or an IP literal */
    uint16_t port;
    enum nd_resolve_family family;
    unsigned timeout_ms; /* the whole probe */
    const uint8_t *send; /* the caller's, at most ND_CONNECT_SEND_MAX bytes; NULL = nothing */
    size_t send_length;
    bool await_reply; /* read after connecting (and sending) */
    size_t read_limit;
    char expect[ND_CONNECT_EXPECT_MAX]; /* "" = anything will do */
    size_t expect_length;
    const struct nd_allowlist *allow;
    struct nd_connect_stats *stats; /* may be NULL */
    /* TLS after connecting, and what is sent and read goes through it. */
    bool tls;
    struct nd_tls_trust *trust;
    char server_name[ND_NET_HOST_MAX]; /* SNI and the name checked; "" = host */
    char alpn[ND_TLS_ALPN_MAX];
    bool insecure; /* go on past a chain that does not verify (it is still reported) */
};

struct nd_connect_attempt {
    char address[ND_NET_ADDRESS_TEXT_MAX]; /* "127.0.0.1" or "::1" */
    int family;
    uint64_t duration_us;
    enum nd_connect_outcome outcome;
    struct nd_error error; /* os_error = errno, when one came */
};

struct nd_connect_result {
    uint64_t total_us;
    /* resolve */
    bool literal; /* the host was an address: nothing to look up */
    uint64_t resolve_us;
    struct nd_error resolve_error;
    struct nd_resolve_address addresses[ND_CONNECT_ADDRESSES_MAX];
    size_t address_count;
    bool addresses_truncated;
    /* connect */
    struct nd_connect_attempt attempts[ND_CONNECT_ADDRESSES_MAX];
    size_t attempt_count;
    bool connected;
    char local[ND_NET_ADDRESS_TEXT_MAX], peer[ND_NET_ADDRESS_TEXT_MAX];
    /* handshake and verify (tls) */
    uint64_t anchors_wait_us; /* before the handshake, for the system's anchors to load
                                 (the first handshake, and those that came meanwhile) */
    uint64_t handshake_us;
    struct nd_tls_session_info *tls; /* malloc'd for a TLS probe; nd_connect_result_free frees */
    /* send */
    size_t sent;
    uint64_t send_us;
    /* reply */
    bool got_first_byte;
    uint64_t first_byte_us; /* from the connection to the first byte */
    uint8_t *received;      /* malloc'd, read_limit bytes; nd_connect_result_free frees */
    size_t received_length;
    uint64_t receive_us; /* from the first byte to the end */
    enum nd_connect_end ended_by;
    bool expect_found;
    /* verdict */
    bool ok;
    enum nd_connect_phase failed_phase; /* when !ok */
    enum nd_connect_outcome outcome;    /* of the probe: CONNECTED when ok */
    struct nd_error error;              /* when !ok: what failed, by name */
};

typedef void (*nd_connect_done_fn)(void *context);

struct nd_connect_probe;

/* On the loop thread: starts a probe of request into result (zeroed
 * here); both must live until done. done(context) runs exactly once,
 * on the loop thread, after every handle of the probe is closed, and never
 * from within this call. NULL when memory runs out (result says so; done is
 * not called). */
struct nd_connect_probe *nd_connect_start(uv_loop_t *loop, const struct nd_connect_request *request,
                                          struct nd_connect_result *result, nd_connect_done_fn done,
                                          void *context);

/* On the loop thread: ends the probe now, as failed in the phase it was in
 * with ND_CONNECT_CANCELLED; done still follows. */
void nd_connect_cancel(struct nd_connect_probe *probe);

/* Frees what result holds (the received bytes). */
void nd_connect_result_free(struct nd_connect_result *result);

/* Stable names: "resolve", "connect", ...; "connected", "refused", ...;
 * "closed", "limit", ... */
const char *nd_connect_phase_name(enum nd_connect_phase phase);
const char *nd_connect_outcome_name(enum nd_connect_outcome outcome);
const char *nd_connect_end_name(enum nd_connect_end end);

/* How a connect() that failed with errno ended. */
enum nd_connect_outcome nd_connect_classify(int os_error);

#endif
