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
    assert_true(nd_allowlist_permits(&list, "anything", (struct sockaddr *)&address));
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
        assert_int_equal(nd_allowlist_permits(&list, cases[i].host, pointer), cases[i].permitted);
    }
}

static void test_bad_entries(void **state)
{
    (void)state;
    static const char *const bad[] = {"10.0.0.0/33", "::/129", "host/8",    "a b",
                                      ",",           "x,,y",   "10.0.0.0/x"};
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
        cmocka_unit_test(test_bad_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
