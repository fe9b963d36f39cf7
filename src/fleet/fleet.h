/*
 * The fleet view's engine: netdiag on every node (a DaemonSet), each pod
 * probing every other. Peers are the addresses a headless Service's name
 * resolves to, asked every interval through /dns's client (so the DNS answer's
 * time and response code are part of the health too); each peer is probed
 * every interval with a TCP connection and GET /healthz over it, and a UDP
 * echo round trip. The last ND_FLEET_ROUNDS rounds of each peer are kept.
 *
 * Everything runs on the runtime's loop thread, non-blocking; the results
 * are published under a lock, and any thread takes a copy of them with
 * nd_fleet_snapshot. Kubernetes is the membership protocol: only addresses
 * found under the configured name are ever probed. Knows nothing of JSON;
 * HTTP only as the bytes of the requests it sends to its peers.
 */
#ifndef NETDIAG_FLEET_FLEET_H
#define NETDIAG_FLEET_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "netdiag/dns.h"
#include "netdiag/error.h"
#include "netdiag/net.h"
#include "probe/connect.h"
#include "probe/udp.h"
#include "runtime/runtime.h"

enum {
    ND_FLEET_ROUNDS = 10,      /* rounds kept per peer */
    ND_FLEET_PEERS_MAX = 1024, /* the most --peers-max may allow */
    ND_FLEET_NODE_MAX = 254,   /* a Kubernetes node name: a DNS subdomain, 253 characters */
    ND_FLEET_NAME_MAX = 256,   /* the peers' DNS name */
};

struct nd_tls_trust;

struct nd_fleet_config {
    char peers_name[ND_FLEET_NAME_MAX]; /* the headless Service's name */
    struct nd_net_endpoint dns_server;  /* where it is asked (an IP literal) */
    unsigned interval_s;
    unsigned peers_max;
    char pod_ip[ND_NET_ADDRESS_TEXT_MAX]; /* this pod's address ("" = unknown) */
    char node_name[ND_FLEET_NODE_MAX];    /* this pod's node ("" = unknown) */
    uint16_t http_port;                   /* every peer serves HTTP here, as this pod does */
    bool https;                           /* and over TLS, checked against trust */
    struct nd_tls_trust *trust;
    uint16_t echo_udp_port; /* every peer's UDP echo; 0 = no UDP probe */
    const char *auth_token; /* sent to peers as a bearer token; "" = none */
};

/* One probe round of one peer. */
struct nd_fleet_round {
    int64_t at_ms;    /* wall clock, ms since the epoch: when the round started */
    uint64_t at_ns;   /* the same on the monotonic clock, for ages */
    uint64_t took_us; /* until both probes ended */
    /* TCP, then GET /healthz over it: ok when the answer is 200. */
    bool tcp_ok;
    enum nd_connect_outcome tcp_outcome;
    enum nd_connect_phase tcp_phase; /* the failed one, when !tcp_ok and the probe failed */
    int tcp_errno;
    unsigned http_status; /* 0 when no answer came */
    uint32_t connect_us, http_us;
    /* UDP echo: one datagram a round (loss is counted over the rounds
     * kept; more a round would multiply the kernel's UDP work for a figure
     * the window gives anyway) */
    bool udp_probed, udp_ok; /* ok: the datagram came back */
    enum nd_udp_outcome udp_outcome;
    enum nd_udp_phase udp_phase;
    int udp_errno;
    uint8_t udp_sent, udp_answered;
    uint32_t udp_rtt_us;
};

/* Cumulative, while the peer stays in the set: for /metrics. */
struct nd_fleet_peer_stats {
    uint64_t rounds;
    uint64_t connect_buckets[ND_CONNECT_BUCKETS], http_buckets[ND_CONNECT_BUCKETS],
        udp_rtt_buckets[ND_CONNECT_BUCKETS];
    uint64_t connect_sum_us, http_sum_us, udp_rtt_sum_us;
    uint64_t tcp_errors[ND_CONNECT_OUTCOME_COUNT]; /* failed TCP probes by outcome */
    uint64_t http_errors;                          /* answers that were not 200 */
    uint64_t udp_errors[ND_UDP_OUTCOME_COUNT];     /* UDP probes with no reply, by outcome */
};

struct nd_fleet_peer {
    char address[ND_NET_ADDRESS_TEXT_MAX];
    char node[ND_FLEET_NODE_MAX];                  /* from its /healthz answer; "" until known */
    bool self;                                     /* the address is this pod's */
    int64_t since_ms;                              /* first found under the name */
    struct nd_fleet_round rounds[ND_FLEET_ROUNDS]; /* a ring; the newest at last_round */
    unsigned round_count;                          /* kept, at most ND_FLEET_ROUNDS */
    unsigned last_round;
    /* The newest failure, by probe and name. */
    bool has_error;
    const char *error_probe; /* "tcp", "http" or "udp" (static strings) */
    const char *error_phase; /* the probe's phase name */
    const char *error_result;
    int64_t error_at_ms;
    struct nd_error error;
    struct nd_fleet_peer_stats stats;
};

/* The last lookup of the peers' name. */
struct nd_fleet_discovery {
    bool done; /* at least one lookup ended */
    bool ok;   /* it gave an answer (NOERROR, or NXDOMAIN: no peers) */
    unsigned rcode;
    uint64_t query_time_us;
    int64_t at_ms;
    uint64_t at_ns;
    unsigned addresses; /* A and AAAA records found */
    unsigned dropped;   /* of them, past --peers-max */
    struct nd_error error;
    uint64_t lookups, failures;
};

struct nd_fleet_view {
    const struct nd_fleet_config *config;
    int64_t now_ms;
    uint64_t now_ns;
    uint64_t rounds; /* probe rounds started */
    struct nd_fleet_discovery discovery;
    struct nd_fleet_peer *peers; /* malloc'd; sorted by address */
    size_t peer_count;
};

struct nd_fleet;

/* Starts the engine on runtime's loop: the first lookup at once, then one
 * every interval. config is copied. */
enum nd_err nd_fleet_start(struct nd_runtime *runtime, const struct nd_fleet_config *config,
                           struct nd_fleet **out, struct nd_error *error);

/* Stops the engine (probes in flight are cut short) and frees it. Not from
 * the loop thread. NULL does nothing. */
void nd_fleet_stop(struct nd_fleet *fleet);

/* Any thread: a copy of what the engine knows now. ND_ERR_NO_MEMORY is
 * the only failure; the view is freed with nd_fleet_view_free. */
enum nd_err nd_fleet_snapshot(struct nd_fleet *fleet, struct nd_fleet_view *view,
                              struct nd_error *error);
void nd_fleet_view_free(struct nd_fleet_view *view);

const struct nd_fleet_config *nd_fleet_config(const struct nd_fleet *fleet);

/* A round is healthy when GET /healthz answered 200 and, when the UDP echo
 * was probed, a datagram came back. */
bool nd_fleet_round_healthy(const struct nd_fleet_round *round);

/* The newest round of a peer, or NULL before its first one ended. */
const struct nd_fleet_round *nd_fleet_peer_last(const struct nd_fleet_peer *peer);

/* The request a peer is sent: GET path over HTTP/1.0 (the answer ends when
 * the peer closes: no chunked body to undo) with Host, and the bearer token
 * when there is one. The length written, 0 when size is too small. */
size_t nd_fleet_request_text(const struct nd_fleet_config *config, const char *address,
                             const char *path, char *out, size_t size);

/* The A and AAAA records of a reply's answer section, as address text,
 * sorted and without duplicates: at most max of them into addresses
 * (*count), the rest counted in *dropped. ND_ERR_PROTOCOL when the reply
 * does not parse. */
enum nd_err nd_fleet_parse_addresses(const uint8_t *reply, size_t length,
                                     char (*addresses)[ND_NET_ADDRESS_TEXT_MAX], size_t max,
                                     size_t *count, unsigned *dropped, unsigned *rcode,
                                     struct nd_error *error);

/* --- Fan-out: GET /fleet from every other peer, on the loop thread. --- */

enum { ND_FLEET_FANOUT_CONCURRENCY = 16, ND_FLEET_FANOUT_READ_MAX = 1024 * 1024 };

struct nd_fleet_fetch {
    char address[ND_NET_ADDRESS_TEXT_MAX];
    char node[ND_FLEET_NODE_MAX]; /* as this pod knows it */
    bool started, ok;             /* ok: a whole HTTP answer came */
    unsigned status;
    const uint8_t *body; /* into the probe's bytes; body_length of them */
    size_t body_length;
    uint64_t took_us;
    struct nd_connect_result result; /* the probe's record: phase, outcome, error */
};

struct nd_fleet_fanout {
    struct nd_fleet_fetch *fetches; /* one per peer but this pod */
    size_t count;
    /* Private. */
    struct nd_fleet *fleet;
    uv_loop_t *loop;
    unsigned timeout_ms;
    uint64_t deadline_ns;
    size_t next, in_flight;
    bool cancelled;
    bool out_of_memory; /* start could not take what the fan-out needs */
    void (*done)(void *context);
    void *context;
    struct fanout_slot *slots;
};

/* On the loop thread: fetches /fleet from every peer but this pod, at most
 * ND_FLEET_FANOUT_CONCURRENCY at a time, all within timeout_ms. True when
 * fetches are under way: done(context) then runs once, on the loop thread,
 * after every probe is over, never from within this call. False when none
 * could start (no other peer; out_of_memory): it is over already, and done
 * is not called. */
bool nd_fleet_fanout_start(struct nd_fleet_fanout *fanout, struct nd_fleet *fleet, uv_loop_t *loop,
                           unsigned timeout_ms, void (*done)(void *context), void *context);

/* On the loop thread: ends the probes in flight, starts no more; done follows. */
void nd_fleet_fanout_cancel(struct nd_fleet_fanout *fanout);

/* Frees what the fan-out holds, once done has run (or start failed). */
void nd_fleet_fanout_free(struct nd_fleet_fanout *fanout);

#endif
