/*
 * An intrusive doubly-linked list: the node lives inside the element, so
 * joining a list allocates nothing, and an element leaves it in constant
 * time from wherever it is. The request deadline's watches, the deferred
 * jobs, the echo's connections (least recently active first) and the
 * handshakes waiting for the trust store all keep one. Not thread-safe: the
 * owner's lock or loop guards it.
 */
#ifndef NETDIAG_LIST_H
#define NETDIAG_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct nd_list_node {
    struct nd_list_node *previous, *next;
};

struct nd_list {
    struct nd_list_node *first, *last;
};

/* The element that holds node, as its member. */
#define ND_LIST_ENTRY(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

/* A node starts zeroed: in no list. */

/* node, in no list, joins the end of list. */
void nd_list_append(struct nd_list *list, struct nd_list_node *node);

/* True when node is in list (node is in list or in none). */
bool nd_list_contains(const struct nd_list *list, const struct nd_list_node *node);

/* node leaves list; nothing happens when it is in none (node is in list or
 * in none). */
void nd_list_remove(struct nd_list *list, struct nd_list_node *node);

#endif
