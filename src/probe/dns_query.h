/*
 * One DNS exchange with one server, on the runtime's loop: the server's name
 * looked up on libuv's pool (an IP literal is not), checked against an allow
 * list, the query sent over UDP (again, the same packet, when an attempt
 * goes unanswered, up to a bound) and, when the reply comes back truncated
 * or TCP is asked for, over TCP with RFC 1035's two-byte length prefix.
 * Nothing blocks and no thread waits: a thousand queries in flight are a
 * thousand sockets and timers on the one loop.
 *
 * The caller owns the struct (embedded in its own state, as libuv's handles
 * are) and must keep it until the completion callback has run.
 */
#ifndef NETDIAG_PROBE_DNS_QUERY_H
#define NETDIAG_PROBE_DNS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "netdiag/allowlist.h"
#include "netdiag/dns.h"
#include "netdiag/error.h"
#include "netdiag/net.h"

enum nd_dns_transport { ND_DNS_UDP, ND_DNS_TCP };

/* "udp" or "tcp". */
const char *nd_dns_transport_name(enum nd_dns_transport transport);

struct nd_dns_query_request {
    char host[ND_NET_HOST_MAX]; /* an IP literal or a name */
    uint16_t port;
    const struct nd_allowlist *allow; /* checked once the address is known; NULL = any */
    const uint8_t *query;             /* nd_dns_build_query's; copied */
    size_t query_length;
    bool tcp_only;
    unsigned timeout_ms;   /* for the whole exchange, lookup included */
    unsigned udp_attempts; /* UDP packets at most, spread over timeout_ms; 0 = 3 */
};

struct nd_dns_query_result {
    struct nd_error error; /* ND_OK when a reply was taken */
    /* The server's address once known (server_length 0 before). */
    struct sockaddr_storage server;
    socklen_t server_length;
    enum nd_dns_transport transport; /* the one the reply came over, or the last tried */
    bool udp_truncated;              /* a truncated UDP reply sent the query over TCP */
    unsigned udp_sent;               /* UDP packets sent */
    unsigned discarded;              /* DNS replies to other queries, dropped (UDP) */
    char discarded_reason[96];
    uint64_t query_time_us; /* from the first packet sent to the reply */
    uint8_t *reply;         /* malloc'd: the whole reply; see nd_dns_query_take_reply */
    size_t reply_length;
};

struct nd_dns_query;
typedef void (*nd_dns_query_done_fn)(struct nd_dns_query *query, void *context);

struct nd_dns_query {
    struct nd_dns_query_result result;
    /* Private. */
    struct nd_dns_query_request request;
    uint8_t query_wire[ND_DNS_QUERY_MAX];
    uv_loop_t *loop;
    nd_dns_query_done_fn done;
    void *context;
    uv_getaddrinfo_t lookup;
    uv_timer_t timer;
    uv_udp_t udp;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uint8_t write_prefix[2], tcp_prefix[2];
    uint8_t udp_buffer[ND_DNS_UDP_PAYLOAD * 4];
    uint8_t *tcp_buffer; /* the length prefix, then the message */
    size_t tcp_received, tcp_expected;
    uint64_t started_ns, first_send_ns, deadline_ns;
    unsigned open_handles;
    bool looking_up, timer_open, udp_open, tcp_open, finishing;
};

/* On the loop thread: starts the exchange. done(query, context) is called
 * exactly once, from a later callback, when the exchange is over and every
 * handle it opened is closed; query->result then says how it went:
 * ND_ERR_TIMEOUT (no reply in time), ND_ERR_PROTOCOL (a reply that is not
 * DNS, or a TCP stream cut short), ND_ERR_FORBIDDEN (not in the allow list),
 * ND_ERR_RESOLVE (the server's name), ND_ERR_SYSTEM (a socket call, an ICMP
 * error such as ECONNREFUSED), or ND_OK with the reply. */
void nd_dns_query_start(struct nd_dns_query *query, uv_loop_t *loop,
                        const struct nd_dns_query_request *request, nd_dns_query_done_fn done,
                        void *context);

/* On the loop thread: cuts the exchange short. done is still called (with
 * ND_ERR_STOPPING), once the handles are closed; a lookup already running
 * in the pool is waited for. */
void nd_dns_query_cancel(struct nd_dns_query *query);

/* Frees the reply, if any, once the caller is done with the result. */
void nd_dns_query_release(struct nd_dns_query *query);

#endif
