/* The HTTP reply head parser (src/core/http_reply.c) that /connect's
 * http_path probe runs on whatever a server sends: any bytes. */
#include "fuzz.h"
#include "netdiag/format.h"
#include "netdiag/http_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nd_http_reply reply;
    struct nd_error error;
    if (nd_http_reply_parse(data, size, &reply, &error) != ND_OK)
        return 0;
    if (reply.head_complete && reply.body_offset > size)
        abort(); /* the body starts within what was given */
    if (reply.field_count > ND_HTTP_REPLY_FIELDS_MAX)
        abort();
    for (size_t i = 0; i < reply.field_count; i++) {
        if (strlen(reply.fields[i].name) >= ND_HTTP_REPLY_NAME_MAX ||
            strlen(reply.fields[i].value) >= ND_HTTP_REPLY_VALUE_MAX)
            abort();
        nd_format_is_utf8((const uint8_t *)reply.fields[i].value, strlen(reply.fields[i].value));
    }
    return 0;
}
