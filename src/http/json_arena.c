#include "http/json_arena.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define ND_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ND_ASAN 1
#endif
#endif

#ifdef ND_ASAN
#include <sanitizer/asan_interface.h>
/* Unused arena memory stays poisoned, so AddressSanitizer still reports a
 * read past a node or a use after nd_json_arena_end. */
#define POISON(address, size) ASAN_POISON_MEMORY_REGION(address, size)
#define UNPOISON(address, size) ASAN_UNPOISON_MEMORY_REGION(address, size)
#else
#define POISON(address, size) ((void)(address), (void)(size))
#define UNPOISON(address, size) ((void)(address), (void)(size))
#endif

enum { ALIGNMENT = 16, NO_SLOT = -1, UNCLAIMED = -2 };

/* One reservation holds every thread's block, so that free can tell arena
 * memory from malloc's by its address alone, whichever thread frees it. */
static char *region;
static atomic_int next_slot;

struct arena {
    int slot; /* UNCLAIMED until the thread's first begin */
    unsigned depth;
    size_t used;
    bool failed;         /* an allocation failed since the outermost begin */
    long failures_after; /* tests: allocations left before one fails; < 0 = none */
};

static _Thread_local struct arena arena = {.slot = UNCLAIMED, .failures_after = -1};

static char *block_of(int slot)
{
    return region + (size_t)slot * ND_JSON_ARENA_SIZE;
}

static bool in_region(const void *pointer)
{
    uintptr_t address = (uintptr_t)pointer, start = (uintptr_t)region;
    return region && address >= start &&
           address - start < (size_t)ND_JSON_ARENA_SIZE * ND_JSON_ARENA_THREADS;
}

static void *arena_allocate(size_t size)
{
    if (arena.failures_after >= 0 && arena.failures_after-- == 0) {
        arena.failed = true;
        return NULL;
    }
    if (arena.depth > 0 && arena.slot >= 0) {
        size_t rounded = (size + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1);
        if (rounded >= size && rounded <= ND_JSON_ARENA_SIZE - arena.used) {
            char *pointer = block_of(arena.slot) + arena.used;
            arena.used += rounded;
            UNPOISON(pointer, size);
            return pointer;
        }
    }
    void *pointer = malloc(size);
    if (!pointer)
        arena.failed = true;
    return pointer;
}

/* Arena memory is released by nd_json_arena_end, not one node at a time. */
static void arena_release(void *pointer)
{
    if (!in_region(pointer))
        free(pointer);
}

bool nd_json_arena_install(void)
{
    cJSON_Hooks hooks = {.malloc_fn = arena_allocate, .free_fn = arena_release};
    void *reserved =
        mmap(NULL, (size_t)ND_JSON_ARENA_SIZE * ND_JSON_ARENA_THREADS, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserved != MAP_FAILED) {
        region = reserved;
        POISON(region, (size_t)ND_JSON_ARENA_SIZE * ND_JSON_ARENA_THREADS);
    }
    cJSON_InitHooks(&hooks);
    return reserved != MAP_FAILED;
}

void nd_json_arena_begin(void)
{
    if (arena.depth == 0)
        arena.failed = false;
    if (!region) {
        arena.depth++;
        return;
    }
    if (arena.slot == UNCLAIMED) {
        int slot = atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed);
        arena.slot = slot < ND_JSON_ARENA_THREADS ? slot : NO_SLOT;
    }
    arena.depth++;
}

void nd_json_arena_end(void)
{
    if (arena.depth == 0 || --arena.depth > 0)
        return;
    if (arena.slot >= 0)
        POISON(block_of(arena.slot), arena.used);
    arena.used = 0;
}

bool nd_json_arena_failed(void)
{
    return arena.failed;
}

size_t nd_json_arena_used(void)
{
    return arena.used;
}

void nd_json_arena_fail_after(long count)
{
    arena.failures_after = count;
}
