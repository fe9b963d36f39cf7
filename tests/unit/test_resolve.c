/* src/core/resolve.c: name syntax, forward and reverse lookups (recipe 2). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "netdiag/resolve.h"

static void test_name_syntax(void **state)
{
    (void)state;
    char long_label[80], name_253[260], name_254[260];
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    /* 63-character labels joined by dots: four make 255, so trim to 253. */
    memset(name_253, 0, sizeof name_253);
    for (int i = 0; i < 4; i++) {
        memset(name_253 + i * 64, 'b', 63);
        if (i < 3)
            name_253[i * 64 + 63] = '.';
    }
    name_253[253] = '\0';
    memcpy(name_254, name_253, 253);
    name_254[253] = 'c';
    name_254[254] = '\0';
    char label_63[80];
    memset(label_63, 'a', 63);
    strcpy(label_63 + 63, ".example");

    static const char *const valid[] = {
        "www.python.org", "localhost", "a_b.example", "a",
        "example.com.",   "127.0.0.1", "::1",         "xn--caf-dma.example"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        assert_int_equal(nd_resolve_validate_name(valid[i], NULL), ND_OK);
    assert_int_equal(nd_resolve_validate_name(name_253, NULL), ND_OK);
    assert_int_equal(nd_resolve_validate_name(label_63, NULL), ND_OK);

    const char *const invalid[] = {"",       "a..b",         ".a",      "-a",    "a-",
                                   "a.-b.c", "exa mple.com", "ex@mple", "[::1]", "caf\xc3\xa9",
                                   ".",      long_label,     name_254,  "a/b",   "a:b"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        struct nd_error error;
        assert_int_equal(nd_resolve_validate_name(invalid[i], &error), ND_ERR_INVALID);
        assert_true(strlen(error.message) > 0);
    }
}

static void test_forward_localhost(void **state)
{
    (void)state;
    struct nd_resolve_result result;
    struct nd_error error;
    assert_int_equal(nd_resolve_host("localhost", ND_RESOLVE_IPV4, &result, &error), ND_OK);
    assert_true(strlen(result.canonical_name) > 0);
    bool found = false;
    for (size_t i = 0; i < result.address_count; i++) {
        assert_int_equal(result.addresses[i].family, AF_INET);
        found = found || strcmp(result.addresses[i].text, "127.0.0.1") == 0;
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(result.addresses[i].text, result.addresses[j].text);
    }
    assert_true(found);

    assert_int_equal(nd_resolve_host("::1", ND_RESOLVE_IPV6, &result, &error), ND_OK);
    assert_int_equal(result.address_count, 1);
    assert_string_equal(result.addresses[0].text, "::1");
}

static void test_forward_errors(void **state)
{
    (void)state;
    struct nd_resolve_result result;
    struct nd_error error;
    assert_int_equal(nd_resolve_host("a..b", ND_RESOLVE_ANY, &result, &error), ND_ERR_INVALID);
    /* RFC 6761: .invalid never resolves. */
    assert_int_equal(nd_resolve_host("netdiag-unit-test.invalid", ND_RESOLVE_ANY, &result, &error),
                     ND_ERR_RESOLVE);
    assert_int_equal(error.gai_error, EAI_NONAME);
    assert_non_null(strstr(error.message, "getaddrinfo(netdiag-unit-test.invalid)"));
}

static void test_reverse(void **state)
{
    (void)state;
    struct nd_resolve_reverse result;
    struct nd_error error;
    assert_int_equal(nd_resolve_reverse("127.0.0.1", &result, &error), ND_OK);
    assert_string_equal(result.address, "127.0.0.1");
    assert_true(strlen(result.name) > 0);
    assert_int_equal(nd_resolve_reverse("localhost", &result, &error), ND_ERR_INVALID);
    assert_int_equal(nd_resolve_reverse("300.1.1.1", &result, &error), ND_ERR_INVALID);
    assert_int_equal(nd_resolve_reverse(NULL, &result, &error), ND_ERR_INVALID);
}

static void test_family_names(void **state)
{
    (void)state;
    assert_string_equal(nd_resolve_family_name(ND_RESOLVE_ANY), "any");
    assert_string_equal(nd_resolve_family_name(ND_RESOLVE_IPV4), "ipv4");
    assert_string_equal(nd_resolve_family_name(ND_RESOLVE_IPV6), "ipv6");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_syntax),    cmocka_unit_test(test_forward_localhost),
        cmocka_unit_test(test_forward_errors), cmocka_unit_test(test_reverse),
        cmocka_unit_test(test_family_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
