#include "http/request.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/json_arena.h"
#include "http/server.h"
#include "netdiag/format.h"
#include "netdiag/parse.h"

static size_t count_param(const struct nd_request *request, const char *name, const char **first)
{
    size_t count = 0;
    *first = NULL;
    for (size_t i = 0; i < request->query.count; i++) {
        if (strcmp(request->query.params[i].name, name) == 0) {
            if (count == 0)
                *first = request->query.params[i].value;
            count++;
        }
    }
    return count;
}

bool nd_param_string(struct nd_request *request, const char *name, const char **value)
{
    size_t count = count_param(request, name, value);
    if (count > 1) {
        nd_reply_failure(request, ND_ERR_DUPLICATE, name,
                         "parameter '%s' may be given once, not %zu times", name, count);
        return false;
    }
    return true;
}

bool nd_param_list(struct nd_request *request, const char *name, const char **values, size_t max,
                   size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < request->query.count; i++) {
        if (strcmp(request->query.params[i].name, name) != 0)
            continue;
        if (n == max) {
            nd_reply_failure(request, ND_ERR_TOO_MANY, name,
                             "parameter '%s' may be given at most %zu times", name, max);
            return false;
        }
        values[n++] = request->query.params[i].value;
    }
    *count = n;
    return true;
}

bool nd_param_number(struct nd_request *request, const char *name, uint64_t min, uint64_t max,
                     bool allow_hex, uint64_t *value, bool *present)
{
    const char *text;
    if (present)
        *present = false;
    if (!nd_param_string(request, name, &text))
        return false;
    if (!text)
        return true;
    uint64_t parsed;
    enum nd_err err =
        allow_hex ? nd_parse_number(text, max, &parsed) : nd_parse_decimal(text, max, &parsed);
    if (err == ND_OK && parsed < min)
        err = ND_ERR_RANGE;
    if (err == ND_ERR_INVALID) {
        nd_reply_failure(request, ND_ERR_INVALID, name,
                         "parameter '%s' must be a non-negative %s integer, not '%.64s'", name,
                         allow_hex ? "decimal or 0x-hex" : "decimal", text);
        return false;
    }
    if (err != ND_OK) {
        nd_reply_failure(request, ND_ERR_RANGE, name,
                         "parameter '%s' must be between %llu and %llu, not '%.64s'", name,
                         (unsigned long long)min, (unsigned long long)max, text);
        return false;
    }
    *value = parsed;
    if (present)
        *present = true;
    return true;
}

bool nd_param_choice(struct nd_request *request, const char *name, const char *const *choices,
                     size_t *index, bool *present)
{
    const char *text;
    if (present)
        *present = false;
    if (!nd_param_string(request, name, &text))
        return false;
    if (!text)
        return true;
    char allowed[256] = "";
    size_t used = 0;
    for (size_t i = 0; choices[i]; i++) {
        if (strcmp(text, choices[i]) == 0) {
            *index = i;
            if (present)
                *present = true;
            return true;
        }
        int n = snprintf(allowed + used, sizeof allowed - used, "%s%s", i ? ", " : "", choices[i]);
        if (n > 0 && (size_t)n < sizeof allowed - used)
            used += (size_t)n;
    }
    nd_reply_failure(request, ND_ERR_INVALID, name, "parameter '%s' must be one of %s, not '%.64s'",
                     name, allowed, text);
    return false;
}

bool nd_param_bool(struct nd_request *request, const char *name, bool *value, bool *present)
{
    const char *text;
    if (present)
        *present = false;
    if (!nd_param_string(request, name, &text))
        return false;
    if (!text)
        return true;
    if (nd_parse_bool(text, value) != ND_OK) {
        nd_reply_failure(request, ND_ERR_INVALID, name,
                         "parameter '%s' must be 0 or 1 (or true/false), not '%.64s'", name, text);
        return false;
    }
    if (present)
        *present = true;
    return true;
}

static cJSON *add_member(cJSON *object, const char *name, cJSON *item)
{
    if (!item)
        return NULL;
    if (!cJSON_AddItemToObjectCS(object, name, item)) {
        cJSON_Delete(item);
        return NULL;
    }
    return item;
}

cJSON *nd_json_add_integer(cJSON *object, const char *name, uint64_t value)
{
    char digits[ND_FORMAT_DECIMAL_MAX + 1];
    digits[nd_format_decimal(value, digits)] = '\0';
    return add_member(object, name, cJSON_CreateRaw(digits));
}

cJSON *nd_json_add_string(cJSON *object, const char *name, const char *value)
{
    return add_member(object, name, cJSON_CreateString(value));
}

cJSON *nd_json_add_bool(cJSON *object, const char *name, bool value)
{
    return add_member(object, name, cJSON_CreateBool(value));
}

cJSON *nd_json_add_number(cJSON *object, const char *name, double value)
{
    return add_member(object, name, cJSON_CreateNumber(value));
}

cJSON *nd_json_add_null(cJSON *object, const char *name)
{
    return add_member(object, name, cJSON_CreateNull());
}

cJSON *nd_json_add_item(cJSON *object, const char *name, cJSON *item)
{
    return add_member(object, name, item);
}

cJSON *nd_json_append(cJSON *array, cJSON *item)
{
    if (!item)
        return NULL;
    if (!cJSON_AddItemToArray(array, item)) {
        cJSON_Delete(item);
        return NULL;
    }
    return item;
}

cJSON *nd_json_add_object(cJSON *object, const char *name)
{
    return add_member(object, name, cJSON_CreateObject());
}

cJSON *nd_json_add_array(cJSON *object, const char *name)
{
    return add_member(object, name, cJSON_CreateArray());
}

static void add_common_headers(struct MHD_Response *response, const char *content_type,
                               unsigned retry_after_s)
{
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (retry_after_s > 0) {
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%u", retry_after_s);
        MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
}

void nd_reply_response(struct nd_request *request, unsigned status, struct MHD_Response *response,
                       uint64_t length)
{
    if (request->answered) {
        MHD_destroy_response(response);
        return;
    }
    request->response = response;
    request->status = status;
    request->body_bytes = length;
    request->answered = true;
}

void nd_reply_add_header(struct nd_request *request, const char *name, const char *value)
{
    if (request->response && !request->queued)
        MHD_add_response_header(request->response, name, value);
}

static void send_response(struct nd_request *request, unsigned status, const char *content_type,
                          struct MHD_Response *response, size_t length, unsigned retry_after_s)
{
    add_common_headers(response, content_type, retry_after_s);
    nd_reply_response(request, status, response, length);
}

/* Takes ownership of body (malloc'd) in every case. */
static void send_body(struct nd_request *request, unsigned status, const char *content_type,
                      char *body, size_t length, unsigned retry_after_s)
{
    if (request->answered) {
        free(body);
        return;
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer(length, body, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free(body);
        return;
    }
    send_response(request, status, content_type, response, length, retry_after_s);
}

void nd_reply_static(struct nd_request *request, unsigned status, const char *content_type,
                     const char *body, size_t length)
{
    if (request->answered)
        return;
    struct MHD_Response *response =
        MHD_create_response_from_buffer(length, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return;
    add_common_headers(response, content_type, 0);
    nd_reply_response(request, status, response, length);
}

/* Prints compact JSON by default and indented with ?pretty=1, with a final
 * newline so that curl output ends cleanly, and hands it to libmicrohttpd,
 * which keeps a copy of its exact size. Printing into one buffer sized up
 * front avoids the grow-and-shrink reallocations of cJSON_Print; the buffer
 * comes from cJSON's allocator, which is the request's arena (json_arena.h)
 * for all but large answers. A larger document retries with a bigger one. */
static struct MHD_Response *print_json(const cJSON *body, bool pretty, size_t *length)
{
    for (size_t size = 2048; size <= 16u << 20; size *= 4) {
        char *text = cJSON_malloc(size);
        if (!text)
            return NULL;
        /* One byte is kept for the newline. */
        if (cJSON_PrintPreallocated((cJSON *)body, text, (int)size - 1, pretty)) {
            size_t n = strlen(text);
            text[n] = '\n';
            *length = n + 1;
            struct MHD_Response *response =
                MHD_create_response_from_buffer(n + 1, text, MHD_RESPMEM_MUST_COPY);
            cJSON_free(text);
            return response;
        }
        cJSON_free(text);
    }
    return NULL;
}

static void reply_out_of_memory(struct nd_request *request)
{
    static const char fallback[] = "{\"type\":\"tag:netdiag,2026:problem:out_of_memory\","
                                   "\"title\":\"Service Unavailable\",\"status\":503,"
                                   "\"detail\":\"out of memory\",\"code\":\"out_of_memory\"}\n";
    char *copy = malloc(sizeof fallback);
    if (!copy)
        return; /* the server answers 500 for a request left unanswered */
    memcpy(copy, fallback, sizeof fallback);
    send_body(request, 503, "application/problem+json", copy, sizeof fallback - 1, 1);
}

void nd_reply_text(struct nd_request *request, unsigned status, const char *content_type,
                   char *text, size_t length)
{
    send_body(request, status, content_type, text, length, 0);
}

/* Takes ownership of body in every case. */
static void send_json(struct nd_request *request, unsigned status, const char *content_type,
                      cJSON *body, unsigned retry_after_s)
{
    if (request->answered) {
        cJSON_Delete(body);
        return;
    }
    /* A tree built while an allocation failed may lack members (cJSON's
     * adders drop what they could not allocate): never sent as a 200. */
    size_t length = 0;
    struct MHD_Response *response =
        body && !nd_json_arena_failed() ? print_json(body, request->pretty, &length) : NULL;
    cJSON_Delete(body);
    if (!response) {
        reply_out_of_memory(request);
        return;
    }
    send_response(request, status, content_type, response, length, retry_after_s);
}

void nd_reply_json(struct nd_request *request, unsigned status, cJSON *body)
{
    send_json(request, status, "application/json", body, 0);
}

static void reply_problem(struct nd_request *request, struct nd_problem *problem)
{
    char instance[256];
    size_t n =
        request->path_length < sizeof instance - 1 ? request->path_length : sizeof instance - 1;
    memcpy(instance, request->path, n);
    instance[n] = '\0';

    send_json(request, problem->status, "application/problem+json",
              nd_problem_render(problem, instance), problem->retry_after_s);
}

void nd_reply_failure(struct nd_request *request, enum nd_err code, const char *param,
                      const char *format, ...)
{
    const struct nd_error error = {.code = code};
    struct nd_problem problem;
    nd_problem_from_error(&error, param, false, &problem);
    va_list args;
    va_start(args, format);
    vsnprintf(problem.detail, sizeof problem.detail, format, args);
    va_end(args);
    reply_problem(request, &problem);
}

static void reply_mapped(struct nd_request *request, const struct nd_error *error,
                         const char *param, bool upstream, cJSON *extensions)
{
    struct nd_problem problem;
    nd_problem_from_error(error, param, upstream, &problem);
    problem.extensions = extensions;
    reply_problem(request, &problem);
}

void nd_reply_error(struct nd_request *request, const struct nd_error *error, const char *param,
                    cJSON *extensions)
{
    reply_mapped(request, error, param, false, extensions);
}

void nd_reply_upstream_error(struct nd_request *request, const struct nd_error *error,
                             const char *param, cJSON *extensions)
{
    reply_mapped(request, error, param, true, extensions);
}
