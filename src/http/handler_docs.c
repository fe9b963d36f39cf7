/* /openapi.yaml, /openapi.json and /docs: the contract, and Swagger UI to try it. */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/handlers.h"
#include "http/request.h"
#include "http/routes.h"
#include "http/server.h"

/* Generated at build time from openapi/openapi.yaml (cmake/embed_openapi.py). */
extern const unsigned char nd_openapi_yaml[];
extern const size_t nd_openapi_yaml_length;
extern const unsigned char nd_openapi_json[];
extern const size_t nd_openapi_json_length;
extern const unsigned char nd_openapi_json_pretty[];
extern const size_t nd_openapi_json_pretty_length;

void nd_handle_openapi_yaml(struct nd_request *request)
{
    nd_reply_static(request, 200, "application/yaml", (const char *)nd_openapi_yaml,
                    nd_openapi_yaml_length);
}

/* Compact unless ?pretty=1, like every other JSON answer. */
void nd_handle_openapi_json(struct nd_request *request)
{
    if (request->pretty)
        nd_reply_static(request, 200, "application/json", (const char *)nd_openapi_json_pretty,
                        nd_openapi_json_pretty_length);
    else
        nd_reply_static(request, 200, "application/json", (const char *)nd_openapi_json,
                        nd_openapi_json_length);
}

/* Relative links, so the page also works behind a path prefix. */
static const char docs_page[] =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>netdiag API</title>\n"
    "<link rel=\"stylesheet\" href=\"docs/swagger-ui.css\">\n</head>\n<body>\n"
    "<div id=\"swagger-ui\"></div>\n<script src=\"docs/swagger-ui-bundle.js\"></script>\n"
    "<script>window.ui = SwaggerUIBundle({url: \"openapi.json\", dom_id: \"#swagger-ui\", "
    "deepLinking: true, persistAuthorization: true});</script>\n</body>\n</html>\n";

static const char missing_page[] =
    "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
    "<title>netdiag API: Swagger UI not installed</title></head>\n<body>\n"
    "<h1>Swagger UI is not installed</h1>\n"
    "<p>netdiag serves Swagger UI from npm's <code>swagger-ui-dist</code> package, which this "
    "installation does not have. Get it with</p>\n"
    "<pre>npm install --prefix /tmp/ui swagger-ui-dist@5\n"
    "netdiag --docs-dir /tmp/ui/node_modules/swagger-ui-dist</pre>\n"
    "<p>(<code>./scripts/dev run</code> does this for you). The API itself is described in "
    "<a href=\"openapi.json\">openapi.json</a> and <a href=\"openapi.yaml\">openapi.yaml</a>.</p>\n"
    "</body>\n</html>\n";

void nd_handle_docs(struct nd_request *request)
{
    const struct nd_docs_settings *settings = request->route->context;
    const char *directory = settings ? settings->directory : NULL;
    char probe[4096];
    struct stat status;
    bool installed = directory && directory[0] &&
                     (size_t)snprintf(probe, sizeof probe, "%s/swagger-ui-bundle.js", directory) <
                         sizeof probe &&
                     stat(probe, &status) == 0;
    if (!installed) {
        nd_reply_static(request, 503, "text/html; charset=utf-8", missing_page,
                        sizeof missing_page - 1);
        return;
    }
    nd_reply_static(request, 200, "text/html; charset=utf-8", docs_page, sizeof docs_page - 1);
}

struct content_type {
    const char *suffix;
    const char *type;
};

static const struct content_type content_types[] = {
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".html", "text/html; charset=utf-8"},
    {".png", "image/png"},
    {".map", "application/json"},
    {".json", "application/json"},
};

static const char *type_of(const char *name)
{
    size_t length = strlen(name);
    for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++) {
        size_t suffix = strlen(content_types[i].suffix);
        if (length > suffix && strcmp(name + length - suffix, content_types[i].suffix) == 0)
            return content_types[i].type;
    }
    return NULL;
}

/* /docs/ is /docs: the page's links are relative to /docs, so it must be
 * loaded from there. A relative Location keeps it right behind a path
 * prefix (RFC 9110 section 10.2.2 allows one). */
static void redirect_to_docs(struct nd_request *request)
{
    static const char body[] = "See /docs\n";
    struct MHD_Response *response =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!response) {
        nd_reply_failure(request, ND_ERR_NO_MEMORY, NULL, "out of memory");
        return;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION, "../docs");
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    nd_reply_response(request, 308, response, sizeof body - 1);
}

/* One plain file name: no directories, no hidden files, nothing to climb out with. */
static bool safe_file_name(const char *name, size_t length)
{
    if (length == 0 || length > 128 || name[0] == '.')
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

void nd_handle_docs_asset(struct nd_request *request)
{
    static const char prefix[] = "/docs/";
    const char *name = request->path + sizeof prefix - 1;
    size_t length = request->path_length - (sizeof prefix - 1);
    if (length == 0) {
        redirect_to_docs(request);
        return;
    }
    char file_name[129];
    const struct nd_docs_settings *settings = request->route->context;
    const char *directory = settings ? settings->directory : NULL;
    if (!safe_file_name(name, length) || !directory || !directory[0]) {
        nd_reply_failure(request, ND_ERR_NOT_FOUND, NULL, "no such documentation file");
        return;
    }
    memcpy(file_name, name, length);
    file_name[length] = '\0';
    const char *type = type_of(file_name);
    char path[4096 + 160];
    snprintf(path, sizeof path, "%s/%s", directory, file_name);
    int fd = type ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat status;
    if (fd < 0 || fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
        if (fd >= 0)
            close(fd);
        nd_reply_failure(request, ND_ERR_NOT_FOUND, NULL, "no documentation file '%s'", file_name);
        return;
    }
    /* libmicrohttpd sends the file with sendfile and closes fd. */
    struct MHD_Response *response = MHD_create_response_from_fd((uint64_t)status.st_size, fd);
    if (!response) {
        close(fd);
        nd_reply_failure(request, ND_ERR_NO_MEMORY, NULL, "out of memory");
        return;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=3600");
    nd_reply_response(request, 200, response, (uint64_t)status.st_size);
}
