/* Each local endpoint's parameter parsing and validation, as the server runs
 * it: "PATH?QUERY" through the query parser, the route table and the
 * handler. Handlers that defer to the network or read server state are left
 * to the integration tests. */
#include <microhttpd.h>
#include <string.h>

#include "fuzz.h"
#include "http/request.h"
#include "http/routes.h"

static bool fuzzable(const char *path)
{
    static const char *const paths[] = {"/byteorder", "/convert", "/service", "/sockopts"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (strcmp(path, paths[i]) == 0)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nd_request *request = calloc(1, sizeof *request + size + 1);
    if (!request)
        abort();
    memcpy(request->target, data, size);
    request->target[size] = '\0';
    size_t length = strlen(request->target);
    const char *question = memchr(request->target, '?', length);
    request->path = request->target;
    request->path_length = question ? (size_t)(question - request->target) : length;
    request->method = "GET";
    const struct nd_route *route =
        nd_route_find(nd_routes, nd_routes_count, request->target, request->path_length);
    if (route && fuzzable(route->path)) {
        const char *query = question ? question + 1 : "";
        char bad_name[72];
        if (nd_query_parse(query, strlen(query), &request->query, bad_name, sizeof bad_name) ==
            ND_QUERY_OK) {
            request->route = route;
            route->handler(request);
            if (!request->answered)
                abort(); /* every request gets an answer */
        }
        nd_query_free(&request->query);
    }
    if (request->response)
        MHD_destroy_response(request->response);
    free(request);
    return 0;
}
