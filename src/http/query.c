#include "http/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdiag/parse.h"

/* Decodes raw[0..length) into out (which has room for length + 1 bytes). */
static enum nd_query_status decode(const char *raw, size_t length, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < length; i++) {
        char c = raw[i];
        if (c == '\0') {
            /* A raw NUL cannot come from a client's request line, but the
             * parser takes a length, not a string: refuse it like %00. */
            return ND_QUERY_NUL_BYTE;
        } else if (c == '+') {
            out[j++] = ' ';
        } else if (c == '%') {
            if (i + 2 >= length)
                return ND_QUERY_BAD_ESCAPE;
            int high = nd_parse_hex_digit(raw[i + 1]);
            int low = nd_parse_hex_digit(raw[i + 2]);
            if (high < 0 || low < 0)
                return ND_QUERY_BAD_ESCAPE;
            int byte = high * 16 + low;
            if (byte == 0)
                return ND_QUERY_NUL_BYTE;
            out[j++] = (char)byte;
            i += 2;
        } else {
            out[j++] = c;
        }
    }
    out[j] = '\0';
    return ND_QUERY_OK;
}

static void copy_bad_name(const char *raw, size_t length, char *buffer, size_t size)
{
    if (!buffer || size == 0)
        return;
    size_t n = length < size - 1 ? length : size - 1;
    memcpy(buffer, raw, n);
    buffer[n] = '\0';
}

enum nd_query_status nd_query_parse(const char *raw, size_t length, struct nd_query *query,
                                    char *bad_name_buffer, size_t bad_name_size)
{
    query->count = 0;
    query->params = NULL;
    query->storage = NULL;
    if (bad_name_buffer && bad_name_size)
        bad_name_buffer[0] = '\0';
    if (!raw || length == 0)
        return ND_QUERY_OK;

    /* At most one pair per '&' plus one; past the limit the parse stops. */
    size_t pairs = 1;
    for (size_t i = 0; i < length; i++)
        pairs += raw[i] == '&';
    if (pairs > ND_QUERY_MAX_PARAMS + 1)
        pairs = ND_QUERY_MAX_PARAMS + 1;
    /* Decoded text is never longer than the raw text; one NUL per name and
     * per value needs at most two extra bytes per pair, and pairs are at most
     * length + 1. */
    size_t table_size = pairs * sizeof *query->params;
    query->storage = malloc(table_size + 2 * length + 2);
    if (!query->storage)
        return ND_QUERY_NO_MEMORY;
    query->params = (struct nd_query_param *)query->storage;
    char *cursor = query->storage + table_size;

    size_t start = 0;
    while (start <= length) {
        const char *pair = raw + start;
        const char *end = memchr(pair, '&', length - start);
        size_t pair_length = end ? (size_t)(end - pair) : length - start;
        start += pair_length + 1;
        if (pair_length == 0)
            continue; /* "a=1&&b=2" and a trailing '&' are harmless */

        const char *equals = memchr(pair, '=', pair_length);
        size_t name_length = equals ? (size_t)(equals - pair) : pair_length;
        const char *value_raw = equals ? equals + 1 : pair + pair_length;
        size_t value_length = equals ? pair_length - name_length - 1 : 0;

        if (name_length == 0) {
            copy_bad_name(pair, pair_length, bad_name_buffer, bad_name_size);
            return ND_QUERY_EMPTY_NAME;
        }
        if (query->count == ND_QUERY_MAX_PARAMS)
            return ND_QUERY_TOO_MANY;

        struct nd_query_param *param = &query->params[query->count];
        param->name = cursor;
        enum nd_query_status status = decode(pair, name_length, cursor);
        if (status != ND_QUERY_OK) {
            copy_bad_name(pair, name_length, bad_name_buffer, bad_name_size);
            return status;
        }
        cursor += strlen(cursor) + 1;
        param->value = cursor;
        status = decode(value_raw, value_length, cursor);
        if (status != ND_QUERY_OK) {
            copy_bad_name(param->name, strlen(param->name), bad_name_buffer, bad_name_size);
            return status;
        }
        cursor += strlen(cursor) + 1;
        query->count++;
    }
    return ND_QUERY_OK;
}

void nd_query_free(struct nd_query *query)
{
    free(query->storage);
    query->storage = NULL;
    query->params = NULL;
    query->count = 0;
}

const char *nd_query_status_text(enum nd_query_status status)
{
    switch (status) {
    case ND_QUERY_OK:
        return "ok";
    case ND_QUERY_BAD_ESCAPE:
        return "malformed percent-encoding (expected % followed by two hex digits)";
    case ND_QUERY_NUL_BYTE:
        return "contains a NUL byte (%00)";
    case ND_QUERY_EMPTY_NAME:
        return "a parameter has an empty name";
    case ND_QUERY_TOO_MANY:
        return "too many query parameters";
    case ND_QUERY_NO_MEMORY:
        return "out of memory";
    }
    return "unknown";
}
