/* GET /service against the real binary (recipe 4). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "harness.h"

static void test_recipe_example(void **state)
{
    struct nd_test_server *server = *state;
    static const struct {
        long port;
        const char *name;
    } expected[] = {{80, "http"}, {25, "smtp"}, {53, "domain"}, {443, "https"}};
    struct nd_test_response response;
    nd_test_get(server, "/service?port=80,25&port=53&port=443&protocol=tcp", &response);
    assert_int_equal(response.status, 200);
    const cJSON *results = nd_test_json_get(response.json, "results");
    assert_int_equal(cJSON_GetArraySize(results), 4);
    for (int i = 0; i < 4; i++) {
        const cJSON *result = cJSON_GetArrayItem(results, i);
        assert_true(nd_test_json_bool(result, "found"));
        assert_int_equal((long)nd_test_json_number(result, "port"), expected[i].port);
        assert_string_equal(nd_test_json_string(result, "name"), expected[i].name);
        assert_string_equal(nd_test_json_string(result, "protocol"), "tcp");
        const char *source = nd_test_json_string(result, "source");
        assert_true(strcmp(source, "system") == 0 || strcmp(source, "builtin") == 0);
    }
    nd_test_response_free(&response);
}

static void test_name_to_port(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/service?name=http", &response);
    assert_int_equal(response.status, 200);
    assert_int_equal((long)nd_test_json_number(response.json, "results.0.port"), 80);
    assert_string_equal(nd_test_json_string(response.json, "protocol"), "tcp");
    nd_test_response_free(&response);

    nd_test_get(server, "/service?name=domain&protocol=udp", &response);
    assert_int_equal(response.status, 200);
    assert_int_equal((long)nd_test_json_number(response.json, "results.0.port"), 53);
    assert_string_equal(nd_test_json_string(response.json, "results.0.protocol"), "udp");
    nd_test_response_free(&response);
}

static void test_not_found(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/service?port=9999", &response);
    nd_test_assert_problem(&response, 404, "not_found", "port");
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "9999"));
    nd_test_response_free(&response);

    nd_test_get(server, "/service?name=no-such-service", &response);
    nd_test_assert_problem(&response, 404, "not_found", "name");
    nd_test_response_free(&response);

    /* Partly found: the found ones and the misses, each marked. */
    nd_test_get(server, "/service?port=80,9999", &response);
    assert_int_equal(response.status, 200);
    assert_true(nd_test_json_bool(response.json, "results.0.found"));
    assert_false(nd_test_json_bool(response.json, "results.1.found"));
    assert_int_equal((long)nd_test_json_number(response.json, "results.1.port"), 9999);
    nd_test_response_free(&response);
}

static void test_bad_inputs(void **state)
{
    struct nd_test_server *server = *state;
    static const struct nd_test_bad_input cases[] = {
        {"/service", "missing_parameter", "port"},
        {"/service?port=65536", "out_of_range", "port"},
        {"/service?port=-1", "invalid_argument", "port"},
        {"/service?port=http", "invalid_argument", "port"},
        {"/service?port=80,", "invalid_argument", "port"},
        {"/service?port=018755", "invalid_argument", "port"},
        {"/service?port=80&protocol=sctp", "invalid_argument", "protocol"},
        {"/service?port=80&protocol=TCP", "invalid_argument", "protocol"},
        {"/service?name=bad%20name", "invalid_argument", "name"},
        {"/service?name=", "invalid_argument", "name"},
        {"/service?port=80&prot=udp", "unknown_parameter", "prot"},
    };
    nd_test_expect_bad_inputs(server, cases, sizeof cases / sizeof cases[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_example),
        cmocka_unit_test(test_name_to_port),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
