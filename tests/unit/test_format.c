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

/* RFC 3629 section 3 and 4: the shortest form only, no surrogates, nothing
 * above U+10FFFF. */
static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t length; /* of the first sequence; 0 = invalid */
    } cases[] = {
        {"a", 1},
        {"\x7f", 1},
        {"\xc3\xa9", 2},         /* é */
        {"\xe2\x82\xac", 3},     /* € */
        {"\xef\xbf\xbf", 3},     /* U+FFFF */
        {"\xf0\x9d\x84\x9e", 4}, /* U+1D11E */
        {"\xf4\x8f\xbf\xbf", 4}, /* U+10FFFF */
        {"\x80", 0},             /* a continuation byte alone */
        {"\xc0\x80", 0},         /* overlong NUL */
        {"\xc1\xbf", 0},         /* overlong */
        {"\xe0\x9f\xbf", 0},     /* overlong 3-byte */
        {"\xed\xa0\x80", 0},     /* U+D800, a surrogate */
        {"\xed\xbf\xbf", 0},     /* U+DFFF */
        {"\xf0\x8f\xbf\xbf", 0}, /* overlong 4-byte */
        {"\xf4\x90\x80\x80", 0}, /* U+110000 */
        {"\xf5\x80\x80\x80", 0},
        {"\xff", 0},
        {"\xe2\x82", 0}, /* cut short */
        {"\xc3"
         "a",
         0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint8_t *bytes = (const uint8_t *)cases[i].bytes;
        size_t available = strlen(cases[i].bytes);
        if (nd_format_utf8_length(bytes, available) != cases[i].length)
            fail_msg("case %zu: length %zu, expected %zu", i,
                     nd_format_utf8_length(bytes, available), cases[i].length);
        assert_int_equal(nd_format_is_utf8(bytes, available), cases[i].length == available);
    }
    /* A sequence is never read past what is available. */
    assert_int_equal(nd_format_utf8_length((const uint8_t *)"\xe2\x82\xac", 2), 0);
    assert_int_equal(nd_format_utf8_length((const uint8_t *)"", 0), 0);
    assert_true(nd_format_is_utf8((const uint8_t *)"", 0));
    assert_false(nd_format_is_utf8((const uint8_t *)"a\0b", 3)); /* NUL cannot be text here */
    assert_true(nd_format_is_utf8((const uint8_t *)"hello, \xe2\x82\xac", 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
