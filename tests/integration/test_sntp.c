/* GET /time/sntp against the real binary: a real NTP server (chrony on
 * loopback), a misbehaving fake, a silent port, and the isolation of the fast
 * endpoints from slow ones (recipes 11 and 12). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct nd_test_server server;
static pid_t chrony_pid;
static unsigned chrony_port;
static char work_directory[256];

static int start_all(void **state)
{
    (void)state;
    snprintf(work_directory, sizeof work_directory, "/tmp/netdiag-sntp-XXXXXX");
    assert_non_null(mkdtemp(work_directory));

    /* chrony as a real NTP server: unprivileged port, its own clock as the
     * reference (local stratum 8), no control of the system clock (-x). */
    chrony_port = nd_test_free_port_on((const char *[]){"127.0.0.1"}, 1);
    char config_path[320], log_path[320];
    snprintf(config_path, sizeof config_path, "%s/chrony.conf", work_directory);
    snprintf(log_path, sizeof log_path, "%s/chronyd.log", work_directory);
    FILE *config = fopen(config_path, "w");
    assert_non_null(config);
    fprintf(config,
            "port %u\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 8\ncmdport 0\n"
            "pidfile %s/chronyd.pid\ndriftfile %s/drift\n",
            chrony_port, work_directory, work_directory);
    fclose(config);
    const char *user = getuid() == 0 ? "root" : NULL;
    const char *argv[] = {"chronyd", "-x", "-d", "-f", config_path, user ? "-u" : NULL, user, NULL};
    chrony_pid = nd_test_spawn(argv, log_path);

    nd_test_server_start(&server, NULL);

    /* chronyd takes a moment before it serves; wait for its first answer. */
    char path[128];
    snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u&timeout_ms=500", chrony_port);
    for (int attempt = 0; attempt < 40; attempt++) {
        struct nd_test_response response;
        nd_test_get(&server, path, &response);
        long status = response.status;
        nd_test_response_free(&response);
        if (status == 200)
            return 0;
        usleep(250 * 1000);
    }
    fail_msg("chronyd on port %u never answered (see %s)", chrony_port, log_path);
    return -1;
}

static int stop_all(void **state)
{
    (void)state;
    int status = nd_test_server_stop(&server, 15000);
    nd_test_terminate(chrony_pid);
    char command[300];
    snprintf(command, sizeof command, "rm -rf '%s'", work_directory);
    if (system(command) != 0)
        return -1;
    return status == 0 ? 0 : -1;
}

static const cJSON *find_check(const cJSON *checks, const char *name)
{
    const cJSON *check;
    cJSON_ArrayForEach(check, checks)
    {
        if (strcmp(nd_test_json_string(check, "name"), name) == 0)
            return check;
    }
    fail_msg("no check named %s", name);
    return NULL;
}

static void test_real_ntp_server(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u", chrony_port);
    struct nd_test_response response;
    nd_test_get(&server, path, &response);
    assert_int_equal(response.status, 200);
    const cJSON *json = response.json;
    assert_int_equal((int)nd_test_json_number(json, "stratum"), 8);
    /* Same clock on both sides: the offset is tiny. */
    assert_true(fabs(nd_test_json_number(json, "offset_seconds")) < 0.05);
    double delay = nd_test_json_number(json, "delay_seconds");
    assert_true(delay > -0.01 && delay < 1.0);
    assert_string_equal(nd_test_json_string(json, "server.address"), "127.0.0.1");
    assert_int_equal((unsigned)nd_test_json_number(json, "server.port"), chrony_port);
    assert_int_equal((int)nd_test_json_number(json, "reply.version"), 4);
    assert_int_equal((int)nd_test_json_number(json, "reply.mode"), 4);
    assert_int_equal((int)nd_test_json_number(json, "reply.leap.value"), 0);
    const char *server_time = nd_test_json_string(json, "server_time");
    assert_int_equal(strlen(server_time), 24);
    assert_int_equal(server_time[23], 'Z');
    assert_non_null(nd_test_json_get(json, "timestamps.t1_client_send.iso"));
    assert_non_null(nd_test_json_get(json, "timestamps.t4_client_receive.ntp"));
    const cJSON *check;
    cJSON_ArrayForEach(check, nd_test_json_get(json, "checks"))
    {
        assert_string_equal(nd_test_json_string(check, "outcome"), "passed");
    }
    /* The server time agrees with ours within a second. */
    double server_unix = nd_test_json_number(json, "timestamps.t3_server_transmit.unix");
    assert_true(fabs(server_unix - (double)time(NULL)) < 2.0);
    nd_test_response_free(&response);

    snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u&version=3", chrony_port);
    nd_test_get(&server, path, &response);
    assert_int_equal(response.status, 200);
    assert_int_equal((int)nd_test_json_number(response.json, "reply.version"), 3);
    nd_test_response_free(&response);
}

static void start_fake(const char *mode, struct nd_test_fake *fake)
{
    nd_test_fake_start("fake_ntp_server", mode, work_directory, fake);
}

static void test_misbehaving_servers(void **state)
{
    (void)state;
    static const struct {
        const char *mode;
        const char *failed_check;
    } cases[] = {
        {"wrong-mode", "mode"},   {"zero-transmit", "transmit_nonzero"},
        {"stratum16", "stratum"}, {"leap3", "leap"},
        {"kiss-RATE", "stratum"}, {"kiss-DENY", "stratum"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_test_fake fake;
        start_fake(cases[i].mode, &fake);
        char path[128];
        snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u&timeout_ms=3000", fake.port);
        struct nd_test_response response;
        nd_test_get(&server, path, &response);
        nd_test_assert_problem(&response, 502, "bad_upstream_reply", "server");
        const cJSON *check =
            find_check(nd_test_json_get(response.json, "checks"), cases[i].failed_check);
        assert_string_equal(nd_test_json_string(check, "outcome"), "failed");
        assert_non_null(nd_test_json_get(response.json, "reply.stratum"));
        if (strncmp(cases[i].mode, "kiss-", 5) == 0)
            assert_string_equal(nd_test_json_string(response.json, "reply.kiss_code"),
                                cases[i].mode + 5);
        nd_test_response_free(&response);
        assert_int_equal(nd_test_terminate(fake.pid), 0);
    }
}

/* RFC 5905 section 8: a datagram whose origin is not our nonce is bogus. It
 * is dropped and the query waits on: for nothing (504, saying what was
 * dropped), or for the real reply that follows (200). */
static void test_bogus_replies_are_discarded(void **state)
{
    (void)state;
    struct nd_test_fake fake;
    start_fake("bad-origin", &fake);
    char path[128];
    snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u&timeout_ms=300", fake.port);
    struct nd_test_response response;
    nd_test_get(&server, path, &response);
    nd_test_assert_problem(&response, 504, "timeout", "server");
    assert_int_equal(nd_test_json_number(response.json, "discarded.datagrams"), 1);
    assert_non_null(
        strstr(nd_test_json_string(response.json, "discarded.last_reason"), "is not the nonce"));
    assert_int_equal(nd_test_json_number(response.json, "server.port"), fake.port);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_terminate(fake.pid), 0);

    start_fake("bad-origin-then-good", &fake);
    snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u&timeout_ms=3000", fake.port);
    nd_test_get(&server, path, &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(nd_test_json_number(response.json, "discarded.datagrams"), 1);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_terminate(fake.pid), 0);
}

static void test_short_reply(void **state)
{
    (void)state;
    struct nd_test_fake fake;
    start_fake("short", &fake);
    char path[128];
    snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u", fake.port);
    struct nd_test_response response;
    nd_test_get(&server, path, &response);
    nd_test_assert_problem(&response, 502, "bad_upstream_reply", "server");
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "48"));
    nd_test_response_free(&response);
    nd_test_terminate(fake.pid);
}

static void test_timeouts(void **state)
{
    (void)state;
    static const char *const modes[] = {"silent", "from-other-port"};
    for (size_t i = 0; i < 2; i++) {
        struct nd_test_fake fake;
        start_fake(modes[i], &fake);
        char path[128];
        snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u&timeout_ms=300", fake.port);
        struct nd_test_response response;
        nd_test_get(&server, path, &response);
        nd_test_assert_problem(&response, 504, "timeout", "server");
        assert_true(response.seconds >= 0.29 && response.seconds < 3.0);
        nd_test_response_free(&response);
        nd_test_terminate(fake.pid);
    }
}

static void test_bad_parameters(void **state)
{
    (void)state;
    static const struct nd_test_bad_input cases[] = {
        {"/time/sntp?server=", "invalid_argument", "server"},
        {"/time/sntp?server=bad%20name", "invalid_argument", "server"},
        {"/time/sntp?server=a..b", "invalid_argument", "server"},
        /* inet_aton's readings (1.2.0.3, 8.0.0.1) are refused, as /resolve refuses them. */
        {"/time/sntp?server=1.2.3", "invalid_argument", "server"},
        {"/time/sntp?server=010.0.0.1:123", "invalid_argument", "server"},
        {"/time/sntp?server=127.0.0.1:99999", "out_of_range", "server"},
        {"/time/sntp?server=127.0.0.1:0", "out_of_range", "server"},
        {"/time/sntp?server=127.0.0.1:ntp", "invalid_argument", "server"},
        {"/time/sntp?timeout_ms=0", "out_of_range", "timeout_ms"},
        {"/time/sntp?timeout_ms=10001", "out_of_range", "timeout_ms"},
        {"/time/sntp?timeout_ms=1s", "invalid_argument", "timeout_ms"},
        {"/time/sntp?version=5", "invalid_argument", "version"},
        {"/time/sntp?host=pool.ntp.org", "unknown_parameter", "host"},
    };
    nd_test_expect_bad_inputs(&server, cases, sizeof cases / sizeof cases[0]);
}

static void test_unresolvable_server(void **state)
{
    (void)state;
    struct nd_test_response response;
    nd_test_get(&server, "/time/sntp?server=no-such-host.invalid", &response);
    nd_test_assert_problem(&response, 502, "EAI_NONAME", "server");
    nd_test_response_free(&response);
}

static void test_allow_list(void **state)
{
    (void)state;
    struct nd_test_server guarded;
    nd_test_server_start(&guarded,
                         (const char *[]){"--sntp-allow", "10.0.0.0/8,time.example", NULL});
    char path[128];
    snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u", chrony_port);
    struct nd_test_response response;
    nd_test_get(&guarded, path, &response);
    nd_test_assert_problem(&response, 403, "forbidden", "server");
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&guarded, 10000), 0);

    nd_test_server_start(&guarded, (const char *[]){"--sntp-allow", "127.0.0.0/8", NULL});
    nd_test_get(&guarded, path, &response);
    assert_int_equal(response.status, 200);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&guarded, 10000), 0);
}

static void test_slow_requests_never_block_fast_ones(void **state)
{
    (void)state;
    struct nd_test_server isolated;
    nd_test_server_start(&isolated, (const char *[]){"--slow-max-waiting", "64", NULL});
    struct nd_test_fake fake;
    start_fake("silent", &fake);

    /* 64 requests at once to the silent server, each waiting up to 5 s. */
    char waiting[96];
    snprintf(waiting, sizeof waiting, "/time/sntp?server=127.0.0.1:%u&timeout_ms=5000", fake.port);
    struct nd_test_batch *batch = nd_test_get_all_begin(&isolated, waiting, 64);
    /* The silent server logs each request it drops: once it has 64, all 64
     * are waiting inside netdiag. */
    for (int waited = 0; nd_test_count_in_file(fake.log_path, "dropped a request") < 64;
         waited += 20) {
        assert_true(waited < 4000);
        usleep(20 * 1000);
    }

    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < 200; i++) {
        struct nd_test_response response;
        nd_test_get(&isolated, "/byteorder?value=1234", &response);
        assert_int_equal(response.status, 200);
        assert_true(response.seconds < 1.0);
        nd_test_response_free(&response);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double elapsed = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    /* Well inside the 5 s the slow requests wait. */
    assert_true(elapsed < 2.5);

    /* The 65th and later slow requests are refused, not queued. */
    char path[128];
    snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u&timeout_ms=5000", fake.port);
    for (int i = 0; i < 3; i++) {
        struct nd_test_response response;
        nd_test_get(&isolated, path, &response);
        nd_test_assert_problem(&response, 503, "busy", NULL);
        char retry_after[16];
        assert_true(nd_test_header(&response, "Retry-After", retry_after, sizeof retry_after));
        assert_true(response.seconds < 1.0);
        nd_test_response_free(&response);
    }

    long statuses[64];
    nd_test_get_all_end(batch, statuses);
    for (int i = 0; i < 64; i++)
        assert_int_equal(statuses[i], 504);

    /* Once they time out, slow requests are accepted again. */
    struct nd_test_response response;
    snprintf(path, sizeof path, "/time/sntp?server=127.0.0.1:%u&timeout_ms=100", fake.port);
    nd_test_get(&isolated, path, &response);
    nd_test_assert_problem(&response, 504, "timeout", "server");
    nd_test_response_free(&response);

    nd_test_terminate(fake.pid);
    assert_int_equal(nd_test_server_stop(&isolated, 10000), 0);
}

struct single_request {
    const struct nd_test_server *server;
    char path[160];
    struct nd_test_response response;
};

static void *request_in_background(void *context)
{
    struct single_request *request = context;
    nd_test_get(request->server, request->path, &request->response);
    return NULL;
}

static void test_sigterm_drains(void **state)
{
    (void)state;
    struct nd_test_server draining;
    nd_test_server_start(&draining, (const char *[]){"--drain-delay", "1", NULL});
    struct nd_test_fake fake;
    start_fake("silent", &fake);
    struct single_request slow = {.server = &draining};
    snprintf(slow.path, sizeof slow.path, "/time/sntp?server=127.0.0.1:%u&timeout_ms=3000",
             fake.port);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, request_in_background, &slow), 0);
    for (int waited = 0; nd_test_count_in_file(fake.log_path, "dropped a request") < 1;
         waited += 10) {
        assert_true(waited < 3000);
        usleep(10 * 1000);
    }

    assert_int_equal(kill(draining.pid, SIGTERM), 0);
    usleep(200 * 1000);
    /* Readiness turns first, while connections are still accepted. */
    struct nd_test_response response;
    nd_test_get(&draining, "/readyz", &response);
    assert_int_equal(response.status, 503);
    assert_string_equal(nd_test_json_string(response.json, "status"), "not_ready");
    nd_test_response_free(&response);

    /* After the delay new connections get no answer, while the request in
     * flight (answered about 3 s after it started) goes on. */
    usleep(1200 * 1000);
    static const char request[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(nd_test_raw_status(draining.http_port, request, sizeof request - 1), 0);

    /* The request in flight gets its whole answer. */
    assert_int_equal(pthread_join(thread, NULL), 0);
    nd_test_assert_problem(&slow.response, 504, "timeout", "server");
    nd_test_response_free(&slow.response);
    assert_int_equal(nd_test_server_stop(&draining, 10000), 0);
    nd_test_terminate(fake.pid);
}

/* A request still waiting when --drain-timeout runs out is told the truth:
 * the service cut it short (503), not that the server stayed silent for the
 * whole timeout_ms it never waited. */
static void test_drain_timeout_cuts_short(void **state)
{
    (void)state;
    struct nd_test_server draining;
    nd_test_server_start(&draining, (const char *[]){"--drain-timeout", "1", NULL});
    struct nd_test_fake fake;
    start_fake("silent", &fake);
    struct single_request slow = {.server = &draining};
    snprintf(slow.path, sizeof slow.path, "/time/sntp?server=127.0.0.1:%u&timeout_ms=9000",
             fake.port);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, request_in_background, &slow), 0);
    for (int waited = 0; nd_test_count_in_file(fake.log_path, "dropped a request") < 1;
         waited += 10) {
        assert_true(waited < 3000);
        usleep(10 * 1000);
    }
    assert_int_equal(kill(draining.pid, SIGTERM), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    nd_test_assert_problem(&slow.response, 503, "stopping", "server");
    assert_non_null(strstr(nd_test_json_string(slow.response.json, "detail"), "cut short"));
    assert_true(slow.response.seconds < 5.0);
    nd_test_response_free(&slow.response);
    assert_int_equal(nd_test_server_stop(&draining, 10000), 0);
    nd_test_terminate(fake.pid);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_ntp_server),
        cmocka_unit_test(test_misbehaving_servers),
        cmocka_unit_test(test_bogus_replies_are_discarded),
        cmocka_unit_test(test_short_reply),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_unresolvable_server),
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_slow_requests_never_block_fast_ones),
        cmocka_unit_test(test_sigterm_drains),
        cmocka_unit_test(test_drain_timeout_cuts_short),
    };
    int failures = cmocka_run_group_tests(tests, start_all, stop_all);
    curl_global_cleanup();
    return failures;
}
