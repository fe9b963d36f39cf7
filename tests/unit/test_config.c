/* src/config.c: defaults, environment, flags, and the refusals at start-up. */
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

#include "config.h"

static struct nd_config config;
static char why[512];

/* argv from a NULL-terminated list, with the program name in front. */
static enum nd_config_action load(const char *const *arguments)
{
    char *argv[32] = {"netdiag"};
    int argc = 1;
    for (; arguments && arguments[argc - 1]; argc++)
        argv[argc] = (char *)arguments[argc - 1];
    why[0] = '\0';
    return nd_config_load(argc, argv, &config, why, sizeof why);
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(load(NULL), ND_CONFIG_SERVE);
    assert_string_equal(config.listen.host, "*");
    assert_int_equal(config.listen.port, 8080);
    assert_string_equal(config.echo_listen.host, "*");
    assert_int_equal(config.echo_listen.port, 9900);
    /* The UDP echo goes where the TCP one does, unless told otherwise. */
    assert_true(config.echo_udp_listen.beside_tcp);
    assert_int_equal(config.echo_udp_rate, 100);
    assert_int_equal(config.echo_udp_burst, 100);
    assert_int_equal(config.max_connections, 20000);
    assert_int_equal(config.connection_timeout_s, 60);
    assert_int_equal(config.slow_workers, 8);
    assert_string_equal(config.cors_origin, "*");
    assert_string_equal(config.sntp_server, "pool.ntp.org");
    assert_true(config.access_log);
    assert_int_equal(config.log_format, ND_LOG_TEXT);
    assert_string_equal(config.auth_token, "");
}

static void test_environment_then_flags(void **state)
{
    (void)state;
    setenv("NETDIAG_THREADS", "3", 1);
    setenv("NETDIAG_LOG_FORMAT", "json", 1);
    assert_int_equal(load((const char *[]){"--threads", "5", NULL}), ND_CONFIG_SERVE);
    assert_int_equal(config.threads, 5);
    assert_int_equal(config.log_format, ND_LOG_JSON);
    assert_int_equal(load((const char *[]){"--threads=7", "--echo-listen", "off", NULL}),
                     ND_CONFIG_SERVE);
    assert_int_equal(config.threads, 7);
    assert_string_equal(config.echo_listen.host, "");
    unsetenv("NETDIAG_THREADS");
    unsetenv("NETDIAG_LOG_FORMAT");

    assert_int_equal(load((const char *[]){"--cors-origin", "off", NULL}), ND_CONFIG_SERVE);
    assert_string_equal(config.cors_origin, "");

    assert_int_equal(load((const char *[]){"--echo-udp-listen", "off", NULL}), ND_CONFIG_SERVE);
    assert_false(config.echo_udp_listen.beside_tcp);
    assert_string_equal(config.echo_udp_listen.endpoint.host, "");
    setenv("NETDIAG_ECHO_UDP_LISTEN", "[::1]:7007", 1);
    assert_int_equal(load((const char *[]){"--echo-udp-rate", "5", NULL}), ND_CONFIG_SERVE);
    assert_false(config.echo_udp_listen.beside_tcp);
    assert_string_equal(config.echo_udp_listen.endpoint.host, "::1");
    assert_int_equal(config.echo_udp_listen.endpoint.port, 7007);
    assert_int_equal(config.echo_udp_rate, 5);
    /* An empty value goes back to the default. */
    assert_int_equal(load((const char *[]){"--echo-udp-listen=", NULL}), ND_CONFIG_SERVE);
    assert_true(config.echo_udp_listen.beside_tcp);
    unsetenv("NETDIAG_ECHO_UDP_LISTEN");
}

static void test_actions(void **state)
{
    (void)state;
    assert_int_equal(load((const char *[]){"--help", NULL}), ND_CONFIG_HELP);
    assert_int_equal(load((const char *[]){"--version", NULL}), ND_CONFIG_VERSION);
    assert_int_equal(load((const char *[]){"--healthcheck", NULL}), ND_CONFIG_HEALTHCHECK);
    assert_string_equal(config.healthcheck_url, "");
    assert_int_equal(load((const char *[]){"--healthcheck", "http://127.0.0.1:1/healthz", NULL}),
                     ND_CONFIG_HEALTHCHECK);
    assert_string_equal(config.healthcheck_url, "http://127.0.0.1:1/healthz");
}

struct refusal {
    const char *arguments[4];
    const char *reason; /* a part of the one-line reason */
};

static void test_refusals_name_the_flag(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"--threads", "abc"}, "--threads: 'abc' is not a whole number from 0 to 256"},
        {{"--threads", "257"}, "from 0 to 256"},
        {{"--listen", "nowhere"}, "--listen:"},
        {{"--echo-udp-listen", "9900"}, "--echo-udp-listen: '9900' has no port"},
        {{"--echo-udp-rate", "0"}, "--echo-udp-rate: '0' is not a whole number from 1"},
        {{"--echo-udp-burst", "1000001"}, "from 1 to 1000000"},
        {{"--log-format", "xml"}, "not text or json"},
        {{"--access-log", "maybe"}, "not on or off"},
        {{"--sntp-allow", "10.0.0.0/40"}, "--sntp-allow:"},
        {{"stray"}, "unexpected argument 'stray'"},
        /* A forgotten value does not swallow the next flag. */
        {{"--listen", "--threads", "2"}, "'--listen' needs a value"},
        {{"--listen"}, "'--listen' needs a value"},
        /* A CR or LF would cut the header out of every response. */
        {{"--cors-origin", "https://a.test\r\nX-Evil: 1"}, "--cors-origin: character 15"},
        {{"--cors-origin", "a\nb"}, "control character"},
        /* The default server is checked as a request's server= is. */
        {{"--sntp-server", ""}, "--sntp-server:"},
        {{"--sntp-server", "a..b"}, "empty label"},
        {{"--sntp-server", "1.2.3"}, "would read it as 1.2.0.3"},
        {{"--sntp-server", "time.test:0"}, "port number 1-65535"},
        {{"--docs-dir", "/nonexistent"}, "--docs-dir /nonexistent: no swagger-ui-bundle.js"},
        {{"--auth-token-file", "/nonexistent/token"}, "No such file"},
        {{"--tls-ca-file", "/nonexistent.pem"}, "--tls-ca-file: /nonexistent.pem: No such file"},
        {{"--tls-cert", "/etc/passwd"}, "--tls-cert and --tls-key go together"},
        {{"--tls-key", "/etc/passwd"}, "--tls-cert and --tls-key go together"},
        /* /dns's defaults are addresses: a name could fail on every request. */
        {{"--dns-servers", "dns.example"}, "--dns-servers: 'dns.example' is not an IP address"},
        {{"--dns-servers", "127.0.0.1:0"}, "--dns-servers:"},
        {{"--dns-servers", ","}, "--dns-servers: no server given"},
        {{"--dns-allow", "10.0.0.0/99"}, "--dns-allow:"},
        {{"--dns-allow", ","}, "--dns-allow: no entry"},
        {{"--dns-resolv-conf", "/"}, "--dns-resolv-conf:"},
        /* The fleet view's settings. */
        {{"--peers-dns", "10.0.0.1"}, "--peers-dns: '10.0.0.1' is an address"},
        {{"--peers-dns", "peers..test"}, "--peers-dns:"},
        {{"--peers-dns", "p.test", "--peers-dns-server", "dns.test"},
         "--peers-dns-server: 'dns.test' is not an IP address"},
        {{"--peers-interval", "0"}, "--peers-interval:"},
        {{"--peers-max", "1025"}, "--peers-max:"},
        {{"--pod-ip", "10.0.0.256"}, "--pod-ip: '10.0.0.256' is not an IP address"},
        {{"--node-name", "node one"}, "--node-name:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(load(cases[i].arguments), ND_CONFIG_ERROR);
        if (!strstr(why, cases[i].reason))
            fail_msg("case %zu: '%s' does not contain '%s'", i, why, cases[i].reason);
        assert_null(strchr(why, '\n'));
    }
    setenv("NETDIAG_ECHO_BUFFER", "12", 1);
    assert_int_equal(load(NULL), ND_CONFIG_ERROR);
    assert_non_null(strstr(why, "NETDIAG_ECHO_BUFFER"));
    unsetenv("NETDIAG_ECHO_BUFFER");
}

static void test_sntp_server_forms(void **state)
{
    (void)state;
    static const char *const accepted[] = {
        "pool.ntp.org", "time.test:1123", "127.0.0.1:123", "[::1]:123", "::1", "[::1]"};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        if (load((const char *[]){"--sntp-server", accepted[i], NULL}) != ND_CONFIG_SERVE)
            fail_msg("'%s' refused: %s", accepted[i], why);
        assert_string_equal(config.sntp_server, accepted[i]);
    }
}

/* Writes text to a temporary file whose name goes into path. */
static void write_file(char *path, size_t size, const char *text, size_t length)
{
    snprintf(path, size, "/tmp/netdiag-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, length), (ssize_t)length);
    close(fd);
}

static bool permits(const struct nd_allowlist *allow, const char *address)
{
    struct sockaddr_in ipv4 = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, address, &ipv4.sin_addr), 1);
    return nd_allowlist_permits(allow, NULL, (struct sockaddr *)&ipv4, 53);
}

/* /dns: the default servers come from --dns-servers or resolv.conf, and
 * "nameservers" in --dns-allow stands for them. */
static void test_dns_servers_and_allow(void **state)
{
    (void)state;
    char path[64];
    static const char resolv[] = "nameserver 192.0.2.53\nnameserver 192.0.2.54\n";
    write_file(path, sizeof path, resolv, sizeof resolv - 1);
    assert_int_equal(load((const char *[]){"--dns-resolv-conf", path, NULL}), ND_CONFIG_SERVE);
    assert_int_equal(config.dns_servers.count, 2);
    assert_string_equal(config.dns_servers.servers[0].host, "192.0.2.53");
    assert_int_equal(config.dns_servers.servers[0].port, 53);
    /* The default allow list: those, and loopback. */
    assert_true(permits(&config.dns_allow, "192.0.2.54"));
    assert_true(permits(&config.dns_allow, "127.0.0.1"));
    assert_false(permits(&config.dns_allow, "192.0.2.55"));
    assert_false(permits(&config.dns_allow, "10.0.0.1"));

    assert_int_equal(
        load((const char *[]){"--dns-resolv-conf", path, "--dns-servers", "127.0.0.1:5353,[::1]:53",
                              "--dns-allow", "nameservers,10.96.0.0/12", NULL}),
        ND_CONFIG_SERVE);
    assert_int_equal(config.dns_servers.count, 2);
    assert_int_equal(config.dns_servers.servers[0].port, 5353);
    assert_string_equal(config.dns_servers.servers[1].host, "::1");
    assert_true(permits(&config.dns_allow, "127.0.0.1"));
    assert_true(permits(&config.dns_allow, "10.96.0.10"));
    assert_false(permits(&config.dns_allow, "192.0.2.53"));
    assert_false(permits(&config.dns_allow, "127.0.0.2"));

    /* Empty: any server, as --sntp-allow. */
    assert_int_equal(load((const char *[]){"--dns-allow", "", NULL}), ND_CONFIG_SERVE);
    assert_true(permits(&config.dns_allow, "203.0.113.1"));
    unlink(path);
}

static void test_auth_token_file(void **state)
{
    (void)state;
    char path[64];
    write_file(path, sizeof path, "0123456789abcdef-token\nsecond line\n", 35);
    assert_int_equal(load((const char *[]){"--auth-token-file", path, NULL}), ND_CONFIG_SERVE);
    assert_string_equal(config.auth_token, "0123456789abcdef-token");
    unlink(path);

    /* Longer than the 511 bytes an earlier version cut it to: kept whole. */
    static char long_token[ND_CONFIG_TOKEN_MAX + 16];
    memset(long_token, 'k', 3000);
    write_file(path, sizeof path, long_token, 3000);
    assert_int_equal(load((const char *[]){"--auth-token-file", path, NULL}), ND_CONFIG_SERVE);
    assert_int_equal(strlen(config.auth_token), 3000);
    unlink(path);

    /* Too long to hold: refused, not cut. */
    memset(long_token, 'k', sizeof long_token);
    write_file(path, sizeof path, long_token, sizeof long_token);
    assert_int_equal(load((const char *[]){"--auth-token-file", path, NULL}), ND_CONFIG_ERROR);
    assert_non_null(strstr(why, "longer than"));
    unlink(path);

    write_file(path, sizeof path, "short\n", 6);
    assert_int_equal(load((const char *[]){"--auth-token-file", path, NULL}), ND_CONFIG_ERROR);
    assert_non_null(strstr(why, "at least 16"));
    unlink(path);

    write_file(path, sizeof path, "0123456789 abcdef\n", 18);
    assert_int_equal(load((const char *[]){"--auth-token-file", path, NULL}), ND_CONFIG_ERROR);
    assert_non_null(strstr(why, "without spaces"));
    unlink(path);
}

static void test_usage_lists_every_option(void **state)
{
    (void)state;
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    assert_non_null(out);
    nd_config_print_usage(out);
    fclose(out);
    static const char *const expected[] = {"--listen",        "NETDIAG_LISTEN",
                                           "--echo-listen",   "--echo-udp-listen",
                                           "--echo-udp-rate", "NETDIAG_ECHO_UDP_BURST",
                                           "--sntp-server",   "--auth-token-file",
                                           "--healthcheck",   "--dns-allow"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        assert_non_null(strstr(text, expected[i]));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_environment_then_flags),
        cmocka_unit_test(test_actions),           cmocka_unit_test(test_refusals_name_the_flag),
        cmocka_unit_test(test_sntp_server_forms), cmocka_unit_test(test_dns_servers_and_allow),
        cmocka_unit_test(test_auth_token_file),   cmocka_unit_test(test_usage_lists_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
