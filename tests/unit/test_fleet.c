/* src/fleet/fleet.c: the peers a DNS reply names (sorted, each once, A and
 * AAAA, CNAMEs skipped, bounded), the request a peer is sent, what makes a
 * round healthy, and the engine on a real runtime stopped with a lookup in
 * flight. The engine's rounds against real peers are tested end to end in
 * tests/integration/test_fleet.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "fleet/fleet.h"
#include "runtime/runtime.h"

/* A reply with the records given in presentation form, rcode set. */
static size_t make_reply(const char *const *records, size_t count, ldns_pkt_rcode rcode,
                         uint8_t *out, size_t size)
{
    ldns_pkt *packet = ldns_pkt_new();
    assert_non_null(packet);
    ldns_pkt_set_qr(packet, true);
    ldns_pkt_set_rcode(packet, (uint8_t)rcode);
    for (size_t i = 0; i < count; i++) {
        ldns_rr *rr = NULL;
        assert_int_equal(ldns_rr_new_frm_str(&rr, records[i], 0, NULL, NULL), LDNS_STATUS_OK);
        assert_true(ldns_pkt_push_rr(packet, LDNS_SECTION_ANSWER, rr));
    }
    uint8_t *wire = NULL;
    size_t length = 0;
    assert_int_equal(ldns_pkt2wire(&wire, packet, &length), LDNS_STATUS_OK);
    ldns_pkt_free(packet);
    assert_true(length <= size);
    memcpy(out, wire, length);
    free(wire);
    return length;
}

static void test_addresses_sorted_once_both_families(void **state)
{
    (void)state;
    static const char *const records[] = {
        "peers.test. 5 IN CNAME netdiag-peers.test.",
        "netdiag-peers.test. 5 IN A 10.0.0.3",
        "netdiag-peers.test. 5 IN A 10.0.0.1",
        "netdiag-peers.test. 5 IN AAAA fd00::0:0:1",
        "netdiag-peers.test. 5 IN A 10.0.0.3",
        "netdiag-peers.test. 5 IN TXT \"not an address\"",
    };
    uint8_t wire[1024];
    size_t length = make_reply(records, 6, LDNS_RCODE_NOERROR, wire, sizeof wire);
    char addresses[8][ND_NET_ADDRESS_TEXT_MAX];
    size_t count = 0;
    unsigned dropped = 0, rcode = 99;
    struct nd_error error;
    assert_int_equal(
        nd_fleet_parse_addresses(wire, length, addresses, 8, &count, &dropped, &rcode, &error),
        ND_OK);
    assert_int_equal(rcode, 0);
    assert_int_equal(count, 3);
    assert_int_equal(dropped, 0);
    /* Compared as inet_ntop writes them, as --pod-ip is kept. */
    assert_string_equal(addresses[0], "10.0.0.1");
    assert_string_equal(addresses[1], "10.0.0.3");
    assert_string_equal(addresses[2], "fd00::1");
}

static void test_addresses_past_the_bound_are_counted(void **state)
{
    (void)state;
    static const char *const records[] = {
        "p.test. 5 IN A 10.0.0.1", "p.test. 5 IN A 10.0.0.2", "p.test. 5 IN A 10.0.0.3",
        "p.test. 5 IN A 10.0.0.4", "p.test. 5 IN A 10.0.0.5",
    };
    uint8_t wire[1024];
    size_t length = make_reply(records, 5, LDNS_RCODE_NOERROR, wire, sizeof wire);
    char addresses[2][ND_NET_ADDRESS_TEXT_MAX];
    size_t count = 0;
    unsigned dropped = 0, rcode;
    struct nd_error error;
    assert_int_equal(
        nd_fleet_parse_addresses(wire, length, addresses, 2, &count, &dropped, &rcode, &error),
        ND_OK);
    assert_int_equal(count, 2);
    assert_int_equal(dropped, 3);

    /* A and AAAA answers go into one set: the second call adds to it, and
     * the bound holds over both (the A records, asked first, come first). */
    static const char *const more[] = {"p.test. 5 IN AAAA ::1"};
    uint8_t more_wire[512];
    size_t more_length = make_reply(more, 1, LDNS_RCODE_NOERROR, more_wire, sizeof more_wire);
    char both[6][ND_NET_ADDRESS_TEXT_MAX];
    for (size_t max = 5; max <= 6; max++) {
        count = 0;
        dropped = 0;
        assert_int_equal(
            nd_fleet_parse_addresses(wire, length, both, max, &count, &dropped, &rcode, &error),
            ND_OK);
        assert_int_equal(nd_fleet_parse_addresses(more_wire, more_length, both, max, &count,
                                                  &dropped, &rcode, &error),
                         ND_OK);
        assert_int_equal(count, max);
        assert_int_equal(dropped, 6 - max);
        assert_string_equal(both[0], "10.0.0.1");
        assert_string_equal(both[max - 1], max == 6 ? "::1" : "10.0.0.5");
    }
}

static void test_nxdomain_and_garbage(void **state)
{
    (void)state;
    uint8_t wire[512];
    size_t length = make_reply(NULL, 0, LDNS_RCODE_NXDOMAIN, wire, sizeof wire);
    char addresses[2][ND_NET_ADDRESS_TEXT_MAX];
    size_t count = 0;
    unsigned dropped = 0, rcode = 0;
    struct nd_error error;
    assert_int_equal(
        nd_fleet_parse_addresses(wire, length, addresses, 2, &count, &dropped, &rcode, &error),
        ND_OK);
    assert_int_equal(rcode, 3);
    assert_int_equal(count, 0);
    static const uint8_t text[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    assert_int_equal(nd_fleet_parse_addresses(text, sizeof text - 1, addresses, 2, &count, &dropped,
                                              &rcode, &error),
                     ND_ERR_PROTOCOL);
}

static void test_request_text(void **state)
{
    (void)state;
    struct nd_fleet_config config = {.http_port = 8080, .auth_token = ""};
    char text[512];
    size_t length = nd_fleet_request_text(&config, "10.0.0.7", "/healthz", text, sizeof text);
    assert_int_equal(length, strlen(text));
    assert_non_null(strstr(text, "GET /healthz HTTP/1.0\r\nHost: 10.0.0.7:8080\r\n"));
    assert_null(strstr(text, "Authorization"));
    assert_non_null(strstr(text, "Connection: close\r\n\r\n"));
    assert_int_equal(text[length - 1], '\n');

    config.auth_token = "s3cret-token-for-peers";
    length = nd_fleet_request_text(&config, "fd00::7", "/fleet", text, sizeof text);
    assert_non_null(strstr(text, "GET /fleet HTTP/1.0\r\nHost: [fd00::7]:8080\r\n"));
    assert_non_null(strstr(text, "\r\nAuthorization: Bearer s3cret-token-for-peers\r\n"));
    /* Too small a buffer is no request at all, not a cut one. */
    assert_int_equal(nd_fleet_request_text(&config, "fd00::7", "/fleet", text, length), 0);
    assert_int_equal(nd_fleet_request_text(&config, "fd00::7", "/fleet", text, 20), 0);
}

static void test_round_health(void **state)
{
    (void)state;
    struct nd_fleet_round round = {.tcp_ok = true};
    assert_true(nd_fleet_round_healthy(&round));
    round.udp_probed = true;
    assert_false(nd_fleet_round_healthy(&round));
    round.udp_ok = true;
    assert_true(nd_fleet_round_healthy(&round));
    round.tcp_ok = false;
    assert_false(nd_fleet_round_healthy(&round));

    struct nd_fleet_peer peer = {.round_count = 0};
    assert_null(nd_fleet_peer_last(&peer));
    peer.round_count = 3;
    peer.last_round = 2;
    peer.rounds[2].http_status = 204;
    assert_int_equal(nd_fleet_peer_last(&peer)->http_status, 204);
}

/* The engine with a DNS server that never answers: a lookup is in flight
 * when it stops, and the stop waits for it to be cut short and freed. */
static void test_stop_with_a_lookup_in_flight(void **state)
{
    (void)state;
    int silent = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(silent >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(silent, (struct sockaddr *)&address, sizeof address), 0);
    socklen_t length = sizeof address;
    assert_int_equal(getsockname(silent, (struct sockaddr *)&address, &length), 0);

    struct nd_runtime_config runtime_config = {.slow_workers = 1};
    struct nd_runtime *runtime;
    struct nd_error error;
    assert_int_equal(nd_runtime_start(&runtime_config, &runtime, &error), ND_OK);
    struct nd_fleet_config config = {
        .peers_name = "peers.test",
        .interval_s = 10,
        .peers_max = 16,
        .http_port = 8080,
        .auth_token = "",
    };
    snprintf(config.dns_server.host, sizeof config.dns_server.host, "127.0.0.1");
    config.dns_server.port = ntohs(address.sin_port);
    struct nd_fleet *fleet;
    assert_int_equal(nd_fleet_start(runtime, &config, &fleet, &error), ND_OK);
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
    nanosleep(&pause, NULL);

    struct nd_fleet_view view;
    assert_int_equal(nd_fleet_snapshot(fleet, &view, &error), ND_OK);
    assert_false(view.discovery.done);
    assert_int_equal(view.peer_count, 0);
    assert_string_equal(view.config->peers_name, "peers.test");
    nd_fleet_view_free(&view);

    nd_fleet_stop(fleet);
    assert_true(nd_runtime_stop(runtime, 2000));
    assert_int_equal(close(silent), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses_sorted_once_both_families),
        cmocka_unit_test(test_addresses_past_the_bound_are_counted),
        cmocka_unit_test(test_nxdomain_and_garbage),
        cmocka_unit_test(test_request_text),
        cmocka_unit_test(test_round_health),
        cmocka_unit_test(test_stop_with_a_lookup_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
