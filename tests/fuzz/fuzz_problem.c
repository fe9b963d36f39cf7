/* The problem+json renderer (src/http/problem.c): any detail, param and
 * instance text must give valid JSON with the members asked for. */
#include <cjson/cJSON.h>
#include <stdio.h>

#include "fuzz.h"
#include "http/problem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    /* Three NUL-separated parts: detail, param, instance (missing parts are
     * empty: they start at the final NUL). */
    size_t param_at = strlen(text) < size ? strlen(text) + 1 : size;
    size_t instance_at = param_at + strlen(text + param_at);
    instance_at = instance_at < size ? instance_at + 1 : size;
    const char *detail = text;
    const char *param = text + param_at;
    const char *instance = text + instance_at;
    struct nd_problem problem = {.status = 400, .code = "invalid_argument", .param = param};
    snprintf(problem.detail, sizeof problem.detail, "%s", detail);
    cJSON *body = nd_problem_render(&problem, instance);
    if (!body)
        abort();
    char *printed = cJSON_PrintUnformatted(body);
    cJSON *parsed = cJSON_Parse(printed);
    if (!parsed || !cJSON_IsString(cJSON_GetObjectItem(parsed, "detail")) ||
        !cJSON_IsString(cJSON_GetObjectItem(parsed, "param")))
        abort();
    cJSON_Delete(parsed);
    free(printed);
    cJSON_Delete(body);
    free(text);
    return 0;
}
