/* src/core/parse.c: strict numbers and switches. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <string.h>

#include "netdiag/parse.h"

static void test_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t max;
        enum nd_err expected;
        uint64_t value;
    } cases[] = {
        {"1234", UINT32_MAX, ND_OK, 1234},
        {"0x4d2", UINT32_MAX, ND_OK, 1234},
        {"0XFFFFFFFF", UINT32_MAX, ND_OK, 0xFFFFFFFFu},
        {"4294967296", UINT32_MAX, ND_ERR_RANGE, 0},
        {"18446744073709551615", UINT64_MAX, ND_OK, UINT64_MAX},
        {"18446744073709551616", UINT64_MAX, ND_ERR_RANGE, 0},
        {"99999999999999999999x", UINT64_MAX, ND_ERR_INVALID, 0},
        {"0", 0, ND_OK, 0},
        {"", 10, ND_ERR_INVALID, 0},
        {"0x", 10, ND_ERR_INVALID, 0},
        {"-1", 10, ND_ERR_INVALID, 0},
        {"+1", 10, ND_ERR_INVALID, 0},
        {" 1", 10, ND_ERR_INVALID, 0},
        {"1 ", 10, ND_ERR_INVALID, 0},
        {"1e3", 10000, ND_ERR_INVALID, 0},
        {"0x1g", 10000, ND_ERR_INVALID, 0},
        /* No leading zeros on decimals (JSON and OpenAPI integers have
         * none; strtoul and inet_aton read them as octal). */
        {"016", 100, ND_ERR_INVALID, 0},
        {"018755", 65535, ND_ERR_INVALID, 0},
        {"00", 10, ND_ERR_INVALID, 0},
        {"10", 10, ND_OK, 10},
        /* Hex may be padded, within 64 bits of digits. */
        {"0x000004d2", UINT32_MAX, ND_OK, 1234},
        {"0x00000000000004d2", UINT32_MAX, ND_OK, 1234},
        {"0x000000000000004d2", UINT32_MAX, ND_ERR_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t value = 7;
        assert_int_equal(nd_parse_number(cases[i].text, cases[i].max, &value), cases[i].expected);
        if (cases[i].expected == ND_OK)
            assert_int_equal(value, cases[i].value);
        else
            assert_int_equal(value, 7);
    }
    uint64_t value;
    assert_int_equal(nd_parse_decimal("0x10", 100, &value), ND_ERR_INVALID);
    assert_int_equal(nd_parse_hex("c0a80001", UINT32_MAX, &value), ND_OK);
    assert_int_equal(value, 0xc0a80001u);
    assert_int_equal(nd_parse_decimal(NULL, 1, &value), ND_ERR_INVALID);
    /* 5,000 zeros before a 1: no longer a 1. */
    char zeros[5002];
    memset(zeros, '0', 5000);
    zeros[5000] = '1';
    zeros[5001] = '\0';
    assert_int_equal(nd_parse_number(zeros, UINT32_MAX, &value), ND_ERR_INVALID);
    uint64_t microseconds;
    assert_int_equal(nd_parse_seconds("0.05", 10, &microseconds), ND_OK);
    assert_int_equal(microseconds, 50000);
    assert_int_equal(nd_parse_seconds("05", 10, &microseconds), ND_ERR_INVALID);
}

static void test_hex_bytes(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t length;
    assert_int_equal(nd_parse_hex_bytes("48656c6C6f", out, sizeof out, &length), ND_OK);
    assert_int_equal(length, 5);
    assert_memory_equal(out, "Hello", 5);
    assert_int_equal(nd_parse_hex_bytes("", out, sizeof out, &length), ND_OK);
    assert_int_equal(length, 0);
    assert_int_equal(nd_parse_hex_bytes("00ff", out, sizeof out, &length), ND_OK);
    assert_int_equal(out[1], 0xff);
    static const char *const invalid[] = {"0", "abc", "0g", "0x00", " 00", "00 ", "-1"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        assert_int_equal(nd_parse_hex_bytes(invalid[i], out, sizeof out, &length), ND_ERR_INVALID);
    assert_int_equal(nd_parse_hex_bytes("000102030405060708", out, sizeof out, &length),
                     ND_ERR_RANGE);
}

static void test_switches(void **state)
{
    (void)state;
    static const char *const on[] = {"1", "true", "yes", "on"};
    static const char *const off[] = {"0", "false", "no", "off"};
    static const char *const bad[] = {"", "2", "TRUE", "On", "y", " 1"};
    bool value;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(nd_parse_bool(on[i], &value), ND_OK);
        assert_true(value);
        assert_int_equal(nd_parse_bool(off[i], &value), ND_OK);
        assert_false(value);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(nd_parse_bool(bad[i], &value), ND_ERR_INVALID);
}

static void test_seconds(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum nd_err expected;
        uint64_t microseconds;
    } cases[] = {
        {"100", ND_OK, 100000000},
        {"0.5", ND_OK, 500000},
        {"0", ND_OK, 0},
        {"2.25", ND_OK, 2250000},
        {"0.000001", ND_OK, 1},
        {"1000000", ND_OK, 1000000000000},
        {"1000000.1", ND_ERR_RANGE, 0},
        {"1000001", ND_ERR_RANGE, 0},
        {"0.0000001", ND_ERR_INVALID, 0},
        {".5", ND_ERR_INVALID, 0},
        {"5.", ND_ERR_INVALID, 0},
        {"-1", ND_ERR_INVALID, 0},
        {"1e3", ND_ERR_INVALID, 0},
        {"none", ND_ERR_INVALID, 0},
        {"", ND_ERR_INVALID, 0},
        {"1.2.3", ND_ERR_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t value = 7;
        assert_int_equal(nd_parse_seconds(cases[i].text, 1000000, &value), cases[i].expected);
        assert_int_equal(value, cases[i].expected == ND_OK ? cases[i].microseconds : 7);
    }
}

static void test_hex_digit(void **state)
{
    (void)state;
    static const char digits[] = "0123456789abcdef";
    for (int c = 0; c < 256; c++) {
        const char *at = c ? strchr(digits, tolower(c)) : NULL;
        int expected = at ? (int)(at - digits) : -1;
        assert_int_equal(nd_parse_hex_digit((char)c), expected);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),   cmocka_unit_test(test_hex_digit),
        cmocka_unit_test(test_hex_bytes), cmocka_unit_test(test_switches),
        cmocka_unit_test(test_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
