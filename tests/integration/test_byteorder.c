/* GET /byteorder against the real binary (recipe 5). */
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
    struct nd_test_response response;
    nd_test_get(server, "/byteorder?value=1234", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(response.content_type, "application/json");
    assert_string_equal(nd_test_json_string(response.json, "host_byte_order"), "little");
    assert_int_equal((long long)nd_test_json_number(response.json, "uint32.ntohl"), 3523477504LL);
    assert_int_equal((long long)nd_test_json_number(response.json, "uint32.htonl"), 3523477504LL);
    assert_int_equal((long)nd_test_json_number(response.json, "uint16.ntohs"), 53764);
    assert_int_equal((long)nd_test_json_number(response.json, "uint16.htons"), 53764);
    assert_string_equal(nd_test_json_string(response.json, "uint32.network_order_bytes"),
                        "000004d2");
    assert_string_equal(nd_test_json_string(response.json, "uint32.host_order_bytes"), "d2040000");
    nd_test_response_free(&response);
}

static void test_hex_and_widths(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/byteorder?value=0x12345678", &response);
    assert_int_equal(response.status, 200);
    assert_int_equal((long long)nd_test_json_number(response.json, "uint32.htonl"), 0x78563412LL);
    /* Too wide for 16 bits: only the 32-bit part. */
    assert_null(cJSON_GetObjectItemCaseSensitive(response.json, "uint16"));
    nd_test_response_free(&response);

    nd_test_get(server, "/byteorder?value=0xFFFFFFFF", &response);
    assert_int_equal(response.status, 200);
    assert_int_equal((long long)nd_test_json_number(response.json, "uint32.ntohl"), 0xFFFFFFFFLL);
    nd_test_response_free(&response);

    nd_test_get(server, "/byteorder?value=1234&width=16", &response);
    assert_int_equal(response.status, 200);
    assert_null(cJSON_GetObjectItemCaseSensitive(response.json, "uint32"));
    assert_int_equal((long)nd_test_json_number(response.json, "uint16.htons"), 53764);
    nd_test_response_free(&response);

    nd_test_get(server, "/byteorder?value=1234&width=32", &response);
    assert_int_equal(response.status, 200);
    assert_null(cJSON_GetObjectItemCaseSensitive(response.json, "uint16"));
    nd_test_response_free(&response);
}

static void test_bad_inputs(void **state)
{
    struct nd_test_server *server = *state;
    static const struct nd_test_bad_input cases[] = {
        {"/byteorder", "missing_parameter", "value"},
        {"/byteorder?value=", "invalid_argument", "value"},
        {"/byteorder?value=-1", "invalid_argument", "value"},
        {"/byteorder?value=abc", "invalid_argument", "value"},
        {"/byteorder?value=12abc", "invalid_argument", "value"},
        /* As strict as openapi.yaml: no leading zeros, at most 16 hex digits. */
        {"/byteorder?value=0001", "invalid_argument", "value"},
        {"/byteorder?value=0x00000000000000001", "invalid_argument", "value"},
        {"/byteorder?value=1&width=016", "invalid_argument", "width"},
        {"/byteorder?value=%201", "invalid_argument", "value"},
        {"/byteorder?value=4294967296", "out_of_range", "value"},
        {"/byteorder?value=0x100000000", "out_of_range", "value"},
        {"/byteorder?value=99999999999999999999999", "out_of_range", "value"},
        {"/byteorder?value=65536&width=16", "out_of_range", "value"},
        {"/byteorder?value=1&width=8", "out_of_range", "width"},
        {"/byteorder?value=1&width=24", "invalid_argument", "width"},
        {"/byteorder?value=1&width=x", "invalid_argument", "width"},
        {"/byteorder?value=1&bits=16", "unknown_parameter", "bits"},
    };
    nd_test_expect_bad_inputs(server, cases, sizeof cases / sizeof cases[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_example),
        cmocka_unit_test(test_hex_and_widths),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
