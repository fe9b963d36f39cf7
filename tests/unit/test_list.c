/* src/core/list.c: appending keeps the order, an element leaves from the
 * front, the middle or the end, removing one in no list does nothing, and
 * ND_LIST_ENTRY finds the element from its node. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "netdiag/list.h"

struct element {
    int value;
    struct nd_list_node node;
};

/* The values in the list, first to last, checked against the links back. */
static void assert_order(const struct nd_list *list, const int *expected, size_t count)
{
    size_t seen = 0;
    const struct nd_list_node *previous = NULL;
    for (const struct nd_list_node *node = list->first; node; node = node->next) {
        assert_true(seen < count);
        assert_ptr_equal(node->previous, previous);
        assert_int_equal(ND_LIST_ENTRY(node, struct element, node)->value, expected[seen]);
        previous = node;
        seen++;
    }
    assert_int_equal(seen, count);
    assert_ptr_equal(list->last, previous);
}

static void test_append_and_remove(void **state)
{
    (void)state;
    struct nd_list list = {0};
    struct element elements[4] = {{.value = 0}, {.value = 1}, {.value = 2}, {.value = 3}};
    assert_order(&list, NULL, 0);
    for (size_t i = 0; i < 4; i++) {
        assert_false(nd_list_contains(&list, &elements[i].node));
        nd_list_append(&list, &elements[i].node);
        assert_true(nd_list_contains(&list, &elements[i].node));
    }
    assert_order(&list, (const int[]){0, 1, 2, 3}, 4);

    nd_list_remove(&list, &elements[1].node); /* the middle */
    assert_false(nd_list_contains(&list, &elements[1].node));
    assert_order(&list, (const int[]){0, 2, 3}, 3);
    nd_list_remove(&list, &elements[1].node); /* again: in no list now */
    assert_order(&list, (const int[]){0, 2, 3}, 3);

    nd_list_remove(&list, &elements[0].node); /* the first */
    assert_order(&list, (const int[]){2, 3}, 2);
    nd_list_remove(&list, &elements[3].node); /* the last */
    assert_order(&list, (const int[]){2}, 1);

    nd_list_append(&list, &elements[1].node); /* a removed one joins again, at the end */
    assert_order(&list, (const int[]){2, 1}, 2);
    nd_list_remove(&list, &elements[2].node);
    nd_list_remove(&list, &elements[1].node);
    assert_order(&list, NULL, 0);
    assert_null(list.first);
}

static void test_only_element(void **state)
{
    (void)state;
    struct nd_list list = {0};
    struct element only = {.value = 7};
    nd_list_append(&list, &only.node);
    /* The first node has no previous: it is known to be in the list by
     * being its first. */
    assert_null(only.node.previous);
    assert_true(nd_list_contains(&list, &only.node));
    nd_list_remove(&list, &only.node);
    assert_null(list.first);
    assert_null(list.last);
    assert_false(nd_list_contains(&list, &only.node));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_remove),
        cmocka_unit_test(test_only_element),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
