/*
 * Where cJSON gets its memory. A response tree is built, printed and freed
 * within one call of the request handler, on one thread; malloc and free for
 * each of its dozens of nodes and strings were a fifth of the cost of a fast
 * request. Between nd_json_arena_begin and nd_json_arena_end, a thread's
 * cJSON allocations come from its own block and are all released at once
 * by end; outside that, and when the block is full, cJSON uses malloc.
 */
#ifndef NETDIAG_HTTP_JSON_ARENA_H
#define NETDIAG_HTTP_JSON_ARENA_H

#include <stdbool.h>
#include <stddef.h>

enum {
    /* Enough for every answer but the largest /resolve and /hostinfo ones,
     * whose overflow simply goes to malloc. */
    ND_JSON_ARENA_SIZE = 32 * 1024,
    /* Threads that may hold a block; later ones use malloc throughout. */
    ND_JSON_ARENA_THREADS = 256,
};

/* Points cJSON at the arena's allocator. Once, before any cJSON call and
 * before threads start. False when the blocks' address space cannot be
 * reserved: cJSON then allocates with malloc throughout (its failures still
 * counted), and begin and end do nothing more. */
bool nd_json_arena_install(void);

/* Everything cJSON allocates on this thread until end comes from its block.
 * Nothing so allocated may be used after end. */
void nd_json_arena_begin(void);
void nd_json_arena_end(void);

/* True when an allocation cJSON asked for on this thread failed since the
 * outermost begin: a tree built meanwhile may lack members, since cJSON's
 * adders drop what they could not allocate, so it must not be sent. */
bool nd_json_arena_failed(void);

/* Bytes of the calling thread's block in use now (for tests). */
size_t nd_json_arena_used(void);

/* For tests: the allocation that comes after count more on this thread
 * fails, that one alone, as when memory runs short for a moment; a negative
 * count turns this off. */
void nd_json_arena_fail_after(long count);

#endif
