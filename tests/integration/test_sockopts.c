/* GET /sockopts against the real binary (recipes 6, 8, 9, 10). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "harness.h"

static void test_defaults(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/sockopts", &response);
    assert_int_equal(response.status, 200);
    const cJSON *json = response.json;
    assert_string_equal(nd_test_json_string(json, "type"), "tcp");
    /* Recipe 6: default timeout None; recipe 10: SO_REUSEADDR 0; recipe 9: blocking. */
    assert_true(cJSON_IsNull(nd_test_json_get(json, "options.timeout.before")));
    assert_int_equal((int)nd_test_json_number(json, "options.reuseaddr.before"), 0);
    assert_int_equal((int)nd_test_json_number(json, "options.blocking.before"), 1);
    /* Recipe 8: a buffer size. */
    assert_true(nd_test_json_number(json, "options.sndbuf.before") > 0);
    assert_true(nd_test_json_number(json, "options.rcvbuf.before") > 0);
    assert_null(
        cJSON_GetObjectItemCaseSensitive(nd_test_json_get(json, "options.sndbuf"), "requested"));
    assert_null(cJSON_GetObjectItemCaseSensitive(json, "bind"));
    nd_test_response_free(&response);
}

static void test_before_and_after(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server,
                "/sockopts?sndbuf=4096&rcvbuf=8192&nodelay=1&reuseaddr=1&timeout=100&blocking=0"
                "&bind=1",
                &response);
    assert_int_equal(response.status, 200);
    const cJSON *json = response.json;
    /* What the kernel guarantees, not this machine's numbers. */
    assert_true(nd_test_json_number(json, "options.sndbuf.after") >= 4096);
    assert_true(nd_test_json_number(json, "options.rcvbuf.after") >= 8192);
    assert_int_equal((int)nd_test_json_number(json, "options.sndbuf.requested"), 4096);
    if (nd_test_json_number(json, "options.sndbuf.after") != 4096)
        assert_true(strlen(nd_test_json_string(json, "options.sndbuf.note")) > 0);
    assert_int_not_equal((int)nd_test_json_number(json, "options.nodelay.after"), 0);
    assert_int_equal((int)nd_test_json_number(json, "options.reuseaddr.after"), 1);
    /* settimeout(100), then setblocking(False): Python's gettimeout() says 0.0. */
    assert_true(nd_test_json_number(json, "options.timeout.requested") == 100.0);
    assert_true(nd_test_json_number(json, "options.timeout.after") == 0.0);
    assert_int_equal((int)nd_test_json_number(json, "options.blocking.after"), 0);
    assert_string_equal(nd_test_json_string(json, "bind.address"), "127.0.0.1");
    assert_true(nd_test_json_number(json, "bind.port") > 0);
    nd_test_response_free(&response);

    /* settimeout(100) alone: blocking calls that give up after 100 s. */
    nd_test_get(server, "/sockopts?timeout=100", &response);
    assert_true(nd_test_json_number(response.json, "options.timeout.after") == 100.0);
    assert_int_equal((int)nd_test_json_number(response.json, "options.blocking.after"), 1);
    nd_test_response_free(&response);

    /* settimeout(0) is setblocking(False), as in Python; 0.0 is not None. */
    nd_test_get(server, "/sockopts?timeout=0", &response);
    assert_int_equal(response.status, 200);
    assert_true(nd_test_json_number(response.json, "options.timeout.requested") == 0.0);
    assert_true(nd_test_json_number(response.json, "options.timeout.after") == 0.0);
    assert_int_equal((int)nd_test_json_number(response.json, "options.blocking.after"), 0);
    nd_test_response_free(&response);

    nd_test_get(server, "/sockopts?type=udp&timeout=none&sndbuf=0", &response);
    assert_int_equal(response.status, 200);
    assert_null(
        cJSON_GetObjectItemCaseSensitive(nd_test_json_get(response.json, "options"), "nodelay"));
    assert_true(cJSON_IsNull(nd_test_json_get(response.json, "options.timeout.after")));
    assert_int_equal((int)nd_test_json_number(response.json, "options.blocking.after"), 1);
    assert_true(nd_test_json_number(response.json, "options.sndbuf.after") > 0);
    nd_test_response_free(&response);
}

static void test_bad_inputs(void **state)
{
    struct nd_test_server *server = *state;
    static const struct nd_test_bad_input cases[] = {
        {"/sockopts?sndbuf=-1", "invalid_argument", "sndbuf"},
        {"/sockopts?sndbuf=67108865", "out_of_range", "sndbuf"},
        {"/sockopts?rcvbuf=lots", "invalid_argument", "rcvbuf"},
        {"/sockopts?nodelay=2", "out_of_range", "nodelay"},
        {"/sockopts?type=udp&nodelay=1", "invalid_argument", "nodelay"},
        {"/sockopts?reuseaddr=yes", "invalid_argument", "reuseaddr"},
        {"/sockopts?timeout=-5", "invalid_argument", "timeout"},
        {"/sockopts?timeout=1000001", "out_of_range", "timeout"},
        {"/sockopts?timeout=forever", "invalid_argument", "timeout"},
        {"/sockopts?blocking=maybe", "invalid_argument", "blocking"},
        {"/sockopts?type=sctp", "invalid_argument", "type"},
        {"/sockopts?family=ipx", "invalid_argument", "family"},
        {"/sockopts?bind=2", "invalid_argument", "bind"},
        {"/sockopts?keepalive=1", "unknown_parameter", "keepalive"},
    };
    nd_test_expect_bad_inputs(server, cases, sizeof cases / sizeof cases[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_before_and_after),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
