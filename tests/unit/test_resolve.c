/* src/core/resolve.c: name syntax, forward and reverse lookups (recipes 2 and 7).
 * Everything here is answered by /etc/hosts or by getaddrinfo's own numeric
 * parsing, except the ".invalid" names: RFC 6761 section 6.4 guarantees they
 * never exist, so the configured DNS server answers NXDOMAIN for them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "netdiag/resolve.h"

/* Labels of 63 characters joined by dots, the last one shortened, so that the
 * text is exactly `length` characters long and no label is over the limit:
 * only the total length can make such a name invalid. */
static void make_long_name(char *buffer, size_t length, char fill)
{
    for (size_t i = 0; i < length; i++)
        buffer[i] = (i % 64 == 63) ? '.' : fill;
    buffer[length] = '\0';
}

/* Whether /etc/hosts maps the IPv6 loopback to "localhost". Many containers
 * ship an /etc/hosts without it, and then an IPv6 lookup of localhost would
 * leave the machine for DNS: those tests skip instead. */
static bool hosts_has_ipv6_localhost(void)
{
    FILE *hosts = fopen("/etc/hosts", "re");
    if (!hosts)
        return false;
    bool found = false;
    char line[512];
    while (!found && fgets(line, sizeof line, hosts)) {
        line[strcspn(line, "#")] = '\0';
        char *save = NULL;
        const char *address = strtok_r(line, " \t\r\n", &save);
        struct in6_addr parsed;
        if (!address || inet_pton(AF_INET6, address, &parsed) != 1 ||
            memcmp(&parsed, &in6addr_loopback, sizeof parsed) != 0)
            continue;
        for (const char *alias = strtok_r(NULL, " \t\r\n", &save); alias && !found;
             alias = strtok_r(NULL, " \t\r\n", &save))
            found = strcasecmp(alias, "localhost") == 0;
    }
    fclose(hosts);
    return found;
}

static bool result_contains(const struct nd_resolve_result *result, const char *text)
{
    for (size_t i = 0; i < result->address_count; i++) {
        if (strcmp(result->addresses[i].text, text) == 0)
            return true;
    }
    return false;
}

/* Every address is of an allowed family, printed as inet_ntop prints it, and
 * listed once although getaddrinfo answers once per socket type. */
static void assert_addresses_well_formed(const struct nd_resolve_result *result, int only_family)
{
    assert_true(result->address_count > 0);
    assert_true(result->address_count <= ND_RESOLVE_ADDRESSES_MAX);
    for (size_t i = 0; i < result->address_count; i++) {
        const struct nd_resolve_address *address = &result->addresses[i];
        if (only_family != AF_UNSPEC)
            assert_int_equal(address->family, only_family);
        else
            assert_true(address->family == AF_INET || address->family == AF_INET6);
        unsigned char raw[sizeof(struct in6_addr)];
        char printed[INET6_ADDRSTRLEN];
        assert_int_equal(inet_pton(address->family, address->text, raw), 1);
        assert_non_null(inet_ntop(address->family, raw, printed, sizeof printed));
        assert_string_equal(printed, address->text);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(address->text, result->addresses[j].text);
    }
}

static void test_valid_names(void **state)
{
    (void)state;
    char name_253[256], name_253_rooted[260], label_63[80];
    make_long_name(name_253, 253, 'b');
    snprintf(name_253_rooted, sizeof name_253_rooted, "%s.", name_253);
    memset(label_63, 'a', 63);
    snprintf(label_63 + 63, sizeof label_63 - 63, ".example");

    const char *const valid[] = {
        "www.python.org", /* the recipe's own example */
        "localhost",
        "a",
        "a.", /* the root label: a trailing dot is allowed */
        "example.com.",
        "a_b", /* '_' occurs in real names (SRV, DKIM) and the resolver takes it */
        "xn--caf-dma.example",
        "0-9.example",
        "127.0.0.1",
        "1.2.3.4.nip.io", /* numbers, but the last label is a name */
        "3com.example",
        "example.123abc",
        "::1",
        "::ffff:192.0.2.1",
        "2001:db8::1",
        name_253,
        name_253_rooted, /* 254 characters, but the trailing dot does not count */
        label_63,
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        struct nd_error error = {.code = ND_ERR_BUSY};
        print_message("valid: '%.40s'\n", valid[i]);
        assert_int_equal(nd_resolve_validate_name(valid[i], &error), ND_OK);
        assert_int_equal(error.code, ND_ERR_BUSY); /* untouched */
    }
}

static void test_invalid_names(void **state)
{
    (void)state;
    char name_254[256], name_254_rooted[260], label_64[80], lone_label_64[80];
    make_long_name(name_254, 254, 'c');
    snprintf(name_254_rooted, sizeof name_254_rooted, "%s.", name_254);
    memset(label_64, 'a', 64);
    snprintf(label_64 + 64, sizeof label_64 - 64, ".example");
    memset(lone_label_64, 'a', 64);
    lone_label_64[64] = '\0';

    const struct {
        const char *name;
        const char *message; /* a part of the expected message */
    } cases[] = {
        {"", "host name is empty"},
        {NULL, "host name is empty"},
        {name_254, "254 characters long; at most 253"},
        {name_254_rooted, "254 characters long; at most 253"},
        {label_64, "64 characters long; at most 63"},
        {lone_label_64, "64 characters long; at most 63"},
        {"a..b", "empty label at character 3"},
        {".a", "empty label at character 1"},
        {"a..", "empty label at character 3"},
        {".", "has no labels"},
        {"-a", "starts or ends with '-'"},
        {"a-", "starts or ends with '-'"},
        {"a.-b.c", "starts or ends with '-'"},
        {"exa mple", "character 4 of the host name is not a letter"},
        {"ex@mple", "character 3 of the host name is not a letter"},
        {"[::1]", "character 1 of the host name is not a letter"},
        {"caf\xc3\xa9", "character 4 of the host name is not a letter"},
        {"a/b", "character 2 of the host name is not a letter"},
        {"a:b", "character 2 of the host name is not a letter"},
        {"fe80::1%eth0", "character 5 of the host name is not a letter"},
        {"example.com:80", "character 12 of the host name is not a letter"},
        /* Numbers getaddrinfo would read as inet_aton does (RFC 1123 2.1: a
         * host name's last label is never all-numeric): refused as /convert
         * refuses them, with the legacy reading. */
        {"010.0.0.1", "would read it as 8.0.0.1"},
        {"1.2.3", "would read it as 1.2.0.3"},
        {"127.1", "would read it as 127.0.0.1"},
        {"2130706433", "would read it as 127.0.0.1"},
        {"0x7f.0.0.1", "would read it as 127.0.0.1"},
        {"example.0x10", "nor a host name (its last label is a number)"},
        {"256.1.1.1", "not a valid IPv4 address (inet_pton) nor a host name"},
        {"1.2.3.4.", "not a valid IPv4 address (inet_pton) nor a host name"},
        {"a\nb", "character 2 of the host name is not a letter"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_error error;
        print_message("invalid: '%.40s'\n", cases[i].name ? cases[i].name : "(null)");
        assert_int_equal(nd_resolve_validate_name(cases[i].name, &error), ND_ERR_INVALID);
        assert_int_equal(error.code, ND_ERR_INVALID);
        assert_int_equal(error.gai_error, 0);
        assert_non_null(strstr(error.message, cases[i].message));
        assert_int_equal(nd_resolve_validate_name(cases[i].name, NULL), ND_ERR_INVALID);
    }
}

static void test_forward_localhost(void **state)
{
    (void)state;
    const struct {
        enum nd_resolve_family family;
        int only_family;
    } cases[] = {
        {ND_RESOLVE_ANY, AF_UNSPEC},
        {ND_RESOLVE_IPV4, AF_INET},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_resolve_result result;
        struct nd_error error = {.code = ND_ERR_BUSY, .gai_error = EAI_AGAIN};
        print_message("localhost, %s\n", nd_resolve_family_name(cases[i].family));
        assert_int_equal(nd_resolve_host("localhost", cases[i].family, &result, &error), ND_OK);
        assert_int_equal(error.code, ND_OK);
        assert_int_equal(error.gai_error, 0);
        assert_true(strlen(result.canonical_name) > 0);
        assert_false(result.truncated);
        assert_addresses_well_formed(&result, cases[i].only_family);
        assert_true(result_contains(&result, "127.0.0.1"));
    }
}

static void test_forward_localhost_ipv6(void **state)
{
    (void)state;
    if (!hosts_has_ipv6_localhost()) {
        print_message("/etc/hosts has no '::1 localhost'; skipping\n");
        skip();
    }
    struct nd_resolve_result result;
    struct nd_error error;
    assert_int_equal(nd_resolve_host("localhost", ND_RESOLVE_IPV6, &result, &error), ND_OK);
    assert_addresses_well_formed(&result, AF_INET6);
    assert_true(result_contains(&result, "::1"));
}

/* Numeric literals never reach /etc/hosts or DNS, and getaddrinfo returns
 * each of them three times (stream, datagram, raw): exactly one must remain. */
static void test_forward_literals(void **state)
{
    (void)state;
    const struct {
        const char *name;
        enum nd_resolve_family family;
        int address_family;
        const char *address;
    } cases[] = {
        {"127.0.0.1", ND_RESOLVE_IPV4, AF_INET, "127.0.0.1"},
        {"127.0.0.1", ND_RESOLVE_ANY, AF_INET, "127.0.0.1"},
        {"::1", ND_RESOLVE_IPV6, AF_INET6, "::1"},
        {"::1", ND_RESOLVE_ANY, AF_INET6, "::1"},
        {"2001:db8:0:0:0:0:0:1", ND_RESOLVE_IPV6, AF_INET6, "2001:db8::1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_resolve_result result;
        struct nd_error error;
        print_message("%s, %s\n", cases[i].name, nd_resolve_family_name(cases[i].family));
        assert_int_equal(nd_resolve_host(cases[i].name, cases[i].family, &result, &error), ND_OK);
        assert_int_equal(result.address_count, 1);
        assert_int_equal(result.addresses[0].family, cases[i].address_family);
        assert_string_equal(result.addresses[0].text, cases[i].address);
        assert_false(result.truncated);
    }
}

static void test_forward_errors(void **state)
{
    (void)state;
    char long_invalid[260];
    make_long_name(long_invalid, 253 - strlen(".invalid"), 'd');
    strcat(long_invalid, ".invalid");
    assert_int_equal(strlen(long_invalid), 253);
    char long_shown[160];
    snprintf(long_shown, sizeof long_shown, "getaddrinfo(%.100s...): %s", long_invalid,
             gai_strerror(EAI_NONAME));
    char nonexistent[160];
    snprintf(nonexistent, sizeof nonexistent, "getaddrinfo(www.example.invalid): %s",
             gai_strerror(EAI_NONAME));
    char wrong_family_v4[160];
    snprintf(wrong_family_v4, sizeof wrong_family_v4, "getaddrinfo(127.0.0.1): %s",
             gai_strerror(EAI_ADDRFAMILY));
    char wrong_family_v6[160];
    snprintf(wrong_family_v6, sizeof wrong_family_v6, "getaddrinfo(::1): %s",
             gai_strerror(EAI_ADDRFAMILY));

    const struct {
        const char *name;
        enum nd_resolve_family family;
        enum nd_err code;
        int gai_error;
        const char *message; /* the whole message */
    } cases[] = {
        /* Recipe 7: the gaierror comes back as data. RFC 6761: .invalid never exists. */
        {"www.example.invalid", ND_RESOLVE_ANY, ND_ERR_RESOLVE, EAI_NONAME, nonexistent},
        {"www.example.invalid", ND_RESOLVE_IPV4, ND_ERR_RESOLVE, EAI_NONAME, nonexistent},
        /* A long name is shortened so that the resolver's reason still fits. */
        {long_invalid, ND_RESOLVE_ANY, ND_ERR_RESOLVE, EAI_NONAME, long_shown},
        {"127.0.0.1", ND_RESOLVE_IPV6, ND_ERR_RESOLVE, EAI_ADDRFAMILY, wrong_family_v4},
        {"::1", ND_RESOLVE_IPV4, ND_ERR_RESOLVE, EAI_ADDRFAMILY, wrong_family_v6},
        {"a..b", ND_RESOLVE_ANY, ND_ERR_INVALID, 0,
         "host name has an empty label at character 3 (as in 'a..b')"},
        {"", ND_RESOLVE_ANY, ND_ERR_INVALID, 0, "host name is empty"},
        {NULL, ND_RESOLVE_ANY, ND_ERR_INVALID, 0, "host name is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_resolve_result result;
        memset(&result, 0xA5, sizeof result);
        struct nd_error error;
        print_message("%.40s, %s\n", cases[i].name ? cases[i].name : "(null)",
                      nd_resolve_family_name(cases[i].family));
        assert_int_equal(nd_resolve_host(cases[i].name, cases[i].family, &result, &error),
                         cases[i].code);
        assert_int_equal(error.code, cases[i].code);
        assert_int_equal(error.gai_error, cases[i].gai_error);
        assert_string_equal(error.message, cases[i].message);
        assert_int_equal(result.address_count, 0);
        assert_string_equal(result.canonical_name, "");
        assert_false(result.truncated);
        if (cases[i].code == ND_ERR_INVALID)
            assert_int_equal(result.duration_us, 0); /* no lookup was made */
    }
}

static void test_reverse_loopback(void **state)
{
    (void)state;
    struct nd_resolve_reverse result;
    struct nd_error error = {.code = ND_ERR_BUSY};
    assert_int_equal(nd_resolve_reverse("127.0.0.1", &result, &error), ND_OK);
    assert_int_equal(error.code, ND_OK);
    assert_int_equal(result.family, AF_INET);
    assert_string_equal(result.address, "127.0.0.1");
    /* NI_NAMEREQD: a name, never the address printed back. */
    assert_true(strlen(result.name) > 0);
    assert_string_not_equal(result.name, "127.0.0.1");
}

static void test_reverse_loopback_ipv6(void **state)
{
    (void)state;
    if (!hosts_has_ipv6_localhost()) {
        print_message("/etc/hosts has no '::1 localhost'; skipping\n");
        skip();
    }
    struct nd_resolve_reverse result;
    struct nd_error error;
    assert_int_equal(nd_resolve_reverse("0:0:0:0:0:0:0:1", &result, &error), ND_OK);
    assert_int_equal(result.family, AF_INET6);
    assert_string_equal(result.address, "::1");
    assert_true(strlen(result.name) > 0);
    assert_string_not_equal(result.name, "::1");
}

static void test_reverse_not_literal(void **state)
{
    (void)state;
    const struct {
        const char *address;
        const char *message;
    } cases[] = {
        {"localhost", "'localhost' is not an IP address"},
        {"300.1.1.1", "'300.1.1.1' is not an IP address"},
        {"127.1", "'127.1' is not an IP address"}, /* inet_aton's shorthand, not inet_pton's */
        {"127.0.0.01", "'127.0.0.01' is not an IP address"},
        {" 127.0.0.1", "' 127.0.0.1' is not an IP address"},
        {"[::1]", "'[::1]' is not an IP address"},
        {"fe80::1%lo", "'fe80::1%lo' is not an IP address"},
        {"", "'' is not an IP address"},
        {NULL, "'' is not an IP address"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_resolve_reverse result;
        memset(&result, 0xA5, sizeof result);
        struct nd_error error;
        print_message("reverse '%s'\n", cases[i].address ? cases[i].address : "(null)");
        assert_int_equal(nd_resolve_reverse(cases[i].address, &result, &error), ND_ERR_INVALID);
        assert_int_equal(error.code, ND_ERR_INVALID);
        assert_int_equal(error.gai_error, 0);
        assert_non_null(strstr(error.message, cases[i].message));
        assert_string_equal(result.name, "");
        assert_int_equal(result.duration_us, 0);
    }
}

static void test_family_names(void **state)
{
    (void)state;
    const struct {
        enum nd_resolve_family family;
        const char *name;
    } cases[] = {
        {ND_RESOLVE_ANY, "any"},
        {ND_RESOLVE_IPV4, "ipv4"},
        {ND_RESOLVE_IPV6, "ipv6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(nd_resolve_family_name(cases[i].family), cases[i].name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),         cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_forward_localhost),   cmocka_unit_test(test_forward_localhost_ipv6),
        cmocka_unit_test(test_forward_literals),    cmocka_unit_test(test_forward_errors),
        cmocka_unit_test(test_reverse_loopback),    cmocka_unit_test(test_reverse_loopback_ipv6),
        cmocka_unit_test(test_reverse_not_literal), cmocka_unit_test(test_family_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
