/* src/core/allowlist.c: which servers may be queried. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "netdiag/allowlist.h"

static struct sockaddr_storage address_of(const char *text)
{
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof storage);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&storage;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&storage;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
        v4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1)
        v6->sin6_family = AF_INET6;
    return storage;
}

static void test_empty_list_permits_all(void **state)
{
    (void)state;
    struct nd_allowlist list;
    assert_int_equal(nd_allowlist_parse("", &list, NULL), ND_OK);
    struct sockaddr_storage address = address_of("192.0.2.1");
    assert_true(nd_allowlist_permits(&list, "anything", (struct sockaddr *)&address, 0));
}

static void test_matching(void **state)
{
    (void)state;
    struct nd_allowlist list;
    struct nd_error error;
    assert_int_equal(nd_allowlist_parse("pool.ntp.org,10.0.0.0/8,127.0.0.1,2001:db8::/32,"
                                        "192.168.1.128/25",
                                        &list, &error),
                     ND_OK);
    assert_int_equal(list.count, 5);
    static const struct {
        const char *host;
        const char *address;
        bool permitted;
    } cases[] = {
        {"pool.ntp.org", NULL, true}, {"POOL.NTP.ORG", NULL, true},  {"time.example", NULL, false},
        {"x", "10.1.2.3", true},      {"x", "11.0.0.1", false},      {"x", "127.0.0.1", true},
        {"x", "127.0.0.2", false},    {"x", "2001:db8:1::5", true},  {"x", "2001:db9::5", false},
        {"x", "192.168.1.200", true}, {"x", "192.168.1.100", false}, {NULL, "10.255.255.255", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_storage address = address_of(cases[i].address ? cases[i].address : "");
        const struct sockaddr *pointer = cases[i].address ? (struct sockaddr *)&address : NULL;
        assert_int_equal(nd_allowlist_permits(&list, cases[i].host, pointer, 0),
                         cases[i].permitted);
    }
}

static void test_ports(void **state)
{
    (void)state;
    struct nd_allowlist list;
    struct nd_error error;
    assert_int_equal(nd_allowlist_parse("db.internal:5432,10.1.0.0/16:80-443,[fd00::/8]:443,"
                                        "[::1],127.0.0.1:9900",
                                        &list, &error),
                     ND_OK);
    assert_int_equal(list.count, 5);
    static const struct {
        const char *host;
        const char *address;
        unsigned port;
        bool permitted;
    } cases[] = {
        {"db.internal", NULL, 5432, true},
        {"db.internal", NULL, 5433, false},
        {"x", "10.1.2.3", 80, true},
        {"x", "10.1.2.3", 443, true},
        {"x", "10.1.2.3", 79, false},
        {"x", "10.1.2.3", 444, false},
        {"x", "fd12::1", 443, true},
        {"x", "fd12::1", 80, false},
        {"x", "::1", 1, true},
        {"x", "::1", 65535, true},
        {"x", "127.0.0.1", 9900, true},
        {"x", "127.0.0.1", 8080, false},
        {"x", "10.1.2.3", 0, true}, /* 0: any port will do */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_storage address = address_of(cases[i].address ? cases[i].address : "");
        const struct sockaddr *pointer = cases[i].address ? (struct sockaddr *)&address : NULL;
        if (nd_allowlist_permits(&list, cases[i].host, pointer, (uint16_t)cases[i].port) !=
            cases[i].permitted)
            fail_msg("case %zu: %s %s port %u", i, cases[i].host,
                     cases[i].address ? cases[i].address : "-", cases[i].port);
    }
}

/* Link-local and metadata addresses pass only through a network entry that
 * names them: a host name allowed by name (or an empty list) may not lead
 * there, whatever it resolves to. */
static void test_sensitive_destinations(void **state)
{
    (void)state;
    static const struct {
        const char *address;
        bool sensitive;
    } addresses[] = {
        {"169.254.169.254", true},
        {"169.254.0.1", true},
        {"100.100.100.200", true},
        {"fe80::1", true},
        {"febf::1", true},
        {"fd00:ec2::254", true},
        {"::ffff:169.254.169.254", true},
        {"127.0.0.1", false},
        {"10.0.0.1", false},
        {"fec0::1", false},
        {"fd00:ec2::253", false},
        {"169.253.255.255", false},
        {"100.100.100.201", false},
        {"::1", false},
    };
    struct nd_allowlist empty, by_name, by_network;
    assert_int_equal(nd_allowlist_parse("", &empty, NULL), ND_OK);
    assert_int_equal(nd_allowlist_parse("metadata.test", &by_name, NULL), ND_OK);
    assert_int_equal(
        nd_allowlist_parse("169.254.169.254/32:80,fe80::/10,0.0.0.0/0", &by_network, NULL), ND_OK);
    for (size_t i = 0; i < sizeof addresses / sizeof addresses[0]; i++) {
        struct sockaddr_storage storage = address_of(addresses[i].address);
        const struct sockaddr *address = (struct sockaddr *)&storage;
        if (nd_allowlist_sensitive(address) != addresses[i].sensitive)
            fail_msg("%s: sensitive should be %d", addresses[i].address, addresses[i].sensitive);
        assert_int_equal(nd_allowlist_permits_destination(&empty, "x", address, 80),
                         !addresses[i].sensitive);
        assert_false(nd_allowlist_permits_destination(&by_name, "metadata.test", address, 80) &&
                     addresses[i].sensitive);
    }
    struct sockaddr_storage metadata = address_of("169.254.169.254");
    assert_true(
        nd_allowlist_permits_destination(&by_network, "x", (struct sockaddr *)&metadata, 80));
    assert_false(
        nd_allowlist_permits_destination(&by_network, "x", (struct sockaddr *)&metadata, 443));
    struct sockaddr_storage other = address_of("169.254.1.1");
    assert_false(nd_allowlist_permits_destination(&by_network, "x", (struct sockaddr *)&other, 80));
    /* 0.0.0.0/0 lets everything else through. */
    struct sockaddr_storage public_address = address_of("192.0.2.7");
    assert_true(nd_allowlist_permits_destination(&by_network, "x",
                                                 (struct sockaddr *)&public_address, 443));
    struct sockaddr_storage link_local = address_of("fe80::1");
    assert_true(
        nd_allowlist_permits_destination(&by_network, "x", (struct sockaddr *)&link_local, 22));
}

static void test_off_lets_nothing_through(void **state)
{
    (void)state;
    struct nd_allowlist list;
    assert_int_equal(nd_allowlist_parse("off", &list, NULL), ND_OK);
    assert_true(list.nothing);
    struct sockaddr_storage address = address_of("127.0.0.1");
    assert_false(nd_allowlist_permits(&list, "localhost", (struct sockaddr *)&address, 0));
    assert_false(
        nd_allowlist_permits_destination(&list, "localhost", (struct sockaddr *)&address, 80));
    assert_int_equal(nd_allowlist_parse("", &list, NULL), ND_OK);
    assert_false(list.nothing);
}

static void test_bad_entries(void **state)
{
    (void)state;
    static const char *const bad[] = {"10.0.0.0/33", "::/129",     "host/8", "a b",    ",",
                                      "x,,y",        "10.0.0.0/x", "host:0", "host:",  "host:x",
                                      "host:9-8",    "host:70000", "[::1]x", "[::1]:", "[::1",
                                      "[]:80",       ":80",        "h:1-",   "h:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct nd_allowlist list;
        struct nd_error error;
        assert_int_equal(nd_allowlist_parse(bad[i], &list, &error), ND_ERR_INVALID);
        assert_true(strlen(error.message) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_list_permits_all),
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_sensitive_destinations),
        cmocka_unit_test(test_off_lets_nothing_through),
        cmocka_unit_test(test_bad_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
