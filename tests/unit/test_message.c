/* src/http/message.c: request-target forms and the Host and body-framing
 * rules of RFC 9112, table-driven. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "http/message.h"

struct target_case {
    const char *target;
    bool valid;
    enum nd_target_form form;
    const char *path;
    const char *query; /* NULL: none */
};

static void test_target_forms(void **state)
{
    (void)state;
    static const struct target_case cases[] = {
        {"/byteorder?value=1", true, ND_TARGET_ORIGIN, "/byteorder", "value=1"},
        {"/healthz", true, ND_TARGET_ORIGIN, "/healthz", NULL},
        {"/a?", true, ND_TARGET_ORIGIN, "/a", ""},
        /* RFC 9112 3.2.2: a server MUST accept the absolute form. */
        {"http://x/byteorder?value=1", true, ND_TARGET_ABSOLUTE, "/byteorder", "value=1"},
        {"HTTP://example.com:8080/healthz", true, ND_TARGET_ABSOLUTE, "/healthz", NULL},
        {"https://x", true, ND_TARGET_ABSOLUTE, "/", NULL},
        {"http://x?a=1", true, ND_TARGET_ABSOLUTE, "/", "a=1"},
        {"*", true, ND_TARGET_ASTERISK, "*", NULL},
        {"http:///path", false, ND_TARGET_ORIGIN, NULL, NULL},
        {"ftp://x/a", false, ND_TARGET_ORIGIN, NULL, NULL},
        {"example.com:80", false, ND_TARGET_ORIGIN, NULL, NULL}, /* authority form: CONNECT */
        {"healthz", false, ND_TARGET_ORIGIN, NULL, NULL},
        {"", false, ND_TARGET_ORIGIN, NULL, NULL},
        {"/a b", false, ND_TARGET_ORIGIN, NULL, NULL},
        {"/a\tb", false, ND_TARGET_ORIGIN, NULL, NULL},
        {"/a\x7f", false, ND_TARGET_ORIGIN, NULL, NULL},
        {"/byteorder?value=1\xff", false, ND_TARGET_ORIGIN, NULL, NULL},
        {"/caf\xc3\xa9", false, ND_TARGET_ORIGIN, NULL, NULL}, /* UTF-8 must be %-encoded */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct target_case *c = &cases[i];
        struct nd_target target;
        char detail[ND_MESSAGE_DETAIL_MAX] = "";
        bool valid = nd_target_parse(c->target, strlen(c->target), &target, detail, sizeof detail);
        if (valid != c->valid)
            fail_msg("'%s': expected %s", c->target, c->valid ? "valid" : "invalid");
        if (!valid) {
            assert_true(strlen(detail) > 0);
            continue;
        }
        assert_int_equal(target.form, c->form);
        assert_int_equal(target.path_length, strlen(c->path));
        assert_memory_equal(target.path, c->path, target.path_length);
        if (c->query) {
            assert_non_null(target.query);
            assert_int_equal(target.query_length, strlen(c->query));
            assert_memory_equal(target.query, c->query, target.query_length);
        } else {
            assert_null(target.query);
        }
    }
    /* A NUL inside the given length is refused, not taken as the end. */
    struct nd_target target;
    char detail[ND_MESSAGE_DETAIL_MAX];
    assert_false(nd_target_parse("/a\0b", 4, &target, detail, sizeof detail));
}

struct message_case {
    const char *fields[8]; /* "Name", "value" pairs, NULL-terminated */
    bool http11;
    enum nd_message_verdict verdict;
};

static void test_message_rules(void **state)
{
    (void)state;
    static const struct message_case cases[] = {
        {{"Host", "x", NULL}, true, ND_MESSAGE_OK},
        {{"host", "127.0.0.1:8080", NULL}, true, ND_MESSAGE_OK},
        {{"Host", "[::1]:8080", NULL}, true, ND_MESSAGE_OK},
        {{"Host", "", NULL}, true, ND_MESSAGE_OK}, /* RFC 9112 3.2: empty is allowed */
        /* Trailing whitespace is not part of a value (0.9.75 leaves it in). */
        {{"Host", "x \t ", NULL}, true, ND_MESSAGE_OK},
        {{"Host", "x", "Content-Length", "5 ", NULL}, true, ND_MESSAGE_BODY},
        {{"Host", "x", "Content-Length", "0\t", NULL}, true, ND_MESSAGE_OK},
        /* RFC 9112 3.2: 400 without Host in HTTP/1.1, with two, or a bad one. */
        {{NULL}, true, ND_MESSAGE_INVALID},
        {{NULL}, false, ND_MESSAGE_OK},
        {{"Host", "x", "Host", "y", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "Host", "x", NULL}, false, ND_MESSAGE_INVALID},
        {{"Host", "a b", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x/y", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "user@x", NULL}, true, ND_MESSAGE_INVALID},
        /* RFC 9110 5.1: a field name is a token ("Host : x" arrives as "Host "). */
        {{"Host ", "x", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "X Y", "1", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "", "1", NULL}, true, ND_MESSAGE_INVALID},
        /* RFC 9112 6.3: framing that two readers could read two ways. */
        {{"Host", "x", "Content-Length", "0", NULL}, true, ND_MESSAGE_OK},
        {{"Host", "x", "Content-Length", "000", NULL}, true, ND_MESSAGE_OK},
        {{"Host", "x", "Content-Length", "5", NULL}, true, ND_MESSAGE_BODY},
        {{"Host", "x", "Content-Length", "99999999999999999999", NULL}, true, ND_MESSAGE_BODY},
        {{"Host", "x", "Content-Length", "0", "Content-Length", "44", NULL},
         true,
         ND_MESSAGE_INVALID},
        {{"Host", "x", "Content-Length", "5", "Content-Length", "5", NULL},
         true,
         ND_MESSAGE_INVALID},
        {{"Host", "x", "Content-Length", "abc", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "Content-Length", "-1", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "Content-Length", "0, 5", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "Content-Length", "+5", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "Content-Length", "", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "Transfer-Encoding", "chunked", NULL}, true, ND_MESSAGE_BODY},
        {{"Host", "x", "Transfer-Encoding", "gzip, chunked", NULL}, true, ND_MESSAGE_BODY},
        {{"Host", "x", "transfer-encoding", "CHUNKED", NULL}, true, ND_MESSAGE_BODY},
        {{"Host", "x", "Transfer-Encoding", "gzip", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "Transfer-Encoding", "chunked, gzip", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "Transfer-Encoding", "chunked, chunked", NULL}, true, ND_MESSAGE_INVALID},
        {{"Host", "x", "Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked", NULL},
         true,
         ND_MESSAGE_INVALID},
        {{"Host", "x", "Transfer-Encoding", "chunked", "Content-Length", "0", NULL},
         true,
         ND_MESSAGE_INVALID},
        {{"Host", "x", "Transfer-Encoding", "chunked", NULL}, false, ND_MESSAGE_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_message message = {0};
        for (size_t f = 0; cases[i].fields[f]; f += 2)
            nd_message_add_field(&message, cases[i].fields[f], cases[i].fields[f + 1]);
        char detail[ND_MESSAGE_DETAIL_MAX] = "";
        enum nd_message_verdict verdict =
            nd_message_check(&message, cases[i].http11, detail, sizeof detail);
        if (verdict != cases[i].verdict)
            fail_msg("case %zu (%s: %s ...): verdict %d, expected %d (%s)", i,
                     cases[i].fields[0] ? cases[i].fields[0] : "-",
                     cases[i].fields[0] ? cases[i].fields[1] : "-", verdict, cases[i].verdict,
                     detail);
        if (verdict == ND_MESSAGE_INVALID)
            assert_true(strlen(detail) > 0);
    }
}

static void test_fields_netdiag_reads(void **state)
{
    (void)state;
    struct nd_message message = {0};
    nd_message_add_field(&message, "x-request-id", "abc");
    nd_message_add_field(&message, "AUTHORIZATION", "bearer t");
    nd_message_add_field(&message, "Access-Control-Request-Headers", "X-Request-Id");
    nd_message_add_field(&message, "Accept", "*/*");
    assert_int_equal(message.fields, 4);
    assert_string_equal(message.request_id, "abc");
    assert_string_equal(message.authorization, "bearer t");
    assert_string_equal(message.cors_request_headers, "X-Request-Id");
    assert_null(message.bad_name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_forms),
        cmocka_unit_test(test_message_rules),
        cmocka_unit_test(test_fields_netdiag_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
