/* The command line: flags, environment variables, --help, --version, and a
 * clear one-line exit 2 for a bad flag or value. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

/* Runs the binary with a shell-quoted argument string; returns the exit
 * status and the combined output (caller frees). */
static int run(const char *environment, const char *arguments, char **output)
{
    char command[1024];
    snprintf(command, sizeof command, "%s '%s' %s 2>&1", environment ? environment : "",
             getenv("NETDIAG_BINARY"), arguments);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    size_t capacity = 65536, length = 0;
    char *text = malloc(capacity);
    size_t n;
    while ((n = fread(text + length, 1, capacity - length - 1, pipe)) > 0)
        length += n;
    text[length] = '\0';
    int status = pclose(pipe);
    *output = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_help_and_version(void **state)
{
    (void)state;
    char *output;
    assert_int_equal(run(NULL, "--help", &output), 0);
    assert_non_null(strstr(output, "--listen"));
    assert_non_null(strstr(output, "NETDIAG_LISTEN"));
    assert_non_null(strstr(output, "--echo-listen"));
    free(output);
    assert_int_equal(run(NULL, "--version", &output), 0);
    assert_int_equal(strncmp(output, "netdiag ", 8), 0);
    free(output);
}

static void test_bad_flags_exit_2_with_one_line(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "--bogus",
        "--threads abc",
        "--threads 999",
        "--listen nowhere",
        "--listen 1.2.3.4:99999",
        "--log-format xml",
        "--access-log maybe",
        "--sntp-allow 10.0.0.0/40",
        "--listen",
        "stray",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *output;
        assert_int_equal(run(NULL, cases[i], &output), 2);
        assert_int_equal(strncmp(output, "netdiag: ", 9), 0);
        /* One line. */
        assert_non_null(strchr(output, '\n'));
        assert_int_equal(strchr(output, '\n')[1], '\0');
        free(output);
    }
    char *output;
    assert_int_equal(run("NETDIAG_THREADS=lots", "--version", &output), 2);
    assert_non_null(strstr(output, "NETDIAG_THREADS"));
    free(output);
}

static void test_environment_and_flags(void **state)
{
    (void)state;
    /* The harness passes --log-format text: the flag wins over the environment. */
    setenv("NETDIAG_LOG_FORMAT", "json", 1);
    struct nd_test_server server;
    nd_test_server_start(&server, NULL);
    assert_true(nd_test_server_wait_log(&server, "level=info event=listening", 2000));
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
    unsetenv("NETDIAG_LOG_FORMAT");

    /* Without a flag, the environment applies. */
    setenv("NETDIAG_CORS_ORIGIN", "https://example.test", 1);
    nd_test_server_start(&server, NULL);
    struct nd_test_response response;
    char value[128];
    nd_test_get(&server, "/healthz", &response);
    assert_true(nd_test_header(&response, "Access-Control-Allow-Origin", value, sizeof value));
    assert_string_equal(value, "https://example.test");
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);

    nd_test_server_start(&server, (const char *[]){"--cors-origin=off", NULL});
    nd_test_get(&server, "/healthz", &response);
    assert_false(nd_test_header(&response, "Access-Control-Allow-Origin", value, sizeof value));
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
    unsetenv("NETDIAG_CORS_ORIGIN");
}

static void test_healthcheck_flag(void **state)
{
    (void)state;
    struct nd_test_server server;
    nd_test_server_start(&server, NULL);
    char arguments[160], *output;
    snprintf(arguments, sizeof arguments, "--healthcheck %s/healthz", server.base_url);
    assert_int_equal(run(NULL, arguments, &output), 0);
    free(output);
    snprintf(arguments, sizeof arguments, "--healthcheck %s/no-such-path", server.base_url);
    assert_int_equal(run(NULL, arguments, &output), 1);
    assert_non_null(strstr(output, "404"));
    free(output);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
    assert_int_equal(run(NULL, arguments, &output), 1);
    free(output);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_bad_flags_exit_2_with_one_line),
        cmocka_unit_test(test_environment_and_flags),
        cmocka_unit_test(test_healthcheck_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
