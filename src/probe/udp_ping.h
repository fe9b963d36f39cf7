/*
 * The fleet's UDP echo check: one connected UDP socket per peer, kept from
 * one round to the next, and each ping one datagram timed to its echo.
 * /connect?proto=udp opens a socket for every call, which suits a call a
 * person makes; a check that asks the same peers every few seconds would
 * pay socket(), connect(), the loop's registration and close() each time
 * for nothing, and that was most of what the fleet's UDP check cost. Each
 * datagram carries a sequence number, so that a late echo of the round
 * before is not taken for this round's. Connected, as /connect's probe is,
 * so that the kernel hands it only the peer's datagrams and an ICMP port
 * unreachable comes back as ECONNREFUSED. On the loop thread; knows nothing
 * of HTTP or JSON.
 */
#ifndef NETDIAG_PROBE_UDP_PING_H
#define NETDIAG_PROBE_UDP_PING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "netdiag/error.h"
#include "probe/udp.h"

struct nd_udp_ping_result {
    bool ok;                        /* the echo came back */
    enum nd_udp_phase failed_phase; /* CONNECT: no socket to the peer; else EXCHANGE */
    enum nd_udp_outcome outcome;    /* REPLIED when ok */
    struct nd_error error;          /* when !ok */
    unsigned sent, answered;        /* datagrams: 0 or 1 each */
    uint64_t rtt_us;                /* when ok */
};

typedef void (*nd_udp_ping_fn)(void *context);

struct nd_udp_ping;

/* On the loop thread: the pings of one peer (an AF_INET or AF_INET6
 * address with its port). The socket opens at the first send, and again at
 * the next send after opening failed. NULL when memory runs out. */
struct nd_udp_ping *nd_udp_ping_open(uv_loop_t *loop, const struct sockaddr *peer);

/* On the loop thread: sends one datagram and waits up to timeout_ms for its
 * echo, into result (zeroed here; it must live until done). done(context)
 * runs exactly once, on the loop thread, never from within this call.
 * False, and nothing starts, while the last ping is still in flight. */
bool nd_udp_ping_send(struct nd_udp_ping *ping, unsigned timeout_ms,
                      struct nd_udp_ping_result *result, nd_udp_ping_fn done, void *context);

/* On the loop thread: ends the ping in flight, if any, as cancelled; its
 * done follows. */
void nd_udp_ping_cancel(struct nd_udp_ping *ping);

/* On the loop thread: cancels the ping in flight (its done still runs),
 * closes the socket and frees the ping; closed(context), unless NULL, runs
 * last, once nothing of the ping is left. */
void nd_udp_ping_close(struct nd_udp_ping *ping, nd_udp_ping_fn closed, void *context);

#endif
