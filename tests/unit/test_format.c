/* src/core/format.c: decimal and hex text, checked against snprintf. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "netdiag/format.h"

static void check_decimal(uint64_t value)
{
    char expected[32];
    snprintf(expected, sizeof expected, "%llu", (unsigned long long)value);
    /* Guard bytes around the output show a write past the count. */
    char out[ND_FORMAT_DECIMAL_MAX + 2];
    memset(out, '#', sizeof out);
    size_t count = nd_format_decimal(value, out);
    assert_int_equal(count, strlen(expected));
    assert_memory_equal(out, expected, count);
    assert_int_equal(out[count], '#');
}

static void test_decimal(void **state)
{
    (void)state;
    check_decimal(0);
    check_decimal(UINT64_MAX);
    check_decimal(UINT32_MAX);
    check_decimal(1234); /* the recipe's byte-order example */
    /* Every length, and both sides of every carry into a new digit. */
    for (uint64_t power = 1; power <= UINT64_MAX / 10; power *= 10) {
        check_decimal(power - 1);
        check_decimal(power);
        check_decimal(power + 1);
        check_decimal(power * 10 - 1);
    }
    for (uint64_t value = 0; value < 70000; value++)
        check_decimal(value);
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t bytes[256];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)i;
    char out[2 * sizeof bytes + 2];
    memset(out, '#', sizeof out);
    nd_format_hex(bytes, sizeof bytes, out);
    for (size_t i = 0; i < sizeof bytes; i++) {
        char expected[3];
        snprintf(expected, sizeof expected, "%02x", bytes[i]);
        assert_memory_equal(out + 2 * i, expected, 2);
    }
    assert_int_equal(out[2 * sizeof bytes], '\0');
    assert_int_equal(out[2 * sizeof bytes + 1], '#');

    /* The network-order bytes of 1234, as /byteorder shows them. */
    const uint8_t network[4] = {0x00, 0x00, 0x04, 0xd2};
    nd_format_hex(network, 4, out);
    assert_string_equal(out, "000004d2");

    nd_format_hex(bytes, 0, out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
