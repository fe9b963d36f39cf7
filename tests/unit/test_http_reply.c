/* src/core/http_reply.c: the head of an HTTP/1.x response. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "netdiag/http_reply.h"

static enum nd_err parse(const char *text, struct nd_http_reply *reply, struct nd_error *error)
{
    return nd_http_reply_parse((const uint8_t *)text, strlen(text), reply, error);
}

/* Recipe 7's request against a real server answers like this. */
static void test_whole_head(void **state)
{
    (void)state;
    static const char reply_text[] = "HTTP/1.0 200 OK\r\n"
                                     "Content-Type: application/json\r\n"
                                     "X-Request-Id:   abc  \r\n"
                                     "\r\n"
                                     "{\"status\":\"ok\"}\n";
    struct nd_http_reply reply;
    struct nd_error error;
    assert_int_equal(parse(reply_text, &reply, &error), ND_OK);
    assert_true(reply.head_complete);
    assert_string_equal(reply.version, "HTTP/1.0");
    assert_int_equal(reply.status, 200);
    assert_string_equal(reply.reason, "OK");
    assert_int_equal(reply.field_count, 2);
    assert_string_equal(reply.fields[0].name, "Content-Type");
    assert_string_equal(reply.fields[0].value, "application/json");
    assert_string_equal(reply.fields[1].value, "abc");
    assert_string_equal(reply_text + reply.body_offset, "{\"status\":\"ok\"}\n");
}

static void test_line_ends_and_folding(void **state)
{
    (void)state;
    struct nd_http_reply reply;
    struct nd_error error;
    /* Bare LF (RFC 9112 section 2.2), an empty reason, and obs-fold (5.2). */
    assert_int_equal(parse("HTTP/1.1 204\nA: one\n  two\nB:\n\nrest", &reply, &error), ND_OK);
    assert_true(reply.head_complete);
    assert_int_equal(reply.status, 204);
    assert_string_equal(reply.reason, "");
    assert_int_equal(reply.field_count, 2);
    assert_string_equal(reply.fields[0].value, "one two");
    assert_string_equal(reply.fields[1].value, "");
    assert_int_equal(reply.body_offset, strlen("HTTP/1.1 204\nA: one\n  two\nB:\n\n"));
}

static void test_cut_short(void **state)
{
    (void)state;
    struct nd_http_reply reply;
    struct nd_error error;
    /* The read limit came first: what arrived is kept. */
    assert_int_equal(
        parse("HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\nServ", &reply, &error), ND_OK);
    assert_false(reply.head_complete);
    assert_int_equal(reply.status, 301);
    assert_int_equal(reply.field_count, 1);
    assert_int_equal(parse("HTT", &reply, &error), ND_OK);
    assert_false(reply.head_complete);
    assert_int_equal(parse("", &reply, &error), ND_OK);
}

static void test_limits(void **state)
{
    (void)state;
    char text[8192];
    size_t used = (size_t)snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < ND_HTTP_REPLY_FIELDS_MAX + 5; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "F%d: %d\r\n", i, i);
    used += (size_t)snprintf(text + used, sizeof text - used, "Long: ");
    memset(text + used, 'v', 600);
    used += 600;
    snprintf(text + used, sizeof text - used, "\r\n\r\n");
    struct nd_http_reply reply;
    struct nd_error error;
    assert_int_equal(parse(text, &reply, &error), ND_OK);
    assert_true(reply.head_complete);
    assert_int_equal(reply.field_count, ND_HTTP_REPLY_FIELDS_MAX);
    assert_int_equal(reply.fields_dropped, 6);

    used = (size_t)snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\nLong: ");
    memset(text + used, 'v', 600);
    snprintf(text + used + 600, sizeof text - used - 600, "\r\n\r\n");
    assert_int_equal(parse(text, &reply, &error), ND_OK);
    assert_true(reply.fields[0].value_cut);
    assert_int_equal(strlen(reply.fields[0].value), ND_HTTP_REPLY_VALUE_MAX - 1);
}

static void test_not_http(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"SSH-2.0-OpenSSH_9.2\r\n", "status line"},
        {"hello", "status line"},
        {"HTTP/1.1 2000 OK\r\n\r\n", "no space after the status code"},
        {"HTTP/1.1 20x OK\r\n\r\n", "three digits"},
        {"HTTP/1.1 099 Low\r\n\r\n", "below 100"},
        {"HTTP/1 200 OK\r\n\r\n", "status line"},
        {"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "NAME: VALUE"},
        {"HTTP/1.1 200 OK\r\nHost : x\r\n\r\n", "white space before its colon"},
        {"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "NAME: VALUE"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_http_reply reply;
        struct nd_error error;
        assert_int_equal(parse(cases[i].text, &reply, &error), ND_ERR_PROTOCOL);
        if (!strstr(error.message, cases[i].message))
            fail_msg("case %zu: '%s' lacks '%s'", i, error.message, cases[i].message);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_head), cmocka_unit_test(test_line_ends_and_folding),
        cmocka_unit_test(test_cut_short),  cmocka_unit_test(test_limits),
        cmocka_unit_test(test_not_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
