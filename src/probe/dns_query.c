#include "probe/dns_query.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

enum { DEFAULT_UDP_ATTEMPTS = 3 };

const char *nd_dns_transport_name(enum nd_dns_transport transport)
{
    return transport == ND_DNS_TCP ? "tcp" : "udp";
}

static void maybe_done(struct nd_dns_query *query)
{
    if (query->open_handles == 0 && !query->looking_up)
        query->done(query, query->context);
}

static void on_closed(uv_handle_t *handle)
{
    struct nd_dns_query *query = handle->data;
    query->open_handles--;
    maybe_done(query);
}

static void close_handle(uv_handle_t *handle, bool *open)
{
    if (!*open)
        return;
    *open = false;
    uv_close(handle, on_closed);
}

/* The exchange is over: the result is final (the first call's), every
 * handle is closed, a lookup in the pool is called back. done follows from
 * the last close callback. */
static void finish(struct nd_dns_query *query)
{
    if (query->finishing)
        return;
    query->finishing = true;
    close_handle((uv_handle_t *)&query->timer, &query->timer_open);
    close_handle((uv_handle_t *)&query->udp, &query->udp_open);
    close_handle((uv_handle_t *)&query->tcp, &query->tcp_open);
    if (query->looking_up)
        uv_cancel((uv_req_t *)&query->lookup);
    maybe_done(query);
}

static void fail_status(struct nd_dns_query *query, int status, const char *call)
{
    nd_runtime_set_error(&query->result.error, status, call);
    finish(query);
}

static const char *server_text(const struct nd_dns_query *query, char *text, size_t size)
{
    if (query->result.server_length == 0) {
        snprintf(text, size, "%.200s port %u", query->request.host, (unsigned)query->request.port);
        return text;
    }
    return nd_net_format_address((const struct sockaddr *)&query->result.server, text, size);
}

static uint64_t remaining_ms(const struct nd_dns_query *query)
{
    uint64_t now = uv_hrtime();
    return now >= query->deadline_ns ? 0 : (query->deadline_ns - now + 999999u) / 1000000u;
}

static void on_timer(uv_timer_t *timer);

static void arm_timer(struct nd_dns_query *query, uint64_t delay_ms)
{
    uv_timer_start(&query->timer, on_timer, delay_ms, 0);
}

static unsigned attempts(const struct nd_dns_query *query)
{
    return query->request.udp_attempts ? query->request.udp_attempts : DEFAULT_UDP_ATTEMPTS;
}

/* The reply to keep: copied out of the receive buffer. */
static void take_reply(struct nd_dns_query *query, const uint8_t *reply, size_t length)
{
    query->result.reply = malloc(length);
    if (!query->result.reply) {
        nd_error_set(&query->result.error, ND_ERR_NO_MEMORY, "out of memory");
        finish(query);
        return;
    }
    memcpy(query->result.reply, reply, length);
    query->result.reply_length = length;
    query->result.query_time_us = (uv_hrtime() - query->first_send_ns) / 1000u;
    nd_error_clear(&query->result.error);
    finish(query);
}

static void protocol_error(struct nd_dns_query *query, const char *reason)
{
    char server[ND_NET_HOST_MAX + 16];
    nd_error_set(&query->result.error, ND_ERR_PROTOCOL, "%s (%s) answered with %s",
                 server_text(query, server, sizeof server),
                 nd_dns_transport_name(query->result.transport), reason);
    finish(query);
}

/* --- TCP: RFC 1035 section 4.2.2, RFC 7766. --- */

static void on_tcp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer)
{
    struct nd_dns_query *query = handle->data;
    (void)suggested;
    /* The UDP socket is closed by now: its buffer is the read chunk. */
    *buffer = uv_buf_init((char *)query->udp_buffer, sizeof query->udp_buffer);
}

static void tcp_message_complete(struct nd_dns_query *query)
{
    char reason[160];
    const uint8_t *reply = query->tcp_buffer;
    size_t length = query->tcp_expected;
    switch (nd_dns_classify_reply(query->request.query, query->request.query_length, reply, length,
                                  reason, sizeof reason)) {
    case ND_DNS_REPLY_MATCHES:
        /* The buffer becomes the reply as it is. */
        query->result.reply = query->tcp_buffer;
        query->result.reply_length = length;
        query->tcp_buffer = NULL;
        query->result.query_time_us = (uv_hrtime() - query->first_send_ns) / 1000u;
        nd_error_clear(&query->result.error);
        finish(query);
        return;
    case ND_DNS_REPLY_OTHER:
        /* A TCP connection is ours alone: no one else's answer can arrive
         * on it, so this one is the server's mistake. */
        protocol_error(query, reason);
        return;
    case ND_DNS_REPLY_NOT_DNS:
        protocol_error(query, reason);
        return;
    }
}

static void on_tcp_read(uv_stream_t *stream, ssize_t length, const uv_buf_t *buffer)
{
    struct nd_dns_query *query = stream->data;
    if (query->finishing)
        return;
    if (length < 0) {
        if (length != UV_EOF) {
            fail_status(query, (int)length, "read (TCP)");
            return;
        }
        char reason[128];
        snprintf(reason, sizeof reason,
                 "a TCP stream that ended after %zu of the %zu bytes announced",
                 query->tcp_received, query->tcp_expected ? query->tcp_expected + 2 : 2);
        protocol_error(query, reason);
        return;
    }
    const uint8_t *data = (const uint8_t *)buffer->base;
    size_t left = (size_t)length;
    while (left > 0 && query->tcp_received < 2) {
        query->tcp_prefix[query->tcp_received++] = *data++;
        left--;
        if (query->tcp_received == 2) {
            query->tcp_expected = (size_t)query->tcp_prefix[0] << 8 | query->tcp_prefix[1];
            if (query->tcp_expected < ND_DNS_HEADER_SIZE) {
                protocol_error(query, "a TCP length prefix shorter than a DNS header");
                return;
            }
            query->tcp_buffer = malloc(query->tcp_expected);
            if (!query->tcp_buffer) {
                nd_error_set(&query->result.error, ND_ERR_NO_MEMORY, "out of memory");
                finish(query);
                return;
            }
        }
    }
    if (left == 0)
        return;
    size_t have = query->tcp_received - 2;
    size_t wanted = query->tcp_expected - have;
    size_t take = left < wanted ? left : wanted;
    memcpy(query->tcp_buffer + have, data, take);
    query->tcp_received += take;
    /* Bytes past the message (a second one) are not ours to read. */
    if (query->tcp_received - 2 == query->tcp_expected)
        tcp_message_complete(query);
}

static void on_tcp_written(uv_write_t *write, int status)
{
    struct nd_dns_query *query = write->data;
    if (status < 0 && !query->finishing)
        fail_status(query, status, "write (TCP)");
}

static void on_tcp_connected(uv_connect_t *connect, int status)
{
    struct nd_dns_query *query = connect->data;
    if (query->finishing)
        return; /* UV_ECANCELED: closed under it */
    if (status < 0) {
        fail_status(query, status, "connect (TCP)");
        return;
    }
    uint16_t length = (uint16_t)query->request.query_length;
    query->write_prefix[0] = (uint8_t)(length >> 8);
    query->write_prefix[1] = (uint8_t)(length & 0xff);
    /* One write, prefix and message together (RFC 7766 section 8: some
     * servers read the length and the message in one go). */
    uv_buf_t buffers[2] = {uv_buf_init((char *)query->write_prefix, 2),
                           uv_buf_init((char *)query->query_wire, length)};
    query->write.data = query;
    status = uv_write(&query->write, (uv_stream_t *)&query->tcp, buffers, 2, on_tcp_written);
    if (status == 0)
        status = uv_read_start((uv_stream_t *)&query->tcp, on_tcp_alloc, on_tcp_read);
    if (status != 0)
        fail_status(query, status, "write (TCP)");
}

static void start_tcp(struct nd_dns_query *query)
{
    query->result.transport = ND_DNS_TCP;
    int status = uv_tcp_init(query->loop, &query->tcp);
    if (status != 0) {
        fail_status(query, status, "uv_tcp_init");
        return;
    }
    query->tcp.data = query;
    query->tcp_open = true;
    query->open_handles++;
    if (query->first_send_ns == 0)
        query->first_send_ns = uv_hrtime();
    query->connect.data = query;
    status = uv_tcp_connect(&query->connect, &query->tcp,
                            (const struct sockaddr *)&query->result.server, on_tcp_connected);
    if (status != 0) {
        fail_status(query, status, "connect (TCP)");
        return;
    }
    arm_timer(query, remaining_ms(query));
}

/* --- UDP. --- */

static void send_udp(struct nd_dns_query *query)
{
    uv_buf_t buffer = uv_buf_init((char *)query->query_wire, (unsigned)query->request.query_length);
    int sent = uv_udp_try_send(&query->udp, &buffer, 1, NULL);
    /* A full send buffer loses this attempt, as the network could; the
     * next attempt or the deadline follows. */
    if (sent < 0 && sent != UV_EAGAIN) {
        fail_status(query, sent, "send (UDP)");
        return;
    }
    if (query->first_send_ns == 0)
        query->first_send_ns = uv_hrtime();
    query->result.udp_sent++;
    uint64_t interval = query->request.timeout_ms / attempts(query);
    uint64_t left = remaining_ms(query);
    bool last = query->result.udp_sent >= attempts(query);
    arm_timer(query, last || interval > left ? left : interval);
}

static void on_udp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer)
{
    struct nd_dns_query *query = handle->data;
    (void)suggested;
    *buffer = uv_buf_init((char *)query->udp_buffer, sizeof query->udp_buffer);
}

static void on_udp_read(uv_udp_t *udp, ssize_t length, const uv_buf_t *buffer,
                        const struct sockaddr *peer, unsigned flags)
{
    struct nd_dns_query *query = udp->data;
    if (query->finishing || (length == 0 && !peer))
        return;
    if (length < 0) {
        /* On a connected socket the kernel reports the server's ICMP errors
         * here: ECONNREFUSED is "port unreachable", nothing listens. */
        fail_status(query, (int)length, "recv (UDP)");
        return;
    }
    const uint8_t *reply = (const uint8_t *)buffer->base;
    char reason[160];
    switch (nd_dns_classify_reply(query->request.query, query->request.query_length, reply,
                                  (size_t)length, reason, sizeof reason)) {
    case ND_DNS_REPLY_NOT_DNS:
        if (flags & UV_UDP_PARTIAL)
            snprintf(reason, sizeof reason, "a datagram larger than %zu bytes",
                     sizeof query->udp_buffer);
        protocol_error(query, reason);
        return;
    case ND_DNS_REPLY_OTHER:
        query->result.discarded++;
        snprintf(query->result.discarded_reason, sizeof query->result.discarded_reason, "%.90s",
                 reason);
        return;
    case ND_DNS_REPLY_MATCHES:
        break;
    }
    /* RFC 7766 section 5: a truncated answer is asked again over TCP. A
     * datagram cut by our buffer counts as truncated too. */
    if ((flags & UV_UDP_PARTIAL) || nd_dns_reply_truncated(reply, (size_t)length)) {
        query->result.udp_truncated = true;
        uv_udp_recv_stop(&query->udp);
        close_handle((uv_handle_t *)&query->udp, &query->udp_open);
        start_tcp(query);
        return;
    }
    take_reply(query, reply, (size_t)length);
}

static void start_udp(struct nd_dns_query *query)
{
    query->result.transport = ND_DNS_UDP;
    int status = uv_udp_init(query->loop, &query->udp);
    if (status != 0) {
        fail_status(query, status, "uv_udp_init");
        return;
    }
    query->udp.data = query;
    query->udp_open = true;
    query->open_handles++;
    /* Connected: only the server's datagrams are delivered, and its ICMP
     * errors are reported instead of waited out. */
    status = uv_udp_connect(&query->udp, (const struct sockaddr *)&query->result.server);
    if (status == 0)
        status = uv_udp_recv_start(&query->udp, on_udp_alloc, on_udp_read);
    if (status != 0) {
        fail_status(query, status, "connect (UDP)");
        return;
    }
    send_udp(query);
}

static void on_timer(uv_timer_t *timer)
{
    struct nd_dns_query *query = timer->data;
    if (query->finishing)
        return;
    if (remaining_ms(query) > 0) {
        if (query->result.transport == ND_DNS_UDP && query->udp_open &&
            query->result.udp_sent < attempts(query))
            send_udp(query);
        else
            arm_timer(query, remaining_ms(query));
        return;
    }
    char server[ND_NET_HOST_MAX + 16];
    server_text(query, server, sizeof server);
    if (query->result.server_length == 0)
        nd_error_set(&query->result.error, ND_ERR_TIMEOUT,
                     "the name of server %s was not resolved within %u ms", server,
                     query->request.timeout_ms);
    else if (query->result.transport == ND_DNS_TCP)
        nd_error_set(&query->result.error, ND_ERR_TIMEOUT,
                     "no reply from %s over TCP within %u ms%s", server, query->request.timeout_ms,
                     query->result.udp_truncated ? " (after a truncated UDP reply)" : "");
    else
        nd_error_set(&query->result.error, ND_ERR_TIMEOUT,
                     "no reply from %s within %u ms (%u UDP packets sent)", server,
                     query->request.timeout_ms, query->result.udp_sent);
    finish(query);
}

/* The address is known: is it allowed, then the first packet. */
static void begin_exchange(struct nd_dns_query *query)
{
    if (query->request.allow &&
        !nd_allowlist_permits(query->request.allow, query->request.host,
                              (const struct sockaddr *)&query->result.server,
                              query->request.port)) {
        char address[ND_NET_ADDRESS_TEXT_MAX];
        nd_net_format_host((const struct sockaddr *)&query->result.server, address, sizeof address);
        nd_error_set(&query->result.error, ND_ERR_FORBIDDEN,
                     "server %s (%s) is not in this service's --dns-allow list",
                     query->request.host, address);
        finish(query);
        return;
    }
    if (query->request.tcp_only)
        start_tcp(query);
    else
        start_udp(query);
}

static void on_resolved(uv_getaddrinfo_t *lookup, int status, struct addrinfo *list)
{
    struct nd_dns_query *query = lookup->data;
    query->looking_up = false;
    if (query->finishing) {
        uv_freeaddrinfo(list);
        maybe_done(query);
        return;
    }
    if (status != 0) {
        int gai_error, os_error;
        nd_runtime_gai_from_status(status, &gai_error, &os_error);
        nd_error_set_gai(&query->result.error, gai_error, os_error, "getaddrinfo");
        finish(query);
        return;
    }
    memcpy(&query->result.server, list->ai_addr, list->ai_addrlen);
    query->result.server_length = list->ai_addrlen;
    uv_freeaddrinfo(list);
    begin_exchange(query);
}

/* An IP literal needs no lookup, so no trip through the pool. */
static bool parse_literal(struct nd_dns_query *query)
{
    struct sockaddr_in *ipv4 = (struct sockaddr_in *)&query->result.server;
    struct sockaddr_in6 *ipv6 = (struct sockaddr_in6 *)&query->result.server;
    if (uv_ip4_addr(query->request.host, query->request.port, ipv4) == 0) {
        query->result.server_length = sizeof *ipv4;
        return true;
    }
    if (uv_ip6_addr(query->request.host, query->request.port, ipv6) == 0) {
        query->result.server_length = sizeof *ipv6;
        return true;
    }
    memset(&query->result.server, 0, sizeof query->result.server);
    return false;
}

void nd_dns_query_start(struct nd_dns_query *query, uv_loop_t *loop,
                        const struct nd_dns_query_request *request, nd_dns_query_done_fn done,
                        void *context)
{
    memset(query, 0, sizeof *query);
    query->request = *request;
    size_t length = request->query_length < sizeof query->query_wire ? request->query_length
                                                                     : sizeof query->query_wire;
    memcpy(query->query_wire, request->query, length);
    query->request.query = query->query_wire;
    query->request.query_length = length;
    query->loop = loop;
    query->done = done;
    query->context = context;
    query->started_ns = uv_hrtime();
    query->deadline_ns = query->started_ns + (uint64_t)request->timeout_ms * 1000000u;
    query->result.transport = request->tcp_only ? ND_DNS_TCP : ND_DNS_UDP;

    /* The timer is opened first and closed last: whatever happens next, done
     * comes from its close callback, never from inside this call. */
    uv_timer_init(loop, &query->timer);
    query->timer.data = query;
    query->timer_open = true;
    query->open_handles++;
    arm_timer(query, request->timeout_ms);

    if (parse_literal(query)) {
        begin_exchange(query);
        return;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)request->port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
    query->lookup.data = query;
    int status = uv_getaddrinfo(loop, &query->lookup, on_resolved, request->host, port, &hints);
    if (status != 0) {
        fail_status(query, status, "uv_getaddrinfo");
        return;
    }
    query->looking_up = true;
}

void nd_dns_query_cancel(struct nd_dns_query *query)
{
    if (query->finishing)
        return;
    nd_error_set(&query->result.error, ND_ERR_STOPPING, "the query was cut short");
    finish(query);
}

void nd_dns_query_release(struct nd_dns_query *query)
{
    free(query->result.reply);
    query->result.reply = NULL;
    free(query->tcp_buffer);
    query->tcp_buffer = NULL;
}
