/* A bounded soak: 256 keep-alive connections on loopback asking the fast
 * endpoints in turn for NETDIAG_SOAK_SECONDS (default 60); every answer
 * must be a complete 200, and the server's resident memory must stay flat. */
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

enum { CONNECTIONS = 256, ANSWER_MAX = 16384 };

static const char *const targets[] = {
    "/byteorder?value=1234",
    "/convert?ip=127.0.0.1&ip=192.168.0.111",
    "/service?port=80,25,53,443",
    "/sockopts?sndbuf=4096",
    "/healthz",
    "/",
};

struct connection {
    int fd;
    size_t target;
    char answer[ANSWER_MAX];
    size_t length;
    bool waiting;
};

static void send_request(struct connection *connection)
{
    char request[256];
    int length = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: soak\r\n\r\n",
                          targets[connection->target]);
    /* A small request on an idle keep-alive socket is taken whole. */
    assert_int_equal(send(connection->fd, request, (size_t)length, MSG_NOSIGNAL), length);
    connection->length = 0;
    connection->waiting = true;
}

/* True once a whole answer is in; asserts it is a 200. */
static bool answer_complete(struct connection *connection)
{
    connection->answer[connection->length] = '\0';
    const char *end = strstr(connection->answer, "\r\n\r\n");
    if (!end)
        return false;
    const char *length = strstr(connection->answer, "Content-Length: ");
    assert_non_null(length);
    size_t body = strtoul(length + 16, NULL, 10);
    if (connection->length < (size_t)(end + 4 - connection->answer) + body)
        return false;
    if (strncmp(connection->answer, "HTTP/1.1 200 ", 13) != 0)
        fail_msg("%s answered: %.200s", targets[connection->target], connection->answer);
    return true;
}

static void test_soak(void **state)
{
    (void)state;
    const char *configured = getenv("NETDIAG_SOAK_SECONDS");
    int seconds = configured ? atoi(configured) : 60;
    struct nd_test_server server;
    nd_test_server_start(&server, (const char *[]){"--access-log", "off", NULL});
    struct connection *connections = calloc(CONNECTIONS, sizeof *connections);
    struct pollfd *polls = calloc(CONNECTIONS, sizeof *polls);
    for (int i = 0; i < CONNECTIONS; i++) {
        connections[i].fd = nd_test_connect(server.http_port);
        connections[i].target = (size_t)i % (sizeof targets / sizeof targets[0]);
        send_request(&connections[i]);
    }

    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long rss_start = -1, rss_end;
    unsigned long answers = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = now.tv_sec - start.tv_sec;
        if (rss_start < 0 && elapsed >= 5)
            rss_start = nd_test_resident_kib(server.pid); /* after the warm-up */
        if (elapsed >= seconds)
            break;
        for (int i = 0; i < CONNECTIONS; i++)
            polls[i] = (struct pollfd){.fd = connections[i].fd, .events = POLLIN};
        assert_true(poll(polls, CONNECTIONS, 5000) > 0);
        for (int i = 0; i < CONNECTIONS; i++) {
            struct connection *connection = &connections[i];
            if (!(polls[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = recv(connection->fd, connection->answer + connection->length,
                             ANSWER_MAX - 1 - connection->length, 0);
            if (n <= 0)
                fail_msg("connection %d closed or failed: %s", i, n < 0 ? strerror(errno) : "EOF");
            connection->length += (size_t)n;
            if (!answer_complete(connection))
                continue;
            answers++;
            connection->target = (connection->target + 1) % (sizeof targets / sizeof targets[0]);
            send_request(connection);
        }
    }
    rss_end = nd_test_resident_kib(server.pid);
    if (rss_start < 0)
        rss_start = rss_end;
    printf("soak: %d s, %d connections, %lu answers (%.0f/s), all 200; RSS %ld kB -> %ld kB\n",
           seconds, CONNECTIONS, answers, (double)answers / seconds, rss_start, rss_end);
    /* Flat: no more than 4 MiB of growth after the warm-up. */
    assert_true(rss_end <= rss_start + 4096);
    for (int i = 0; i < CONNECTIONS; i++)
        close(connections[i].fd);
    free(connections);
    free(polls);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
