/* The query-string parser (src/http/query.c): any bytes after '?'. */
#include <string.h>

#include "fuzz.h"
#include "http/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nd_query query;
    char bad_name[72];
    enum nd_query_status status =
        nd_query_parse((const char *)data, size, &query, bad_name, sizeof bad_name);
    if (status == ND_QUERY_OK) {
        if (query.count > ND_QUERY_MAX_PARAMS)
            abort();
        for (size_t i = 0; i < query.count; i++) {
            /* Decoding never grows a name or a value past the input. */
            if (query.params[i].name[0] == '\0' || strlen(query.params[i].name) > size ||
                strlen(query.params[i].value) > size)
                abort();
        }
    }
    if (strlen(bad_name) >= sizeof bad_name)
        abort();
    nd_query_free(&query);
    return 0;
}
