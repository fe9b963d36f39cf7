/* --auth-token-file: a bearer token on every route but the probes and metrics. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char token[] = "s3cret-token-for-the-tests-0123456789";

static int start_guarded(void **state)
{
    static char path[] = "/tmp/netdiag-token-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, token, strlen(token)), (ssize_t)strlen(token));
    assert_int_equal(write(fd, "\n", 1), 1);
    close(fd);
    struct nd_test_server *server = calloc(1, sizeof *server);
    nd_test_server_start(server, (const char *[]){"--auth-token-file", path, NULL});
    unlink(path);
    *state = server;
    return 0;
}

static void test_token_required(void **state)
{
    struct nd_test_server *server = *state;
    struct nd_test_response response;
    char value[128];
    nd_test_get(server, "/byteorder?value=1234", &response);
    nd_test_assert_problem(&response, 401, "unauthorized", NULL);
    assert_true(nd_test_header(&response, "WWW-Authenticate", value, sizeof value));
    assert_string_equal(value, "Bearer realm=\"netdiag\"");
    nd_test_response_free(&response);

    const char *const wrong[] = {"Authorization: Bearer s3cret-token-for-the-tests-012345678",
                                 NULL};
    nd_test_request(server, "GET", "/byteorder?value=1234", wrong, &response);
    nd_test_assert_problem(&response, 401, "unauthorized", NULL);
    assert_true(nd_test_header(&response, "WWW-Authenticate", value, sizeof value));
    assert_non_null(strstr(value, "invalid_token"));
    nd_test_response_free(&response);

    char header[128];
    snprintf(header, sizeof header, "Authorization: Bearer %s", token);
    const char *const right[] = {header, NULL};
    nd_test_request(server, "GET", "/byteorder?value=1234", right, &response);
    assert_int_equal(response.status, 200);
    nd_test_response_free(&response);
}

static void test_probes_and_metrics_stay_open(void **state)
{
    struct nd_test_server *server = *state;
    static const char *const open_paths[] = {"/healthz", "/readyz", "/metrics"};
    for (size_t i = 0; i < 3; i++) {
        struct nd_test_response response;
        nd_test_get(server, open_paths[i], &response);
        assert_int_equal(response.status, 200);
        nd_test_response_free(&response);
    }
    /* A CORS preflight carries no credentials. */
    struct nd_test_response response;
    nd_test_request(server, "OPTIONS", "/byteorder", NULL, &response);
    assert_int_equal(response.status, 204);
    nd_test_response_free(&response);
}

static void test_unusable_token_files(void **state)
{
    (void)state;
    char command[512];
    snprintf(command, sizeof command,
             "'%s' --auth-token-file /nonexistent/token --listen 127.0.0.1:0 --echo-listen off "
             ">/dev/null 2>&1",
             getenv("NETDIAG_BINARY"));
    assert_int_equal(WEXITSTATUS(system(command)), 2);
    char path[] = "/tmp/netdiag-short-XXXXXX";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, "short\n", 6), 6);
    close(fd);
    snprintf(command, sizeof command,
             "'%s' --auth-token-file %s --listen 127.0.0.1:0 --echo-listen off >/dev/null 2>&1",
             getenv("NETDIAG_BINARY"), path);
    assert_int_equal(WEXITSTATUS(system(command)), 2);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_required),
        cmocka_unit_test(test_probes_and_metrics_stay_open),
        cmocka_unit_test(test_unusable_token_files),
    };
    return cmocka_run_group_tests(tests, start_guarded, nd_test_group_teardown);
}
