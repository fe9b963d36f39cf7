/* src/http/problem.c: RFC 9457 bodies and the error-to-status table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netdb.h>
#include <string.h>

#include "http/problem.h"

static void test_error_mapping(void **state)
{
    (void)state;
    static const struct {
        enum nd_err code;
        int gai_error;
        unsigned status;
        unsigned upstream_status; /* from a server asked on the client's behalf */
        const char *name;
    } cases[] = {
        {ND_ERR_INVALID, 0, 400, 400, "invalid_argument"},
        {ND_ERR_RANGE, 0, 400, 400, "out_of_range"},
        {ND_ERR_NOT_FOUND, 0, 404, 404, "not_found"},
        {ND_ERR_TIMEOUT, 0, 504, 504, "timeout"},
        {ND_ERR_PROTOCOL, 0, 502, 502, "bad_upstream_reply"},
        {ND_ERR_BUSY, 0, 503, 503, "busy"},
        {ND_ERR_FORBIDDEN, 0, 403, 403, "forbidden"},
        {ND_ERR_STOPPING, 0, 503, 503, "stopping"},
        {ND_ERR_MISSING, 0, 400, 400, "missing_parameter"},
        {ND_ERR_UNEXPECTED, 0, 400, 400, "unknown_parameter"},
        {ND_ERR_DUPLICATE, 0, 400, 400, "duplicate_parameter"},
        {ND_ERR_TOO_MANY, 0, 400, 400, "too_many_values"},
        {ND_ERR_ENCODING, 0, 400, 400, "invalid_query"},
        {ND_ERR_MALFORMED, 0, 400, 400, "bad_request"},
        {ND_ERR_FAMILY_UNSUPPORTED, 0, 400, 400, "unsupported_family"},
        {ND_ERR_NOT_ALLOWED, 0, 405, 405, "method_not_allowed"},
        {ND_ERR_TOO_LARGE, 0, 413, 413, "body_not_allowed"},
        {ND_ERR_HEAD_TOO_LARGE, 0, 431, 431, "headers_too_large"},
        {ND_ERR_UNAUTHENTICATED, 0, 401, 401, "unauthorized"},
        {ND_ERR_INTERNAL, 0, 500, 500, "internal_error"},
        {ND_ERR_NO_MEMORY, 0, 503, 503, "out_of_memory"},
        {ND_ERR_SYSTEM, 0, 500, 502, "system_error"},
        {ND_ERR_RESOLVE, EAI_NONAME, 404, 502, "EAI_NONAME"},
        {ND_ERR_RESOLVE, EAI_AGAIN, 503, 502, "EAI_AGAIN"},
        {ND_ERR_RESOLVE, EAI_FAIL, 502, 502, "EAI_FAIL"},
    };
    /* Every code has its row: a new one without is a 500 with no name. */
    for (int code = ND_OK + 1; code < ND_ERR__COUNT; code++) {
        struct nd_error error = {.code = (enum nd_err)code};
        struct nd_problem problem;
        nd_problem_from_error(&error, NULL, false, &problem);
        assert_true(problem.status >= 400);
        assert_non_null(problem.code);
        assert_string_not_equal(problem.code, "");
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_error error;
        nd_error_set(&error, cases[i].code, "message %zu", i);
        error.gai_error = cases[i].gai_error;
        struct nd_problem problem;
        nd_problem_from_error(&error, "p", true, &problem);
        assert_int_equal(problem.status, cases[i].upstream_status);
        assert_string_equal(problem.code, cases[i].name);
        nd_problem_from_error(&error, "p", false, &problem);
        assert_int_equal(problem.status, cases[i].status);
        assert_string_equal(problem.code, cases[i].name);
        assert_string_equal(problem.param, "p");
        assert_int_equal(problem.retry_after_s, cases[i].status == 503 ? 1 : 0);
        assert_null(problem.extensions);
    }
}

static void test_render_members(void **state)
{
    (void)state;
    struct nd_problem problem = {.status = 400, .code = "invalid_argument", .param = "value"};
    strcpy(problem.detail, "parameter 'value' must be a number");
    problem.extensions = cJSON_CreateObject();
    cJSON_AddStringToObject(problem.extensions, "hint", "try 1234");
    cJSON_AddStringToObject(problem.extensions, "status", "must not override");
    cJSON *body = nd_problem_render(&problem, "/byteorder");
    assert_non_null(body);
    assert_null(problem.extensions);
    assert_string_equal(cJSON_GetObjectItem(body, "type")->valuestring,
                        "tag:netdiag,2026:problem:invalid_argument");
    assert_string_equal(cJSON_GetObjectItem(body, "title")->valuestring, "Bad Request");
    assert_int_equal(cJSON_GetObjectItem(body, "status")->valueint, 400);
    assert_string_equal(cJSON_GetObjectItem(body, "param")->valuestring, "value");
    assert_string_equal(cJSON_GetObjectItem(body, "instance")->valuestring, "/byteorder");
    assert_string_equal(cJSON_GetObjectItem(body, "hint")->valuestring, "try 1234");
    cJSON_Delete(body);
}

static void test_render_sanitizes_client_text(void **state)
{
    (void)state;
    struct nd_problem problem = {.status = 400, .code = "invalid_argument", .param = "ip"};
    /* Invalid UTF-8, a control byte, an overlong '/' and a valid "é". */
    strcpy(problem.detail, "'\xff\xfe' bad\x01 \xc0\xaf ok \xc3\xa9");
    cJSON *body = nd_problem_render(&problem, NULL);
    assert_string_equal(cJSON_GetObjectItem(body, "detail")->valuestring,
                        "'?\?' bad? ?\? ok \xc3\xa9");
    assert_null(cJSON_GetObjectItem(body, "instance"));
    cJSON_Delete(body);
}

static void test_titles(void **state)
{
    (void)state;
    assert_string_equal(nd_problem_title(404), "Not Found");
    assert_string_equal(nd_problem_title(405), "Method Not Allowed");
    assert_string_equal(nd_problem_title(599), "Error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_render_members),
        cmocka_unit_test(test_render_sanitizes_client_text),
        cmocka_unit_test(test_titles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
