#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http/json_arena.h"

static int install(void **state)
{
    (void)state;
    return nd_json_arena_install() ? 0 : -1;
}

static cJSON *build_answer(void)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "input", "1234");
    cJSON_AddNumberToObject(body, "value", 1234);
    cJSON *nested = cJSON_AddObjectToObject(body, "uint16");
    cJSON_AddStringToObject(nested, "host_order_bytes", "d204");
    return body;
}

static void test_allocations_between_begin_and_end_use_the_block(void **state)
{
    (void)state;
    assert_int_equal(nd_json_arena_used(), 0);
    nd_json_arena_begin();
    cJSON *body = build_answer();
    size_t used = nd_json_arena_used();
    assert_true(used >= 4 * sizeof(cJSON));
    char printed[256];
    assert_true(cJSON_PrintPreallocated(body, printed, sizeof printed, false));
    assert_string_equal(
        printed, "{\"input\":\"1234\",\"value\":1234,\"uint16\":{\"host_order_bytes\":\"d204\"}}");
    cJSON_Delete(body);
    /* Freeing a node gives nothing back: end releases the whole block. */
    assert_int_equal(nd_json_arena_used(), used);
    nd_json_arena_end();
    assert_int_equal(nd_json_arena_used(), 0);
}

static void test_nodes_do_not_overlap(void **state)
{
    (void)state;
    nd_json_arena_begin();
    enum { COUNT = 64 };
    char *strings[COUNT];
    for (int i = 0; i < COUNT; i++) {
        strings[i] = cJSON_malloc(24);
        assert_non_null(strings[i]);
        assert_int_equal((uintptr_t)strings[i] % 16, 0);
        memset(strings[i], 'a' + i % 26, 24);
    }
    for (int i = 0; i < COUNT; i++) {
        for (int j = 0; j < 24; j++)
            assert_int_equal(strings[i][j], 'a' + i % 26);
        cJSON_free(strings[i]);
    }
    nd_json_arena_end();
}

/* Outside begin/end cJSON uses malloc; LeakSanitizer would report a node
 * that its free did not release. */
static void test_outside_the_scope_malloc_is_used(void **state)
{
    (void)state;
    cJSON *body = build_answer();
    assert_int_equal(nd_json_arena_used(), 0);
    cJSON_Delete(body);
}

/* What does not fit goes to malloc, and is freed by cJSON_Delete. */
static void test_overflow_goes_to_malloc(void **state)
{
    (void)state;
    char *big = malloc(ND_JSON_ARENA_SIZE + 1);
    assert_non_null(big);
    memset(big, 'x', ND_JSON_ARENA_SIZE);
    big[ND_JSON_ARENA_SIZE] = '\0';
    nd_json_arena_begin();
    cJSON *array = cJSON_CreateArray();
    size_t before = nd_json_arena_used();
    cJSON_AddItemToArray(array, cJSON_CreateString(big));     /* the copy cannot fit */
    cJSON_AddItemToArray(array, cJSON_CreateString("small")); /* this one can */
    assert_true(nd_json_arena_used() > before);
    assert_true(nd_json_arena_used() < ND_JSON_ARENA_SIZE);
    assert_string_equal(cJSON_GetArrayItem(array, 0)->valuestring, big);
    cJSON_Delete(array);
    nd_json_arena_end();
    free(big);
}

static void test_nested_scopes_end_at_the_outer_end(void **state)
{
    (void)state;
    nd_json_arena_begin();
    cJSON *outer = cJSON_CreateObject();
    nd_json_arena_begin();
    cJSON *inner = cJSON_CreateObject();
    nd_json_arena_end();
    assert_true(nd_json_arena_used() >= 2 * sizeof(cJSON));
    cJSON_Delete(inner);
    cJSON_Delete(outer);
    nd_json_arena_end();
    assert_int_equal(nd_json_arena_used(), 0);
    nd_json_arena_end(); /* unbalanced: ignored */
    assert_int_equal(nd_json_arena_used(), 0);
}

struct thread_result {
    uintptr_t first, last;
};

static void *build_on_thread(void *argument)
{
    struct thread_result *result = argument;
    nd_json_arena_begin();
    cJSON *first = cJSON_CreateObject();
    cJSON *last = cJSON_CreateObject();
    result->first = (uintptr_t)first;
    result->last = (uintptr_t)last;
    cJSON_Delete(first);
    cJSON_Delete(last);
    nd_json_arena_end();
    return NULL;
}

/* Each thread has its own block. */
static void test_threads_have_separate_blocks(void **state)
{
    (void)state;
    pthread_t threads[2];
    struct thread_result results[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, build_on_thread, &results[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    uintptr_t distance = results[0].first > results[1].first ? results[0].first - results[1].first
                                                             : results[1].first - results[0].first;
    assert_true(distance >= ND_JSON_ARENA_SIZE);
    assert_true(results[0].last > results[0].first);
    assert_true(results[0].last - results[0].first < ND_JSON_ARENA_SIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocations_between_begin_and_end_use_the_block),
        cmocka_unit_test(test_nodes_do_not_overlap),
        cmocka_unit_test(test_outside_the_scope_malloc_is_used),
        cmocka_unit_test(test_overflow_goes_to_malloc),
        cmocka_unit_test(test_nested_scopes_end_at_the_outer_end),
        cmocka_unit_test(test_threads_have_separate_blocks),
    };
    return cmocka_run_group_tests(tests, install, NULL);
}
