/* The TCP echo listener against the real binary (recipes 13 and 14):
 * the recipe's exchange, a real external client, many concurrent clients,
 * back-pressure, half-close, the idle timeout and the connection limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static void send_all(int fd, const void *data, size_t length)
{
    const char *cursor = data;
    while (length > 0) {
        ssize_t n = send(fd, cursor, length, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        cursor += n;
        length -= (size_t)n;
    }
}

/* Reads until EOF or until size bytes; returns the count. */
static size_t receive_all(int fd, void *data, size_t size)
{
    size_t total = 0;
    while (total < size) {
        ssize_t n = recv(fd, (char *)data + total, size - total, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    return total;
}

static double metric(const struct nd_test_server *server, const char *name)
{
    struct nd_test_response response;
    nd_test_get(server, "/metrics", &response);
    assert_int_equal(response.status, 200);
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\n%s ", name);
    const char *line = strstr(response.body, pattern);
    assert_non_null(line);
    double value = strtod(line + strlen(pattern), NULL);
    nd_test_response_free(&response);
    return value;
}

static void test_recipe_exchange(void **state)
{
    struct nd_test_server *server = *state;
    static const char message[] = "Test message. This will be echoed";
    int fd = nd_test_connect(server->echo_port);
    send_all(fd, message, sizeof message - 1);
    char answer[64];
    assert_int_equal(receive_all(fd, answer, sizeof message - 1), sizeof message - 1);
    assert_memory_equal(answer, message, sizeof message - 1);
    close(fd);
}

static void test_external_client(void **state)
{
    struct nd_test_server *server = *state;
    char command[256];
    snprintf(command, sizeof command,
             "printf 'hello from socat' | socat -t 2 - TCP:127.0.0.1:%u,shut-down",
             server->echo_port);
    char output[64];
    assert_int_equal(nd_test_command(command, output, sizeof output), 0);
    assert_string_equal(output, "hello from socat");
}

static void test_half_close_flushes_everything(void **state)
{
    struct nd_test_server *server = *state;
    enum { SIZE = 300000 };
    char *data = malloc(SIZE), *answer = malloc(SIZE + 1);
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (char)(i * 7 + 3);
    int fd = nd_test_connect(server->echo_port);
    send_all(fd, data, SIZE);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    /* Everything comes back, then EOF: the server closes once flushed. */
    assert_int_equal(receive_all(fd, answer, SIZE + 1), SIZE);
    assert_memory_equal(answer, data, SIZE);
    close(fd);
    free(data);
    free(answer);
}

struct client {
    int fd;
    unsigned char *data;
    size_t sent, received;
    bool write_closed, done;
};

static uint32_t next_random(uint32_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    return *seed;
}

/* Many clients at once, each sending random data in random chunks while
 * reading; every byte must come back in order. */
static void run_concurrent_clients(const struct nd_test_server *server, unsigned count,
                                   size_t bytes_each)
{
    struct client *clients = calloc(count, sizeof *clients);
    struct pollfd *polls = calloc(count, sizeof *polls);
    uint32_t seed = 0x9e3779b9u;
    unsigned char *scratch = malloc(65536);
    for (unsigned i = 0; i < count; i++) {
        clients[i].data = malloc(bytes_each);
        for (size_t j = 0; j < bytes_each; j++)
            clients[i].data[j] = (unsigned char)next_random(&seed);
        clients[i].fd = nd_test_connect(server->echo_port);
        assert_int_equal(fcntl(clients[i].fd, F_SETFL, O_NONBLOCK), 0);
    }
    unsigned done = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (done < count) {
        for (unsigned i = 0; i < count; i++) {
            polls[i].fd = clients[i].done ? -1 : clients[i].fd;
            polls[i].events = POLLIN | (clients[i].write_closed ? 0 : POLLOUT);
        }
        assert_true(poll(polls, count, 5000) > 0);
        for (unsigned i = 0; i < count; i++) {
            struct client *client = &clients[i];
            if (client->done)
                continue;
            if ((polls[i].revents & POLLOUT) && !client->write_closed) {
                size_t chunk = 1 + next_random(&seed) % 65536;
                if (chunk > bytes_each - client->sent)
                    chunk = bytes_each - client->sent;
                ssize_t n = send(client->fd, client->data + client->sent, chunk, MSG_NOSIGNAL);
                if (n > 0)
                    client->sent += (size_t)n;
                else
                    assert_true(errno == EAGAIN);
                if (client->sent == bytes_each) {
                    assert_int_equal(shutdown(client->fd, SHUT_WR), 0);
                    client->write_closed = true;
                }
            }
            if (polls[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = recv(client->fd, scratch, 65536, 0);
                if (n > 0) {
                    assert_true(client->received + (size_t)n <= client->sent);
                    assert_memory_equal(scratch, client->data + client->received, (size_t)n);
                    client->received += (size_t)n;
                } else if (n == 0) {
                    assert_int_equal(client->received, bytes_each);
                    client->done = true;
                    done++;
                } else {
                    assert_true(errno == EAGAIN);
                }
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        assert_true(now.tv_sec - start.tv_sec < 120);
    }
    for (unsigned i = 0; i < count; i++) {
        close(clients[i].fd);
        free(clients[i].data);
    }
    free(clients);
    free(polls);
    free(scratch);
}

static void test_200_concurrent_clients(void **state)
{
    struct nd_test_server *server = *state;
    double bytes_before = metric(server, "netdiag_echo_sent_bytes_total");
    run_concurrent_clients(server, 200, 1 << 20);
    double bytes_after = metric(server, "netdiag_echo_sent_bytes_total");
    assert_true(bytes_after - bytes_before >= 200.0 * (1 << 20));
    /* Every connection is gone once the clients are. */
    for (int waited = 0; metric(server, "netdiag_echo_connections_open") != 0; waited += 50) {
        assert_true(waited < 3000);
        usleep(50 * 1000);
    }
}

static void test_slow_reader_gets_everything(void **state)
{
    struct nd_test_server *server = *state;
    enum { SIZE = 8 << 20 };
    unsigned char *data = malloc(SIZE);
    uint32_t seed = 12345;
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (unsigned char)next_random(&seed);
    int fd = nd_test_connect(server->echo_port);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    size_t sent = 0, received = 0;
    unsigned char buffer[4096];
    /* Write as fast as the server takes, read 4 KiB now and then: the
     * server must stop reading while we do not read, and lose nothing. */
    while (received < SIZE) {
        if (sent < SIZE) {
            ssize_t n = send(fd, data + sent, SIZE - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else
                assert_true(errno == EAGAIN);
            if (sent == SIZE)
                assert_int_equal(shutdown(fd, SHUT_WR), 0);
        }
        struct pollfd entry = {.fd = fd, .events = POLLIN};
        assert_true(poll(&entry, 1, 5000) > 0);
        ssize_t n = recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) {
            assert_memory_equal(buffer, data + received, (size_t)n);
            received += (size_t)n;
        } else {
            assert_true(n < 0 && errno == EAGAIN);
        }
    }
    assert_int_equal(received, SIZE);
    close(fd);
    free(data);
}

static void test_idle_timeout_closes(void **state)
{
    (void)state;
    struct nd_test_server quick;
    nd_test_server_start(&quick, (const char *[]){"--echo-idle-timeout", "1", NULL});
    int fd = nd_test_connect(quick.echo_port);
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(poll(&entry, 1, 5000), 1);
    char byte;
    assert_int_equal(recv(fd, &byte, 1, 0), 0);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double elapsed = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    assert_true(elapsed >= 0.9 && elapsed < 3.0);
    close(fd);
    assert_int_equal(nd_test_server_stop(&quick, 10000), 0);
}

static void test_connection_limit_refuses_and_counts(void **state)
{
    (void)state;
    struct nd_test_server limited;
    nd_test_server_start(&limited, (const char *[]){"--echo-max-connections", "5", NULL});
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = nd_test_connect(limited.echo_port);
        send_all(fds[i], "x", 1);
        char byte;
        assert_int_equal(receive_all(fds[i], &byte, 1), 1);
    }
    int sixth = nd_test_connect(limited.echo_port);
    struct pollfd entry = {.fd = sixth, .events = POLLIN};
    assert_int_equal(poll(&entry, 1, 3000), 1);
    char byte;
    ssize_t n = recv(sixth, &byte, 1, 0);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
    close(sixth);

    struct nd_test_response response;
    nd_test_get(&limited, "/metrics", &response);
    assert_non_null(strstr(response.body, "\nnetdiag_echo_connections_refused_total 1\n"));
    assert_non_null(strstr(response.body, "\nnetdiag_echo_connections_open 5\n"));
    nd_test_response_free(&response);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    assert_int_equal(nd_test_server_stop(&limited, 10000), 0);
}

static void test_echo_can_be_disabled(void **state)
{
    (void)state;
    struct nd_test_server without;
    nd_test_server_start(&without, (const char *[]){"--echo-listen", "off", NULL});
    assert_int_equal(without.echo_port, 0);
    struct nd_test_response response;
    nd_test_get(&without, "/readyz", &response);
    assert_int_equal(response.status, 200);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&without, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_exchange),
        cmocka_unit_test(test_external_client),
        cmocka_unit_test(test_half_close_flushes_everything),
        cmocka_unit_test(test_200_concurrent_clients),
        cmocka_unit_test(test_slow_reader_gets_everything),
        cmocka_unit_test(test_idle_timeout_closes),
        cmocka_unit_test(test_connection_limit_refuses_and_counts),
        cmocka_unit_test(test_echo_can_be_disabled),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
