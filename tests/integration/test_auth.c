/* --auth-token-file: a bearer token on every route but the probes, metrics
 * and the documentation. */
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

    /* RFC 9110 11.1: the scheme name is case-insensitive. */
    static const char *const schemes[] = {"bearer", "BEARER", "bEaReR"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        snprintf(header, sizeof header, "Authorization: %s %s", schemes[i], token);
        nd_test_request(server, "GET", "/byteorder?value=1234", right, &response);
        assert_int_equal(response.status, 200);
        nd_test_response_free(&response);
    }
    snprintf(header, sizeof header, "Authorization: Basic %s", token);
    nd_test_request(server, "GET", "/byteorder?value=1234", right, &response);
    nd_test_assert_problem(&response, 401, "unauthorized", NULL);
    nd_test_response_free(&response);
}

/* Swagger UI must load before the user can give it the token: the page,
 * its files and the document it reads are open. */
static void test_documentation_is_open(void **state)
{
    struct nd_test_server *server = *state;
    static const char *const open_paths[] = {"/openapi.json", "/openapi.yaml", "/docs"};
    for (size_t i = 0; i < sizeof open_paths / sizeof open_paths[0]; i++) {
        struct nd_test_response response;
        nd_test_get(server, open_paths[i], &response);
        /* /docs is 503 where Swagger UI's files are not installed: still not 401. */
        assert_true(response.status == 200 || (i == 2 && response.status == 503));
        nd_test_response_free(&response);
    }
    struct nd_test_response response;
    nd_test_get(server, "/docs/swagger-ui.css", &response);
    assert_true(response.status == 200 || response.status == 404);
    nd_test_response_free(&response);
    nd_test_get(server, "/docs/", &response);
    assert_int_equal(response.status, 308);
    char location[64];
    assert_true(nd_test_header(&response, "Location", location, sizeof location));
    assert_string_equal(location, "../docs");
    nd_test_response_free(&response);
    /* The document declares the scheme Swagger UI's Authorize button uses. */
    nd_test_get(server, "/openapi.json", &response);
    const cJSON *scheme = nd_test_json_get(response.json, "components.securitySchemes.bearerAuth");
    assert_string_equal(nd_test_json_string(scheme, "scheme"), "bearer");
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
        cmocka_unit_test(test_documentation_is_open),
        cmocka_unit_test(test_unusable_token_files),
    };
    return cmocka_run_group_tests(tests, start_guarded, nd_test_group_teardown);
}
