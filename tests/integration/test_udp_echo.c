/* The UDP echo listener against the real binary (RFC 862): socat and a
 * Python client, every payload size from empty to 65,507 bytes of random
 * binary, a burst over the rate limit (the drops counted and nothing else
 * lost), where it listens by default, and turning it off. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static double metric(const struct nd_test_server *server, const char *name)
{
    struct nd_test_response response;
    nd_test_get(server, "/metrics", &response);
    assert_int_equal(response.status, 200);
    char pattern[160];
    snprintf(pattern, sizeof pattern, "\n%s ", name);
    const char *line = strstr(response.body, pattern);
    if (!line)
        fail_msg("no %s in /metrics", name);
    double value = strtod(line + strlen(pattern), NULL);
    nd_test_response_free(&response);
    return value;
}

static double dropped(const struct nd_test_server *server, const char *reason)
{
    char name[128];
    snprintf(name, sizeof name, "netdiag_echo_udp_dropped_datagrams_total{reason=\"%s\"}", reason);
    return metric(server, name);
}

/* Runs a Python client (script text) with arguments; returns its exit
 * status, its output in out. */
static int run_python(const struct nd_test_server *server, const char *script,
                      const char *arguments, char *out, size_t size)
{
    char path[400], command[600];
    snprintf(path, sizeof path, "%s/client.py", server->directory);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    assert_true(fputs(script, file) >= 0);
    assert_int_equal(fclose(file), 0);
    snprintf(command, sizeof command, "python3 %s %s", path, arguments);
    return nd_test_command(command, out, size);
}

static void test_socat(void **state)
{
    struct nd_test_server *server = *state;
    char command[256];
    snprintf(command, sizeof command,
             "printf 'Test message. This will be echoed' | socat -t 1 - UDP:127.0.0.1:%u",
             server->echo_udp_port);
    char output[64];
    assert_int_equal(nd_test_command(command, output, sizeof output), 0);
    assert_string_equal(output, "Test message. This will be echoed");
}

/* Every size from 0 to 1,500 bytes, then every 997th up to the largest
 * IPv4 payload and that one: random bytes, each back whole and unchanged. */
static const char every_size_client[] =
    "import os, socket, sys\n"
    "port = int(sys.argv[1])\n"
    "sizes = list(range(0, 1501)) + list(range(1501, 65507, 997)) + [65507]\n"
    "with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:\n"
    "    s.connect(('127.0.0.1', port))\n"
    "    s.settimeout(2)\n"
    "    for size in sizes:\n"
    "        data = os.urandom(size)\n"
    "        s.send(data)\n"
    "        back = s.recv(65536)\n"
    "        if back != data:\n"
    "            print(f'size {size}: {len(back)} bytes came back, not the same')\n"
    "            sys.exit(1)\n"
    "    # One byte more than IPv4 allows cannot even leave.\n"
    "    try:\n"
    "        s.send(bytes(65508))\n"
    "        print('65508 bytes were sent')\n"
    "        sys.exit(1)\n"
    "    except OSError:\n"
    "        pass\n"
    "print(len(sizes), sum(sizes))\n";

static void test_every_payload_size(void **state)
{
    (void)state;
    struct nd_test_server fast;
    nd_test_server_start(
        &fast, (const char *[]){"--echo-udp-rate", "1000000", "--echo-udp-burst", "1000000", NULL});
    char port[16], output[128];
    snprintf(port, sizeof port, "%u", fast.echo_udp_port);
    int status = run_python(&fast, every_size_client, port, output, sizeof output);
    if (status != 0)
        fail_msg("python client: %s", output);
    unsigned long count = 0, bytes = 0;
    assert_int_equal(sscanf(output, "%lu %lu", &count, &bytes), 2);
    assert_int_equal(metric(&fast, "netdiag_echo_udp_received_datagrams_total"), count);
    assert_int_equal(metric(&fast, "netdiag_echo_udp_sent_datagrams_total"), count);
    assert_int_equal(metric(&fast, "netdiag_echo_udp_received_bytes_total"), bytes);
    assert_int_equal(metric(&fast, "netdiag_echo_udp_sent_bytes_total"), bytes);
    assert_int_equal(nd_test_server_stop(&fast, 10000), 0);
}

/* Two sources each send 100 numbered datagrams at once. Each gets its
 * burst back (and what the rate refills meanwhile), in order; the server
 * counts the rest as rate_limited, and read every one. */
static const char burst_client[] =
    "import socket, sys, time\n"
    "port, count = int(sys.argv[1]), int(sys.argv[2])\n"
    "sockets = []\n"
    "for source in ('127.0.0.1', '127.0.0.2'):\n"
    "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)\n"
    "    s.bind((source, 0))\n"
    "    s.connect(('127.0.0.1', port))\n"
    "    sockets.append(s)\n"
    "start = time.monotonic()\n"
    "for i in range(count):\n"
    "    for s in sockets:\n"
    "        s.send(b'datagram %06d' % i)\n"
    "elapsed = time.monotonic() - start\n"
    "echoed = []\n"
    "for s in sockets:\n"
    "    s.settimeout(0.5)\n"
    "    numbers = []\n"
    "    try:\n"
    "        while True:\n"
    "            numbers.append(int(s.recv(100).split()[1]))\n"
    "    except socket.timeout:\n"
    "        pass\n"
    "    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):\n"
    "        print('out of order or twice:', numbers)\n"
    "        sys.exit(1)\n"
    "    echoed.append(len(numbers))\n"
    "print(echoed[0], echoed[1], elapsed)\n";

static void test_burst_over_the_rate_limit(void **state)
{
    (void)state;
    enum { RATE = 50, BURST = 20, COUNT = 100 };
    struct nd_test_server limited;
    nd_test_server_start(&limited,
                         (const char *[]){"--echo-udp-rate", "50", "--echo-udp-burst", "20", NULL});
    char arguments[32], output[128];
    snprintf(arguments, sizeof arguments, "%u %d", limited.echo_udp_port, COUNT);
    int status = run_python(&limited, burst_client, arguments, output, sizeof output);
    if (status != 0)
        fail_msg("python client: %s", output);
    unsigned first = 0, second = 0;
    double seconds = 0;
    assert_int_equal(sscanf(output, "%u %u %lf", &first, &second, &seconds), 3);
    unsigned most = BURST + 1 + (unsigned)(seconds * RATE);
    if (first < BURST || first > most || second < BURST || second > most)
        fail_msg("echoed %u and %u of %d each in %.3f s; expected %d to %u", first, second, COUNT,
                 seconds, BURST, most);
    /* Every datagram was read: echoed, or dropped for the rate alone. */
    assert_int_equal(metric(&limited, "netdiag_echo_udp_received_datagrams_total"), 2 * COUNT);
    assert_int_equal(metric(&limited, "netdiag_echo_udp_sent_datagrams_total"), first + second);
    assert_int_equal(dropped(&limited, "rate_limited"), 2 * COUNT - first - second);
    static const char *const others[] = {"not_unicast", "loop_guard", "truncated", "send_failed",
                                         "queue_full"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_int_equal(dropped(&limited, others[i]), 0);
    assert_int_equal(nd_test_server_stop(&limited, 10000), 0);
}

/* By default the UDP echo takes --echo-listen's address and port; off
 * with it, unless given its own. */
static void test_where_it_listens(void **state)
{
    (void)state;
    struct nd_test_server server;
    char listen[32];
    /* The TCP echo takes the port too: one below the ephemeral range, where
     * another test's client connection cannot hold it. */
    snprintf(listen, sizeof listen, "127.0.0.1:%u",
             nd_test_free_port_on((const char *[]){"127.0.0.1"}, 1));
    nd_test_server_start(&server, (const char *[]){"--echo-listen", listen, NULL});
    assert_int_equal(server.echo_port, server.echo_udp_port);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);

    nd_test_server_start(&server, (const char *[]){"--echo-listen", "off", NULL});
    assert_int_equal(server.echo_udp_port, 0);
    assert_true(nd_test_server_wait_log(&server, "echo_udp=off", 1000));
    struct nd_test_response response;
    nd_test_get(&server, "/metrics", &response);
    assert_null(strstr(response.body, "netdiag_echo_udp_"));
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);

    nd_test_server_start(&server, (const char *[]){"--echo-listen", "off", "--echo-udp-listen",
                                                   "127.0.0.1:0", NULL});
    assert_int_equal(server.echo_port, 0);
    assert_int_not_equal(server.echo_udp_port, 0);
    nd_test_get(&server, "/readyz", &response);
    assert_int_equal(response.status, 200);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);

    nd_test_server_start(&server, (const char *[]){"--echo-udp-listen", "off", NULL});
    assert_int_not_equal(server.echo_port, 0);
    assert_int_equal(server.echo_udp_port, 0);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socat),
        cmocka_unit_test(test_every_payload_size),
        cmocka_unit_test(test_burst_over_the_rate_limit),
        cmocka_unit_test(test_where_it_listens),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
