/* GET /hostinfo against the real binary (recipe 1). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "harness.h"

static void test_host_name_and_interfaces(void **state)
{
    struct nd_test_server *server = *state;
    char host_name[256];
    assert_int_equal(gethostname(host_name, sizeof host_name), 0);

    struct nd_test_response response;
    nd_test_get(server, "/hostinfo", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(nd_test_json_string(response.json, "host_name"), host_name);
    const cJSON *interfaces = nd_test_json_get(response.json, "interfaces");
    assert_int_equal((int)nd_test_json_number(response.json, "interface_count"),
                     cJSON_GetArraySize(interfaces));

    bool loopback_found = false;
    const cJSON *interface;
    cJSON_ArrayForEach(interface, interfaces)
    {
        if (strcmp(nd_test_json_string(interface, "name"), "lo") != 0)
            continue;
        loopback_found = true;
        assert_true(nd_test_json_number(interface, "index") >= 1);
        assert_true(nd_test_json_number(interface, "mtu") > 0);
        bool has_127 = false;
        const cJSON *address;
        cJSON_ArrayForEach(address, nd_test_json_get(interface, "addresses"))
        {
            if (strcmp(nd_test_json_string(address, "address"), "127.0.0.1") == 0) {
                has_127 = true;
                assert_int_equal((int)nd_test_json_number(address, "prefix_length"), 8);
                assert_string_equal(nd_test_json_string(address, "family"), "ipv4");
            }
        }
        assert_true(has_127);
        bool is_loopback = false;
        const cJSON *flag;
        cJSON_ArrayForEach(flag, nd_test_json_get(interface, "flags"))
        {
            if (strcmp(flag->valuestring, "loopback") == 0)
                is_loopback = true;
        }
        assert_true(is_loopback);
    }
    assert_true(loopback_found);

    /* Recipe 1's answer is there when the host name resolves, an error otherwise. */
    if (nd_test_json_bool(response.json, "resolution.ok"))
        assert_true(cJSON_IsArray(nd_test_json_get(response.json, "resolution.addresses")));
    else
        assert_non_null(nd_test_json_string(response.json, "resolution.code"));
    nd_test_response_free(&response);
}

static void test_takes_no_parameters(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/hostinfo?verbose=1", &response);
    nd_test_assert_problem(&response, 400, "unknown_parameter", "verbose");
    nd_test_response_free(&response);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_name_and_interfaces),
        cmocka_unit_test(test_takes_no_parameters),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
