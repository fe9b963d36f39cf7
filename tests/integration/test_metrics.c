/* GET /metrics against the real binary: Prometheus text that promtool
 * accepts, and counters that move with the requests made. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The value of the sample line that starts with series (labels included);
 * 0 when the series has no line yet. */
static double sample(const char *text, const char *series)
{
    char pattern[256];
    snprintf(pattern, sizeof pattern, "\n%s ", series);
    const char *line = strstr(text, pattern);
    return line ? strtod(line + strlen(pattern), NULL) : 0;
}

static char *scrape(const struct nd_test_server *server)
{
    struct nd_test_response response;
    nd_test_get(server, "/metrics", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
    char *text = strdup(response.body);
    nd_test_response_free(&response);
    return text;
}

static void test_counters_move(void **state)
{
    struct nd_test_server *server = *state;
    static const char ok_series[] =
        "netdiag_http_requests_total{route=\"/byteorder\",method=\"GET\",status=\"200\"}";
    static const char bad_series[] =
        "netdiag_http_requests_total{route=\"/byteorder\",method=\"GET\",status=\"400\"}";
    static const char latency_count[] =
        "netdiag_http_request_duration_seconds_count{route=\"/byteorder\"}";
    static const char unmatched[] =
        "netdiag_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}";
    char *before = scrape(server);
    for (int i = 0; i < 3; i++) {
        struct nd_test_response response;
        nd_test_get(server, "/byteorder?value=1234", &response);
        nd_test_response_free(&response);
    }
    struct nd_test_response response;
    nd_test_get(server, "/byteorder?value=-1", &response);
    nd_test_response_free(&response);
    nd_test_get(server, "/no/such/path", &response);
    nd_test_response_free(&response);
    char *after = scrape(server);
    assert_true(sample(after, ok_series) - sample(before, ok_series) == 3);
    assert_true(sample(after, bad_series) - sample(before, bad_series) == 1);
    assert_true(sample(after, latency_count) - sample(before, latency_count) == 4);
    assert_true(sample(after, unmatched) - sample(before, unmatched) == 1);
    assert_non_null(strstr(after, "\nnetdiag_build_info{version=\""));
    assert_true(sample(after, "process_start_time_seconds") > 1.7e9);
    assert_true(sample(after, "netdiag_http_requests_in_flight") >= 1);
    assert_non_null(strstr(after, "\nnetdiag_slow_requests_rejected_total "));
    assert_non_null(strstr(after, "\nnetdiag_echo_connections_open "));
    free(before);
    free(after);
}

static void test_promtool_accepts(void **state)
{
    struct nd_test_server *server = *state;
    char *text = scrape(server);
    FILE *promtool = popen("promtool check metrics > /dev/null 2>&1", "w");
    assert_non_null(promtool);
    fputs(text, promtool);
    int status = pclose(promtool);
    free(text);
    if (status != 0)
        fail_msg("promtool check metrics rejected /metrics (exit %d)", status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_move),
        cmocka_unit_test(test_promtool_accepts),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
