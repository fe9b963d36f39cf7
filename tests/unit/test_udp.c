/* src/probe/udp.c on a runtime, against small UDP servers on 127.0.0.1: an
 * echo, a closed port, a silent one, one that drops the first datagram, one
 * that answers twice, one that answers something else; empty datagrams; a
 * denied address, names that do not resolve, and cancel. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/udp.h"
#include "runtime/runtime.h"
#include "support/runtime_fixture.h"
#include "support/udp_server.h"

/* --- running a probe ----------------------------------------------------------- */

struct run {
    struct nd_udp_request request;
    struct nd_udp_result result;
    bool cancel_at_once;
    struct nd_runtime_done *done;
};

static void probe_done(void *context)
{
    nd_runtime_signal(((struct run *)context)->done);
}

static void start_probe(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct run *run = argument;
    run->done = done;
    struct nd_udp_probe *probe = nd_udp_start(loop, &run->request, &run->result, probe_done, run);
    if (!probe) {
        nd_runtime_signal(done);
        return;
    }
    if (run->cancel_at_once)
        nd_udp_cancel(probe);
}

static void request_for(struct run *run, const char *host, uint16_t port, const char *text,
                        unsigned count, unsigned timeout_ms)
{
    memset(run, 0, sizeof *run);
    snprintf(run->request.host, sizeof run->request.host, "%s", host);
    run->request.port = port;
    run->request.timeout_ms = timeout_ms;
    run->request.count = count;
    run->request.interval_ms = 20;
    run->request.read_limit = 4096;
    run->request.send_length = strlen(text);
    memcpy(run->request.send, text, run->request.send_length);
}

static void probe(struct run *run)
{
    assert_true(nd_runtime_call(nd_test_runtime, start_probe, run));
}

/* --- the cases ------------------------------------------------------------------- */

static void test_echo(void **state)
{
    (void)state;
    struct nd_test_udp_server server;
    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_ECHO);
    struct run run;
    struct nd_udp_stats stats;
    memset(&stats, 0, sizeof stats);
    request_for(&run, "127.0.0.1", server.port, "hello", 3, 3000);
    run.request.stats = &stats;
    probe(&run);
    assert_true(run.result.ok);
    assert_int_equal(run.result.outcome, ND_UDP_REPLIED);
    assert_true(run.result.path.literal);
    assert_true(run.result.path.connected);
    assert_int_equal(run.result.path.attempt_count, 1);
    assert_int_equal(run.result.path.attempts[0].outcome, ND_CONNECT_CONNECTED);
    assert_non_null(strstr(run.result.path.local, "127.0.0.1:"));
    assert_non_null(strstr(run.result.path.peer, "127.0.0.1:"));
    assert_int_equal(run.result.sent, 3);
    assert_int_equal(run.result.answered, 3);
    assert_int_equal(run.result.extra_replies, 0);
    for (unsigned i = 0; i < 3; i++) {
        const struct nd_udp_datagram *datagram = &run.result.datagrams[i];
        assert_int_equal(datagram->outcome, ND_UDP_REPLIED);
        assert_true(datagram->reply_identical);
        assert_int_equal(datagram->reply_length, 5);
        assert_true(datagram->rtt_us <= run.result.rtt_max_us);
    }
    /* interval_ms apart (libuv's timers count whole milliseconds, so one
     * may fire up to a millisecond early); the probe ends at the last
     * reply, not the deadline. */
    assert_true(run.result.datagrams[2].sent_us >= 38000);
    assert_true(run.result.total_us < 1000000);
    assert_int_equal(run.result.reply_length, 5);
    assert_memory_equal(run.result.reply, "hello", 5);
    assert_int_equal(atomic_load(&stats.outcomes[ND_UDP_REPLIED]), 1);
    assert_int_equal(atomic_load(&stats.datagrams_sent), 3);
    assert_int_equal(atomic_load(&stats.datagrams_answered), 3);
    nd_udp_result_free(&run.result);

    /* An empty datagram comes back empty; read_limit bounds what is kept. */
    request_for(&run, "127.0.0.1", server.port, "", 1, 3000);
    probe(&run);
    assert_true(run.result.ok);
    assert_int_equal(run.result.datagrams[0].reply_length, 0);
    assert_true(run.result.datagrams[0].reply_identical);
    nd_udp_result_free(&run.result);
    request_for(&run, "127.0.0.1", server.port, "0123456789", 1, 3000);
    run.request.read_limit = 4;
    probe(&run);
    assert_int_equal(run.result.datagrams[0].reply_length, 10);
    assert_int_equal(run.result.reply_length, 4);
    nd_udp_result_free(&run.result);
    nd_test_udp_server_stop(&server);
}

/* ICMP port unreachable: a connected socket's ECONNREFUSED, at once. */
static void test_closed_port_is_refused(void **state)
{
    (void)state;
    struct run run;
    request_for(&run, "127.0.0.1", nd_test_udp_closed_port(), "hello", 3, 3000);
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.outcome, ND_UDP_REFUSED);
    assert_int_equal(run.result.failed_phase, ND_UDP_EXCHANGE);
    assert_int_equal(run.result.error.os_error, ECONNREFUSED);
    assert_int_equal(run.result.sent, 1); /* nothing more goes to a closed port */
    assert_int_equal(run.result.datagrams[0].outcome, ND_UDP_REFUSED);
    assert_true(run.result.total_us < 1000000);
    assert_string_equal(nd_udp_outcome_name(run.result.outcome), "refused");
}

/* Silence: every datagram goes, none comes back, the verdict comes at the
 * deadline and says that silence is ambiguous. */
static void test_silence_is_no_reply(void **state)
{
    (void)state;
    struct nd_test_udp_server server;
    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_SILENT);
    struct run run;
    request_for(&run, "127.0.0.1", server.port, "hello?", 3, 300);
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.outcome, ND_UDP_NO_REPLY);
    assert_int_equal(run.result.failed_phase, ND_UDP_EXCHANGE);
    assert_int_equal(run.result.sent, 3);
    assert_int_equal(run.result.answered, 0);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(run.result.datagrams[i].outcome, ND_UDP_NO_REPLY);
    assert_true(run.result.total_us >= 290000 && run.result.total_us < 1300000);
    assert_non_null(strstr(run.result.error.message, "cannot tell"));
    assert_int_equal(run.result.error.os_error, 0);
    nd_test_udp_server_stop(&server);
}

/* A lost datagram is counted against the one it was; the probe is ok as
 * long as anything came back. Extra replies are counted, not credited. */
static void test_loss_and_extra_replies(void **state)
{
    (void)state;
    struct nd_test_udp_server server;
    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_ALL_BUT_FIRST);
    struct run run;
    request_for(&run, "127.0.0.1", server.port, "x", 4, 3000);
    probe(&run);
    assert_true(run.result.ok);
    assert_int_equal(run.result.sent, 4);
    assert_int_equal(run.result.answered, 3);
    assert_int_equal(run.result.datagrams[0].outcome, ND_UDP_NO_REPLY);
    assert_int_equal(run.result.datagrams[1].outcome, ND_UDP_REPLIED);
    nd_udp_result_free(&run.result);
    nd_test_udp_server_stop(&server);

    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_TWICE);
    request_for(&run, "127.0.0.1", server.port, "x", 2, 3000);
    run.request.interval_ms = 100;
    probe(&run);
    assert_true(run.result.ok);
    assert_int_equal(run.result.answered, 2);
    /* The first datagram's second copy came before the second datagram
     * went; the second's second copy came after the probe ended. */
    assert_int_equal(run.result.extra_replies, 1);
    nd_udp_result_free(&run.result);
    nd_test_udp_server_stop(&server);

    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_OTHER_TEXT);
    request_for(&run, "127.0.0.1", server.port, "question", 1, 3000);
    probe(&run);
    assert_true(run.result.ok);
    assert_false(run.result.datagrams[0].reply_identical);
    assert_memory_equal(run.result.reply, "other", 5);
    nd_udp_result_free(&run.result);
    nd_test_udp_server_stop(&server);
}

static void test_forbidden_and_unresolvable(void **state)
{
    (void)state;
    struct nd_allowlist allow;
    assert_int_equal(nd_allowlist_parse("10.0.0.0/8", &allow, NULL), ND_OK);
    struct run run;
    request_for(&run, "127.0.0.1", 53, "x", 1, 2000);
    run.request.allow = &allow;
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.outcome, ND_UDP_FORBIDDEN);
    assert_int_equal(run.result.failed_phase, ND_UDP_CONNECT);
    assert_int_equal(run.result.path.attempt_count, 0);
    assert_int_equal(run.result.sent, 0);
    assert_int_equal(run.result.error.code, ND_ERR_FORBIDDEN);

    request_for(&run, "localhost", 53, "x", 1, 2000);
    run.request.allow = &allow;
    probe(&run);
    assert_int_equal(run.result.outcome, ND_UDP_FORBIDDEN);
    assert_false(run.result.path.literal);

    request_for(&run, "no-such-host.invalid", 53, "x", 1, 3000);
    probe(&run);
    assert_int_equal(run.result.outcome, ND_UDP_DNS_ERROR);
    assert_int_equal(run.result.failed_phase, ND_UDP_RESOLVE);
    assert_true(run.result.error.gai_error != 0);

    request_for(&run, "127.0.0.1", 53, "x", 1, 2000);
    run.request.family = ND_RESOLVE_IPV6;
    probe(&run);
    assert_int_equal(run.result.outcome, ND_UDP_DNS_ERROR);
    assert_int_equal(run.result.error.gai_error, EAI_ADDRFAMILY);
}

static void test_cancel(void **state)
{
    (void)state;
    struct nd_test_udp_server server;
    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_SILENT);
    struct run run;
    request_for(&run, "127.0.0.1", server.port, "x", 10, 5000);
    run.cancel_at_once = true;
    probe(&run);
    assert_false(run.result.ok);
    assert_int_equal(run.result.outcome, ND_UDP_CANCELLED);
    assert_true(run.result.total_us < 1000000);
    nd_test_udp_server_stop(&server);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(nd_udp_phase_name(ND_UDP_EXCHANGE), "exchange");
    assert_string_equal(nd_udp_outcome_name(ND_UDP_NO_REPLY), "no_reply");
    assert_string_equal(nd_udp_outcome_name(ND_UDP_REPLIED), "replied");
    assert_int_equal(nd_udp_classify(ECONNREFUSED), ND_UDP_REFUSED);
    assert_int_equal(nd_udp_classify(EHOSTUNREACH), ND_UDP_UNREACHABLE);
    assert_int_equal(nd_udp_classify(EPERM), ND_UDP_BLOCKED);
    assert_int_equal(nd_udp_classify(EMSGSIZE), ND_UDP_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_closed_port_is_refused),
        cmocka_unit_test(test_silence_is_no_reply),
        cmocka_unit_test(test_loss_and_extra_replies),
        cmocka_unit_test(test_forbidden_and_unresolvable),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, nd_test_runtime_setup, nd_test_runtime_teardown);
}
