/* GET /resolve against the real binary (recipes 2 and 7). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"

static bool has_address(const cJSON *result, const char *address)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, nd_test_json_get(result, "addresses"))
    {
        if (strcmp(nd_test_json_string(item, "address"), address) == 0)
            return true;
    }
    return false;
}

/* Whether this machine's resolver knows localhost over IPv6 (/etc/hosts). */
static bool localhost_has_ipv6(void)
{
    struct addrinfo hints = {.ai_family = AF_INET6};
    struct addrinfo *list = NULL;
    if (getaddrinfo("localhost", NULL, &hints, &list) != 0)
        return false;
    freeaddrinfo(list);
    return true;
}

static void test_localhost(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/resolve?host=localhost&family=ipv4", &response);
    assert_int_equal(response.status, 200);
    const cJSON *result = nd_test_json_get(response.json, "results.0");
    assert_true(nd_test_json_bool(result, "found"));
    assert_string_equal(nd_test_json_string(result, "host"), "localhost");
    assert_true(strlen(nd_test_json_string(result, "canonical_name")) > 0);
    assert_true(has_address(result, "127.0.0.1"));
    assert_true(nd_test_json_number(result, "duration_ms") >= 0);
    /* One entry per address, not one per socket type. */
    assert_int_equal(cJSON_GetArraySize(nd_test_json_get(result, "addresses")), 1);
    nd_test_response_free(&response);

    nd_test_get(server, "/resolve?host=localhost&family=ipv6", &response);
    if (localhost_has_ipv6()) {
        assert_int_equal(response.status, 200);
        assert_string_equal(nd_test_json_string(response.json, "results.0.addresses.0.family"),
                            "ipv6");
    } else {
        nd_test_assert_problem(&response, 404, nd_test_json_string(response.json, "code"), "host");
        assert_int_equal(strncmp(nd_test_json_string(response.json, "code"), "EAI_", 4), 0);
    }
    nd_test_response_free(&response);

    nd_test_get(server, "/resolve?host=::1&family=ipv6", &response);
    assert_int_equal(response.status, 200);
    assert_true(has_address(nd_test_json_get(response.json, "results.0"), "::1"));
    nd_test_response_free(&response);
}

static void test_nonexistent_name(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    /* RFC 6761: .invalid names never exist. */
    nd_test_get(server, "/resolve?host=www.netdiag-test.invalid", &response);
    nd_test_assert_problem(&response, 404, "EAI_NONAME", "host");
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "getaddrinfo"));
    nd_test_response_free(&response);

    /* Among several, a miss is listed and the rest answered. */
    nd_test_get(server, "/resolve?host=localhost&host=nothing.invalid&family=ipv4", &response);
    assert_int_equal(response.status, 200);
    assert_true(nd_test_json_bool(response.json, "results.0.found"));
    assert_false(nd_test_json_bool(response.json, "results.1.found"));
    assert_string_equal(nd_test_json_string(response.json, "results.1.error.code"), "EAI_NONAME");
    nd_test_response_free(&response);
}

static void test_reverse_lookup(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/resolve?addr=127.0.0.1", &response);
    assert_int_equal(response.status, 200);
    assert_true(nd_test_json_bool(response.json, "results.0.found"));
    assert_string_equal(nd_test_json_string(response.json, "results.0.name"), "localhost");
    nd_test_response_free(&response);
}

static void test_invalid_names(void **state)
{
    struct nd_test_server *server = *state;
    char long_label[128], long_name[300];
    memset(long_label, 'a', 64);
    snprintf(long_label + 64, sizeof long_label - 64, ".example");
    snprintf(long_name, sizeof long_name, "/resolve?host=");
    for (int i = 0; i < 26; i++)
        strcat(long_name, "abcdefghi.");
    strcat(long_name, "com");
    char path[256];
    snprintf(path, sizeof path, "/resolve?host=%s", long_label);
    const char *const paths[] = {
        "/resolve?host=",
        "/resolve?host=a..b",
        "/resolve?host=.a",
        "/resolve?host=bad%20name",
        "/resolve?host=ex@mple.com",
        "/resolve?host=-a.example",
        "/resolve?host=caf%C3%A9.example",
        /* getaddrinfo would read these as inet_aton does (8.0.0.1, 1.2.0.3);
         * /convert calls them surprising, /resolve refuses them alike. */
        "/resolve?host=010.0.0.1",
        "/resolve?host=1.2.3",
        "/resolve?host=2130706433",
        path,
        long_name,
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct nd_test_response response;
        nd_test_get(server, paths[i], &response);
        nd_test_assert_problem(&response, 400, "invalid_argument", "host");
        nd_test_response_free(&response);
    }
    struct nd_test_response response;
    nd_test_get(server, "/resolve?host=010.0.0.1", &response);
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "8.0.0.1"));
    nd_test_response_free(&response);
}

static void test_bad_parameters(void **state)
{
    struct nd_test_server *server = *state;
    static const struct nd_test_bad_input cases[] = {
        {"/resolve", "missing_parameter", "host"},
        {"/resolve?host=localhost&family=ipv5", "invalid_argument", "family"},
        {"/resolve?host=localhost&timeout_ms=0", "out_of_range", "timeout_ms"},
        {"/resolve?host=localhost&timeout_ms=10001", "out_of_range", "timeout_ms"},
        {"/resolve?host=localhost&timeout_ms=fast", "invalid_argument", "timeout_ms"},
        {"/resolve?addr=localhost", "invalid_argument", "addr"},
        {"/resolve?addr=300.0.0.1", "invalid_argument", "addr"},
        {"/resolve?name=localhost", "unknown_parameter", "name"},
    };
    nd_test_expect_bad_inputs(server, cases, sizeof cases / sizeof cases[0]);

    char path[512] = "/resolve?";
    for (int i = 0; i < 17; i++)
        strcat(path, i ? "&host=localhost" : "host=localhost");
    struct nd_test_response response;
    nd_test_get(server, path, &response);
    nd_test_assert_problem(&response, 400, "too_many_values", "host");
    nd_test_response_free(&response);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_localhost),      cmocka_unit_test(test_nonexistent_name),
        cmocka_unit_test(test_reverse_lookup), cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
