/* src/probe/dns_query.c on a real runtime against a small responder in this
 * test (UDP and TCP on loopback) that answers each way the probe must
 * handle: an answer, a truncated one, silence, text, a reply to another
 * query first, a port with nothing behind it; and the allow list, cancel,
 * and a name to look up. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "netdiag/clock.h"
#include "probe/dns_query.h"
#include "runtime/runtime.h"
#include "support/runtime_fixture.h"

enum responder_mode {
    ANSWER,
    TRUNCATE,   /* TC over UDP, the answer over TCP */
    SILENT,     /* reads, never answers */
    TEXT,       /* answers with text that is not DNS */
    OTHER_THEN, /* a reply with another id first, then the answer */
};

struct responder {
    enum responder_mode mode;
    int udp, tcp;
    unsigned port;
    atomic_int datagrams; /* UDP queries received */
    atomic_int connections;
    atomic_bool stop;
    pthread_t thread;
};

/* The reply to query: an A record for the question's name. */
static size_t make_answer(const uint8_t *query, size_t length, bool truncated, uint16_t id_xor,
                          uint8_t *out, size_t size)
{
    ldns_pkt *packet = NULL;
    assert_int_equal(ldns_wire2pkt(&packet, query, length), LDNS_STATUS_OK);
    ldns_pkt_set_qr(packet, true);
    ldns_pkt_set_tc(packet, truncated);
    ldns_pkt_set_id(packet, ldns_pkt_id(packet) ^ id_xor);
    if (!truncated) {
        ldns_rr *rr = NULL;
        assert_int_equal(ldns_rr_new_frm_str(&rr, "probe.test. 60 IN A 192.0.2.1", 0, NULL, NULL),
                         LDNS_STATUS_OK);
        ldns_pkt_push_rr(packet, LDNS_SECTION_ANSWER, rr);
    }
    uint8_t *wire = NULL;
    size_t wire_length = 0;
    assert_int_equal(ldns_pkt2wire(&wire, packet, &wire_length), LDNS_STATUS_OK);
    ldns_pkt_free(packet);
    assert_true(wire_length <= size);
    memcpy(out, wire, wire_length);
    free(wire);
    return wire_length;
}

static void serve_tcp(struct responder *responder)
{
    int connection = accept(responder->tcp, NULL, NULL);
    if (connection < 0)
        return;
    atomic_fetch_add(&responder->connections, 1);
    uint8_t buffer[2048];
    size_t have = 0;
    while (have < 2 || have < 2 + (size_t)(buffer[0] << 8 | buffer[1])) {
        ssize_t n = recv(connection, buffer + have, sizeof buffer - have, 0);
        if (n <= 0) {
            close(connection);
            return;
        }
        have += (size_t)n;
    }
    uint8_t reply[2048];
    size_t length = make_answer(buffer + 2, have - 2, false, 0, reply + 2, sizeof reply - 2);
    reply[0] = (uint8_t)(length >> 8);
    reply[1] = (uint8_t)length;
    /* Sent in two pieces, so the probe reassembles the stream. */
    assert_int_equal(send(connection, reply, 3, MSG_NOSIGNAL), 3);
    usleep(20 * 1000);
    assert_int_equal(send(connection, reply + 3, length - 1, MSG_NOSIGNAL), (ssize_t)length - 1);
    close(connection);
}

static void *respond(void *argument)
{
    struct responder *responder = argument;
    while (!atomic_load(&responder->stop)) {
        struct pollfd fds[2] = {{.fd = responder->udp, .events = POLLIN},
                                {.fd = responder->tcp, .events = POLLIN}};
        if (poll(fds, 2, 50) <= 0)
            continue;
        if (fds[1].revents & POLLIN)
            serve_tcp(responder);
        if (!(fds[0].revents & POLLIN))
            continue;
        uint8_t query[2048], reply[2048];
        struct sockaddr_storage peer;
        socklen_t peer_length = sizeof peer;
        ssize_t n = recvfrom(responder->udp, query, sizeof query, 0, (struct sockaddr *)&peer,
                             &peer_length);
        if (n <= 0)
            continue;
        atomic_fetch_add(&responder->datagrams, 1);
        size_t length = 0;
        switch (responder->mode) {
        case SILENT:
            continue;
        case TEXT:
            memcpy(reply, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
            length = 28;
            break;
        case OTHER_THEN:
            length = make_answer(query, (size_t)n, false, 0x5555, reply, sizeof reply);
            sendto(responder->udp, reply, length, 0, (struct sockaddr *)&peer, peer_length);
            length = make_answer(query, (size_t)n, false, 0, reply, sizeof reply);
            break;
        case ANSWER:
        case TRUNCATE:
            length =
                make_answer(query, (size_t)n, responder->mode == TRUNCATE, 0, reply, sizeof reply);
            break;
        }
        sendto(responder->udp, reply, length, 0, (struct sockaddr *)&peer, peer_length);
    }
    return NULL;
}

/* A responder on a loopback address (its port 0: any free one). */
static void responder_start_at(struct responder *responder, enum responder_mode mode,
                               const struct sockaddr *at, socklen_t at_length)
{
    memset(responder, 0, sizeof *responder);
    responder->mode = mode;
    struct sockaddr_storage address;
    memcpy(&address, at, at_length);
    responder->tcp = socket(at->sa_family, SOCK_STREAM, 0);
    assert_true(responder->tcp >= 0);
    assert_int_equal(bind(responder->tcp, (struct sockaddr *)&address, at_length), 0);
    assert_int_equal(listen(responder->tcp, 8), 0);
    socklen_t length = sizeof address;
    assert_int_equal(getsockname(responder->tcp, (struct sockaddr *)&address, &length), 0);
    responder->port = at->sa_family == AF_INET6
                          ? ntohs(((struct sockaddr_in6 *)&address)->sin6_port)
                          : ntohs(((struct sockaddr_in *)&address)->sin_port);
    /* The same port number for UDP, as a DNS server has. */
    responder->udp = socket(at->sa_family, SOCK_DGRAM, 0);
    assert_true(responder->udp >= 0);
    assert_int_equal(bind(responder->udp, (struct sockaddr *)&address, length), 0);
    assert_int_equal(pthread_create(&responder->thread, NULL, respond, responder), 0);
}

static void responder_start(struct responder *responder, enum responder_mode mode)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    responder_start_at(responder, mode, (struct sockaddr *)&address, sizeof address);
}

static void responder_stop(struct responder *responder)
{
    atomic_store(&responder->stop, true);
    pthread_join(responder->thread, NULL);
    close(responder->udp);
    close(responder->tcp);
}

struct exchange {
    struct nd_dns_query query;
    struct nd_dns_query_request request;
    struct nd_runtime_done *done;
    int completions;
    bool cancel_at_once;
};

static void on_done(struct nd_dns_query *query, void *context)
{
    struct exchange *exchange = context;
    (void)query;
    exchange->completions++;
    nd_runtime_signal(exchange->done);
}

static void start_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct exchange *exchange = argument;
    exchange->done = done;
    nd_dns_query_start(&exchange->query, loop, &exchange->request, on_done, exchange);
    if (exchange->cancel_at_once)
        nd_dns_query_cancel(&exchange->query);
}

static uint8_t query_wire[ND_DNS_QUERY_MAX];

/* Runs one exchange to its end; the result is in exchange->query.result. */
static void run(struct exchange *exchange, const char *host, unsigned port, unsigned timeout_ms)
{
    struct nd_dns_query_options options = {.id = 4242, .type = 1, .recursion_desired = true};
    size_t length = 0;
    struct nd_error error;
    assert_int_equal(
        nd_dns_build_query("probe.test.", &options, query_wire, sizeof query_wire, &length, &error),
        ND_OK);
    snprintf(exchange->request.host, sizeof exchange->request.host, "%s", host);
    exchange->request.port = (uint16_t)port;
    exchange->request.query = query_wire;
    exchange->request.query_length = length;
    exchange->request.timeout_ms = timeout_ms;
    assert_true(nd_runtime_call(nd_test_runtime, start_on_loop, exchange));
    assert_int_equal(exchange->completions, 1);
}

static void test_udp_answer(void **state)
{
    (void)state;
    struct responder responder;
    responder_start(&responder, ANSWER);
    struct exchange exchange = {0};
    run(&exchange, "127.0.0.1", responder.port, 2000);
    const struct nd_dns_query_result *result = &exchange.query.result;
    assert_int_equal(result->error.code, ND_OK);
    assert_int_equal(result->transport, ND_DNS_UDP);
    assert_int_equal(result->udp_sent, 1);
    assert_false(result->udp_truncated);
    assert_non_null(result->reply);
    char reason[128];
    assert_int_equal(nd_dns_classify_reply(query_wire, exchange.request.query_length, result->reply,
                                           result->reply_length, reason, sizeof reason),
                     ND_DNS_REPLY_MATCHES);
    nd_dns_query_release(&exchange.query);
    responder_stop(&responder);
}

static void test_truncated_goes_to_tcp(void **state)
{
    (void)state;
    struct responder responder;
    responder_start(&responder, TRUNCATE);
    struct exchange exchange = {0};
    run(&exchange, "127.0.0.1", responder.port, 2000);
    const struct nd_dns_query_result *result = &exchange.query.result;
    assert_int_equal(result->error.code, ND_OK);
    assert_int_equal(result->transport, ND_DNS_TCP);
    assert_true(result->udp_truncated);
    assert_int_equal(atomic_load(&responder.connections), 1);
    struct nd_dns_message message;
    struct nd_error error;
    assert_int_equal(nd_dns_parse_message(result->reply, result->reply_length, &message, &error),
                     ND_OK);
    assert_false(message.tc);
    assert_int_equal(message.counts[ND_DNS_ANSWER], 1);
    nd_dns_message_free(&message);
    nd_dns_query_release(&exchange.query);

    /* tcp_only: no datagram at all. */
    struct exchange tcp = {.request = {.tcp_only = true}};
    run(&tcp, "127.0.0.1", responder.port, 2000);
    assert_int_equal(tcp.query.result.error.code, ND_OK);
    assert_int_equal(tcp.query.result.transport, ND_DNS_TCP);
    assert_int_equal(tcp.query.result.udp_sent, 0);
    assert_int_equal(atomic_load(&responder.datagrams), 1);
    nd_dns_query_release(&tcp.query);
    responder_stop(&responder);
}

static void test_silence_is_bounded(void **state)
{
    (void)state;
    struct responder responder;
    responder_start(&responder, SILENT);
    struct exchange exchange = {0};
    uint64_t began = nd_clock_monotonic_ns();
    run(&exchange, "127.0.0.1", responder.port, 600);
    uint64_t took_ms = (nd_clock_monotonic_ns() - began) / 1000000u;
    assert_int_equal(exchange.query.result.error.code, ND_ERR_TIMEOUT);
    assert_non_null(strstr(exchange.query.result.error.message, "3 UDP packets"));
    assert_true(took_ms >= 590 && took_ms < 2000);
    /* Three attempts, the same packet each time, and no more. */
    usleep(100 * 1000);
    assert_int_equal(atomic_load(&responder.datagrams), 3);
    nd_dns_query_release(&exchange.query);

    struct exchange once = {.request = {.udp_attempts = 1}};
    run(&once, "127.0.0.1", responder.port, 200);
    assert_int_equal(once.query.result.error.code, ND_ERR_TIMEOUT);
    assert_int_equal(once.query.result.udp_sent, 1);
    responder_stop(&responder);
}

static void test_not_dns_and_other_replies(void **state)
{
    (void)state;
    struct responder responder;
    responder_start(&responder, TEXT);
    struct exchange exchange = {0};
    run(&exchange, "127.0.0.1", responder.port, 2000);
    assert_int_equal(exchange.query.result.error.code, ND_ERR_PROTOCOL);
    assert_non_null(strstr(exchange.query.result.error.message, "not a DNS message"));
    responder_stop(&responder);

    responder_start(&responder, OTHER_THEN);
    struct exchange other = {0};
    run(&other, "127.0.0.1", responder.port, 2000);
    assert_int_equal(other.query.result.error.code, ND_OK);
    assert_int_equal(other.query.result.discarded, 1);
    assert_non_null(strstr(other.query.result.discarded_reason, "id"));
    nd_dns_query_release(&other.query);
    responder_stop(&responder);
}

static void test_refused_port(void **state)
{
    (void)state;
    /* A port just freed: the kernel answers with ICMP port unreachable. */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t length = sizeof address;
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    close(fd);
    struct exchange exchange = {0};
    run(&exchange, "127.0.0.1", ntohs(address.sin_port), 2000);
    assert_int_equal(exchange.query.result.error.code, ND_ERR_SYSTEM);
    assert_int_equal(exchange.query.result.error.os_error, ECONNREFUSED);
}

static void test_allow_list_and_names(void **state)
{
    (void)state;
    struct responder responder;
    responder_start(&responder, ANSWER);
    struct nd_allowlist allow;
    struct nd_error error;
    assert_int_equal(nd_allowlist_parse("10.0.0.0/8", &allow, &error), ND_OK);
    struct exchange refused = {.request = {.allow = &allow}};
    run(&refused, "127.0.0.1", responder.port, 2000);
    assert_int_equal(refused.query.result.error.code, ND_ERR_FORBIDDEN);
    assert_int_equal(atomic_load(&responder.datagrams), 0);

    responder_stop(&responder);

    /* A name is looked up first, then its address is checked. The probe
     * asks the first address getaddrinfo gives, so the responder listens
     * there: 127.0.0.1, or ::1 where /etc/hosts lists it for localhost too
     * (Debian's default), which RFC 6724 puts first. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *first = NULL;
    assert_int_equal(getaddrinfo("localhost", NULL, &hints, &first), 0);
    responder_start_at(&responder, ANSWER, first->ai_addr, first->ai_addrlen);
    assert_int_equal(nd_allowlist_parse("127.0.0.0/8,::1", &allow, &error), ND_OK);
    struct exchange named = {.request = {.allow = &allow}};
    run(&named, "localhost", responder.port, 2000);
    assert_int_equal(named.query.result.error.code, ND_OK);
    assert_int_equal(named.query.result.server.ss_family, first->ai_family);
    assert_int_equal(atomic_load(&responder.datagrams), 1);
    freeaddrinfo(first);
    nd_dns_query_release(&named.query);
    responder_stop(&responder);
}

static void test_cancel(void **state)
{
    (void)state;
    struct responder responder;
    responder_start(&responder, SILENT);
    struct exchange exchange = {.cancel_at_once = true};
    uint64_t began = nd_clock_monotonic_ns();
    run(&exchange, "127.0.0.1", responder.port, 5000);
    assert_true((nd_clock_monotonic_ns() - began) / 1000000u < 1000);
    assert_int_equal(exchange.query.result.error.code, ND_ERR_STOPPING);
    struct exchange named = {.cancel_at_once = true};
    run(&named, "localhost", responder.port, 5000);
    assert_int_equal(named.query.result.error.code, ND_ERR_STOPPING);
    responder_stop(&responder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_answer),
        cmocka_unit_test(test_truncated_goes_to_tcp),
        cmocka_unit_test(test_silence_is_bounded),
        cmocka_unit_test(test_not_dns_and_other_replies),
        cmocka_unit_test(test_refused_port),
        cmocka_unit_test(test_allow_list_and_names),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, nd_test_runtime_setup, nd_test_runtime_teardown);
}
