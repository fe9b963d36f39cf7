#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/services_table.h"
#include "netdiag/service.h"

/* Entries of Debian's netbase /etc/services, which the build machine's copy
 * (compiled into the built-in table) and the system database both hold. */
struct known_port {
    uint16_t port;
    const char *protocol;
    const char *name;
};

static const struct known_port known_ports[] = {
    /* The recipe's own example: ports 80, 25, 53, 443 over tcp. */
    {80, "tcp", "http"},   {25, "tcp", "smtp"},   {53, "tcp", "domain"},
    {443, "tcp", "https"}, {53, "udp", "domain"}, {443, "udp", "https"},
};

static bool has_alias(const struct nd_service *service, const char *alias)
{
    for (size_t i = 0; i < service->alias_count; i++) {
        if (strcmp(service->aliases[i], alias) == 0)
            return true;
    }
    return false;
}

/* Without /etc/services the system lookup finds nothing and the built-in
 * table answers; with it, the system must answer. */
static enum nd_service_source expected_source(void)
{
    return access("/etc/services", R_OK) == 0 ? ND_SERVICE_SOURCE_SYSTEM
                                              : ND_SERVICE_SOURCE_BUILTIN;
}

static void skip_without_builtin_table(void)
{
    if (nd_services_table_count == 0)
        skip();
}

static void test_by_port_recipe(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof known_ports / sizeof known_ports[0]; i++) {
        const struct known_port *known = &known_ports[i];
        struct nd_service service;
        struct nd_error error;
        assert_int_equal(nd_service_by_port(known->port, known->protocol, &service, &error), ND_OK);
        assert_string_equal(service.name, known->name);
        assert_int_equal(service.port, known->port);
        assert_string_equal(service.protocol, known->protocol);
        assert_int_equal(service.source, expected_source());
    }
}

static void test_by_name_recipe(void **state)
{
    (void)state;
    struct nd_service service;
    struct nd_error error;
    assert_int_equal(nd_service_by_name("http", "tcp", &service, &error), ND_OK);
    assert_int_equal(service.port, 80);
    assert_string_equal(service.name, "http");
    assert_string_equal(service.protocol, "tcp");
    assert_true(has_alias(&service, "www"));
    assert_false(service.aliases_truncated);

    for (size_t i = 0; i < sizeof known_ports / sizeof known_ports[0]; i++) {
        const struct known_port *known = &known_ports[i];
        assert_int_equal(nd_service_by_name(known->name, known->protocol, &service, &error), ND_OK);
        assert_int_equal(service.port, known->port);
        assert_int_equal(service.source, expected_source());
    }
}

static void test_by_name_alias(void **state)
{
    (void)state;
    struct nd_service service;
    assert_int_equal(nd_service_by_name("www", "tcp", &service, NULL), ND_OK);
    assert_string_equal(service.name, "http");
    assert_int_equal(service.port, 80);
}

static void test_not_found(void **state)
{
    (void)state;
    struct nd_service service;
    struct nd_error error;

    assert_int_equal(nd_service_by_port(9999, "tcp", &service, &error), ND_ERR_NOT_FOUND);
    assert_int_equal(error.code, ND_ERR_NOT_FOUND);
    assert_string_equal(error.message, "no service on port 9999/tcp");

    assert_int_equal(nd_service_by_port(0, "tcp", &service, &error), ND_ERR_NOT_FOUND);
    assert_string_equal(error.message, "no service on port 0/tcp");

    /* smtp is tcp only in netbase. */
    assert_int_equal(nd_service_by_port(25, "udp", &service, &error), ND_ERR_NOT_FOUND);
    assert_string_equal(error.message, "no service on port 25/udp");

    assert_int_equal(nd_service_by_name("nosuch", "udp", &service, &error), ND_ERR_NOT_FOUND);
    assert_string_equal(error.message, "no service named 'nosuch' for udp");

    /* Case-sensitive, as glibc compares names. */
    assert_int_equal(nd_service_by_name("HTTP", "tcp", &service, &error), ND_ERR_NOT_FOUND);
    assert_string_equal(error.message, "no service named 'HTTP' for tcp");

    /* 63 characters is the longest name accepted: it reaches the lookup. */
    char longest[ND_SERVICE_NAME_MAX];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    assert_int_equal(nd_service_by_name(longest, "tcp", &service, NULL), ND_ERR_NOT_FOUND);
}

static void test_invalid_protocol(void **state)
{
    (void)state;
    static const char *const protocols[] = {"TCP", "sctp", "", "tcp ", "ud", "udpx"};
    struct nd_service service;
    struct nd_error error;
    for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++) {
        assert_int_equal(nd_service_by_port(80, protocols[i], &service, &error), ND_ERR_INVALID);
        assert_string_equal(error.message, "protocol must be tcp or udp");
        assert_int_equal(nd_service_by_name("http", protocols[i], &service, &error),
                         ND_ERR_INVALID);
        assert_int_equal(nd_service_builtin_by_port(80, protocols[i], &service, &error),
                         ND_ERR_INVALID);
        assert_int_equal(nd_service_builtin_by_name("http", protocols[i], &service, &error),
                         ND_ERR_INVALID);
    }
    assert_int_equal(nd_service_by_port(80, NULL, &service, &error), ND_ERR_INVALID);
    assert_int_equal(nd_service_by_name("http", NULL, &service, NULL), ND_ERR_INVALID);
}

static void test_invalid_names(void **state)
{
    (void)state;
    char too_long[ND_SERVICE_NAME_MAX + 1];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';

    static const struct {
        const char *name;
        const char *message;
    } cases[] = {
        {"", "service name is empty"},
        {"ht tp", "character 3 of the service name is not a letter, digit, '.', '_', '+' or '-'"},
        {"http/tcp",
         "character 5 of the service name is not a letter, digit, '.', '_', '+' or '-'"},
        {"a\nb", "character 2 of the service name is not a letter, digit, '.', '_', '+' or '-'"},
        {"\xc3\xa9", "character 1 of the service name is not a letter, digit, '.', '_', '+' or "
                     "'-'"},
        {"*", "character 1 of the service name is not a letter, digit, '.', '_', '+' or '-'"},
    };
    struct nd_service service;
    struct nd_error error;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(nd_service_by_name(cases[i].name, "tcp", &service, &error),
                         ND_ERR_INVALID);
        assert_string_equal(error.message, cases[i].message);
        assert_int_equal(nd_service_builtin_by_name(cases[i].name, "tcp", &service, &error),
                         ND_ERR_INVALID);
    }
    assert_int_equal(nd_service_by_name(too_long, "tcp", &service, &error), ND_ERR_INVALID);
    assert_string_equal(error.message, "service name is longer than 63 characters");
    assert_int_equal(nd_service_by_name(NULL, "tcp", &service, &error), ND_ERR_INVALID);

    /* Every accepted punctuation character passes validation. */
    assert_int_equal(nd_service_by_name("a.b_c+d-e", "tcp", &service, &error), ND_ERR_NOT_FOUND);
}

static void test_builtin_by_port(void **state)
{
    (void)state;
    skip_without_builtin_table();
    for (size_t i = 0; i < sizeof known_ports / sizeof known_ports[0]; i++) {
        const struct known_port *known = &known_ports[i];
        struct nd_service service;
        struct nd_error error;
        assert_int_equal(nd_service_builtin_by_port(known->port, known->protocol, &service, &error),
                         ND_OK);
        assert_string_equal(service.name, known->name);
        assert_int_equal(service.port, known->port);
        assert_string_equal(service.protocol, known->protocol);
        assert_int_equal(service.source, ND_SERVICE_SOURCE_BUILTIN);
    }
}

static void test_builtin_by_name(void **state)
{
    (void)state;
    skip_without_builtin_table();
    struct nd_service service;
    struct nd_error error;
    assert_int_equal(nd_service_builtin_by_name("http", "tcp", &service, &error), ND_OK);
    assert_int_equal(service.port, 80);
    assert_int_equal(service.source, ND_SERVICE_SOURCE_BUILTIN);
    assert_int_equal(service.alias_count, 1);
    assert_string_equal(service.aliases[0], "www");

    assert_int_equal(nd_service_builtin_by_name("www", "tcp", &service, &error), ND_OK);
    assert_string_equal(service.name, "http");

    assert_int_equal(nd_service_builtin_by_name("smtp", "tcp", &service, &error), ND_OK);
    assert_int_equal(service.port, 25);
    assert_true(has_alias(&service, "mail"));

    assert_int_equal(nd_service_builtin_by_name("domain", "udp", &service, &error), ND_OK);
    assert_int_equal(service.port, 53);
    assert_int_equal(service.alias_count, 0);

    assert_int_equal(nd_service_builtin_by_name("https", "tcp", &service, &error), ND_OK);
    assert_int_equal(service.port, 443);
}

static void test_builtin_not_found(void **state)
{
    (void)state;
    struct nd_service service;
    struct nd_error error;
    assert_int_equal(nd_service_builtin_by_port(9999, "tcp", &service, &error), ND_ERR_NOT_FOUND);
    assert_string_equal(error.message, "no service on port 9999/tcp");
    assert_int_equal(nd_service_builtin_by_port(0, "udp", &service, &error), ND_ERR_NOT_FOUND);
    assert_int_equal(nd_service_builtin_by_name("nosuch", "udp", &service, &error),
                     ND_ERR_NOT_FOUND);
    assert_string_equal(error.message, "no service named 'nosuch' for udp");
    assert_int_equal(nd_service_builtin_by_name("HTTP", "tcp", &service, &error), ND_ERR_NOT_FOUND);
}

/* What the C library itself answers, or false when it knows no such entry. */
static bool library_answer(uint16_t port, const char *name, const char *protocol,
                           struct servent *entry, char *buffer, size_t size)
{
    struct servent *found = NULL;
    int status = name ? getservbyname_r(name, protocol, entry, buffer, size, &found)
                      : getservbyport_r(htons(port), protocol, entry, buffer, size, &found);
    assert_true(status == 0 || status == ENOENT);
    return found != NULL;
}

static void assert_same_answer(uint16_t port, const char *name, const char *protocol)
{
    char buffer[4096];
    struct servent entry;
    bool known = library_answer(port, name, protocol, &entry, buffer, sizeof buffer);
    struct nd_service service;
    struct nd_error error;
    enum nd_err err = name ? nd_service_by_name(name, protocol, &service, &error)
                           : nd_service_by_port(port, protocol, &service, &error);
    if (!known) {
        /* Only the built-in table may answer what the system does not know. */
        if (err == ND_OK)
            assert_int_equal(service.source, ND_SERVICE_SOURCE_BUILTIN);
        else
            assert_int_equal(err, ND_ERR_NOT_FOUND);
        return;
    }
    assert_int_equal(err, ND_OK);
    assert_int_equal(service.source, ND_SERVICE_SOURCE_SYSTEM);
    assert_string_equal(service.name, entry.s_name);
    assert_int_equal(service.port, ntohs((uint16_t)entry.s_port));
    size_t aliases = 0;
    while (entry.s_aliases[aliases])
        aliases++;
    assert_int_equal(service.alias_count, aliases);
    for (size_t i = 0; i < aliases; i++)
        assert_string_equal(service.aliases[i], entry.s_aliases[i]);
}

/* The copy of the database that lookups use answers exactly as the C
 * library does: for every entry it lists, by port, name and alias, and for
 * the low ports where most misses are. */
static void test_matches_c_library(void **state)
{
    (void)state;
    static const char *const protocols[] = {"tcp", "udp"};
    for (uint32_t port = 0; port < 2048; port++) {
        for (size_t p = 0; p < 2; p++)
            assert_same_answer((uint16_t)port, NULL, protocols[p]);
    }
    char buffer[4096];
    struct servent entry, *found;
    size_t listed = 0;
    setservent(0);
    while (getservent_r(&entry, buffer, sizeof buffer, &found) == 0 && found) {
        if (strcmp(entry.s_proto, "tcp") != 0 && strcmp(entry.s_proto, "udp") != 0)
            continue;
        /* assert_same_answer's own lookups must not disturb this walk. */
        char name[ND_SERVICE_NAME_MAX], protocol[ND_SERVICE_PROTOCOL_MAX];
        char aliases[ND_SERVICE_ALIASES_MAX][ND_SERVICE_NAME_MAX];
        size_t alias_count = 0;
        uint16_t port = ntohs((uint16_t)entry.s_port);
        snprintf(name, sizeof name, "%s", entry.s_name);
        snprintf(protocol, sizeof protocol, "%s", entry.s_proto);
        for (; entry.s_aliases[alias_count] && alias_count < ND_SERVICE_ALIASES_MAX; alias_count++)
            snprintf(aliases[alias_count], sizeof aliases[0], "%s", entry.s_aliases[alias_count]);
        assert_same_answer(port, NULL, protocol);
        assert_same_answer(0, name, protocol);
        for (size_t i = 0; i < alias_count; i++)
            assert_same_answer(0, aliases[i], protocol);
        listed++;
    }
    endservent();
    assert_int_equal(nd_service_system_entries(), listed);
}

static void test_source_name(void **state)
{
    (void)state;
    assert_string_equal(nd_service_source_name(ND_SERVICE_SOURCE_SYSTEM), "system");
    assert_string_equal(nd_service_source_name(ND_SERVICE_SOURCE_BUILTIN), "builtin");
    assert_string_equal(nd_service_source_name((enum nd_service_source)42), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_port_recipe),    cmocka_unit_test(test_by_name_recipe),
        cmocka_unit_test(test_by_name_alias),     cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_invalid_protocol),  cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_builtin_by_port),   cmocka_unit_test(test_builtin_by_name),
        cmocka_unit_test(test_builtin_not_found), cmocka_unit_test(test_matches_c_library),
        cmocka_unit_test(test_source_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
