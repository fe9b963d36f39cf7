/* src/http/query.c: strict query-string parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "http/query.h"

static enum nd_query_status parse(const char *raw, struct nd_query *query, char *bad, size_t size)
{
    return nd_query_parse(raw, raw ? strlen(raw) : 0, query, bad, size);
}

static void test_decodes_pairs_in_order(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        size_t count;
        const char *pairs[6][2];
    } cases[] = {
        {"ip=127.0.0.1&ip=192.168.0.111", 2, {{"ip", "127.0.0.1"}, {"ip", "192.168.0.111"}}},
        {"value=1234", 1, {{"value", "1234"}}},
        {"a=%41%62+c&b", 2, {{"a", "Ab c"}, {"b", ""}}},
        {"a=&&b=2&", 2, {{"a", ""}, {"b", "2"}}},
        {"x=a%3Db%26c", 1, {{"x", "a=b&c"}}},
        {"%70retty=1", 1, {{"pretty", "1"}}},
        {"", 0, {{NULL, NULL}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_query query;
        assert_int_equal(parse(cases[i].raw, &query, NULL, 0), ND_QUERY_OK);
        assert_int_equal(query.count, cases[i].count);
        for (size_t j = 0; j < cases[i].count; j++) {
            assert_string_equal(query.params[j].name, cases[i].pairs[j][0]);
            assert_string_equal(query.params[j].value, cases[i].pairs[j][1]);
        }
        nd_query_free(&query);
    }
}

static void test_rejects_bad_input(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        enum nd_query_status status;
        const char *bad_name;
    } cases[] = {
        {"value=12%zz", ND_QUERY_BAD_ESCAPE, "value"}, {"value=1%4", ND_QUERY_BAD_ESCAPE, "value"},
        {"value=1%", ND_QUERY_BAD_ESCAPE, "value"},    {"value=1%00", ND_QUERY_NUL_BYTE, "value"},
        {"na%00me=1", ND_QUERY_NUL_BYTE, "na%00me"},   {"=1", ND_QUERY_EMPTY_NAME, "=1"},
        {"a=1&=2", ND_QUERY_EMPTY_NAME, "=2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_query query;
        char bad[72];
        assert_int_equal(parse(cases[i].raw, &query, bad, sizeof bad), cases[i].status);
        assert_string_equal(bad, cases[i].bad_name);
        nd_query_free(&query);
    }
}

static void test_raw_nul_is_refused(void **state)
{
    (void)state;
    /* Found by fuzz_query: a raw NUL made an empty name out of "\0a=1". */
    static const char raw[] = "\0\0valueue=1234=1234";
    struct nd_query query;
    assert_int_equal(nd_query_parse(raw, sizeof raw - 1, &query, NULL, 0), ND_QUERY_NUL_BYTE);
    nd_query_free(&query);
}

static void test_parameter_count_is_bounded(void **state)
{
    (void)state;
    char raw[4 * (ND_QUERY_MAX_PARAMS + 1) + 1] = "";
    for (int i = 0; i <= ND_QUERY_MAX_PARAMS; i++)
        strcat(raw, "a=1&");
    struct nd_query query;
    assert_int_equal(parse(raw, &query, NULL, 0), ND_QUERY_TOO_MANY);
    nd_query_free(&query);
    raw[strlen(raw) - 4] = '\0';
    assert_int_equal(parse(raw, &query, NULL, 0), ND_QUERY_OK);
    assert_int_equal(query.count, ND_QUERY_MAX_PARAMS);
    nd_query_free(&query);
}

static void test_worst_case_storage(void **state)
{
    (void)state;
    /* Single-letter names without values use the most storage per raw byte. */
    struct nd_query query;
    assert_int_equal(parse("a&b&c&d&e&f&g", &query, NULL, 0), ND_QUERY_OK);
    assert_int_equal(query.count, 7);
    assert_string_equal(query.params[6].name, "g");
    assert_string_equal(query.params[6].value, "");
    nd_query_free(&query);
}

static void test_status_text(void **state)
{
    (void)state;
    assert_non_null(strstr(nd_query_status_text(ND_QUERY_NUL_BYTE), "NUL"));
    assert_non_null(strstr(nd_query_status_text(ND_QUERY_BAD_ESCAPE), "percent"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes_pairs_in_order),
        cmocka_unit_test(test_rejects_bad_input),
        cmocka_unit_test(test_raw_nul_is_refused),
        cmocka_unit_test(test_parameter_count_is_bounded),
        cmocka_unit_test(test_worst_case_storage),
        cmocka_unit_test(test_status_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
