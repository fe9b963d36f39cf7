/* The HTTP layer against the real binary: routing, methods, CORS, problem
 * details, query parsing, request ids, pretty printing, logs, shutdown. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static void test_healthz_and_readyz(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/healthz", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(response.content_type, "application/json");
    assert_string_equal(nd_test_json_string(response.json, "status"), "ok");
    nd_test_response_free(&response);

    nd_test_get(server, "/readyz", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(nd_test_json_string(response.json, "status"), "ready");
    nd_test_response_free(&response);
}

static void test_index_lists_endpoints(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(nd_test_json_string(response.json, "service"), "netdiag");
    assert_string_equal(nd_test_json_string(response.json, "links.docs"), "/docs");
    assert_string_equal(nd_test_json_string(response.json, "links.openapi"), "/openapi.json");
    const cJSON *endpoints = nd_test_json_get(response.json, "endpoints");
    bool found = false;
    const cJSON *endpoint;
    cJSON_ArrayForEach(endpoint, endpoints)
    {
        if (strcmp(nd_test_json_string(endpoint, "path"), "/byteorder") == 0)
            found = true;
    }
    assert_true(found);
    nd_test_response_free(&response);
}

static void test_unknown_path_is_404(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/nope", &response);
    nd_test_assert_problem(&response, 404, "not_found", NULL);
    nd_test_response_free(&response);

    nd_test_request(server, "DELETE", "/also/nope", NULL, &response);
    nd_test_assert_problem(&response, 404, "not_found", NULL);
    nd_test_response_free(&response);
}

static void test_wrong_method_is_405_with_allow(void **state)
{
    struct nd_test_server *server = *state;
    static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        struct nd_test_response response;
        nd_test_request(server, methods[i], "/byteorder?value=1", NULL, &response);
        nd_test_assert_problem(&response, 405, "method_not_allowed", NULL);
        char allow[128];
        assert_true(nd_test_header(&response, "Allow", allow, sizeof allow));
        assert_string_equal(allow, "GET, HEAD, OPTIONS");
        nd_test_response_free(&response);
    }
}

static void test_head_has_headers_and_no_body(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response get, head;
    nd_test_get(server, "/byteorder?value=1234", &get);
    nd_test_request(server, "HEAD", "/byteorder?value=1234", NULL, &head);
    assert_int_equal(head.status, 200);
    assert_int_equal(head.body_length, 0);
    assert_string_equal(head.content_type, "application/json");
    char length[32];
    assert_true(nd_test_header(&head, "Content-Length", length, sizeof length));
    assert_int_equal(strtoul(length, NULL, 10), get.body_length);
    nd_test_response_free(&get);
    nd_test_response_free(&head);
}

static void test_options_and_cors(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    const char *const headers[] = {"Origin: http://example.test",
                                   "Access-Control-Request-Method: GET", NULL};
    nd_test_request(server, "OPTIONS", "/convert", headers, &response);
    assert_int_equal(response.status, 204);
    char value[128];
    assert_true(nd_test_header(&response, "Allow", value, sizeof value));
    assert_string_equal(value, "GET, HEAD, OPTIONS");
    assert_true(nd_test_header(&response, "Access-Control-Allow-Origin", value, sizeof value));
    assert_string_equal(value, "*");
    assert_true(nd_test_header(&response, "Access-Control-Allow-Methods", value, sizeof value));
    assert_false(
        nd_test_header(&response, "Access-Control-Allow-Credentials", value, sizeof value));
    nd_test_response_free(&response);

    nd_test_get(server, "/healthz", &response);
    assert_true(nd_test_header(&response, "Access-Control-Allow-Origin", value, sizeof value));
    assert_string_equal(value, "*");
    nd_test_response_free(&response);
}

static void test_cors_can_be_turned_off(void **state)
{
    (void)state;
    struct nd_test_server quiet;
    nd_test_server_start(&quiet, (const char *[]){"--cors-origin", "off", NULL});
    struct nd_test_response response;
    char value[64];
    nd_test_get(&quiet, "/healthz", &response);
    assert_int_equal(response.status, 200);
    assert_false(nd_test_header(&response, "Access-Control-Allow-Origin", value, sizeof value));
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&quiet, 10000), 0);
}

static void test_unknown_parameter_is_named(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/service?port=53&prot=udp", &response);
    nd_test_assert_problem(&response, 400, "unknown_parameter", "prot");
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "protocol"));
    nd_test_response_free(&response);
}

static void test_bad_query_encoding(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/byteorder?value=12%zz", &response);
    nd_test_assert_problem(&response, 400, "invalid_query", "value");
    nd_test_response_free(&response);

    nd_test_get(server, "/byteorder?value=1%00", &response);
    nd_test_assert_problem(&response, 400, "invalid_query", "value");
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "NUL"));
    nd_test_response_free(&response);

    nd_test_get(server, "/byteorder?value=1%4", &response);
    nd_test_assert_problem(&response, 400, "invalid_query", "value");
    nd_test_response_free(&response);

    /* Invalid UTF-8 echoed back must not break the JSON. */
    nd_test_get(server, "/convert?ip=%ff%fe", &response);
    nd_test_assert_problem(&response, 400, "invalid_argument", "ip");
    nd_test_response_free(&response);
}

static void test_duplicate_single_parameter(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/byteorder?value=1&value=2", &response);
    nd_test_assert_problem(&response, 400, "duplicate_parameter", "value");
    nd_test_response_free(&response);
}

static void test_pretty_printing(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response compact, pretty;
    nd_test_get(server, "/byteorder?value=1234", &compact);
    nd_test_get(server, "/byteorder?value=1234&pretty=1", &pretty);
    assert_null(strchr(compact.body, '\t'));
    assert_ptr_equal(strchr(compact.body, '\n'), compact.body + compact.body_length - 1);
    assert_non_null(strstr(pretty.body, "\n\t"));
    assert_true(cJSON_Compare(compact.json, pretty.json, true));
    nd_test_response_free(&compact);
    nd_test_response_free(&pretty);

    nd_test_get(server, "/byteorder?value=1234&pretty=maybe", &pretty);
    nd_test_assert_problem(&pretty, 400, "invalid_argument", "pretty");
    nd_test_response_free(&pretty);

    /* The OpenAPI document too: compact by default and with pretty=0. */
    struct nd_test_response zero;
    nd_test_get(server, "/openapi.json", &compact);
    nd_test_get(server, "/openapi.json?pretty=0", &zero);
    nd_test_get(server, "/openapi.json?pretty=1", &pretty);
    assert_ptr_equal(strchr(compact.body, '\n'), compact.body + compact.body_length - 1);
    assert_string_equal(zero.body, compact.body);
    assert_non_null(strstr(pretty.body, "\n  "));
    assert_true(cJSON_Compare(compact.json, pretty.json, true));
    nd_test_response_free(&compact);
    nd_test_response_free(&zero);
    nd_test_response_free(&pretty);
}

static void test_request_id_echoed_or_generated(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    char id[128];
    const char *const headers[] = {"X-Request-Id: trace-42.abc", NULL};
    nd_test_request(server, "GET", "/healthz", headers, &response);
    assert_true(nd_test_header(&response, "X-Request-Id", id, sizeof id));
    assert_string_equal(id, "trace-42.abc");
    nd_test_response_free(&response);

    const char *const hostile[] = {"X-Request-Id: bad id\"with quotes", NULL};
    nd_test_request(server, "GET", "/healthz", hostile, &response);
    assert_true(nd_test_header(&response, "X-Request-Id", id, sizeof id));
    assert_int_equal(strlen(id), 20);
    assert_null(strchr(id, '"'));
    nd_test_response_free(&response);
}

static bool line_has(const char *line, const char *end, const char *field)
{
    const char *found = strstr(line, field);
    return found && found < end;
}

static void test_access_log_line(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    const char *const headers[] = {"X-Request-Id: log-line-check-7", NULL};
    nd_test_request(server, "GET", "/byteorder?value=7", headers, &response);
    nd_test_response_free(&response);
    /* The access log is buffered and flushed once a second. */
    assert_true(nd_test_server_wait_log(server, "request_id=log-line-check-7", 3000));
    char *log = nd_test_server_log(server);
    const char *line = strstr(log, "method=GET target=\"/byteorder?value=7\" ");
    assert_non_null(line);
    const char *end = strchr(line, '\n');
    assert_non_null(end);
    assert_true(line_has(line, end, " status=200 "));
    assert_true(line_has(line, end, " bytes="));
    assert_true(line_has(line, end, " duration_us="));
    assert_true(line_has(line, end, " client=127.0.0.1:"));
    assert_true(line_has(line, end, " request_id=log-line-check-7"));
    free(log);
}

static void test_body_on_get_is_rejected(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    const char *const headers[] = {"Content-Length: 5", "Content-Type: text/plain", NULL};
    nd_test_request(server, "GET", "/healthz", headers, &response);
    /* curl sends no body for GET, so the server must answer without waiting for one. */
    nd_test_assert_problem(&response, 413, "body_not_allowed", NULL);
    nd_test_response_free(&response);
}

static void test_sigterm_exits_cleanly(void **state)
{
    (void)state;
    struct nd_test_server other;
    nd_test_server_start(&other, (const char *[]){"--log-format", "json", NULL});
    struct nd_test_response response;
    nd_test_get(&other, "/healthz", &response);
    assert_int_equal(response.status, 200);
    nd_test_response_free(&response);
    assert_true(nd_test_server_wait_log(&other, "\"event\":\"listening\"", 1000));
    char log_copy[320];
    strcpy(log_copy, other.log_path);
    setenv("NETDIAG_TEST_KEEP_LOGS", "1", 1);
    assert_int_equal(nd_test_server_stop(&other, 5000), 0);
    unsetenv("NETDIAG_TEST_KEEP_LOGS");
    FILE *file = fopen(log_copy, "r");
    assert_non_null(file);
    char line[1024];
    bool stopped = false;
    while (fgets(line, sizeof line, file)) {
        assert_int_equal(line[0], '{');
        cJSON *json = cJSON_Parse(line);
        assert_non_null(json);
        if (strcmp(nd_test_json_string(json, "event"), "stopped") == 0)
            stopped = true;
        cJSON_Delete(json);
    }
    fclose(file);
    assert_true(stopped);
    char command[400];
    snprintf(command, sizeof command, "rm -rf '%s'", other.directory);
    assert_int_equal(system(command), 0);
}

/* The voluntary context switches of every thread of pid so far. */
static long wakeups_of(pid_t pid)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "/proc/%d/task", (int)pid);
    DIR *tasks = opendir(pattern);
    assert_non_null(tasks);
    long total = 0;
    struct dirent *task;
    while ((task = readdir(tasks))) {
        if (task->d_name[0] == '.')
            continue;
        char path[400], line[128];
        snprintf(path, sizeof path, "%s/%s/status", pattern, task->d_name);
        FILE *status = fopen(path, "r");
        if (!status)
            continue; /* a thread that just ended */
        long count;
        while (fgets(line, sizeof line, status)) {
            if (sscanf(line, "voluntary_ctxt_switches: %ld", &count) == 1)
                total += count;
        }
        fclose(status);
    }
    closedir(tasks);
    return total;
}

/* A server nobody talks to sleeps: no thread wakes on a timer (the access
 * log's flush, the request deadline's sweep) while there is nothing to do.
 * On a node that runs one pod per service, idle wakeups are CPU for nothing. */
static void test_idle_server_sleeps(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    nd_test_get(server, "/healthz", &response); /* an access line to flush */
    nd_test_response_free(&response);
    /* The flush and the last sweep come within a second and a half. */
    usleep(2000 * 1000);
    long before = wakeups_of(server->pid);
    usleep(3000 * 1000);
    long woken = wakeups_of(server->pid) - before;
    /* Before, three a second: the flush once, the sweep twice. */
    assert_true(woken <= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthz_and_readyz),
        cmocka_unit_test(test_index_lists_endpoints),
        cmocka_unit_test(test_unknown_path_is_404),
        cmocka_unit_test(test_wrong_method_is_405_with_allow),
        cmocka_unit_test(test_head_has_headers_and_no_body),
        cmocka_unit_test(test_options_and_cors),
        cmocka_unit_test(test_cors_can_be_turned_off),
        cmocka_unit_test(test_unknown_parameter_is_named),
        cmocka_unit_test(test_bad_query_encoding),
        cmocka_unit_test(test_duplicate_single_parameter),
        cmocka_unit_test(test_pretty_printing),
        cmocka_unit_test(test_request_id_echoed_or_generated),
        cmocka_unit_test(test_access_log_line),
        cmocka_unit_test(test_idle_server_sleeps),
        cmocka_unit_test(test_body_on_get_is_rejected),
        cmocka_unit_test(test_sigterm_exits_cleanly),
    };
    return cmocka_run_group_tests(tests, nd_test_group_setup, nd_test_group_teardown);
}
