/* src/echo/echo.c in-process: echo, the per-connection bound, the idle
 * timeout, the connection limit, the counters and stop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "echo/echo.h"
#include "netdiag/net.h"
#include "runtime/runtime.h"
#include "support/runtime_fixture.h"

struct fixture {
    struct nd_echo *echo;
    uint16_t port;
};

static struct fixture start(unsigned max_connections, unsigned idle_timeout_s, size_t buffer)
{
    struct nd_net_endpoint endpoint = {.host = "127.0.0.1", .port = 0};
    struct sockaddr_storage bound;
    socklen_t length;
    int fd;
    struct nd_error error;
    assert_int_equal(nd_net_listen_tcp(&endpoint, 128, &fd, &bound, &length, &error), ND_OK);
    struct nd_echo_config config = {.listen_fd = fd,
                                    .max_connections = max_connections,
                                    .idle_timeout_s = idle_timeout_s,
                                    .buffer_size = buffer};
    struct fixture fixture = {.port = ntohs(((struct sockaddr_in *)&bound)->sin_port)};
    assert_int_equal(nd_echo_start(nd_test_runtime, &config, &fixture.echo, &error), ND_OK);
    assert_true(nd_echo_accepting(fixture.echo));
    return fixture;
}

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof address), 0);
    return fd;
}

/* Waits up to timeout_ms for the stats to satisfy a condition on field. */
static uint64_t wait_stat(const struct nd_echo *echo, size_t offset, uint64_t expected,
                          int timeout_ms)
{
    struct nd_echo_stats stats;
    for (int waited = 0;; waited += 5) {
        nd_echo_get_stats(echo, &stats);
        uint64_t value = *(const uint64_t *)((const char *)&stats + offset);
        if (value == expected || waited >= timeout_ms)
            return value;
        usleep(5000);
    }
}

static void test_round_trip_and_counters(void **state)
{
    (void)state;
    struct fixture fixture = start(16, 60, 65536);
    int fd = connect_to(fixture.port);
    static const char message[] = "Test message. This will be echoed";
    assert_int_equal(send(fd, message, sizeof message - 1, 0), sizeof message - 1);
    char answer[64];
    size_t got = 0;
    while (got < sizeof message - 1) {
        ssize_t n = recv(fd, answer + got, sizeof answer - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_memory_equal(answer, message, sizeof message - 1);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    assert_int_equal(recv(fd, answer, sizeof answer, 0), 0); /* closed after the flush */
    close(fd);
    assert_int_equal(
        wait_stat(fixture.echo, offsetof(struct nd_echo_stats, connections_open), 0, 2000), 0);
    struct nd_echo_stats stats;
    nd_echo_get_stats(fixture.echo, &stats);
    assert_int_equal(stats.connections_total, 1);
    assert_int_equal(stats.bytes_in, sizeof message - 1);
    assert_int_equal(stats.bytes_out, sizeof message - 1);
    nd_echo_stop(fixture.echo);
}

static void test_a_client_that_does_not_read_is_not_read_from(void **state)
{
    (void)state;
    enum { BUFFER = 4096 };
    struct fixture fixture = start(16, 60, BUFFER);
    int fd = connect_to(fixture.port);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    uint64_t sent = 0;
    /* Write until every buffer on the way is full and send() refuses. */
    for (int idle = 0; idle < 50;) {
        ssize_t n = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (uint64_t)n;
            idle = 0;
        } else {
            assert_true(errno == EAGAIN);
            idle++;
            usleep(2000);
        }
    }
    struct nd_echo_stats stats;
    nd_echo_get_stats(fixture.echo, &stats);
    /* What the server read and has not written back fits in its buffer. */
    assert_true(stats.bytes_in - stats.bytes_out <= BUFFER);
    assert_true(sent > stats.bytes_in);

    /* Reading everything back gets every byte. */
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    uint64_t received = 0;
    for (;;) {
        struct pollfd entry = {.fd = fd, .events = POLLIN};
        assert_true(poll(&entry, 1, 5000) == 1);
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n == 0)
            break;
        if (n < 0) {
            assert_true(errno == EAGAIN);
            continue;
        }
        for (ssize_t i = 0; i < n; i++)
            assert_int_equal(chunk[i], 'x');
        received += (uint64_t)n;
    }
    assert_int_equal(received, sent);
    close(fd);
    nd_echo_stop(fixture.echo);
}

static void test_idle_connections_are_closed(void **state)
{
    (void)state;
    struct fixture fixture = start(16, 1, 65536);
    int fd = connect_to(fixture.port);
    struct timespec start_time, end_time;
    clock_gettime(CLOCK_MONOTONIC, &start_time);
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&entry, 1, 5000), 1);
    char byte;
    assert_int_equal(recv(fd, &byte, 1, 0), 0);
    clock_gettime(CLOCK_MONOTONIC, &end_time);
    assert_true(end_time.tv_sec - start_time.tv_sec >= 0 &&
                (end_time.tv_sec - start_time.tv_sec) * 1000 +
                        (end_time.tv_nsec - start_time.tv_nsec) / 1000000 >=
                    900);
    close(fd);
    nd_echo_stop(fixture.echo);
}

static void test_connection_limit(void **state)
{
    (void)state;
    struct fixture fixture = start(2, 60, 65536);
    int first = connect_to(fixture.port), second = connect_to(fixture.port);
    assert_int_equal(
        wait_stat(fixture.echo, offsetof(struct nd_echo_stats, connections_open), 2, 2000), 2);
    int third = connect_to(fixture.port);
    struct pollfd entry = {.fd = third, .events = POLLIN};
    assert_int_equal(poll(&entry, 1, 2000), 1);
    char byte;
    ssize_t n = recv(third, &byte, 1, 0);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
    struct nd_echo_stats stats;
    nd_echo_get_stats(fixture.echo, &stats);
    assert_int_equal(stats.connections_refused, 1);
    assert_int_equal(stats.connections_open, 2);
    close(third);

    /* Stop closes the connections still open. */
    nd_echo_stop(fixture.echo);
    assert_int_equal(recv(first, &byte, 1, 0), 0);
    assert_int_equal(recv(second, &byte, 1, 0), 0);
    close(first);
    close(second);
}

static void test_bad_configuration(void **state)
{
    (void)state;
    /* The listener takes its socket even when it refuses to start. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct nd_echo_config config = {.listen_fd = fd, .max_connections = 1, .idle_timeout_s = 1};
    struct nd_echo *echo;
    struct nd_error error;
    assert_int_equal(nd_echo_start(nd_test_runtime, &config, &echo, &error), ND_ERR_INVALID);
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
    nd_echo_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_counters),
        cmocka_unit_test(test_a_client_that_does_not_read_is_not_read_from),
        cmocka_unit_test(test_idle_connections_are_closed),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_bad_configuration),
    };
    return cmocka_run_group_tests(tests, nd_test_runtime_setup, nd_test_runtime_teardown);
}
