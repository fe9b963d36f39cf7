/* src/http/routes.c: the route table against openapi/openapi.yaml (embedded
 * at build time as JSON): the same paths, methods and query parameters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http/routes.h"

extern const unsigned char nd_openapi_json[];
extern const size_t nd_openapi_json_length;

static cJSON *document;

static int load_document(void **state)
{
    (void)state;
    document = cJSON_ParseWithLength((const char *)nd_openapi_json, nd_openapi_json_length);
    return document ? 0 : -1;
}

static int free_document(void **state)
{
    (void)state;
    cJSON_Delete(document);
    return 0;
}

static void document_path(const struct nd_route *route, char *out, size_t size)
{
    snprintf(out, size, route->prefix ? "%s{file}" : "%s", route->path);
}

/* A parameter object, following a $ref into components/parameters. */
static const cJSON *resolve_parameter(const cJSON *parameter)
{
    const cJSON *reference = cJSON_GetObjectItemCaseSensitive(parameter, "$ref");
    if (!cJSON_IsString(reference))
        return parameter;
    static const char prefix[] = "#/components/parameters/";
    assert_int_equal(strncmp(reference->valuestring, prefix, sizeof prefix - 1), 0);
    const cJSON *components = cJSON_GetObjectItemCaseSensitive(document, "components");
    const cJSON *parameters = cJSON_GetObjectItemCaseSensitive(components, "parameters");
    const cJSON *target =
        cJSON_GetObjectItemCaseSensitive(parameters, reference->valuestring + sizeof prefix - 1);
    assert_non_null(target);
    return target;
}

static bool route_accepts(const struct nd_route *route, const char *name)
{
    if (strcmp(name, "pretty") == 0)
        return true;
    for (size_t i = 0; route->params && route->params[i]; i++) {
        if (strcmp(route->params[i], name) == 0)
            return true;
    }
    return false;
}

static void test_every_route_is_documented(void **state)
{
    (void)state;
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(document, "paths");
    assert_non_null(paths);
    for (size_t i = 0; i < nd_routes_count; i++) {
        const struct nd_route *route = &nd_routes[i];
        char path[128];
        document_path(route, path, sizeof path);
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, path);
        if (!item)
            fail_msg("route %s is missing from openapi.yaml", path);
        const cJSON *operation = cJSON_GetObjectItemCaseSensitive(item, "get");
        if (!operation)
            fail_msg("openapi.yaml has no GET for %s", path);

        /* The query parameters, both ways. */
        size_t documented = 0;
        const cJSON *parameter;
        cJSON_ArrayForEach(parameter, cJSON_GetObjectItemCaseSensitive(operation, "parameters"))
        {
            const cJSON *resolved = resolve_parameter(parameter);
            const char *in = cJSON_GetObjectItemCaseSensitive(resolved, "in")->valuestring;
            const char *name = cJSON_GetObjectItemCaseSensitive(resolved, "name")->valuestring;
            if (strcmp(in, "query") != 0)
                continue;
            if (!route_accepts(route, name))
                fail_msg("openapi.yaml documents ?%s for %s, which the server rejects", name, path);
            documented++;
        }
        size_t accepted = 0;
        for (size_t j = 0; route->params && route->params[j]; j++)
            accepted++;
        /* "pretty" is accepted everywhere; the document may or may not list it
         * on routes that answer other than JSON. */
        if (documented != accepted && documented != accepted + 1)
            fail_msg("%s: the server accepts %zu parameters (+pretty), openapi.yaml lists %zu",
                     path, accepted, documented);
    }
}

static void test_every_documented_path_is_served(void **state)
{
    (void)state;
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(document, "paths"))
    {
        bool served = false;
        for (size_t i = 0; i < nd_routes_count && !served; i++) {
            char path[128];
            document_path(&nd_routes[i], path, sizeof path);
            served = strcmp(path, item->string) == 0;
        }
        if (!served)
            fail_msg("openapi.yaml documents %s, which the server does not serve", item->string);
        const cJSON *method;
        cJSON_ArrayForEach(method, item)
        {
            bool allowed = strcmp(method->string, "get") == 0 ||
                           strcmp(method->string, "parameters") == 0 ||
                           strcmp(method->string, "summary") == 0 ||
                           strcmp(method->string, "description") == 0;
            if (!allowed)
                fail_msg("openapi.yaml documents %s %s; the server answers GET only",
                         method->string, item->string);
        }
    }
}

static void test_lookup(void **state)
{
    (void)state;
    assert_string_equal(nd_route_find(nd_routes, nd_routes_count, "/byteorder", 10)->path,
                        "/byteorder");
    assert_null(nd_route_find(nd_routes, nd_routes_count, "/byteorde", 9));
    assert_null(nd_route_find(nd_routes, nd_routes_count, "/byteorderx", 11));
    assert_string_equal(nd_route_find(nd_routes, nd_routes_count, "/docs/", 6)->path,
                        "/docs/"); /* redirects to /docs */
    assert_non_null(nd_route_find(nd_routes, nd_routes_count, "/docs/swagger-ui.css", 20));
    assert_string_equal(nd_route_find(nd_routes, nd_routes_count, "/docs", 5)->path, "/docs");
}

/* Each handler with settings finds its own on its route; the rest none. */
static void test_build_gives_each_route_its_settings(void **state)
{
    (void)state;
    struct nd_route_settings settings = {
        .sntp = {.default_server = "time.test"},
        .docs = {.directory = "/usr/share/netdiag/swagger-ui"},
    };
    struct nd_route routes[ND_ROUTES_MAX];
    nd_routes_build(&settings, routes);
    static const struct {
        const char *path;
        size_t offset; /* of the expected context in settings; SIZE_MAX = none */
    } expected[] = {
        {"/time/sntp", offsetof(struct nd_route_settings, sntp)},
        {"/docs", offsetof(struct nd_route_settings, docs)},
        {"/docs/swagger-ui.css", offsetof(struct nd_route_settings, docs)},
        {"/readyz", offsetof(struct nd_route_settings, modules)},
        {"/metrics", offsetof(struct nd_route_settings, modules)},
        {"/connect", offsetof(struct nd_route_settings, connect)},
        {"/dns", offsetof(struct nd_route_settings, dns)},
        {"/fleet", offsetof(struct nd_route_settings, fleet)},
        {"/healthz", offsetof(struct nd_route_settings, fleet)},
        {"/byteorder", SIZE_MAX},
        {"/fleet.html", SIZE_MAX},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const struct nd_route *route =
            nd_route_find(routes, nd_routes_count, expected[i].path, strlen(expected[i].path));
        assert_non_null(route);
        const void *context =
            expected[i].offset == SIZE_MAX ? NULL : (const char *)&settings + expected[i].offset;
        assert_ptr_equal(route->context, context);
    }
    for (size_t i = 0; i < nd_routes_count; i++) {
        assert_int_equal(routes[i].index, i);
        assert_string_equal(routes[i].path, nd_routes[i].path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_gives_each_route_its_settings),
        cmocka_unit_test(test_every_route_is_documented),
        cmocka_unit_test(test_every_documented_path_is_served),
        cmocka_unit_test(test_lookup),
    };
    return cmocka_run_group_tests(tests, load_document, free_document);
}
