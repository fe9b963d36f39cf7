/* src/core/net.c: endpoints, listening sockets, address text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "netdiag/net.h"

static void test_parse_endpoints(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum nd_err expected;
        const char *host;
        unsigned port;
    } cases[] = {
        {"0.0.0.0:8080", ND_OK, "0.0.0.0", 8080},
        {"[::]:8080", ND_OK, "::", 8080},
        {"[::1]:0", ND_OK, "::1", 0},
        {"*:9900", ND_OK, "*", 9900},
        {"localhost:65535", ND_OK, "localhost", 65535},
        {"", ND_ERR_INVALID, NULL, 0},
        {"8080", ND_ERR_INVALID, NULL, 0},
        {":8080", ND_ERR_INVALID, NULL, 0},
        {"::1:8080", ND_ERR_INVALID, NULL, 0},
        {"[::1]8080", ND_ERR_INVALID, NULL, 0},
        {"host:65536", ND_ERR_RANGE, NULL, 0},
        {"host:http", ND_ERR_INVALID, NULL, 0},
        {"host:", ND_ERR_INVALID, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_net_endpoint endpoint;
        struct nd_error error;
        assert_int_equal(nd_net_parse_endpoint(cases[i].text, &endpoint, &error),
                         cases[i].expected);
        if (cases[i].expected == ND_OK) {
            assert_string_equal(endpoint.host, cases[i].host);
            assert_int_equal(endpoint.port, cases[i].port);
        } else {
            assert_true(strlen(error.message) > 0);
        }
    }
}

static void test_listen_on_ephemeral_port(void **state)
{
    (void)state;
    struct nd_net_endpoint endpoint = {.host = "127.0.0.1", .port = 0};
    struct sockaddr_storage bound;
    socklen_t length;
    int fd;
    struct nd_error error;
    assert_int_equal(nd_net_listen_tcp(&endpoint, 16, &fd, &bound, &length, &error), ND_OK);
    const struct sockaddr_in *address = (const struct sockaddr_in *)&bound;
    assert_int_equal(address->sin_family, AF_INET);
    assert_int_not_equal(ntohs(address->sin_port), 0);
    char text[ND_NET_ADDRESS_TEXT_MAX];
    nd_net_format_address((struct sockaddr *)&bound, text, sizeof text);
    assert_int_equal(strncmp(text, "127.0.0.1:", 10), 0);

    /* The same port again is taken: the error names bind and carries errno. */
    endpoint.port = ntohs(address->sin_port);
    int second;
    assert_int_equal(nd_net_listen_tcp(&endpoint, 16, &second, &bound, &length, &error),
                     ND_ERR_SYSTEM);
    assert_int_not_equal(error.os_error, 0);
    assert_non_null(strstr(error.message, "bind"));
    assert_int_equal(close(fd), 0);
}

static void test_format_ipv6(void **state)
{
    (void)state;
    struct sockaddr_in6 address = {.sin6_family = AF_INET6, .sin6_port = htons(8080)};
    address.sin6_addr = in6addr_loopback;
    char text[ND_NET_ADDRESS_TEXT_MAX];
    assert_string_equal(nd_net_format_address((struct sockaddr *)&address, text, sizeof text),
                        "[::1]:8080");
    assert_string_equal(nd_net_format_host((struct sockaddr *)&address, text, sizeof text), "::1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_endpoints),
        cmocka_unit_test(test_listen_on_ephemeral_port),
        cmocka_unit_test(test_format_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
