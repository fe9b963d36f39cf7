#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "netdiag/byteorder.h"

static uint32_t swap_32(uint32_t value)
{
    return (value >> 24) | ((value >> 8) & 0x0000FF00u) | ((value << 8) & 0x00FF0000u) |
           (value << 24);
}

static uint16_t swap_16(uint16_t value)
{
    return (uint16_t)((value >> 8) | (value << 8));
}

static bool host_is_little(void)
{
    return nd_byteorder_host() == ND_BYTEORDER_LITTLE;
}

/* The expectations are written independently of the module: network order is
 * big-endian by definition (RFC 1700), the host's layout follows from it. */
static void check_32(const struct nd_byteorder_32 *got, uint32_t value)
{
    uint32_t swapped = host_is_little() ? swap_32(value) : value;
    const uint8_t big[4] = {(uint8_t)(value >> 24), (uint8_t)(value >> 16), (uint8_t)(value >> 8),
                            (uint8_t)value};
    const uint8_t little[4] = {big[3], big[2], big[1], big[0]};
    assert_int_equal(got->value, value);
    assert_int_equal(got->network_to_host, swapped);
    assert_int_equal(got->host_to_network, swapped);
    assert_memory_equal(got->network_bytes, big, 4);
    assert_memory_equal(got->host_bytes, host_is_little() ? little : big, 4);
}

static void check_16(const struct nd_byteorder_16 *got, uint16_t value)
{
    uint16_t swapped = host_is_little() ? swap_16(value) : value;
    const uint8_t big[2] = {(uint8_t)(value >> 8), (uint8_t)value};
    const uint8_t little[2] = {big[1], big[0]};
    assert_int_equal(got->value, value);
    assert_int_equal(got->network_to_host, swapped);
    assert_int_equal(got->host_to_network, swapped);
    assert_memory_equal(got->network_bytes, big, 2);
    assert_memory_equal(got->host_bytes, host_is_little() ? little : big, 2);
}

static void test_recipe_1234(void **state)
{
    (void)state;
    struct nd_byteorder_result result;
    struct nd_error error;
    assert_int_equal(nd_byteorder_convert(1234, 0, &result, &error), ND_OK);
    assert_true(result.has_32);
    assert_true(result.has_16);
    check_32(&result.bits_32, 1234);
    check_16(&result.bits_16, 1234);
    if (host_is_little()) {
        /* The numbers the recipe prints on a little-endian machine. */
        assert_int_equal(result.bits_32.network_to_host, 3523477504u);
        assert_int_equal(result.bits_32.host_to_network, 3523477504u);
        assert_int_equal(result.bits_16.network_to_host, 53764);
        assert_int_equal(result.bits_16.host_to_network, 53764);
        const uint8_t host_bytes[4] = {0xD2, 0x04, 0x00, 0x00};
        assert_memory_equal(result.bits_32.host_bytes, host_bytes, 4);
    } else {
        assert_int_equal(result.bits_32.network_to_host, 1234);
        assert_int_equal(result.bits_16.network_to_host, 1234);
    }
    const uint8_t network_bytes[4] = {0x00, 0x00, 0x04, 0xD2};
    assert_memory_equal(result.bits_32.network_bytes, network_bytes, 4);
}

static void test_host_detection(void **state)
{
    (void)state;
    /* The compiler's belief is fine as an independent witness in a test. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    assert_int_equal(nd_byteorder_host(), ND_BYTEORDER_LITTLE);
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    assert_int_equal(nd_byteorder_host(), ND_BYTEORDER_BIG);
#endif
    assert_string_equal(nd_byteorder_name(ND_BYTEORDER_LITTLE), "little");
    assert_string_equal(nd_byteorder_name(ND_BYTEORDER_BIG), "big");
    assert_string_equal(nd_byteorder_name((enum nd_byteorder_endianness)7), "unknown");
}

struct convert_case {
    uint64_t value;
    unsigned width;
    enum nd_err expected;
    bool has_32;
    bool has_16;
};

static const struct convert_case convert_cases[] = {
    {1234, 0, ND_OK, true, true},
    {0, 0, ND_OK, true, true},
    {0xFFFF, 0, ND_OK, true, true},
    {0x10000, 0, ND_OK, true, false},
    {0x12345678, 0, ND_OK, true, false},
    {0xFFFFFFFF, 0, ND_OK, true, false},
    {1234, 16, ND_OK, false, true},
    {0xFFFF, 16, ND_OK, false, true},
    {1234, 32, ND_OK, true, false},
    {0xFFFFFFFF, 32, ND_OK, true, false},
    {0x100000000, 0, ND_ERR_RANGE, false, false},
    {UINT64_MAX, 32, ND_ERR_RANGE, false, false},
    {70000, 16, ND_ERR_RANGE, false, false},
    {1234, 8, ND_ERR_INVALID, false, false},
    {1234, 64, ND_ERR_INVALID, false, false},
};

static void test_convert_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof convert_cases / sizeof convert_cases[0]; i++) {
        const struct convert_case *c = &convert_cases[i];
        struct nd_byteorder_result result;
        memset(&result, 0xA5, sizeof result);
        struct nd_error error;
        nd_error_clear(&error);
        print_message("case %zu: value %llu width %u\n", i, (unsigned long long)c->value, c->width);
        assert_int_equal(nd_byteorder_convert(c->value, c->width, &result, &error), c->expected);
        if (c->expected != ND_OK) {
            assert_int_equal(error.code, c->expected);
            assert_true(strlen(error.message) > 0);
            continue;
        }
        assert_int_equal(result.host, nd_byteorder_host());
        assert_int_equal(result.has_32, c->has_32);
        assert_int_equal(result.has_16, c->has_16);
        if (c->has_32)
            check_32(&result.bits_32, (uint32_t)c->value);
        if (c->has_16)
            check_16(&result.bits_16, (uint16_t)c->value);
    }
}

static void test_error_messages(void **state)
{
    (void)state;
    struct nd_byteorder_result result;
    struct nd_error error;
    assert_int_equal(nd_byteorder_convert(70000, 16, &result, &error), ND_ERR_RANGE);
    assert_string_equal(error.message, "value 70000 does not fit in 16 bits (max 0xFFFF)");
    assert_int_equal(nd_byteorder_convert(4294967296u, 0, &result, &error), ND_ERR_RANGE);
    assert_string_equal(error.message, "value 4294967296 does not fit in 32 bits (max 0xFFFFFFFF)");
    assert_int_equal(nd_byteorder_convert(1, 24, &result, &error), ND_ERR_INVALID);
    assert_string_equal(error.message, "width 24 is not supported (use 16 or 32)");
    /* A NULL error is allowed: the caller wants only the code. */
    assert_int_equal(nd_byteorder_convert(70000, 16, &result, NULL), ND_ERR_RANGE);
}

static void test_failure_leaves_output_untouched(void **state)
{
    (void)state;
    struct nd_byteorder_result result;
    memset(&result, 0x5A, sizeof result);
    struct nd_byteorder_result before = result;
    assert_int_equal(nd_byteorder_convert(70000, 16, &result, NULL), ND_ERR_RANGE);
    assert_memory_equal(&result, &before, sizeof result);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_1234),
        cmocka_unit_test(test_host_detection),
        cmocka_unit_test(test_convert_table),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_failure_leaves_output_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
