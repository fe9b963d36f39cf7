#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netdiag/convert.h"

#define BIT(property) (1u << (property))

/* Every expectation below was computed outside this module (Python's
 * ipaddress: packed.hex(), int(), reverse_pointer). */
struct text_case {
    const char *text;
    enum nd_err expected;
    int family;
    const char *canonical;
    const char *packed_hex;
    const char *integer;
    const char *reverse_pointer;
    unsigned properties;
};

static const struct text_case text_cases[] = {
    /* The recipe: inet_aton/inet_ntoa on two IPv4 addresses. */
    {"127.0.0.1", ND_OK, AF_INET, "127.0.0.1", "7f000001", "2130706433", "1.0.0.127.in-addr.arpa",
     BIT(ND_CONVERT_LOOPBACK)},
    {"192.168.0.111", ND_OK, AF_INET, "192.168.0.111", "c0a8006f", "3232235631",
     "111.0.168.192.in-addr.arpa", BIT(ND_CONVERT_PRIVATE)},
    {"8.8.8.8", ND_OK, AF_INET, "8.8.8.8", "08080808", "134744072", "8.8.8.8.in-addr.arpa",
     BIT(ND_CONVERT_GLOBAL)},
    {"0.0.0.0", ND_OK, AF_INET, "0.0.0.0", "00000000", "0", "0.0.0.0.in-addr.arpa",
     BIT(ND_CONVERT_UNSPECIFIED)},
    {"255.255.255.255", ND_OK, AF_INET, "255.255.255.255", "ffffffff", "4294967295",
     "255.255.255.255.in-addr.arpa", BIT(ND_CONVERT_BROADCAST) | BIT(ND_CONVERT_RESERVED)},
    {"::1", ND_OK, AF_INET6, "::1", "00000000000000000000000000000001", "1",
     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
     BIT(ND_CONVERT_LOOPBACK)},
    {"::", ND_OK, AF_INET6, "::", "00000000000000000000000000000000", "0",
     "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
     BIT(ND_CONVERT_UNSPECIFIED)},
    {"2001:db8::1", ND_OK, AF_INET6, "2001:db8::1", "20010db8000000000000000000000001",
     "42540766411282592856903984951653826561",
     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
     BIT(ND_CONVERT_DOCUMENTATION)},
    {"2001:0DB8:0:0:0:0:0:1", ND_OK, AF_INET6, "2001:db8::1", "20010db8000000000000000000000001",
     "42540766411282592856903984951653826561",
     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
     BIT(ND_CONVERT_DOCUMENTATION)},
    {"::ffff:192.0.2.1", ND_OK, AF_INET6, "::ffff:192.0.2.1", "00000000000000000000ffffc0000201",
     "281473902969345", "1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
     BIT(ND_CONVERT_IPV4_MAPPED)},
    {"fe80::1", ND_OK, AF_INET6, "fe80::1", "fe800000000000000000000000000001",
     "338288524927261089654018896841347694593",
     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa",
     BIT(ND_CONVERT_LINK_LOCAL)},
    {"2606:4700::1111", ND_OK, AF_INET6, "2606:4700::1111", "26064700000000000000000000001111",
     "50543257672059871404715951523469725969",
     "1.1.1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.4.6.0.6.2.ip6.arpa",
     BIT(ND_CONVERT_GLOBAL)},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ND_OK, AF_INET6,
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffffffffffffffffffffffffffffffff",
     "340282366920938463463374607431768211455",
     "f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.ip6.arpa",
     BIT(ND_CONVERT_MULTICAST)},
    /* The strict parser refuses what only inet_aton accepts. */
    {"300.1.2.3", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"127.1", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"010.0.0.1", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"0x7f.0.0.1", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"1.2.3.4 ", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {" 1.2.3.4", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"1.2.3.4.", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"garbage", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"::g", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"1:2:3:4:5:6:7:8:9", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"fe80::1%eth0", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"", ND_ERR_INVALID, 0, NULL, NULL, NULL, NULL, 0},
    {"00000000000000000000000000000000000000000000000000000000000000001", ND_ERR_INVALID, 0, NULL,
     NULL, NULL, NULL, 0},
};

static void check_address(const struct nd_convert_address *got, const struct text_case *c)
{
    assert_int_equal(got->family, c->family);
    assert_int_equal(got->packed_length, c->family == AF_INET ? 4 : 16);
    assert_string_equal(got->text, c->canonical);
    assert_string_equal(got->packed_hex, c->packed_hex);
    assert_string_equal(got->integer, c->integer);
    assert_string_equal(got->reverse_pointer, c->reverse_pointer);
    assert_int_equal(got->properties, c->properties);
}

static void assert_same_address(const struct nd_convert_address *a,
                                const struct nd_convert_address *b)
{
    assert_int_equal(a->family, b->family);
    assert_int_equal(a->packed_length, b->packed_length);
    assert_memory_equal(a->packed, b->packed, a->packed_length);
    assert_string_equal(a->text, b->text);
    assert_string_equal(a->packed_hex, b->packed_hex);
    assert_int_equal(a->ipv4_integer, b->ipv4_integer);
    assert_string_equal(a->integer, b->integer);
    assert_string_equal(a->reverse_pointer, b->reverse_pointer);
    assert_int_equal(a->properties, b->properties);
}

static void test_recipe_pack_unpack(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *packed_hex;
    } recipe[] = {{"127.0.0.1", "7f000001"}, {"192.168.0.111", "c0a8006f"}};
    for (size_t i = 0; i < sizeof recipe / sizeof recipe[0]; i++) {
        struct nd_convert_address packed;
        struct nd_convert_address unpacked;
        assert_int_equal(nd_convert_text(recipe[i].text, &packed, NULL), ND_OK);
        assert_string_equal(packed.packed_hex, recipe[i].packed_hex);
        assert_int_equal(nd_convert_hex(packed.packed_hex, AF_INET, &unpacked, NULL), ND_OK);
        assert_string_equal(unpacked.text, recipe[i].text);
    }
}

static void test_text_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof text_cases / sizeof text_cases[0]; i++) {
        const struct text_case *c = &text_cases[i];
        struct nd_convert_address address;
        struct nd_error error;
        nd_error_clear(&error);
        print_message("case %zu: '%s'\n", i, c->text);
        assert_int_equal(nd_convert_text(c->text, &address, &error), c->expected);
        if (c->expected != ND_OK) {
            assert_int_equal(error.code, c->expected);
            assert_true(strlen(error.message) > 0);
            continue;
        }
        check_address(&address, c);
    }
}

static void test_ipv4_integer_field(void **state)
{
    (void)state;
    struct nd_convert_address address;
    assert_int_equal(nd_convert_text("192.168.0.111", &address, NULL), ND_OK);
    assert_int_equal(address.ipv4_integer, 3232235631u);
    assert_int_equal(nd_convert_text("2001:db8::1", &address, NULL), ND_OK);
    assert_int_equal(address.ipv4_integer, 0);
}

/* Text -> hex -> address and text -> integer -> address give back the same. */
static void test_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof text_cases / sizeof text_cases[0]; i++) {
        const struct text_case *c = &text_cases[i];
        if (c->expected != ND_OK)
            continue;
        print_message("case %zu: '%s'\n", i, c->text);
        struct nd_convert_address from_text;
        struct nd_convert_address from_hex;
        struct nd_convert_address from_integer;
        assert_int_equal(nd_convert_text(c->text, &from_text, NULL), ND_OK);
        assert_int_equal(nd_convert_hex(from_text.packed_hex, AF_UNSPEC, &from_hex, NULL), ND_OK);
        assert_same_address(&from_hex, &from_text);
        assert_int_equal(nd_convert_integer(from_text.integer, c->family, &from_integer, NULL),
                         ND_OK);
        assert_same_address(&from_integer, &from_text);
    }
}

struct number_case {
    const char *input;
    int family;
    enum nd_err expected;
    const char *canonical;
};

static const struct number_case hex_cases[] = {
    {"7f000001", AF_UNSPEC, ND_OK, "127.0.0.1"},
    {"0xC0A8006F", AF_UNSPEC, ND_OK, "192.168.0.111"},
    {"0X7f000001", AF_INET, ND_OK, "127.0.0.1"},
    {"c0a80001", AF_INET, ND_OK, "192.168.0.1"},
    {"20010DB8000000000000000000000001", AF_UNSPEC, ND_OK, "2001:db8::1"},
    {"0x00000000000000000000ffffc0000201", AF_INET6, ND_OK, "::ffff:192.0.2.1"},
    {"ffffffffffffffffffffffffffffffff", AF_INET6, ND_OK,
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    {"7f000001", AF_INET6, ND_ERR_INVALID, NULL},
    {"20010db8000000000000000000000001", AF_INET, ND_ERR_INVALID, NULL},
    {"7f00001", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"7f0000010", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"7g000001", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {" 7f000001", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"-7f00001", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"0x", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"0x0x7f0001", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"7f000001", AF_UNIX, ND_ERR_INVALID, NULL},
};

static const struct number_case integer_cases[] = {
    {"2130706433", AF_UNSPEC, ND_OK, "127.0.0.1"},
    {"3232235631", AF_UNSPEC, ND_OK, "192.168.0.111"},
    {"0", AF_UNSPEC, ND_OK, "0.0.0.0"},
    {"00002130706433", AF_INET, ND_OK, "127.0.0.1"},
    {"4294967295", AF_UNSPEC, ND_OK, "255.255.255.255"},
    {"4294967296", AF_UNSPEC, ND_OK, "::1:0:0"},
    {"1", AF_INET6, ND_OK, "::1"},
    {"42540766411282592856903984951653826561", AF_UNSPEC, ND_OK, "2001:db8::1"},
    {"340282366920938463463374607431768211455", AF_UNSPEC, ND_OK,
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    {"340282366920938463463374607431768211456", AF_UNSPEC, ND_ERR_RANGE, NULL},
    {"340282366920938463463374607431768211456", AF_INET6, ND_ERR_RANGE, NULL},
    {"10000000000000000000000000000000000000000", AF_UNSPEC, ND_ERR_RANGE, NULL},
    {"4294967296", AF_INET, ND_ERR_RANGE, NULL},
    {"42540766411282592856903984951653826561", AF_INET, ND_ERR_RANGE, NULL},
    {"12a", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"-1", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"+1", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"0x10", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"", AF_UNSPEC, ND_ERR_INVALID, NULL},
    {"1", AF_UNIX, ND_ERR_INVALID, NULL},
};

static void run_number_cases(const struct number_case *cases, size_t count,
                             enum nd_err (*convert)(const char *, int, struct nd_convert_address *,
                                                    struct nd_error *))
{
    for (size_t i = 0; i < count; i++) {
        const struct number_case *c = &cases[i];
        struct nd_convert_address address;
        struct nd_error error;
        nd_error_clear(&error);
        print_message("case %zu: '%s' family %d\n", i, c->input, c->family);
        assert_int_equal(convert(c->input, c->family, &address, &error), c->expected);
        if (c->expected != ND_OK) {
            assert_int_equal(error.code, c->expected);
            assert_true(strlen(error.message) > 0);
            continue;
        }
        assert_string_equal(address.text, c->canonical);
    }
}

static void test_hex_table(void **state)
{
    (void)state;
    run_number_cases(hex_cases, sizeof hex_cases / sizeof hex_cases[0], nd_convert_hex);
}

static void test_integer_table(void **state)
{
    (void)state;
    run_number_cases(integer_cases, sizeof integer_cases / sizeof integer_cases[0],
                     nd_convert_integer);
}

static void test_properties(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum nd_convert_property property;
    } cases[] = {
        {"10.1.2.3", ND_CONVERT_PRIVATE},
        {"172.16.0.1", ND_CONVERT_PRIVATE},
        {"172.31.255.255", ND_CONVERT_PRIVATE},
        {"172.32.0.1", ND_CONVERT_GLOBAL},
        {"172.15.255.255", ND_CONVERT_GLOBAL},
        {"192.168.255.255", ND_CONVERT_PRIVATE},
        {"192.169.0.1", ND_CONVERT_GLOBAL},
        {"127.255.255.254", ND_CONVERT_LOOPBACK},
        {"169.254.1.1", ND_CONVERT_LINK_LOCAL},
        {"224.0.0.251", ND_CONVERT_MULTICAST},
        {"239.255.255.255", ND_CONVERT_MULTICAST},
        {"192.0.2.1", ND_CONVERT_DOCUMENTATION},
        {"198.51.100.7", ND_CONVERT_DOCUMENTATION},
        {"203.0.113.9", ND_CONVERT_DOCUMENTATION},
        {"192.0.3.1", ND_CONVERT_GLOBAL},
        {"100.64.0.1", ND_CONVERT_SHARED},
        {"100.127.255.255", ND_CONVERT_SHARED},
        {"100.128.0.1", ND_CONVERT_GLOBAL},
        {"100.63.255.255", ND_CONVERT_GLOBAL},
        {"240.0.0.1", ND_CONVERT_RESERVED},
        {"fc00::1", ND_CONVERT_PRIVATE},
        {"fd12:3456::1", ND_CONVERT_PRIVATE},
        {"fe00::1", ND_CONVERT_GLOBAL},
        {"febf:ffff::1", ND_CONVERT_LINK_LOCAL},
        {"fec0::1", ND_CONVERT_GLOBAL},
        {"ff02::1", ND_CONVERT_MULTICAST},
        {"2001:db9::1", ND_CONVERT_GLOBAL},
        {"::2", ND_CONVERT_GLOBAL},
        {"::ffff:127.0.0.1", ND_CONVERT_IPV4_MAPPED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_convert_address address;
        print_message("case %zu: '%s'\n", i, cases[i].text);
        assert_int_equal(nd_convert_text(cases[i].text, &address, NULL), ND_OK);
        assert_int_equal(address.properties, BIT(cases[i].property));
        assert_true(nd_convert_has_property(&address, cases[i].property));
    }
}

static void test_property_names(void **state)
{
    (void)state;
    static const char *const expected[] = {
        "unspecified",   "loopback", "private",  "link_local",  "multicast", "broadcast",
        "documentation", "shared",   "reserved", "ipv4_mapped", "global",
    };
    assert_int_equal(ND_CONVERT_PROPERTY_COUNT, sizeof expected / sizeof expected[0]);
    for (unsigned i = 0; i < ND_CONVERT_PROPERTY_COUNT; i++)
        assert_string_equal(nd_convert_property_name((enum nd_convert_property)i), expected[i]);
    assert_null(nd_convert_property_name(ND_CONVERT_PROPERTY_COUNT));

    struct nd_convert_address address;
    assert_int_equal(nd_convert_text("127.0.0.1", &address, NULL), ND_OK);
    assert_false(nd_convert_has_property(&address, ND_CONVERT_GLOBAL));
    assert_false(nd_convert_has_property(&address, ND_CONVERT_PROPERTY_COUNT));
}

struct legacy_case {
    const char *text;
    bool accepted;
    bool strict_accepted;
    bool differs;
    const char *address;
    const char *reason; /* exact */
};

static const struct legacy_case legacy_cases[] = {
    {"127.1", true, false, true, "127.0.0.1", "inet_aton accepts short forms: '127.1' = 127.0.0.1"},
    {"010.0.0.1", true, false, true, "8.0.0.1", "inet_aton reads '010' as octal (8)"},
    {"0x7f.1", true, false, true, "127.0.0.1",
     "inet_aton reads '0x7f' as hexadecimal (127); inet_aton accepts short forms: '0x7f.1' = "
     "127.0.0.1"},
    {"1.2.3.04", true, false, true, "1.2.3.4", "inet_aton reads '04' as octal (4)"},
    {"2130706433", true, false, true, "127.0.0.1",
     "inet_aton accepts short forms: '2130706433' = 127.0.0.1"},
    {"1.2.300", true, false, true, "1.2.1.44",
     "inet_aton accepts short forms: '1.2.300' = 1.2.1.44"},
    {"1.2.3.4 junk", true, false, true, "1.2.3.4",
     "inet_aton stops at the first whitespace and ignores the rest"},
    {"127.0.0.1", true, true, false, "127.0.0.1", ""},
    {"0.0.0.0", true, true, false, "0.0.0.0", ""},
    {"300.1.2.3", false, false, false, "", ""},
    {"08", false, false, false, "", ""},
    {"1.2.3.4.", false, false, false, "", ""},
    {"::1", false, false, false, "", ""},
    {"garbage", false, false, false, "", ""},
    {"", false, false, false, "", ""},
};

static void test_legacy_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof legacy_cases / sizeof legacy_cases[0]; i++) {
        const struct legacy_case *c = &legacy_cases[i];
        struct nd_convert_legacy legacy;
        memset(&legacy, 0xA5, sizeof legacy);
        print_message("case %zu: '%s'\n", i, c->text);
        assert_int_equal(nd_convert_legacy_ipv4(c->text, &legacy, NULL), ND_OK);
        assert_int_equal(legacy.accepted, c->accepted);
        assert_int_equal(legacy.strict_accepted, c->strict_accepted);
        assert_int_equal(legacy.differs, c->differs);
        assert_string_equal(legacy.address, c->address);
        assert_string_equal(legacy.reason, c->reason);
    }
}

static void test_legacy_rejects_bad_input(void **state)
{
    (void)state;
    struct nd_convert_legacy legacy;
    struct nd_error error;
    assert_int_equal(nd_convert_legacy_ipv4(NULL, &legacy, &error), ND_ERR_INVALID);
    char long_text[ND_CONVERT_TEXT_MAX + 2];
    memset(long_text, '1', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    assert_int_equal(nd_convert_legacy_ipv4(long_text, &legacy, &error), ND_ERR_INVALID);
    assert_string_equal(error.message, "the address is longer than 64 characters");
}

static void test_error_messages(void **state)
{
    (void)state;
    struct nd_convert_address address;
    struct nd_error error;
    assert_int_equal(nd_convert_text("300.1.2.3", &address, &error), ND_ERR_INVALID);
    assert_string_equal(error.message,
                        "'300.1.2.3' is not a valid IPv4 or IPv6 address (inet_pton)");
    assert_int_equal(nd_convert_text("", &address, &error), ND_ERR_INVALID);
    assert_string_equal(error.message, "the address is empty");
    assert_int_equal(nd_convert_text(NULL, &address, &error), ND_ERR_INVALID);
    assert_int_equal(nd_convert_hex("7f00001", AF_UNSPEC, &address, &error), ND_ERR_INVALID);
    assert_string_equal(error.message,
                        "'7f00001' has 7 hex digits; expected 8 (IPv4) or 32 (IPv6)");
    assert_int_equal(nd_convert_hex("7f000001", AF_INET6, &address, &error), ND_ERR_INVALID);
    assert_string_equal(error.message, "'7f000001' has 8 hex digits; IPv6 needs exactly 32");
    assert_int_equal(nd_convert_integer("4294967296", AF_INET, &address, &error), ND_ERR_RANGE);
    assert_string_equal(error.message,
                        "4294967296 exceeds 4294967295 (0xFFFFFFFF), the largest IPv4 address");
    assert_int_equal(
        nd_convert_integer("340282366920938463463374607431768211456", AF_UNSPEC, &address, &error),
        ND_ERR_RANGE);
    assert_string_equal(
        error.message,
        "340282366920938463463374607431768211456 exceeds 2^128-1, the largest IPv6 address");
}

static void test_failure_leaves_output_untouched(void **state)
{
    (void)state;
    struct nd_convert_address address;
    memset(&address, 0x5A, sizeof address);
    struct nd_convert_address before = address;
    assert_int_equal(nd_convert_text("300.1.2.3", &address, NULL), ND_ERR_INVALID);
    assert_int_equal(nd_convert_hex("zz", AF_UNSPEC, &address, NULL), ND_ERR_INVALID);
    assert_int_equal(nd_convert_integer("-1", AF_UNSPEC, &address, NULL), ND_ERR_INVALID);
    assert_memory_equal(&address, &before, sizeof address);
}

/* netdiag writes IPv4 text itself: it must be inet_ntop's, byte for byte,
 * for every octet value in every position, and so must the reverse name and
 * what the legacy parser reports. */
static void test_ipv4_text_matches_inet_ntop(void **state)
{
    (void)state;
    for (unsigned position = 0; position < 4; position++) {
        for (unsigned value = 0; value < 256; value++) {
            uint8_t packed[4] = {10, 200, 3, 45};
            packed[position] = (uint8_t)value;
            char expected[INET_ADDRSTRLEN], hex[9], reverse[64];
            assert_non_null(inet_ntop(AF_INET, packed, expected, sizeof expected));
            snprintf(hex, sizeof hex, "%02x%02x%02x%02x", packed[0], packed[1], packed[2],
                     packed[3]);
            struct nd_convert_address address;
            struct nd_error error;
            assert_int_equal(nd_convert_hex(hex, AF_INET, &address, &error), ND_OK);
            assert_string_equal(address.text, expected);
            snprintf(reverse, sizeof reverse, "%u.%u.%u.%u.in-addr.arpa", packed[3], packed[2],
                     packed[1], packed[0]);
            assert_string_equal(address.reverse_pointer, reverse);
            struct nd_convert_legacy legacy;
            assert_int_equal(nd_convert_legacy_ipv4(expected, &legacy, &error), ND_OK);
            assert_string_equal(legacy.address, expected);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_pack_unpack),
        cmocka_unit_test(test_text_table),
        cmocka_unit_test(test_ipv4_integer_field),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_hex_table),
        cmocka_unit_test(test_integer_table),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_property_names),
        cmocka_unit_test(test_legacy_table),
        cmocka_unit_test(test_legacy_rejects_bad_input),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_failure_leaves_output_untouched),
        cmocka_unit_test(test_ipv4_text_matches_inet_ntop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
