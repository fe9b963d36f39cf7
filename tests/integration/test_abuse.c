/* What a hostile or careless network sends, against the real binary: huge
 * request lines and headers, slow clients, too many connections, chaotic
 * echo clients, and SIGTERM under load. Bounded in count and time, loopback
 * only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static double elapsed_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Sends a raw request and returns the status code of the answer (0 if none). */
static void test_oversized_request_line_and_headers(void **state)
{
    struct nd_test_server *server = *state;
    size_t size = 64 * 1024;
    char *request = malloc(size + 256);
    int n = snprintf(request, size + 256, "GET /byteorder?value=");
    memset(request + n, '1', size);
    snprintf(request + n + size, 256, " HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(nd_test_raw_status(server->http_port, request, strlen(request)), 414);

    n = snprintf(request, size + 256, "GET /byteorder?value=1 HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(request + n, 'a', size);
    snprintf(request + n + size, 256, "\r\n\r\n");
    assert_int_equal(nd_test_raw_status(server->http_port, request, strlen(request)), 431);
    free(request);

    /* The server is unharmed. */
    struct nd_test_response response;
    nd_test_get(server, "/byteorder?value=1234", &response);
    assert_int_equal(response.status, 200);
    nd_test_response_free(&response);
}

static void test_malformed_requests(void **state)
{
    struct nd_test_server *server = *state;
    static const char garbage[] = "NONSENSE\r\n\r\n";
    long status = nd_test_raw_status(server->http_port, garbage, sizeof garbage - 1);
    assert_true(status == 400 || status == 0);
    static const char chunked[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                  "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    assert_int_equal(nd_test_raw_status(server->http_port, chunked, sizeof chunked - 1), 413);
}

/* True once the server has closed fd (end of stream or a reset). */
static bool closed_by_server(int fd)
{
    char byte;
    ssize_t n = recv(fd, &byte, 1, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Slowloris: 500 clients each send one header byte a second and never stop.
 * libmicrohttpd alone only times out silence; netdiag's request deadline
 * must close them once a request has taken --connection-timeout (2 s) to
 * arrive, and a normal client must be served promptly all along. */
static void test_slow_clients_do_not_stop_others(void **state)
{
    (void)state;
    enum { SLOW = 500, TIMEOUT_S = 2 };
    struct rlimit limit;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_cur < SLOW + 64) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    struct nd_test_server server;
    nd_test_server_start(&server, (const char *[]){"--connection-timeout", "2", NULL});
    static const char request[] = "GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaa";
    int fds[SLOW];
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < SLOW; i++) {
        fds[i] = nd_test_connect(server.http_port);
        assert_int_equal(fcntl(fds[i], F_SETFL, O_NONBLOCK), 0);
    }
    int closed = 0;
    double last_closed_at = 0;
    for (size_t second = 0; closed < SLOW && second < sizeof request - 1; second++) {
        for (int i = 0; i < SLOW; i++) {
            if (fds[i] < 0)
                continue;
            if (closed_by_server(fds[i]) || send(fds[i], request + second, 1, MSG_NOSIGNAL) != 1) {
                close(fds[i]);
                fds[i] = -1;
                closed++;
                last_closed_at = elapsed_since(&start);
            }
        }
        for (int j = 0; j < 10; j++) {
            struct nd_test_response response;
            nd_test_get(&server, "/byteorder?value=1234", &response);
            assert_int_equal(response.status, 200);
            assert_true(response.seconds < 0.5);
            nd_test_response_free(&response);
        }
        usleep(900 * 1000);
    }
    for (int i = 0; i < SLOW; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
    /* All of them, while still sending, and close to the deadline: the
     * sweep runs every half second, and the loop above looks once a second. */
    assert_int_equal(closed, SLOW);
    assert_true(last_closed_at < TIMEOUT_S + 2.5);

    struct nd_test_response metrics;
    nd_test_get(&server, "/metrics", &metrics);
    char line[64];
    snprintf(line, sizeof line, "\nnetdiag_http_connections_timed_out_total %d\n", SLOW);
    assert_non_null(strstr(metrics.body, line));
    nd_test_response_free(&metrics);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
}

/* A keep-alive client that sends whole requests is never cut, however long
 * it stays: the deadline starts again after every response. */
static void test_steady_keep_alive_client_is_kept(void **state)
{
    (void)state;
    struct nd_test_server server;
    nd_test_server_start(&server, (const char *[]){"--connection-timeout", "1", NULL});
    int fd = nd_test_connect(server.http_port);
    static const char request[] = "GET /healthz HTTP/1.1\r\nHost: steady\r\n\r\n";
    for (int i = 0; i < 6; i++) {
        assert_int_equal(send(fd, request, sizeof request - 1, MSG_NOSIGNAL),
                         (ssize_t)(sizeof request - 1));
        char answer[1024];
        struct pollfd entry = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&entry, 1, 5000), 1);
        ssize_t n = recv(fd, answer, sizeof answer - 1, 0);
        assert_true(n > 0);
        answer[n] = '\0';
        assert_non_null(strstr(answer, "HTTP/1.1 200"));
        usleep(600 * 1000); /* 3.6 s in all, over three timeouts */
    }
    close(fd);
    struct nd_test_response metrics;
    nd_test_get(&server, "/metrics", &metrics);
    assert_non_null(strstr(metrics.body, "\nnetdiag_http_connections_timed_out_total 0\n"));
    nd_test_response_free(&metrics);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
}

/* True when the server closes the connection without answering a request. */
static bool refused(unsigned port)
{
    static const char request[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    return nd_test_raw_status(port, request, sizeof request - 1) == 0;
}

/* A client part way through its request line holds a connection. (One
 * that has sent nothing does not: the listener defers accept() until the
 * first bytes come; test_silent_connections_hold_no_slot.) */
static int connect_mid_request(unsigned port)
{
    static const char start[] = "GET /healthz HTTP/1.1\r\n";
    int fd = nd_test_connect(port);
    assert_int_equal(send(fd, start, sizeof start - 1, MSG_NOSIGNAL), (ssize_t)(sizeof start - 1));
    return fd;
}

static void test_connection_limits(void **state)
{
    (void)state;
    struct nd_test_server server;
    nd_test_server_start(&server,
                         (const char *[]){"--max-connections", "20", "--threads", "1", NULL});
    int fds[20];
    for (int i = 0; i < 20; i++)
        fds[i] = connect_mid_request(server.http_port);
    usleep(200 * 1000);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_true(refused(server.http_port));
    assert_true(elapsed_since(&start) < 2.0); /* answered by a close, not a hang */
    for (int i = 0; i < 20; i++)
        close(fds[i]);
    usleep(200 * 1000);
    struct nd_test_response response;
    nd_test_get(&server, "/metrics", &response);
    assert_non_null(strstr(response.body, "\nnetdiag_http_connections_refused_total 1\n"));
    nd_test_response_free(&response);
    usleep(200 * 1000);
    assert_false(refused(server.http_port));
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);

    nd_test_server_start(&server, (const char *[]){"--per-ip-connections", "5", NULL});
    for (int i = 0; i < 5; i++)
        fds[i] = connect_mid_request(server.http_port);
    usleep(200 * 1000);
    assert_true(refused(server.http_port));
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    /* libmicrohttpd refuses these itself; netdiag still counts them. */
    usleep(200 * 1000);
    nd_test_get(&server, "/metrics", &response);
    assert_non_null(strstr(response.body, "\nnetdiag_http_connections_refused_total 1\n"));
    nd_test_response_free(&response);
    usleep(200 * 1000);
    assert_false(refused(server.http_port));
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
}

/* Connections that never send (port scanners, TCP health checks, idle
 * pre-connects) are not handed to the HTTP server while they say nothing
 * (TCP_DEFER_ACCEPT): twice --max-connections of them leave it answering. */
static void test_silent_connections_hold_no_slot(void **state)
{
    (void)state;
    struct nd_test_server server;
    nd_test_server_start(&server,
                         (const char *[]){"--max-connections", "5", "--threads", "1", NULL});
    int fds[10];
    for (int i = 0; i < 10; i++)
        fds[i] = nd_test_connect(server.http_port);
    /* Well within the second after which the kernel hands them over. */
    usleep(100 * 1000);
    assert_false(refused(server.http_port));
    struct nd_test_response response;
    nd_test_get(&server, "/metrics", &response);
    assert_int_equal(response.status, 200);
    assert_non_null(strstr(response.body, "\nnetdiag_http_connections_refused_total 0\n"));
    nd_test_response_free(&response);
    /* Their FIN is their first byte: then they are accepted, read and let go. */
    for (int i = 0; i < 10; i++)
        close(fds[i]);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
}

static uint32_t next_random(uint32_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    return *seed;
}

struct chaos_client {
    int fd;
    unsigned char data[8192];
    size_t size, sent, received;
    bool abandons; /* disconnects half way, reading nothing more */
    bool finished;
};

/* 1000 echo clients at once: random sizes and chunks, half of them
 * half-close and must get every byte back, the others disconnect midway. */
static void test_echo_chaos(void **state)
{
    struct nd_test_server *server = *state;
    enum { CLIENTS = 1000 };
    long baseline_kib = nd_test_resident_kib(server->pid);
    struct chaos_client *clients = calloc(CLIENTS, sizeof *clients);
    struct pollfd *polls = calloc(CLIENTS, sizeof *polls);
    uint32_t seed = 20261125;
    for (int i = 0; i < CLIENTS; i++) {
        clients[i].size = 1 + next_random(&seed) % sizeof clients[i].data;
        for (size_t j = 0; j < clients[i].size; j++)
            clients[i].data[j] = (unsigned char)next_random(&seed);
        clients[i].abandons = next_random(&seed) % 4 == 0;
        clients[i].fd = nd_test_connect(server->echo_port);
        assert_int_equal(fcntl(clients[i].fd, F_SETFL, O_NONBLOCK), 0);
    }
    int finished = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (finished < CLIENTS) {
        assert_true(elapsed_since(&start) < 60.0);
        for (int i = 0; i < CLIENTS; i++) {
            polls[i].fd = clients[i].finished ? -1 : clients[i].fd;
            polls[i].events = POLLIN | (clients[i].sent < clients[i].size ? POLLOUT : 0);
        }
        assert_true(poll(polls, CLIENTS, 5000) > 0);
        for (int i = 0; i < CLIENTS; i++) {
            struct chaos_client *client = &clients[i];
            if (client->finished)
                continue;
            if ((polls[i].revents & POLLOUT) && client->sent < client->size) {
                size_t chunk = 1 + next_random(&seed) % 1500;
                if (chunk > client->size - client->sent)
                    chunk = client->size - client->sent;
                ssize_t n = send(client->fd, client->data + client->sent, chunk, MSG_NOSIGNAL);
                if (n > 0)
                    client->sent += (size_t)n;
                if (client->abandons && client->sent > client->size / 2) {
                    close(client->fd); /* gone, mid-exchange */
                    client->finished = true;
                    finished++;
                    continue;
                }
                if (client->sent == client->size)
                    shutdown(client->fd, SHUT_WR);
            }
            if (polls[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                unsigned char buffer[8192];
                ssize_t n = recv(client->fd, buffer, sizeof buffer, 0);
                if (n > 0) {
                    assert_memory_equal(buffer, client->data + client->received, (size_t)n);
                    client->received += (size_t)n;
                } else if (n == 0) {
                    assert_int_equal(client->received, client->size);
                    close(client->fd);
                    client->finished = true;
                    finished++;
                } else {
                    assert_true(errno == EAGAIN);
                }
            }
        }
    }
    free(clients);
    free(polls);
    /* Every connection is closed on the server too. */
    for (int waited = 0;; waited += 100) {
        struct nd_test_response response;
        nd_test_get(server, "/metrics", &response);
        bool zero = strstr(response.body, "\nnetdiag_echo_connections_open 0\n") != NULL;
        nd_test_response_free(&response);
        if (zero)
            break;
        assert_true(waited < 5000);
        usleep(100 * 1000);
    }
    /* And the buffers are gone: up to 1000 x 64 KiB were in use at the peak.
     * (Not under AddressSanitizer, whose quarantine keeps freed memory.) */
    long after_kib = nd_test_resident_kib(server->pid);
    printf("echo chaos: resident memory %ld KiB before, %ld KiB after\n", baseline_kib, after_kib);
#ifndef __SANITIZE_ADDRESS__
    assert_true(after_kib <= baseline_kib + 4096);
#endif
}

struct load {
    const struct nd_test_server *server;
    int completed, truncated, refused;
};

static void *keep_asking(void *context)
{
    struct load *load = context;
    static const char request[] = "GET /convert?ip=127.0.0.1&ip=192.168.0.111 HTTP/1.1\r\n"
                                  "Host: x\r\n\r\n";
    for (int i = 0; i < 400; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons((uint16_t)load->server->http_port)};
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0 ||
            send(fd, request, sizeof request - 1, MSG_NOSIGNAL) != (ssize_t)sizeof request - 1) {
            close(fd);
            load->refused++;
            continue;
        }
        char answer[4096];
        size_t got = 0;
        ssize_t n;
        struct pollfd entry = {.fd = fd, .events = POLLIN};
        while (got < sizeof answer - 1 && poll(&entry, 1, 5000) == 1 &&
               (n = recv(fd, answer + got, sizeof answer - 1 - got, 0)) > 0) {
            got += (size_t)n;
            answer[got] = '\0';
            const char *body = strstr(answer, "\r\n\r\n");
            const char *length = strstr(answer, "Content-Length: ");
            if (body && length &&
                (size_t)(answer + got - (body + 4)) >= strtoul(length + 16, NULL, 10))
                break;
        }
        close(fd);
        answer[got] = '\0';
        const char *body = strstr(answer, "\r\n\r\n");
        const char *length = strstr(answer, "Content-Length: ");
        if (got == 0) {
            load->refused++; /* not accepted: closed before any answer */
        } else if (!body || !length ||
                   (size_t)(answer + got - (body + 4)) != strtoul(length + 16, NULL, 10)) {
            load->truncated++;
        } else {
            load->completed++;
        }
    }
    return NULL;
}

static void test_sigterm_under_load_truncates_nothing(void **state)
{
    (void)state;
    struct nd_test_server server;
    nd_test_server_start(&server, (const char *[]){"--access-log", "off", NULL});
    struct load loads[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        loads[i] = (struct load){.server = &server};
        assert_int_equal(pthread_create(&threads[i], NULL, keep_asking, &loads[i]), 0);
    }
    usleep(150 * 1000);
    assert_int_equal(kill(server.pid, SIGTERM), 0);
    int completed = 0, truncated = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        completed += loads[i].completed;
        truncated += loads[i].truncated;
    }
    assert_true(completed > 0);
    assert_int_equal(truncated, 0);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oversized_request_line_and_headers),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_slow_clients_do_not_stop_others),
        cmocka_unit_test(test_steady_keep_alive_client_is_kept),
        cmocka_unit_test(test_connection_limits),
        cmocka_unit_test(test_silent_connections_hold_no_slot),
        cmocka_unit_test(test_echo_chaos),
        cmocka_unit_test(test_sigterm_under_load_truncates_nothing),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
