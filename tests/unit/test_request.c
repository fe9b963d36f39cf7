/* src/http/request.c: whatever allocation fails while an answer is built,
 * the client gets either the whole answer or a 503, never a 200 with members
 * missing. Every allocation of a real handler's answer is made to fail in
 * turn. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "http/json_arena.h"
#include "http/request.h"
#include "http/routes.h"

static int install(void **state)
{
    (void)state;
    return nd_json_arena_install() ? 0 : -1;
}

struct outcome {
    unsigned status;
    uint64_t bytes;
    bool injected; /* the allocation meant to fail came */
};

/* Runs target through the query parser and its handler, as the server does,
 * with the allocation after the first fail_after ones failing. */
static struct outcome run(const char *target, long fail_after)
{
    size_t length = strlen(target);
    struct nd_request *request = calloc(1, sizeof *request + length + 1);
    assert_non_null(request);
    memcpy(request->target, target, length + 1);
    request->target_length = length;
    const char *question = strchr(request->target, '?');
    request->path = request->target;
    request->path_length = question ? (size_t)(question - request->target) : length;
    request->method = "GET";
    request->route =
        nd_route_find(nd_routes, nd_routes_count, request->target, request->path_length);
    assert_non_null(request->route);
    const char *query = question ? question + 1 : "";
    char bad_name[72];
    assert_int_equal(
        nd_query_parse(query, strlen(query), &request->query, bad_name, sizeof bad_name),
        ND_QUERY_OK);
    nd_json_arena_begin();
    nd_json_arena_fail_after(fail_after);
    request->route->handler(request);
    nd_json_arena_fail_after(-1);
    bool injected = nd_json_arena_failed();
    nd_json_arena_end();
    assert_true(request->answered);
    struct outcome outcome = {
        .status = request->status, .bytes = request->body_bytes, .injected = injected};
    if (request->response)
        MHD_destroy_response(request->response);
    nd_query_free(&request->query);
    free(request);
    return outcome;
}

static void test_every_failed_allocation_is_a_503(void **state)
{
    (void)state;
    static const char *const targets[] = {
        "/byteorder?value=1234",         "/convert?ip=127.0.0.1&ip=::1&ip=192.168.0.111",
        "/service?port=80&protocol=tcp", "/sockopts?sndbuf=4096&nodelay=1&timeout=0.5",
        "/byteorder?value=abc", /* a problem answer is built from JSON too */
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct outcome whole = run(targets[i], -1);
        assert_true(whole.bytes > 0);
        long failures = 0;
        for (long fail_after = 0;; fail_after++) {
            struct outcome outcome = run(targets[i], fail_after);
            if (!outcome.injected)
                break; /* past the answer's last allocation */
            if (outcome.status == whole.status && outcome.bytes == whole.bytes)
                continue;
            if (outcome.status != 503)
                fail_msg("%s, failing after %ld allocations: status %u with %llu bytes "
                         "(whole: %u with %llu)",
                         targets[i], fail_after, outcome.status, (unsigned long long)outcome.bytes,
                         whole.status, (unsigned long long)whole.bytes);
            failures++;
        }
        assert_true(failures > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_failed_allocation_is_a_503),
    };
    return cmocka_run_group_tests(tests, install, NULL);
}
