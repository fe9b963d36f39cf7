#include "http/problem.h"

#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "netdiag/format.h"

struct error_mapping {
    unsigned status;
    /* The status when the failure came from a server netdiag asked on the
     * client's behalf (a time server, say): its failures are a bad gateway,
     * not a mistake of ours or a missing resource here. 0 = as status. */
    unsigned upstream_status;
    const char *code;
};

static const struct error_mapping error_mappings[ND_ERR__COUNT] = {
    [ND_OK] = {200, 0, "ok"},
    [ND_ERR_INVALID] = {400, 0, "invalid_argument"},
    [ND_ERR_RANGE] = {400, 0, "out_of_range"},
    [ND_ERR_NOT_FOUND] = {404, 0, "not_found"},
    [ND_ERR_SYSTEM] = {500, 502, "system_error"},
    [ND_ERR_RESOLVE] = {502, 502, "resolver_error"},
    [ND_ERR_TIMEOUT] = {504, 0, "timeout"},
    [ND_ERR_PROTOCOL] = {502, 0, "bad_upstream_reply"},
    [ND_ERR_NO_MEMORY] = {503, 0, "out_of_memory"},
    [ND_ERR_BUSY] = {503, 0, "busy"},
    [ND_ERR_FORBIDDEN] = {403, 0, "forbidden"},
    [ND_ERR_STOPPING] = {503, 0, "stopping"},
    [ND_ERR_MISSING] = {400, 0, "missing_parameter"},
    [ND_ERR_UNEXPECTED] = {400, 0, "unknown_parameter"},
    [ND_ERR_DUPLICATE] = {400, 0, "duplicate_parameter"},
    [ND_ERR_TOO_MANY] = {400, 0, "too_many_values"},
    [ND_ERR_ENCODING] = {400, 0, "invalid_query"},
    [ND_ERR_MALFORMED] = {400, 0, "bad_request"},
    [ND_ERR_FAMILY_UNSUPPORTED] = {400, 0, "unsupported_family"},
    [ND_ERR_NOT_ALLOWED] = {405, 0, "method_not_allowed"},
    [ND_ERR_TOO_LARGE] = {413, 0, "body_not_allowed"},
    [ND_ERR_HEAD_TOO_LARGE] = {431, 0, "headers_too_large"},
    [ND_ERR_UNAUTHENTICATED] = {401, 0, "unauthorized"},
    [ND_ERR_INTERNAL] = {500, 0, "internal_error"},
};

/* A name that does not exist is the client's answer, not a failure of ours;
 * a resolver that cannot be reached right now is a temporary failure. */
static unsigned resolver_status(int gai_error)
{
    switch (gai_error) {
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
        return 404;
    case EAI_AGAIN:
        return 503;
    case EAI_FAMILY:
    case EAI_SERVICE:
    case EAI_BADFLAGS:
        return 400;
    default:
        return 502;
    }
}

void nd_problem_from_error(const struct nd_error *error, const char *param, bool upstream,
                           struct nd_problem *out)
{
    enum nd_err code = error->code;
    if ((unsigned)code >= ND_ERR__COUNT)
        code = ND_ERR_SYSTEM;
    const struct error_mapping *mapping = &error_mappings[code];
    out->status = mapping->status;
    out->code = mapping->code;
    out->param = param;
    out->retry_after_s = 0;
    out->extensions = NULL;
    if (code == ND_ERR_RESOLVE && error->gai_error != 0) {
        out->status = resolver_status(error->gai_error);
        out->code = nd_gai_name(error->gai_error);
    }
    if (upstream && mapping->upstream_status)
        out->status = mapping->upstream_status;
    if (out->status == 503)
        out->retry_after_s = 1;
    snprintf(out->detail, sizeof out->detail, "%s",
             error->message[0] ? error->message : nd_strerror(code));
}

const char *nd_problem_title(unsigned status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

/* Client input is echoed in problem details; JSON must stay valid UTF-8 and
 * a terminal reading the log must not receive control bytes, so anything
 * else becomes '?'. */
static void sanitize_text(const char *text, char *out, size_t size)
{
    const unsigned char *p = (const unsigned char *)text;
    const unsigned char *end = p + strlen(text);
    size_t used = 0;
    while (*p && used + 5 < size) {
        size_t length = nd_format_utf8_length(p, (size_t)(end - p));
        if (length == 0 || (length == 1 && (*p < 0x20 || *p == 0x7F))) {
            out[used++] = '?';
            p++;
            continue;
        }
        memcpy(out + used, p, length);
        used += length;
        p += length;
    }
    out[used] = '\0';
}

cJSON *nd_problem_render(struct nd_problem *problem, const char *instance)
{
    char detail[ND_PROBLEM_DETAIL_MAX];
    char param[128];
    char clean_instance[256];
    sanitize_text(problem->detail, detail, sizeof detail);
    if (problem->param)
        sanitize_text(problem->param, param, sizeof param);
    if (instance)
        sanitize_text(instance, clean_instance, sizeof clean_instance);

    char type[128];
    /* RFC 9457 section 3.1.1 allows a type URI that does not resolve; a tag
     * URI names the problem kind without promising a web page. */
    snprintf(type, sizeof type, "tag:netdiag,2026:problem:%s", problem->code);

    cJSON *extensions = problem->extensions;
    problem->extensions = NULL;
    cJSON *body = cJSON_CreateObject();
    if (!body) {
        cJSON_Delete(extensions);
        return NULL;
    }
    bool ok = cJSON_AddStringToObject(body, "type", type) &&
              cJSON_AddStringToObject(body, "title", nd_problem_title(problem->status)) &&
              cJSON_AddNumberToObject(body, "status", problem->status) &&
              cJSON_AddStringToObject(body, "detail", detail) &&
              cJSON_AddStringToObject(body, "code", problem->code);
    if (ok && problem->param)
        ok = cJSON_AddStringToObject(body, "param", param) != NULL;
    if (ok && instance)
        ok = cJSON_AddStringToObject(body, "instance", clean_instance) != NULL;
    while (ok && extensions && extensions->child) {
        cJSON *member = cJSON_DetachItemViaPointer(extensions, extensions->child);
        /* The standard members win over an extension of the same name. */
        if (cJSON_GetObjectItemCaseSensitive(body, member->string))
            cJSON_Delete(member);
        else
            cJSON_AddItemToObject(body, member->string, member);
    }
    cJSON_Delete(extensions);
    if (!ok) {
        cJSON_Delete(body);
        return NULL;
    }
    return body;
}
