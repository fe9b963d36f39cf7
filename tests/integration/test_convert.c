/* GET /convert against the real binary (recipe 3). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "harness.h"

static bool has_property(const cJSON *result, const char *name)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, nd_test_json_get(result, "properties"))
    {
        if (strcmp(item->valuestring, name) == 0)
            return true;
    }
    return false;
}

static void test_recipe_example(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/convert?ip=127.0.0.1&ip=192.168.0.111", &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(cJSON_GetArraySize(nd_test_json_get(response.json, "results")), 2);
    assert_string_equal(nd_test_json_string(response.json, "results.0.packed_hex"), "7f000001");
    assert_string_equal(nd_test_json_string(response.json, "results.0.address"), "127.0.0.1");
    assert_int_equal((long long)nd_test_json_number(response.json, "results.0.integer"),
                     2130706433LL);
    assert_string_equal(nd_test_json_string(response.json, "results.1.packed_hex"), "c0a8006f");
    assert_string_equal(nd_test_json_string(response.json, "results.1.address"), "192.168.0.111");
    assert_string_equal(nd_test_json_string(response.json, "results.1.reverse_pointer"),
                        "111.0.168.192.in-addr.arpa");
    assert_true(has_property(nd_test_json_get(response.json, "results.0"), "loopback"));
    assert_true(has_property(nd_test_json_get(response.json, "results.1"), "private"));
    assert_true(nd_test_json_bool(response.json, "results.0.inet_aton.accepted"));
    assert_false(nd_test_json_bool(response.json, "results.0.inet_aton.differs_from_strict"));
    nd_test_response_free(&response);
}

static void test_ipv6(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/convert?ip=2001:db8::1", &response);
    assert_int_equal(response.status, 200);
    const cJSON *result = nd_test_json_get(response.json, "results.0");
    assert_string_equal(nd_test_json_string(result, "family"), "ipv6");
    assert_string_equal(nd_test_json_string(result, "packed_hex"),
                        "20010db8000000000000000000000001");
    /* 128-bit integers travel as decimal strings so nothing loses precision. */
    assert_string_equal(nd_test_json_string(result, "integer"),
                        "42540766411282592856903984951653826561");
    assert_true(has_property(result, "documentation"));
    assert_null(cJSON_GetObjectItemCaseSensitive(result, "inet_aton"));
    nd_test_response_free(&response);
}

static void test_reverse_directions(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/convert?hex=c0a80001&int=3232235521", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(nd_test_json_string(response.json, "results.0.address"), "192.168.0.1");
    assert_string_equal(nd_test_json_string(response.json, "results.0.input_kind"), "hex");
    assert_string_equal(nd_test_json_string(response.json, "results.1.address"), "192.168.0.1");
    assert_string_equal(nd_test_json_string(response.json, "results.1.input_kind"), "int");
    nd_test_response_free(&response);

    nd_test_get(server, "/convert?int=1&family=ipv6", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(nd_test_json_string(response.json, "results.0.address"), "::1");
    nd_test_response_free(&response);
}

static void test_legacy_inet_aton_is_shown(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/convert?ip=127.1", &response);
    nd_test_assert_problem(&response, 400, "invalid_argument", "ip");
    assert_string_equal(nd_test_json_string(response.json, "inet_aton.address"), "127.0.0.1");
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "127.0.0.1"));
    nd_test_response_free(&response);

    nd_test_get(server, "/convert?ip=010.0.0.1", &response);
    nd_test_assert_problem(&response, 400, "invalid_argument", "ip");
    assert_string_equal(nd_test_json_string(response.json, "inet_aton.address"), "8.0.0.1");
    nd_test_response_free(&response);
}

static void test_bad_inputs(void **state)
{
    struct nd_test_server *server = *state;
    static const struct nd_test_bad_input cases[] = {
        {"/convert", "missing_parameter", "ip"},
        {"/convert?ip=", "invalid_argument", "ip"},
        {"/convert?ip=300.1.2.3", "invalid_argument", "ip"},
        {"/convert?ip=hello", "invalid_argument", "ip"},
        {"/convert?ip=1::2::3", "invalid_argument", "ip"},
        {"/convert?hex=7f00001", "invalid_argument", "hex"},
        {"/convert?hex=zz000001", "invalid_argument", "hex"},
        {"/convert?hex=7f000001&family=ipv6", "invalid_argument", "hex"},
        {"/convert?int=4294967296&family=ipv4", "out_of_range", "int"},
        {"/convert?int=-1", "invalid_argument", "int"},
        {"/convert?int=340282366920938463463374607431768211456", "out_of_range", "int"},
        {"/convert?int=1&family=ipx", "invalid_argument", "family"},
        {"/convert?address=1.2.3.4", "unknown_parameter", "address"},
    };
    nd_test_expect_bad_inputs(server, cases, sizeof cases / sizeof cases[0]);
}

static void test_at_most_64_addresses(void **state)
{
    struct nd_test_server *server = *state;
    char path[2048] = "/convert?";
    for (int i = 0; i < 65; i++) {
        size_t used = strlen(path);
        snprintf(path + used, sizeof path - used, "%sip=10.0.0.%d", i ? "&" : "", i);
    }
    struct nd_test_response response;
    nd_test_get(server, path, &response);
    nd_test_assert_problem(&response, 400, "too_many_values", "ip");
    nd_test_response_free(&response);

    *strrchr(path, '&') = '\0';
    nd_test_get(server, path, &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(cJSON_GetArraySize(nd_test_json_get(response.json, "results")), 64);
    nd_test_response_free(&response);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_example),     cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_reverse_directions), cmocka_unit_test(test_legacy_inet_aton_is_shown),
        cmocka_unit_test(test_bad_inputs),         cmocka_unit_test(test_at_most_64_addresses),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
