/* src/probe/connect.c on a runtime, against small servers on 127.0.0.1:
 * refused, silent, echo, closed at once, reset, banner, a denied address, a
 * name that does not resolve, cancel, and TLS handshakes waiting for the
 * system's anchors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/connect.h"
#include "probe/tls.h"
#include "runtime/runtime.h"
#include "support/runtime_fixture.h"

/* --- servers -------------------------------------------------------------- */

enum behaviour { SERVE_ECHO, SERVE_CLOSE_AT_ONCE, SERVE_RESET, SERVE_BANNER, SERVE_NOTHING };

struct server {
    int fd;
    uint16_t port;
    enum behaviour behaviour;
    pthread_t thread;
};

static void *serve_one(void *argument)
{
    struct server *server = argument;
    int client = accept(server->fd, NULL, NULL);
    if (client < 0)
        return NULL;
    char buffer[4096];
    switch (server->behaviour) {
    case SERVE_ECHO: {
        ssize_t n = recv(client, buffer, sizeof buffer, 0);
        if (n > 0 && send(client, buffer, (size_t)n, MSG_NOSIGNAL) < 0)
            break;
        /* Keeps the connection open: the probe must end on its own. */
        struct pollfd entry = {.fd = client, .events = POLLIN};
        poll(&entry, 1, 3000);
        break;
    }
    case SERVE_RESET: {
        /* After the request has come, so that the connection was surely
         * made: the reset then answers the request. */
        if (recv(client, buffer, sizeof buffer, 0) < 0)
            break;
        struct linger linger = {.l_onoff = 1, .l_linger = 0};
        setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
        break;
    }
    case SERVE_BANNER: {
        static const char banner[] = "SSH-2.0-netdiag_test\r\n";
        if (send(client, banner, sizeof banner - 1, MSG_NOSIGNAL) < 0)
            break;
        struct pollfd entry = {.fd = client, .events = POLLIN};
        poll(&entry, 1, 3000);
        break;
    }
    case SERVE_CLOSE_AT_ONCE:
    case SERVE_NOTHING:
        break;
    }
    close(client);
    return NULL;
}

static void start_server(struct server *server, enum behaviour behaviour)
{
    server->behaviour = behaviour;
    server->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(server->fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(server->fd, (struct sockaddr *)&address, sizeof address), 0);
    socklen_t length = sizeof address;
    assert_int_equal(getsockname(server->fd, (struct sockaddr *)&address, &length), 0);
    server->port = ntohs(address.sin_port);
    assert_int_equal(listen(server->fd, 16), 0);
    /* A silent server never accepts: the kernel completes the handshake
     * from the backlog, and nothing is ever said. */
    if (behaviour != SERVE_NOTHING)
        assert_int_equal(pthread_create(&server->thread, NULL, serve_one, server), 0);
}

static void stop_server(struct server *server)
{
    shutdown(server->fd, SHUT_RDWR); /* wakes an accept still waiting */
    if (server->behaviour != SERVE_NOTHING)
        pthread_join(server->thread, NULL);
    close(server->fd);
}

/* A port nothing listens on: bound and closed again at once. */
static uint16_t closed_port(void)
{
    struct server server;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    socklen_t length = sizeof address;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    close(fd);
    server.port = ntohs(address.sin_port);
    return server.port;
}

/* --- running a probe ------------------------------------------------------- */

struct run {
    struct nd_connect_request request;
    struct nd_connect_result result;
    bool cancel_at_once;
    struct nd_runtime_done *done;
};

static void probe_done(void *context)
{
    struct run *run = context;
    nd_runtime_signal(run->done);
}

static void start_probe(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct run *run = argument;
    run->done = done;
    struct nd_connect_probe *probe =
        nd_connect_start(loop, &run->request, &run->result, probe_done, run);
    if (!probe) {
        nd_runtime_signal(done);
        return;
    }
    if (run->cancel_at_once)
        nd_connect_cancel(probe);
}

static void request_for(struct run *run, const char *host, uint16_t port, unsigned timeout_ms)
{
    memset(run, 0, sizeof *run);
    snprintf(run->request.host, sizeof run->request.host, "%s", host);
    run->request.port = port;
    run->request.timeout_ms = timeout_ms;
    run->request.read_limit = 4096;
}

static void probe(struct run *run)
{
    assert_true(nd_runtime_call(nd_test_runtime, start_probe, run));
}

static void set_send(struct run *run, const char *text)
{
    run->request.send = (const uint8_t *)text;
    run->request.send_length = strlen(text);
    run->request.await_reply = true;
}

/* --- the cases ------------------------------------------------------------ */

static void test_refused(void **state)
{
    (void)state;
    struct run run;
    request_for(&run, "127.0.0.1", closed_port(), 2000);
    probe(&run);
    assert_false(run.result.ok);
    assert_true(run.result.literal);
    assert_int_equal(run.result.failed_phase, ND_CONNECT_CONNECT);
    assert_int_equal(run.result.outcome, ND_CONNECT_REFUSED);
    assert_int_equal(run.result.attempt_count, 1);
    assert_int_equal(run.result.attempts[0].outcome, ND_CONNECT_REFUSED);
    assert_int_equal(run.result.error.os_error, ECONNREFUSED);
    assert_string_equal(nd_connect_outcome_name(run.result.outcome), "refused");
    nd_connect_result_free(&run.result);
}

static void test_connect_only(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, SERVE_NOTHING);
    struct run run;
    request_for(&run, "127.0.0.1", server.port, 2000);
    probe(&run);
    assert_true(run.result.ok);
    assert_true(run.result.connected);
    assert_int_equal(run.result.outcome, ND_CONNECT_CONNECTED);
    assert_non_null(strstr(run.result.peer, "127.0.0.1:"));
    assert_non_null(strstr(run.result.local, "127.0.0.1:"));
    assert_true(run.result.total_us < 1000000);
    stop_server(&server);
}

/* A listener that accepts and never answers: the first byte times out
 * within timeout_ms and a small margin. */
static void test_silent_server_times_out_at_first_byte(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, SERVE_NOTHING);
    struct run run;
    request_for(&run, "127.0.0.1", server.port, 300);
    set_send(&run, "hello");
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.failed_phase, ND_CONNECT_FIRST_BYTE);
    assert_int_equal(run.result.outcome, ND_CONNECT_TIMED_OUT);
    assert_int_equal(run.result.sent, 5);
    assert_true(run.result.total_us >= 290000 && run.result.total_us < 1300000);
    stop_server(&server);
}

static void test_echo(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, SERVE_ECHO);
    struct run run;
    request_for(&run, "127.0.0.1", server.port, 3000);
    set_send(&run, "hello");
    probe(&run);
    assert_true(run.result.ok);
    assert_true(run.result.got_first_byte);
    assert_int_equal(run.result.received_length, 5);
    assert_memory_equal(run.result.received, "hello", 5);
    /* The server keeps the connection open: silence ends the reply. */
    assert_int_equal(run.result.ended_by, ND_CONNECT_END_QUIET);
    nd_connect_result_free(&run.result);
    stop_server(&server);

    /* With an expected text the reply ends as soon as it came. */
    start_server(&server, SERVE_ECHO);
    request_for(&run, "127.0.0.1", server.port, 3000);
    set_send(&run, "ping pong");
    snprintf(run.request.expect, sizeof run.request.expect, "pong");
    run.request.expect_length = 4;
    probe(&run);
    assert_true(run.result.ok);
    assert_true(run.result.expect_found);
    assert_int_equal(run.result.ended_by, ND_CONNECT_END_EXPECT);
    assert_true(run.result.total_us < ND_CONNECT_QUIET_MS * 1000u);
    nd_connect_result_free(&run.result);
    stop_server(&server);

    /* The read limit ends it too, and a missing text fails the probe. */
    start_server(&server, SERVE_ECHO);
    request_for(&run, "127.0.0.1", server.port, 3000);
    set_send(&run, "0123456789");
    run.request.read_limit = 4;
    snprintf(run.request.expect, sizeof run.request.expect, "89");
    run.request.expect_length = 2;
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.ended_by, ND_CONNECT_END_LIMIT);
    assert_int_equal(run.result.received_length, 4);
    assert_int_equal(run.result.failed_phase, ND_CONNECT_EXPECT);
    assert_int_equal(run.result.outcome, ND_CONNECT_NOT_FOUND);
    nd_connect_result_free(&run.result);
    stop_server(&server);
}

static void test_banner_without_sending(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, SERVE_BANNER);
    struct run run;
    request_for(&run, "127.0.0.1", server.port, 3000);
    run.request.await_reply = true;
    probe(&run);
    assert_true(run.result.ok);
    assert_int_equal(run.result.sent, 0);
    assert_int_equal(run.result.received_length, 22);
    assert_memory_equal(run.result.received, "SSH-2.0-", 8);
    nd_connect_result_free(&run.result);
    stop_server(&server);
}

static void test_closed_and_reset(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, SERVE_CLOSE_AT_ONCE);
    struct run run;
    request_for(&run, "127.0.0.1", server.port, 3000);
    set_send(&run, "hello");
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.failed_phase, ND_CONNECT_FIRST_BYTE);
    /* An orderly close, or a reset when our bytes reached a closed socket. */
    assert_true(run.result.outcome == ND_CONNECT_CLOSED || run.result.outcome == ND_CONNECT_RESET);
    nd_connect_result_free(&run.result);
    stop_server(&server);

    start_server(&server, SERVE_RESET);
    request_for(&run, "127.0.0.1", server.port, 3000);
    set_send(&run, "hello");
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.failed_phase, ND_CONNECT_FIRST_BYTE);
    assert_int_equal(run.result.outcome, ND_CONNECT_RESET);
    assert_int_equal(run.result.error.os_error, ECONNRESET);
    nd_connect_result_free(&run.result);
    stop_server(&server);
}

static void test_forbidden_and_unresolvable(void **state)
{
    (void)state;
    struct nd_allowlist allow;
    assert_int_equal(nd_allowlist_parse("10.0.0.0/8", &allow, NULL), ND_OK);
    struct run run;
    request_for(&run, "127.0.0.1", 80, 2000);
    run.request.allow = &allow;
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.outcome, ND_CONNECT_FORBIDDEN);
    assert_int_equal(run.result.attempt_count, 0); /* nothing was tried */
    assert_int_equal(run.result.error.code, ND_ERR_FORBIDDEN);

    /* A name is checked by what it resolves to. */
    request_for(&run, "localhost", 80, 2000);
    run.request.allow = &allow;
    probe(&run);
    assert_int_equal(run.result.outcome, ND_CONNECT_FORBIDDEN);
    assert_false(run.result.literal);
    assert_true(run.result.address_count >= 1);

    request_for(&run, "no-such-host.invalid", 80, 3000);
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.failed_phase, ND_CONNECT_RESOLVE);
    assert_int_equal(run.result.outcome, ND_CONNECT_DNS_ERROR);
    assert_int_equal(run.result.error.code, ND_ERR_RESOLVE);
    assert_true(run.result.error.gai_error != 0);

    request_for(&run, "127.0.0.1", 80, 2000);
    run.request.family = ND_RESOLVE_IPV6;
    probe(&run);
    assert_int_equal(run.result.outcome, ND_CONNECT_DNS_ERROR);
}

static void test_cancel(void **state)
{
    (void)state;
    struct server server;
    start_server(&server, SERVE_NOTHING);
    struct run run;
    request_for(&run, "127.0.0.1", server.port, 5000);
    set_send(&run, "x");
    run.cancel_at_once = true;
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.outcome, ND_CONNECT_CANCELLED);
    assert_true(run.result.total_us < 1000000);
    stop_server(&server);
}

/* Several probes whose handshakes start together, on one loop turn. */
struct batch {
    struct run runs[4];
    size_t count, finished;
    struct nd_runtime_done *done;
};

static void batch_probe_done(void *context)
{
    struct batch *batch = context;
    if (++batch->finished == batch->count)
        nd_runtime_signal(batch->done);
}

static void start_batch(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct batch *batch = argument;
    batch->done = done;
    for (size_t i = 0; i < batch->count; i++) {
        struct run *run = &batch->runs[i];
        if (!nd_connect_start(loop, &run->request, &run->result, batch_probe_done, batch))
            batch_probe_done(batch);
    }
}

/* The first handshakes load the system's anchors on libuv's pool and wait
 * for them, one load for all (under ThreadSanitizer in CI: the pool writes
 * the credentials the loop then reads); a probe whose deadline comes
 * during that wait ends cleanly; later handshakes do not wait. The server
 * never answers the ClientHello, so each ends in the handshake phase. */
static void test_tls_waits_for_the_anchors(void **state)
{
    (void)state;
    struct nd_tls_trust *trust;
    assert_int_equal(nd_tls_trust_load(NULL, &trust, NULL), ND_OK);
    struct server server;
    start_server(&server, SERVE_NOTHING);
    struct batch batch = {.count = 4};
    for (size_t i = 0; i < batch.count; i++) {
        request_for(&batch.runs[i], "127.0.0.1", server.port, i == 3 ? 1 : 1500);
        batch.runs[i].request.tls = true;
        batch.runs[i].request.trust = trust;
    }
    assert_true(nd_runtime_call(nd_test_runtime, start_batch, &batch));
    for (size_t i = 0; i < 3; i++) {
        const struct nd_connect_result *result = &batch.runs[i].result;
        assert_false(result->ok);
        assert_int_equal(result->failed_phase, ND_CONNECT_HANDSHAKE);
        assert_int_equal(result->outcome, ND_CONNECT_TIMED_OUT);
        assert_true(result->anchors_wait_us > 0);
        nd_connect_result_free(&batch.runs[i].result);
    }
    assert_int_equal(batch.runs[3].result.outcome, ND_CONNECT_TIMED_OUT); /* 1 ms */
    nd_connect_result_free(&batch.runs[3].result);

    struct run run;
    request_for(&run, "127.0.0.1", server.port, 100);
    run.request.tls = true;
    run.request.trust = trust;
    probe(&run);
    assert_int_equal(run.result.failed_phase, ND_CONNECT_HANDSHAKE);
    assert_int_equal(run.result.anchors_wait_us, 0);
    nd_connect_result_free(&run.result);
    stop_server(&server);
    nd_tls_trust_free(trust);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(nd_connect_phase_name(ND_CONNECT_FIRST_BYTE), "first_byte");
    assert_string_equal(nd_connect_outcome_name(ND_CONNECT_TIMED_OUT), "timeout");
    assert_string_equal(nd_connect_end_name(ND_CONNECT_END_QUIET), "quiet");
    assert_int_equal(nd_connect_classify(EHOSTUNREACH), ND_CONNECT_UNREACHABLE);
    assert_int_equal(nd_connect_classify(EACCES), ND_CONNECT_BLOCKED);
    assert_int_equal(nd_connect_classify(EIO), ND_CONNECT_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_connect_only),
        cmocka_unit_test(test_silent_server_times_out_at_first_byte),
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_banner_without_sending),
        cmocka_unit_test(test_closed_and_reset),
        cmocka_unit_test(test_forbidden_and_unresolvable),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_tls_waits_for_the_anchors),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, nd_test_runtime_setup, nd_test_runtime_teardown);
}
