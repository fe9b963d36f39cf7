/*
 * The UDP echo listener (RFC 862, section "UDP Based Echo Service") on the
 * runtime's loop: every datagram goes back to the address and port it came
 * from, unchanged, from the address it was sent to, and never larger, so the
 * service cannot amplify. A token bucket per source bounds what any one
 * address can reflect; datagrams over it are dropped and counted. Memory is
 * fixed at start: one batch of receive slots and one table of sources.
 */
#ifndef NETDIAG_ECHO_UDP_ECHO_H
#define NETDIAG_ECHO_UDP_ECHO_H

#include <stdbool.h>
#include <stdint.h>

#include "netdiag/error.h"

struct nd_runtime;

enum {
    /* Sources whose buckets are remembered at once. A source pushed out of
     * the table starts again with a full bucket, which takes this many
     * other sources sending at the same time. */
    ND_UDP_ECHO_SOURCES = 8192,
};

struct nd_udp_echo_config {
    int fd;         /* bound datagram socket, non-blocking; nd_udp_echo_start takes it */
    uint32_t rate;  /* datagrams per second each source may have echoed, at most 1e9 */
    uint32_t burst; /* datagrams a source may send at once above the rate; at least 1 */
};

/* Why a datagram was not echoed. */
enum nd_udp_echo_drop {
    ND_UDP_ECHO_RATE_LIMITED, /* over its source's token bucket */
    ND_UDP_ECHO_NOT_UNICAST,  /* sent to a broadcast or multicast address (a "fraggle" reflector) */
    ND_UDP_ECHO_LOOP_GUARD,   /* from port 0 or a port of a service that answers every datagram */
    ND_UDP_ECHO_TRUNCATED,    /* larger than a receive slot: echoing it would change it */
    ND_UDP_ECHO_SEND_FAILED,  /* the kernel refused the reply (no route, a firewall rule) */
    ND_UDP_ECHO_QUEUE_FULL,   /* dropped by the kernel before it was read (SO_RXQ_OVFL) */
    ND_UDP_ECHO_DROP_COUNT,
};

struct nd_udp_echo_stats {
    uint64_t datagrams_in, datagrams_out;
    uint64_t bytes_in, bytes_out;
    uint64_t dropped[ND_UDP_ECHO_DROP_COUNT];
    /* False where the kernel cannot say (SO_RXQ_OVFL missing, as under
     * qemu-user): dropped[ND_UDP_ECHO_QUEUE_FULL] then stays 0. */
    bool kernel_drops_counted;
};

struct nd_udp_echo;

/* Starts receiving on the runtime's loop. On success *out is owned by the
 * caller and released with nd_udp_echo_stop, before the runtime stops. */
enum nd_err nd_udp_echo_start(struct nd_runtime *runtime, const struct nd_udp_echo_config *config,
                              struct nd_udp_echo **out, struct nd_error *error);

/* True while the socket is watched. */
bool nd_udp_echo_receiving(const struct nd_udp_echo *echo);

/* Each counter read atomically. */
void nd_udp_echo_get_stats(const struct nd_udp_echo *echo, struct nd_udp_echo_stats *stats);

/* Stable names for the metrics: "rate_limited", "not_unicast", ... */
const char *nd_udp_echo_drop_name(enum nd_udp_echo_drop reason);

/* Stops, closes the socket and frees; NULL is allowed. */
void nd_udp_echo_stop(struct nd_udp_echo *echo);

#endif
