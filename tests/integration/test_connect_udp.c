/* GET /connect?proto=udp against real UDP services on loopback: netdiag's
 * own UDP echo (the replies match), a closed port (refused), a silent one
 * (no_reply within the timeout), a name with two families where only IPv4
 * answers, the parameters, the allow list, and 100 probes at once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static void probe_on(const struct nd_test_server *target, const char *query,
                     struct nd_test_response *response)
{
    char path[1024];
    snprintf(path, sizeof path, "/connect?proto=udp&%s", query);
    nd_test_get(target, path, response);
    if (response->status != 200)
        fprintf(stderr, "GET %s -> %ld %s\n", path, response->status, response->body);
    assert_int_equal(response->status, 200);
    assert_non_null(response->json);
    assert_string_equal(nd_test_json_string(response->json, "proto"), "udp");
}

/* The phase object named name, NULL when the answer has none. */
static const cJSON *phase(const cJSON *body, const char *name)
{
    return nd_test_json_find(body, "phases", "phase", name);
}

static void test_echo_replies_match(void **state)
{
    const struct nd_test_server *server = *state;
    char query[160];
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send=hello&count=3&interval_ms=20",
             server->echo_udp_port);
    struct nd_test_response response;
    probe_on(server, query, &response);
    assert_true(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "result"), "ok");
    assert_string_equal(nd_test_json_string(response.json, "reply.text"), "hello");
    const cJSON *exchange = phase(response.json, "exchange");
    assert_non_null(exchange);
    assert_int_equal(nd_test_json_number(exchange, "sent"), 3);
    assert_int_equal(nd_test_json_number(exchange, "answered"), 3);
    assert_int_equal(nd_test_json_number(exchange, "loss_percent"), 0);
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof path, "datagrams.%d.result", i);
        assert_string_equal(nd_test_json_string(exchange, path), "replied");
        snprintf(path, sizeof path, "datagrams.%d.identical", i);
        assert_true(nd_test_json_bool(exchange, path));
        snprintf(path, sizeof path, "datagrams.%d.rtt_ms", i);
        assert_true(nd_test_json_number(exchange, path) >= 0);
    }
    assert_true(nd_test_json_number(exchange, "rtt_ms.max") >=
                nd_test_json_number(exchange, "rtt_ms.min"));
    /* Ends at the last reply: two intervals, not the 3 s timeout. */
    assert_true(response.seconds < 1.0);
    nd_test_response_free(&response);

    /* Binary bytes go out as they are and come back as hex; an empty
     * datagram comes back empty. */
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send_hex=00ff10fe",
             server->echo_udp_port);
    probe_on(server, query, &response);
    assert_true(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "reply.hex"), "00ff10fe");
    nd_test_response_free(&response);
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send=", server->echo_udp_port);
    probe_on(server, query, &response);
    assert_true(nd_test_json_bool(response.json, "ok"));
    assert_int_equal(nd_test_json_number(response.json, "reply.bytes"), 0);
    assert_int_equal(
        nd_test_json_number(phase(response.json, "exchange"), "datagrams.0.reply_bytes"), 0);
    nd_test_response_free(&response);

    /* The probe's counters in /metrics. */
    struct nd_test_response metrics;
    nd_test_get(server, "/metrics", &metrics);
    assert_non_null(
        strstr(metrics.body, "\nnetdiag_connect_udp_probes_total{result=\"replied\"} "));
    assert_null(strstr(metrics.body, "\nnetdiag_connect_udp_datagrams_answered_total 0\n"));
    nd_test_response_free(&metrics);
}

static void test_closed_port_is_refused(void **state)
{
    const struct nd_test_server *server = *state;
    unsigned port;
    close(nd_test_udp_socket(&port)); /* bound a moment ago: now nothing is */
    char query[128];
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send=hello&count=3", port);
    struct nd_test_response response;
    probe_on(server, query, &response);
    assert_false(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "result"), "refused");
    assert_string_equal(nd_test_json_string(response.json, "failed_phase"), "exchange");
    assert_string_equal(nd_test_json_string(response.json, "error.code"), "ECONNREFUSED");
    const cJSON *exchange = phase(response.json, "exchange");
    assert_int_equal(nd_test_json_number(exchange, "sent"), 1);
    assert_string_equal(nd_test_json_string(exchange, "datagrams.0.result"), "refused");
    assert_true(response.seconds < 1.0);
    nd_test_response_free(&response);
}

static void test_silent_port_is_no_reply(void **state)
{
    const struct nd_test_server *server = *state;
    unsigned port;
    int fd = nd_test_udp_socket(&port);
    char query[160];
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send=hello&count=2&timeout_ms=500", port);
    struct nd_test_response response;
    probe_on(server, query, &response);
    assert_false(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "result"), "no_reply");
    assert_string_equal(nd_test_json_string(response.json, "failed_phase"), "exchange");
    assert_string_equal(nd_test_json_string(response.json, "error.code"), "no_reply");
    assert_non_null(strstr(nd_test_json_string(response.json, "note"), "ambiguous"));
    const cJSON *exchange = phase(response.json, "exchange");
    assert_int_equal(nd_test_json_number(exchange, "sent"), 2);
    assert_int_equal(nd_test_json_number(exchange, "loss_percent"), 100);
    /* Within timeout_ms and a small margin. */
    assert_true(response.seconds >= 0.49 && response.seconds < 1.5);
    double total = nd_test_json_number(response.json, "total_ms");
    assert_true(total >= 490 && total < 1200);
    nd_test_response_free(&response);
    close(fd);
}

/* A name with an IPv6 and an IPv4 address where only IPv4 has the echo:
 * ::1 refuses (ICMPv6 port unreachable), and the probe goes on to
 * 127.0.0.1, as the TCP probe does. */
static void test_two_families_refused_then_answered(void **state)
{
    (void)state;
    struct nd_test_server both;
    if (!nd_test_server_start_with_hosts(&both, NULL, "::1 both.test\n127.0.0.1 both.test\n"))
        skip(); /* needs root for a private /etc/hosts */
    char query[128];
    snprintf(query, sizeof query, "host=both.test&port=%u&send=hi", both.echo_udp_port);
    struct nd_test_response response;
    probe_on(&both, query, &response);
    assert_true(nd_test_json_bool(response.json, "ok"));
    const cJSON *attempts = nd_test_json_get(phase(response.json, "connect"), "attempts");
    assert_int_equal(cJSON_GetArraySize(attempts), 2);
    assert_string_equal(nd_test_json_string(attempts, "0.address"), "::1");
    assert_string_equal(nd_test_json_string(attempts, "0.result"), "refused");
    assert_string_equal(nd_test_json_string(attempts, "0.error.code"), "ECONNREFUSED");
    assert_string_equal(nd_test_json_string(attempts, "1.address"), "127.0.0.1");
    assert_string_equal(nd_test_json_string(attempts, "1.result"), "connected");
    char peer[32];
    snprintf(peer, sizeof peer, "127.0.0.1:%u", both.echo_udp_port);
    assert_string_equal(nd_test_json_string(response.json, "peer"), peer);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&both, 10000), 0);
}

static void test_bad_parameters(void **state)
{
    const struct nd_test_server *server = *state;
    static const struct nd_test_bad_input cases[] = {
        {"/connect?host=localhost&port=53&proto=sctp", "invalid_argument", "proto"},
        {"/connect?host=localhost&port=53&proto=udp", "missing_parameter", "send"},
        {"/connect?port=53&proto=udp&send=x", "missing_parameter", "host"},
        {"/connect?host=localhost&port=53&proto=udp&send=x&count=0", "out_of_range", "count"},
        {"/connect?host=localhost&port=53&proto=udp&send=x&count=11", "out_of_range", "count"},
        {"/connect?host=localhost&port=53&proto=udp&send=x&interval_ms=9", "out_of_range",
         "interval_ms"},
        {"/connect?host=localhost&port=53&proto=udp&send=x&interval_ms=5001", "out_of_range",
         "interval_ms"},
        /* Ten datagrams 500 ms apart do not fit in the default 3 s. */
        {"/connect?host=localhost&port=53&proto=udp&send=x&count=10&interval_ms=500",
         "out_of_range", "interval_ms"},
        {"/connect?host=localhost&port=53&proto=udp&send=x&send_hex=00", "invalid_argument",
         "send_hex"},
        {"/connect?host=localhost&port=53&proto=udp&http_path=/", "invalid_argument", "http_path"},
        {"/connect?host=localhost&port=53&proto=udp&send=x&expect=x", "invalid_argument", "expect"},
        /* TLS runs over TCP here (DTLS is not offered). */
        {"/connect?host=localhost&port=53&proto=udp&send=x&tls=1", "invalid_argument", "tls"},
        {"/connect?host=localhost&port=53&proto=udp&send=x&sni=a.test", "invalid_argument", "sni"},
        {"/connect?host=localhost&port=53&count=2", "invalid_argument", "count"},
        {"/connect?host=localhost&port=53&interval_ms=100", "invalid_argument", "interval_ms"},
        {"/connect?host=localhost&port=53&proto=udp&proto=tcp&send=x", "duplicate_parameter",
         "proto"},
    };
    nd_test_expect_bad_inputs(server, cases, sizeof cases / sizeof cases[0]);
}

static void test_allow_list(void **state)
{
    const struct nd_test_server *server = *state;
    struct nd_test_server guarded;
    char allow[64];
    snprintf(allow, sizeof allow, "127.0.0.1:%u", server->echo_udp_port);
    nd_test_server_start(&guarded, (const char *[]){"--connect-allow", allow, NULL});
    char path[160];
    snprintf(path, sizeof path, "/connect?proto=udp&host=127.0.0.2&port=%u&send=x",
             server->echo_udp_port);
    struct nd_test_response response;
    nd_test_get(&guarded, path, &response);
    nd_test_assert_problem(&response, 403, "forbidden", "host");
    nd_test_response_free(&response);
    snprintf(path, sizeof path, "/connect?proto=udp&host=127.0.0.1&port=%u&send=x",
             server->echo_udp_port);
    nd_test_get(&guarded, path, &response);
    assert_int_equal(response.status, 200);
    assert_true(nd_test_json_bool(response.json, "ok"));
    nd_test_response_free(&response);
    /* The metadata service is refused with an empty list too. */
    nd_test_get(server, "/connect?proto=udp&host=169.254.169.254&port=53&send=x", &response);
    nd_test_assert_problem(&response, 403, "forbidden", "host");
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&guarded, 10000), 0);

    nd_test_server_start(&guarded, (const char *[]){"--connect-allow", "off", NULL});
    nd_test_get(&guarded, "/connect?proto=udp&host=127.0.0.1&port=53&send=x", &response);
    nd_test_assert_problem(&response, 403, "forbidden", NULL);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&guarded, 10000), 0);
}

/* --- 100 probes at once ----------------------------------------------------- */

static void test_100_probes_at_once(void **state)
{
    (void)state;
    struct nd_test_server busy;
    nd_test_server_start(&busy, (const char *[]){"--slow-max-waiting", "128", NULL});
    unsigned port;
    int fd = nd_test_udp_socket(&port);
    char path[192];
    snprintf(path, sizeof path,
             "/connect?proto=udp&host=127.0.0.1&port=%u&send=x&count=3&interval_ms=100&"
             "timeout_ms=1500",
             port);
    struct nd_test_batch *batch = nd_test_get_all_begin(&busy, path, 100);
    /* The fast endpoints stay fast while they wait. */
    for (int i = 0; i < 100; i++) {
        struct nd_test_response response;
        nd_test_get(&busy, "/byteorder?value=1234", &response);
        assert_int_equal(response.status, 200);
        assert_true(response.seconds < 0.5);
        nd_test_response_free(&response);
    }
    long statuses[100];
    nd_test_get_all_end(batch, statuses);
    for (int i = 0; i < 100; i++)
        assert_int_equal(statuses[i], 200);
    struct nd_test_response metrics;
    nd_test_get(&busy, "/metrics", &metrics);
    assert_non_null(
        strstr(metrics.body, "\nnetdiag_connect_udp_probes_total{result=\"no_reply\"} 100\n"));
    assert_non_null(strstr(metrics.body, "\nnetdiag_connect_udp_datagrams_sent_total 300\n"));
    nd_test_response_free(&metrics);
    close(fd);
    assert_int_equal(nd_test_server_stop(&busy, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_replies_match),
        cmocka_unit_test(test_closed_port_is_refused),
        cmocka_unit_test(test_silent_port_is_no_reply),
        cmocka_unit_test(test_two_families_refused_then_answered),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_100_probes_at_once),
    };
    /* Once, before any thread: test_100_probes_at_once runs libcurl on two. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int failed = cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
    curl_global_cleanup();
    return failed;
}
