#include "netdiag/list.h"

void nd_list_append(struct nd_list *list, struct nd_list_node *node)
{
    node->next = NULL;
    node->previous = list->last;
    if (list->last)
        list->last->next = node;
    else
        list->first = node;
    list->last = node;
}

bool nd_list_contains(const struct nd_list *list, const struct nd_list_node *node)
{
    return node->previous != NULL || list->first == node;
}

void nd_list_remove(struct nd_list *list, struct nd_list_node *node)
{
    if (!nd_list_contains(list, node))
        return;
    if (node->previous)
        node->previous->next = node->next;
    else
        list->first = node->next;
    if (node->next)
        node->next->previous = node->previous;
    else
        list->last = node->previous;
    node->previous = node->next = NULL;
}
