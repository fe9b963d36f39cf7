#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* Why Python's ipaddress, the oracle below, may disagree with the IANA
 * registries for a block; the registry wins (RFC 6890 and its updates). */
static const char LAG_IETF_V4[] = "192.0.0.0/24 is not globally reachable as a whole (RFC 6890); "
                                  "ipaddress before 3.12.4 and 3.11.10 lists only parts of it";
static const char LAG_IETF_V6[] =
    "globally reachable per the registry inside 2001::/23; ipaddress before 3.12.4 and 3.11.10 "
    "takes all of 2001::/23 as private";
static const char LAG_NOT_APPLICABLE[] =
    "the registry says N/A (6to4 and its relay anycast, deprecated by RFC 7526) and netdiag calls "
    "nothing global that the registry does not; ipaddress calls 192.88.99.0/24 global, and "
    "2002::/16 before 3.12.4";
static const char LAG_RFC8215[] = "RFC 8215's local-use NAT64 prefix, missing before ipaddress "
                                  "3.12.4";
static const char LAG_RFC9780[] = "RFC 9780 (2025), newer than every ipaddress";
static const char LAG_RFC9665[] = "RFC 9665 (2024), newer than the ipaddress of Debian 12 and 13";
static const char LAG_RFC9637[] = "RFC 9637 (2024), missing before ipaddress 3.12.4";
static const char LAG_RFC9602[] = "RFC 9602 (2024), newer than the ipaddress of Debian 12 and 13";

struct registry_sample {
    const char *address;
    bool global;
    const char *block;       /* the most specific registry row holding it, or NULL */
    const char *oracle_lags; /* why ipaddress may disagree, or NULL */
};

/* The first and last address of every row of both registries and the
 * address just after each, with what the registry says of them. */
static const struct registry_sample registry_samples[] = {
    {"0.0.0.0", false, "0.0.0.0/32", NULL},
    {"0.255.255.255", false, "0.0.0.0/8", NULL},
    {"1.0.0.0", true, NULL, NULL},
    {"0.0.0.1", false, "0.0.0.0/8", NULL},
    {"10.0.0.0", false, "10.0.0.0/8", NULL},
    {"10.255.255.255", false, "10.0.0.0/8", NULL},
    {"11.0.0.0", true, NULL, NULL},
    {"100.64.0.0", false, "100.64.0.0/10", NULL},
    {"100.127.255.255", false, "100.64.0.0/10", NULL},
    {"100.128.0.0", true, NULL, NULL},
    {"127.0.0.0", false, "127.0.0.0/8", NULL},
    {"127.255.255.255", false, "127.0.0.0/8", NULL},
    {"128.0.0.0", true, NULL, NULL},
    {"169.254.0.0", false, "169.254.0.0/16", NULL},
    {"169.254.255.255", false, "169.254.0.0/16", NULL},
    {"169.255.0.0", true, NULL, NULL},
    {"172.16.0.0", false, "172.16.0.0/12", NULL},
    {"172.31.255.255", false, "172.16.0.0/12", NULL},
    {"172.32.0.0", true, NULL, NULL},
    {"192.0.0.0", false, "192.0.0.0/29", NULL},
    {"192.0.0.255", false, "192.0.0.0/24", LAG_IETF_V4},
    {"192.0.1.0", true, NULL, NULL},
    {"192.0.0.7", false, "192.0.0.0/29", NULL},
    {"192.0.0.8", false, "192.0.0.8/32", LAG_IETF_V4},
    {"192.0.0.9", true, "192.0.0.9/32", NULL},
    {"192.0.0.10", true, "192.0.0.10/32", NULL},
    {"192.0.0.11", false, "192.0.0.0/24", LAG_IETF_V4},
    {"192.0.0.170", false, "192.0.0.170/32", NULL},
    {"192.0.0.171", false, "192.0.0.171/32", NULL},
    {"192.0.0.172", false, "192.0.0.0/24", LAG_IETF_V4},
    {"192.0.2.0", false, "192.0.2.0/24", NULL},
    {"192.0.2.255", false, "192.0.2.0/24", NULL},
    {"192.0.3.0", true, NULL, NULL},
    {"192.31.196.0", true, "192.31.196.0/24", NULL},
    {"192.31.196.255", true, "192.31.196.0/24", NULL},
    {"192.31.197.0", true, NULL, NULL},
    {"192.52.193.0", true, "192.52.193.0/24", NULL},
    {"192.52.193.255", true, "192.52.193.0/24", NULL},
    {"192.52.194.0", true, NULL, NULL},
    {"192.88.99.0", false, "192.88.99.0/24", LAG_NOT_APPLICABLE},
    {"192.88.99.255", false, "192.88.99.0/24", LAG_NOT_APPLICABLE},
    {"192.88.100.0", true, NULL, NULL},
    {"192.168.0.0", false, "192.168.0.0/16", NULL},
    {"192.168.255.255", false, "192.168.0.0/16", NULL},
    {"192.169.0.0", true, NULL, NULL},
    {"192.175.48.0", true, "192.175.48.0/24", NULL},
    {"192.175.48.255", true, "192.175.48.0/24", NULL},
    {"192.175.49.0", true, NULL, NULL},
    {"198.18.0.0", false, "198.18.0.0/15", NULL},
    {"198.19.255.255", false, "198.18.0.0/15", NULL},
    {"198.20.0.0", true, NULL, NULL},
    {"198.51.100.0", false, "198.51.100.0/24", NULL},
    {"198.51.100.255", false, "198.51.100.0/24", NULL},
    {"198.51.101.0", true, NULL, NULL},
    {"203.0.113.0", false, "203.0.113.0/24", NULL},
    {"203.0.113.255", false, "203.0.113.0/24", NULL},
    {"203.0.114.0", true, NULL, NULL},
    {"240.0.0.0", false, "240.0.0.0/4", NULL},
    {"255.255.255.255", false, "255.255.255.255/32", NULL},
    {"::1", false, "::1/128", NULL},
    {"::2", true, NULL, NULL},
    {"::", false, "::/128", NULL},
    {"::ffff:0:0", false, "::ffff:0:0/96", NULL},
    {"::ffff:ffff:ffff", false, "::ffff:0:0/96", NULL},
    {"::1:0:0:0", true, NULL, NULL},
    {"64:ff9b::", true, "64:ff9b::/96", NULL},
    {"64:ff9b::ffff:ffff", true, "64:ff9b::/96", NULL},
    {"64:ff9b::1:0:0", true, NULL, NULL},
    {"64:ff9b:1::", false, "64:ff9b:1::/48", LAG_RFC8215},
    {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false, "64:ff9b:1::/48", LAG_RFC8215},
    {"64:ff9b:2::", true, NULL, NULL},
    {"100::", false, "100::/64", NULL},
    {"100::ffff:ffff:ffff:ffff", false, "100::/64", NULL},
    {"100:0:0:1::", false, "100:0:0:1::/64", LAG_RFC9780},
    {"100::1:ffff:ffff:ffff:ffff", false, "100:0:0:1::/64", LAG_RFC9780},
    {"100:0:0:2::", true, NULL, NULL},
    {"2001::", false, "2001::/32", NULL},
    {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", false, "2001::/23", NULL},
    {"2001:200::", true, NULL, NULL},
    {"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", false, "2001::/32", NULL},
    {"2001:1::", false, "2001::/23", NULL},
    {"2001:1::1", true, "2001:1::1/128", LAG_IETF_V6},
    {"2001:1::2", true, "2001:1::2/128", LAG_IETF_V6},
    {"2001:1::3", true, "2001:1::3/128", LAG_RFC9665},
    {"2001:1::4", false, "2001::/23", NULL},
    {"2001:2::", false, "2001:2::/48", NULL},
    {"2001:2:0:ffff:ffff:ffff:ffff:ffff", false, "2001:2::/48", NULL},
    {"2001:2:1::", false, "2001::/23", NULL},
    {"2001:3::", true, "2001:3::/32", LAG_IETF_V6},
    {"2001:3:ffff:ffff:ffff:ffff:ffff:ffff", true, "2001:3::/32", LAG_IETF_V6},
    {"2001:4::", false, "2001::/23", NULL},
    {"2001:4:112::", true, "2001:4:112::/48", LAG_IETF_V6},
    {"2001:4:112:ffff:ffff:ffff:ffff:ffff", true, "2001:4:112::/48", LAG_IETF_V6},
    {"2001:4:113::", false, "2001::/23", NULL},
    {"2001:10::", false, "2001:10::/28", NULL},
    {"2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", false, "2001:10::/28", NULL},
    {"2001:20::", true, "2001:20::/28", LAG_IETF_V6},
    {"2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", true, "2001:20::/28", LAG_IETF_V6},
    {"2001:30::", true, "2001:30::/28", LAG_IETF_V6},
    {"2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", true, "2001:30::/28", LAG_IETF_V6},
    {"2001:40::", false, "2001::/23", NULL},
    {"2001:db8::", false, "2001:db8::/32", NULL},
    {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false, "2001:db8::/32", NULL},
    {"2001:db9::", true, NULL, NULL},
    {"2002::", false, "2002::/16", LAG_NOT_APPLICABLE},
    {"2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, "2002::/16", LAG_NOT_APPLICABLE},
    {"2003::", true, NULL, NULL},
    {"2620:4f:8000::", true, "2620:4f:8000::/48", NULL},
    {"2620:4f:8000:ffff:ffff:ffff:ffff:ffff", true, "2620:4f:8000::/48", NULL},
    {"2620:4f:8001::", true, NULL, NULL},
    {"3fff::", false, "3fff::/20", LAG_RFC9637},
    {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", false, "3fff::/20", LAG_RFC9637},
    {"3fff:1000::", true, NULL, NULL},
    {"5f00::", false, "5f00::/16", LAG_RFC9602},
    {"5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, "5f00::/16", LAG_RFC9602},
    {"5f01::", true, NULL, NULL},
    {"fc00::", false, "fc00::/7", NULL},
    {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, "fc00::/7", NULL},
    {"fe00::", true, NULL, NULL},
    {"fe80::", false, "fe80::/10", NULL},
    {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, "fe80::/10", NULL},
    {"fec0::", true, NULL, NULL},
};

/* Python's ipaddress.is_global for each address, one per line. */
static void oracle_is_global(const struct registry_sample *samples, size_t count, bool *out)
{
    char command[] = "/tmp/netdiag-oracle-XXXXXX";
    int fd = mkstemp(command);
    assert_true(fd >= 0);
    FILE *input = fdopen(fd, "w");
    assert_non_null(input);
    for (size_t i = 0; i < count; i++)
        fprintf(input, "%s\n", samples[i].address);
    fclose(input);
    char line[512];
    snprintf(line, sizeof line,
             "python3 -c 'import ipaddress,sys\n"
             "for a in sys.stdin: print(ipaddress.ip_address(a.strip()).is_global)' < %s",
             command);
    FILE *output = popen(line, "r");
    assert_non_null(output);
    size_t n = 0;
    while (n < count && fgets(line, sizeof line, output))
        out[n++] = strncmp(line, "True", 4) == 0;
    assert_int_equal(pclose(output), 0);
    unlink(command);
    assert_int_equal(n, count);
}

/* Every row of the IANA IPv4 and IPv6 special-purpose registries, against
 * the registry itself and against Python's ipaddress where it is current. */
static void test_special_purpose_registries(void **state)
{
    (void)state;
    size_t count = sizeof registry_samples / sizeof registry_samples[0];
    bool oracle[sizeof registry_samples / sizeof registry_samples[0]];
    oracle_is_global(registry_samples, count, oracle);
    for (size_t i = 0; i < count; i++) {
        const struct registry_sample *sample = &registry_samples[i];
        struct nd_convert_address address;
        assert_int_equal(nd_convert_text(sample->address, &address, NULL), ND_OK);
        bool global = nd_convert_has_property(&address, ND_CONVERT_GLOBAL);
        if (global != sample->global)
            fail_msg("%s: global is %d, the registry says %d", sample->address, global,
                     sample->global);
        if (sample->block) {
            assert_non_null(address.special);
            assert_string_equal(address.special->block, sample->block);
        } else {
            assert_null(address.special);
        }
        if (oracle[i] != sample->global && !sample->oracle_lags)
            fail_msg("%s: ipaddress says is_global=%d, the registry %d", sample->address, oracle[i],
                     sample->global);
        if (oracle[i] != sample->global)
            print_message("%s: the registry wins over ipaddress: %s\n", sample->address,
                          sample->oracle_lags);
    }
    /* Each row of the core's table is sampled here, and its text is its prefix. */
    for (size_t row = 0; row < nd_convert_special_block_count; row++) {
        const struct nd_convert_special_block *block = &nd_convert_special_blocks[row];
        bool sampled = false;
        for (size_t i = 0; i < count && !sampled; i++)
            sampled =
                registry_samples[i].block && strcmp(registry_samples[i].block, block->block) == 0;
        if (!sampled)
            fail_msg("registry row %s has no sample", block->block);
        char text[64];
        snprintf(text, sizeof text, "%s", block->block);
        *strchr(text, '/') = '\0';
        uint8_t packed[16];
        assert_int_equal(inet_pton(block->family, text, packed), 1);
        assert_memory_equal(packed, block->prefix, block->family == AF_INET ? 4 : 16);
        assert_int_equal(block->prefix_length, (unsigned)atoi(strchr(block->block, '/') + 1));
    }
}

/* The addresses the issue found called "global". */
static void test_special_purpose_is_not_global(void **state)
{
    (void)state;
    static const char *const addresses[] = {"198.18.0.1", "0.1.2.3",   "192.0.0.1", "100::1",
                                            "2001::1",    "2001:2::1", "2001:10::1"};
    for (size_t i = 0; i < sizeof addresses / sizeof addresses[0]; i++) {
        struct nd_convert_address address;
        assert_int_equal(nd_convert_text(addresses[i], &address, NULL), ND_OK);
        assert_int_equal(address.properties, BIT(ND_CONVERT_SPECIAL_PURPOSE));
        assert_non_null(address.special);
    }
}

static void test_property_names(void **state)
{
    (void)state;
    static const char *const expected[] = {
        "unspecified",   "loopback", "private",  "link_local",  "multicast",       "broadcast",
        "documentation", "shared",   "reserved", "ipv4_mapped", "special_purpose", "global",
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
        cmocka_unit_test(test_special_purpose_registries),
        cmocka_unit_test(test_special_purpose_is_not_global),
        cmocka_unit_test(test_legacy_table),
        cmocka_unit_test(test_legacy_rejects_bad_input),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_failure_leaves_output_untouched),
        cmocka_unit_test(test_ipv4_text_matches_inet_ntop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
