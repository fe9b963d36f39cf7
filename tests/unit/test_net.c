/* src/core/net.c: endpoints, listening sockets, address text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
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

static void test_parse_host_port(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *host; /* NULL: refused */
        unsigned port;
    } cases[] = {
        {"pool.ntp.org", "pool.ntp.org", 123},
        {"time.test:1123", "time.test", 1123},
        {"127.0.0.1", "127.0.0.1", 123},
        {"127.0.0.1:65535", "127.0.0.1", 65535},
        {"[::1]:5353", "::1", 5353},
        {"[::1]", "::1", 123},
        {"::1", "::1", 123}, /* a bare IPv6 literal cannot carry a port */
        {"fe80::1:2", "fe80::1:2", 123},
        {"", NULL, 0},
        {":123", NULL, 0},
        {"[]:1", NULL, 0},
        {"[::1", NULL, 0},
        {"[::1]x", NULL, 0},
        {"host:0", NULL, 0},
        {"host:65536", NULL, 0},
        {"host:", NULL, 0},
        {"host:12a", NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_net_endpoint endpoint;
        struct nd_error error;
        enum nd_err err = nd_net_parse_host_port(cases[i].text, 123, &endpoint, &error);
        if (!cases[i].host) {
            if (err == ND_OK)
                fail_msg("'%s' was accepted", cases[i].text);
            assert_true(error.message[0] != '\0');
            continue;
        }
        if (err != ND_OK)
            fail_msg("'%s': %s", cases[i].text, error.message);
        assert_string_equal(endpoint.host, cases[i].host);
        assert_int_equal(endpoint.port, cases[i].port);
    }
}

/* Literals as inet_pton reads them, with the port in network order; the
 * forms a user may type around them (brackets, a zone, a short dotted
 * quad, a name) are not literals. */
static void test_address_from_literal(void **state)
{
    (void)state;
    struct sockaddr_storage address;
    assert_int_equal(nd_net_address_from_literal("192.0.2.7", 8080, &address),
                     sizeof(struct sockaddr_in));
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&address;
    assert_int_equal(v4->sin_family, AF_INET);
    assert_int_equal(ntohs(v4->sin_port), 8080);
    assert_int_equal(ntohl(v4->sin_addr.s_addr), 0xc0000207u);
    assert_int_equal(nd_net_address_from_literal("fd00::1", 9900, &address),
                     sizeof(struct sockaddr_in6));
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&address;
    assert_int_equal(v6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(v6->sin6_port), 9900);
    assert_int_equal(v6->sin6_addr.s6_addr[0], 0xfd);
    assert_int_equal(v6->sin6_addr.s6_addr[15], 1);
    assert_int_equal(v6->sin6_scope_id, 0);
    static const char *const not_literals[] = {"[::1]", "fe80::1%eth0", "1.2.3", "localhost", ""};
    for (size_t i = 0; i < sizeof not_literals / sizeof not_literals[0]; i++) {
        assert_int_equal(nd_net_address_from_literal(not_literals[i], 80, &address), 0);
        assert_int_equal(address.ss_family, 0);
    }
}

/* A listener on 127.0.0.1, on a port the kernel picks. */
static int loopback_listener(struct sockaddr_storage *bound)
{
    struct nd_net_endpoint endpoint = {.host = "127.0.0.1", .port = 0};
    socklen_t length;
    int fd;
    struct nd_error error;
    assert_int_equal(nd_net_listen_tcp(&endpoint, 16, &fd, bound, &length, &error), ND_OK);
    return fd;
}

static void test_listen_on_ephemeral_port(void **state)
{
    (void)state;
    struct sockaddr_storage bound;
    int fd = loopback_listener(&bound);
    const struct sockaddr_in *address = (const struct sockaddr_in *)&bound;
    assert_int_equal(address->sin_family, AF_INET);
    assert_int_not_equal(ntohs(address->sin_port), 0);
    char text[ND_NET_ADDRESS_TEXT_MAX];
    nd_net_format_address((struct sockaddr *)&bound, text, sizeof text);
    assert_int_equal(strncmp(text, "127.0.0.1:", 10), 0);

    /* The same port again is taken: the error names bind and carries errno. */
    struct nd_net_endpoint endpoint = {.host = "127.0.0.1", .port = ntohs(address->sin_port)};
    socklen_t length;
    struct nd_error error;
    int second;
    assert_int_equal(nd_net_listen_tcp(&endpoint, 16, &second, &bound, &length, &error),
                     ND_ERR_SYSTEM);
    assert_int_not_equal(error.os_error, 0);
    assert_non_null(strstr(error.message, "bind"));
    assert_int_equal(close(fd), 0);
}

/* A deferring listener: the kernel keeps the setting (Linux stores it as
 * SYN-ACK retransmissions and reads it back as seconds, at least the ones
 * asked for); on a datagram socket the call fails and says which. */
static void test_defer_accept(void **state)
{
    (void)state;
    struct sockaddr_storage bound;
    int fd = loopback_listener(&bound);
    struct nd_error error;
    assert_int_equal(nd_net_defer_accept(fd, 1, &error), ND_OK);
    int seconds = 0;
    socklen_t size = sizeof seconds;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, &size), 0);
    assert_true(seconds >= 1);
    assert_int_equal(close(fd), 0);

    struct nd_net_endpoint endpoint = {.host = "127.0.0.1", .port = 0};
    socklen_t length;
    int udp;
    assert_int_equal(nd_net_bind_udp(&endpoint, &udp, &bound, &length, &error), ND_OK);
    assert_int_equal(nd_net_defer_accept(udp, 1, &error), ND_ERR_SYSTEM);
    assert_non_null(strstr(error.message, "TCP_DEFER_ACCEPT"));
    assert_int_equal(close(udp), 0);
}

/* The UDP echo binds its datagram socket beside the TCP listener, on the
 * same port: the two protocols have separate port spaces. */
static void test_bind_udp_beside_tcp(void **state)
{
    (void)state;
    struct nd_net_endpoint endpoint = {.host = "127.0.0.1", .port = 0};
    struct sockaddr_storage bound;
    socklen_t length;
    int tcp, udp, again;
    struct nd_error error;
    assert_int_equal(nd_net_listen_tcp(&endpoint, 16, &tcp, &bound, &length, &error), ND_OK);
    endpoint.port = ntohs(((const struct sockaddr_in *)&bound)->sin_port);
    assert_int_equal(nd_net_bind_udp(&endpoint, &udp, &bound, &length, &error), ND_OK);
    assert_int_equal(ntohs(((const struct sockaddr_in *)&bound)->sin_port), endpoint.port);
    int type;
    socklen_t type_length = sizeof type;
    assert_int_equal(getsockopt(udp, SOL_SOCKET, SO_TYPE, &type, &type_length), 0);
    assert_int_equal(type, SOCK_DGRAM);
    assert_true(fcntl(udp, F_GETFL) & O_NONBLOCK);

    /* A second datagram socket on the port is refused: no SO_REUSEADDR,
     * which for UDP would let another process share the port. */
    assert_int_equal(nd_net_bind_udp(&endpoint, &again, &bound, &length, &error), ND_ERR_SYSTEM);
    assert_int_equal(error.os_error, EADDRINUSE);

    /* "*" is every address, IPv4 through the same socket. */
    struct nd_net_endpoint any = {.host = "*", .port = 0};
    int wildcard;
    assert_int_equal(nd_net_bind_udp(&any, &wildcard, &bound, &length, &error), ND_OK);
    assert_true(bound.ss_family == AF_INET6 || bound.ss_family == AF_INET);
    assert_int_equal(close(wildcard), 0);
    assert_int_equal(close(udp), 0);
    assert_int_equal(close(tcp), 0);
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
    assert_int_equal(nd_net_port((struct sockaddr *)&address), 8080);
    struct sockaddr_in ipv4 = {.sin_family = AF_INET, .sin_port = htons(9900)};
    assert_int_equal(nd_net_port((struct sockaddr *)&ipv4), 9900);
    struct sockaddr other = {.sa_family = AF_UNIX};
    assert_int_equal(nd_net_port(&other), 0);
}

/* The address text is written by hand: it must be what snprintf with
 * inet_ntop writes, byte for byte, cut the same way in a short buffer. */
static void reference_address(const struct sockaddr *address, char *text, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *ipv4 = (const struct sockaddr_in *)address;
        assert_non_null(inet_ntop(AF_INET, &ipv4->sin_addr, host, sizeof host));
        snprintf(text, size, "%s:%u", host, (unsigned)ntohs(ipv4->sin_port));
    } else {
        const struct sockaddr_in6 *ipv6 = (const struct sockaddr_in6 *)address;
        assert_non_null(inet_ntop(AF_INET6, &ipv6->sin6_addr, host, sizeof host));
        snprintf(text, size, "[%s]:%u", host, (unsigned)ntohs(ipv6->sin6_port));
    }
}

static void assert_formats_like_reference(const struct sockaddr *address)
{
    char expected[ND_NET_ADDRESS_TEXT_MAX], text[ND_NET_ADDRESS_TEXT_MAX];
    reference_address(address, expected, sizeof expected);
    assert_string_equal(nd_net_format_address(address, text, sizeof text), expected);
    for (size_t size = 1; size <= strlen(expected) + 1; size++) {
        reference_address(address, expected, size);
        memset(text, 'x', sizeof text);
        assert_string_equal(nd_net_format_address(address, text, size), expected);
    }
    /* The host alone: the same text without the port (and brackets). */
    reference_address(address, expected, sizeof expected);
    char *host_end = strrchr(expected, ':');
    *host_end = '\0';
    if (expected[0] == '[') {
        host_end[-1] = '\0';
        assert_string_equal(nd_net_format_host(address, text, sizeof text), expected + 1);
    } else {
        assert_string_equal(nd_net_format_host(address, text, sizeof text), expected);
    }
}

static void test_format_matches_inet_ntop(void **state)
{
    (void)state;
    static const uint16_t ports[] = {0, 7, 80, 443, 8080, 9900, 65535};
    for (int position = 0; position < 4; position++) {
        for (unsigned value = 0; value < 256; value++) {
            struct sockaddr_in address = {.sin_family = AF_INET};
            uint8_t *octets = (uint8_t *)&address.sin_addr;
            memset(octets, 1, 4);
            octets[position] = (uint8_t)value;
            address.sin_port = htons(ports[value % (sizeof ports / sizeof ports[0])]);
            assert_formats_like_reference((struct sockaddr *)&address);
        }
    }
    static const char *const ipv6[] = {"::", "::1", "fe80::1", "::ffff:192.0.2.1",
                                       "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"};
    for (size_t i = 0; i < sizeof ipv6 / sizeof ipv6[0]; i++) {
        struct sockaddr_in6 address = {.sin6_family = AF_INET6, .sin6_port = htons(ports[i])};
        assert_int_equal(inet_pton(AF_INET6, ipv6[i], &address.sin6_addr), 1);
        assert_formats_like_reference((struct sockaddr *)&address);
    }
    struct sockaddr other = {.sa_family = AF_UNIX};
    char text[8];
    assert_string_equal(nd_net_format_address(&other, text, sizeof text), "?");
    assert_string_equal(nd_net_format_host(&other, text, sizeof text), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_endpoints),
        cmocka_unit_test(test_parse_host_port),
        cmocka_unit_test(test_address_from_literal),
        cmocka_unit_test(test_listen_on_ephemeral_port),
        cmocka_unit_test(test_defer_accept),
        cmocka_unit_test(test_bind_udp_beside_tcp),
        cmocka_unit_test(test_format_ipv6),
        cmocka_unit_test(test_format_matches_inet_ntop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
