/* GET /connect against real servers on loopback: netdiag itself over HTTP,
 * its echo listener, a closed port, a listener that never answers, servers
 * that close or reset, names that do not resolve or resolve to two
 * families, the caps, the allow list, and 200 probes at once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct nd_test_server server;

/* --- small servers --------------------------------------------------------- */

enum behaviour { NEVER_ANSWERS, CLOSES_AT_ONCE, RESETS };

struct listener {
    int fd;
    unsigned port;
    enum behaviour behaviour;
    pthread_t thread;
};

static void *serve(void *argument)
{
    struct listener *listener = argument;
    for (;;) {
        int client = accept(listener->fd, NULL, NULL);
        if (client < 0)
            return NULL;
        if (listener->behaviour == RESETS) {
            char buffer[256];
            if (recv(client, buffer, sizeof buffer, 0) >= 0) {
                struct linger linger = {.l_onoff = 1, .l_linger = 0};
                setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
            }
        }
        close(client);
    }
}

/* Bound to host (an IPv4 or IPv6 literal), listening. */
static void start_listener(struct listener *listener, const char *host, unsigned port,
                           enum behaviour behaviour)
{
    struct sockaddr_storage address = {0};
    socklen_t length;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        length = sizeof *v4;
    } else {
        assert_int_equal(inet_pton(AF_INET6, host, &v6->sin6_addr), 1);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        length = sizeof *v6;
    }
    listener->behaviour = behaviour;
    listener->fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(listener->fd >= 0);
    int on = 1;
    setsockopt(listener->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    assert_int_equal(bind(listener->fd, (struct sockaddr *)&address, length), 0);
    assert_int_equal(getsockname(listener->fd, (struct sockaddr *)&address, &length), 0);
    listener->port = ntohs(address.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
    assert_int_equal(listen(listener->fd, 512), 0);
    if (behaviour != NEVER_ANSWERS)
        assert_int_equal(pthread_create(&listener->thread, NULL, serve, listener), 0);
}

static void stop_listener(struct listener *listener)
{
    shutdown(listener->fd, SHUT_RDWR);
    if (listener->behaviour != NEVER_ANSWERS)
        pthread_join(listener->thread, NULL);
    close(listener->fd);
}

/* A port on 127.0.0.1 nothing listens on. */
static unsigned closed_port(void)
{
    struct listener listener;
    start_listener(&listener, "127.0.0.1", 0, NEVER_ANSWERS);
    unsigned port = listener.port;
    close(listener.fd);
    return port;
}

static void probe(const char *query, struct nd_test_response *response)
{
    char path[1024];
    snprintf(path, sizeof path, "/connect?%s", query);
    nd_test_get(&server, path, response);
    if (response->status != 200)
        fprintf(stderr, "GET %s -> %ld %s\n", path, response->status, response->body);
    assert_int_equal(response->status, 200);
    assert_non_null(response->json);
}

/* The phase object named name, NULL when the answer has none. */
static const cJSON *phase(const cJSON *body, const char *name)
{
    return nd_test_json_find(body, "phases", "phase", name);
}

/* --- the cases --------------------------------------------------------------- */

/* Recipe 7 against netdiag itself: GET /healthz HTTP/1.0 parses 200 OK. */
static void test_http_path_on_itself(void **state)
{
    (void)state;
    char query[128];
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&http_path=/healthz", server.http_port);
    struct nd_test_response response;
    probe(query, &response);
    assert_true(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "http.version"), "HTTP/1.1");
    assert_int_equal(nd_test_json_number(response.json, "http.status"), 200);
    assert_string_equal(nd_test_json_string(response.json, "http.reason"), "OK");
    assert_true(nd_test_json_bool(response.json, "http.head_complete"));
    assert_non_null(
        strstr(nd_test_json_string(response.json, "http.body_prefix.text"), "\"status\":\"ok\""));
    assert_string_equal(nd_test_json_string(response.json, "phases.4.ended_by"), "closed");
    /* The request carried a Host header with the port, as real servers need. */
    assert_non_null(nd_test_json_get(response.json, "http.headers"));
    nd_test_response_free(&response);
}

static void test_echo_round_trip(void **state)
{
    (void)state;
    char query[160];
    snprintf(query, sizeof query, "host=localhost&port=%u&send=hello", server.echo_port);
    struct nd_test_response response;
    probe(query, &response);
    assert_true(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "reply.text"), "hello");
    assert_int_equal(nd_test_json_number(response.json, "phases.2.bytes"), 5);
    assert_string_equal(nd_test_json_string(response.json, "phases.2.phase"), "send");
    assert_string_equal(nd_test_json_string(response.json, "phases.4.ended_by"), "quiet");
    nd_test_response_free(&response);

    /* Binary bytes go out as they are and come back as hex. */
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send_hex=00ff10fe", server.echo_port);
    probe(query, &response);
    assert_true(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "reply.hex"), "00ff10fe");
    nd_test_response_free(&response);

    /* expect ends the reply as soon as the text is in it. */
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send=ping%%20pong&expect=pong",
             server.echo_port);
    probe(query, &response);
    assert_true(nd_test_json_bool(response.json, "expect.found"));
    assert_string_equal(nd_test_json_string(response.json, "phases.4.ended_by"), "expect");
    nd_test_response_free(&response);

    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send=ping&expect=pong", server.echo_port);
    probe(query, &response);
    assert_false(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "failed_phase"), "expect");
    assert_string_equal(nd_test_json_string(response.json, "result"), "not_found");
    nd_test_response_free(&response);
}

static void test_closed_port_is_refused(void **state)
{
    (void)state;
    char query[96];
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u", closed_port());
    struct nd_test_response response;
    probe(query, &response);
    assert_false(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "failed_phase"), "connect");
    assert_string_equal(nd_test_json_string(response.json, "result"), "refused");
    assert_string_equal(nd_test_json_string(response.json, "error.code"), "ECONNREFUSED");
    const cJSON *attempts = nd_test_json_get(phase(response.json, "connect"), "attempts");
    assert_int_equal(cJSON_GetArraySize(attempts), 1);
    assert_string_equal(nd_test_json_string(attempts, "0.result"), "refused");
    nd_test_response_free(&response);
}

static void test_silent_listener_times_out_at_first_byte(void **state)
{
    (void)state;
    struct listener listener;
    start_listener(&listener, "127.0.0.1", 0, NEVER_ANSWERS);
    char query[128];
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send=hello&timeout_ms=500",
             listener.port);
    struct nd_test_response response;
    probe(query, &response);
    assert_false(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "failed_phase"), "first_byte");
    assert_string_equal(nd_test_json_string(response.json, "result"), "timeout");
    assert_string_equal(nd_test_json_string(response.json, "error.code"), "ETIMEDOUT");
    /* Within timeout_ms and a small margin. */
    assert_true(response.seconds >= 0.49 && response.seconds < 1.5);
    double total = nd_test_json_number(response.json, "total_ms");
    assert_true(total >= 490 && total < 1200);
    nd_test_response_free(&response);

    /* Without anything to send or read, connecting is the whole probe. */
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u", listener.port);
    probe(query, &response);
    assert_true(nd_test_json_bool(response.json, "ok"));
    assert_null(phase(response.json, "first_byte"));
    assert_true(response.seconds < 0.5);
    nd_test_response_free(&response);
    stop_listener(&listener);
}

static void test_close_and_reset(void **state)
{
    (void)state;
    struct listener listener;
    start_listener(&listener, "127.0.0.1", 0, CLOSES_AT_ONCE);
    char query[128];
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&read_bytes=100", listener.port);
    struct nd_test_response response;
    probe(query, &response);
    assert_false(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "failed_phase"), "first_byte");
    assert_string_equal(nd_test_json_string(response.json, "result"), "closed");
    nd_test_response_free(&response);
    stop_listener(&listener);

    start_listener(&listener, "127.0.0.1", 0, RESETS);
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send=x", listener.port);
    probe(query, &response);
    assert_false(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "failed_phase"), "first_byte");
    assert_string_equal(nd_test_json_string(response.json, "result"), "reset");
    assert_string_equal(nd_test_json_string(response.json, "error.code"), "ECONNRESET");
    nd_test_response_free(&response);
    stop_listener(&listener);
}

static void test_unresolvable_name(void **state)
{
    (void)state;
    struct nd_test_response response;
    probe("host=no-such-host.invalid&port=80", &response);
    assert_false(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "failed_phase"), "resolve");
    assert_string_equal(nd_test_json_string(response.json, "result"), "dns_error");
    assert_string_equal(nd_test_json_string(response.json, "error.code"), "EAI_NONAME");
    assert_null(phase(response.json, "connect"));
    nd_test_response_free(&response);
}

/* A name with an IPv6 and an IPv4 address where only IPv4 listens: both
 * attempts are listed, the refused one first (RFC 6724 puts ::1 first). */
static void test_two_families_two_attempts(void **state)
{
    (void)state;
    struct listener listener;
    start_listener(&listener, "127.0.0.1", 0, CLOSES_AT_ONCE);
    struct nd_test_server both;
    if (!nd_test_server_start_with_hosts(&both, NULL, "::1 both.test\n127.0.0.1 both.test\n")) {
        stop_listener(&listener);
        skip(); /* needs root for a private /etc/hosts */
    }
    char path[128];
    snprintf(path, sizeof path, "/connect?host=both.test&port=%u", listener.port);
    struct nd_test_response response;
    nd_test_get(&both, path, &response);
    assert_int_equal(response.status, 200);
    assert_true(nd_test_json_bool(response.json, "ok"));
    const cJSON *attempts = nd_test_json_get(phase(response.json, "connect"), "attempts");
    assert_int_equal(cJSON_GetArraySize(attempts), 2);
    assert_string_equal(nd_test_json_string(attempts, "0.address"), "::1");
    assert_string_equal(nd_test_json_string(attempts, "0.result"), "refused");
    assert_string_equal(nd_test_json_string(attempts, "0.error.code"), "ECONNREFUSED");
    assert_string_equal(nd_test_json_string(attempts, "1.address"), "127.0.0.1");
    assert_string_equal(nd_test_json_string(attempts, "1.result"), "connected");
    nd_test_response_free(&response);

    /* family=ipv4 leaves the IPv6 address out. */
    snprintf(path, sizeof path, "/connect?host=both.test&port=%u&family=ipv4", listener.port);
    nd_test_get(&both, path, &response);
    assert_int_equal(
        cJSON_GetArraySize(nd_test_json_get(phase(response.json, "connect"), "attempts")), 1);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&both, 10000), 0);
    stop_listener(&listener);
}

static void test_caps(void **state)
{
    (void)state;
    /* read_bytes bounds what is read and returned. */
    char query[8300];
    snprintf(query, sizeof query, "host=127.0.0.1&port=%u&send=0123456789&read_bytes=4",
             server.echo_port);
    struct nd_test_response response;
    probe(query, &response);
    assert_true(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "reply.text"), "0123");
    assert_string_equal(nd_test_json_string(response.json, "phases.4.ended_by"), "limit");
    nd_test_response_free(&response);

    /* 4096 bytes may be sent, not one more. */
    int used = snprintf(query, sizeof query,
                        "/connect?host=127.0.0.1&port=%u&read_bytes=65536&send=", server.echo_port);
    memset(query + used, 'a', 4096);
    query[used + 4096] = '\0';
    nd_test_get(&server, query, &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(nd_test_json_number(response.json, "reply.bytes"), 4096);
    nd_test_response_free(&response);
    query[used + 4096] = 'a';
    query[used + 4097] = '\0';
    nd_test_get(&server, query, &response);
    nd_test_assert_problem(&response, 400, "out_of_range", "send");
    nd_test_response_free(&response);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    static const struct nd_test_bad_input cases[] = {
        {"/connect?port=80", "missing_parameter", "host"},
        {"/connect?host=localhost", "missing_parameter", "port"},
        {"/connect?host=localhost&port=0", "out_of_range", "port"},
        {"/connect?host=localhost&port=65536", "out_of_range", "port"},
        {"/connect?host=localhost&port=http", "invalid_argument", "port"},
        {"/connect?host=a..b&port=80", "invalid_argument", "host"},
        {"/connect?host=bad%20name&port=80", "invalid_argument", "host"},
        {"/connect?host=localhost&port=80&family=ipx", "invalid_argument", "family"},
        {"/connect?host=localhost&port=80&timeout_ms=0", "out_of_range", "timeout_ms"},
        {"/connect?host=localhost&port=80&timeout_ms=10001", "out_of_range", "timeout_ms"},
        {"/connect?host=localhost&port=80&read_bytes=65537", "out_of_range", "read_bytes"},
        {"/connect?host=localhost&port=80&send_hex=abc", "invalid_argument", "send_hex"},
        {"/connect?host=localhost&port=80&send_hex=zz", "invalid_argument", "send_hex"},
        {"/connect?host=localhost&port=80&send=a&send_hex=00", "invalid_argument", "send_hex"},
        {"/connect?host=localhost&port=80&send=a&http_path=/", "invalid_argument", "http_path"},
        {"/connect?host=localhost&port=80&http_path=healthz", "invalid_argument", "http_path"},
        {"/connect?host=localhost&port=80&http_path=/a%20b", "invalid_argument", "http_path"},
        {"/connect?host=localhost&port=80&port=81", "duplicate_parameter", "port"},
        {"/connect?host=localhost&port=80&bogus=1", "unknown_parameter", "bogus"},
    };
    nd_test_expect_bad_inputs(&server, cases, sizeof cases / sizeof cases[0]);
}

static void test_allow_list(void **state)
{
    (void)state;
    struct nd_test_server guarded;
    char allow[64];
    snprintf(allow, sizeof allow, "10.0.0.0/8,127.0.0.1:%u,good.test", server.http_port);
    nd_test_server_start(&guarded, (const char *[]){"--connect-allow", allow, NULL});
    struct {
        const char *query;
        long status;
    } cases[] = {
        {"host=127.0.0.2&port=80", 403},  /* a denied address */
        {"host=127.0.0.1&port=81", 403},  /* an allowed address, a denied port */
        {"host=localhost&port=81", 403},  /* a name resolving to a denied address */
        {"host=other.test&port=80", 200}, /* a name that does not resolve: nothing to deny */
        {"host=169.254.169.254&port=80", 403},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "/connect?%s", cases[i].query);
        struct nd_test_response response;
        nd_test_get(&guarded, path, &response);
        if (response.status != cases[i].status)
            fail_msg("%s: %ld, expected %ld", cases[i].query, response.status, cases[i].status);
        if (cases[i].status == 403)
            nd_test_assert_problem(&response, 403, "forbidden", "host");
        nd_test_response_free(&response);
    }
    char path[128];
    snprintf(path, sizeof path, "/connect?host=127.0.0.1&port=%u", server.http_port);
    struct nd_test_response response;
    nd_test_get(&guarded, path, &response);
    assert_int_equal(response.status, 200);
    assert_true(nd_test_json_bool(response.json, "ok"));
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&guarded, 10000), 0);

    /* The default: any destination but link-local and metadata addresses. */
    static const char *const sensitive[] = {"169.254.169.254", "fe80::1", "fd00:ec2::254"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/connect?host=%s&port=80", sensitive[i]);
        nd_test_get(&server, path, &response);
        nd_test_assert_problem(&response, 403, "forbidden", "host");
        nd_test_response_free(&response);
    }

    nd_test_server_start(&guarded, (const char *[]){"--connect-allow", "off", NULL});
    nd_test_get(&guarded, "/connect?host=127.0.0.1&port=80", &response);
    nd_test_assert_problem(&response, 403, "forbidden", NULL);
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "disabled"));
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&guarded, 10000), 0);
}

/* --- 200 probes at once ------------------------------------------------------ */

static void test_200_probes_at_once(void **state)
{
    (void)state;
    struct nd_test_server busy;
    nd_test_server_start(&busy, (const char *[]){"--slow-max-waiting", "256", NULL});
    struct listener listener;
    start_listener(&listener, "127.0.0.1", 0, NEVER_ANSWERS);
    char path[128];
    snprintf(path, sizeof path, "/connect?host=127.0.0.1&port=%u&send=x&timeout_ms=3000",
             listener.port);
    struct nd_test_batch *batch = nd_test_get_all_begin(&busy, path, 200);
    /* Wait until they are all in flight. */
    for (int waited = 0;; waited += 20) {
        struct nd_test_response metrics;
        nd_test_get(&busy, "/metrics", &metrics);
        const char *line = strstr(metrics.body, "\nnetdiag_slow_requests_waiting ");
        int waiting = line ? atoi(line + 31) : 0;
        nd_test_response_free(&metrics);
        if (waiting >= 200)
            break;
        assert_true(waited < 2500);
        usleep(20 * 1000);
    }
    for (int i = 0; i < 200; i++) {
        struct nd_test_response response;
        nd_test_get(&busy, "/byteorder?value=1234", &response);
        assert_int_equal(response.status, 200);
        assert_true(response.seconds < 0.5);
        nd_test_response_free(&response);
    }
    long statuses[200];
    nd_test_get_all_end(batch, statuses);
    for (int i = 0; i < 200; i++)
        assert_int_equal(statuses[i], 200);
    struct nd_test_response metrics;
    nd_test_get(&busy, "/metrics", &metrics);
    assert_non_null(strstr(metrics.body, "netdiag_connect_probes_total{result=\"timeout\"} 200"));
    nd_test_response_free(&metrics);
    stop_listener(&listener);
    assert_int_equal(nd_test_server_stop(&busy, 10000), 0);
}

static int start(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    nd_test_server_start(&server, NULL);
    return 0;
}

static int stop(void **state)
{
    (void)state;
    int status = nd_test_server_stop(&server, 10000);
    curl_global_cleanup();
    return status == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_path_on_itself),
        cmocka_unit_test(test_echo_round_trip),
        cmocka_unit_test(test_closed_port_is_refused),
        cmocka_unit_test(test_silent_listener_times_out_at_first_byte),
        cmocka_unit_test(test_close_and_reset),
        cmocka_unit_test(test_unresolvable_name),
        cmocka_unit_test(test_two_families_two_attempts),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_200_probes_at_once),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
