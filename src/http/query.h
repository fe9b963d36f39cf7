/*
 * The query string, parsed from the raw request target rather than taken
 * from libmicrohttpd's unescaped view, because MHD decodes %00 into a NUL that
 * silently cuts a value short and passes broken escapes such as "%zz" through
 * as text. Here both are errors the client is told about.
 */
#ifndef NETDIAG_HTTP_QUERY_H
#define NETDIAG_HTTP_QUERY_H

#include <stddef.h>

enum { ND_QUERY_MAX_PARAMS = 128 };

struct nd_query_param {
    char *name;  /* decoded, NUL-terminated, points into the query's storage */
    char *value; /* decoded; "" for "name" and "name=" alike */
};

struct nd_query {
    size_t count;
    struct nd_query_param *params; /* count of them, inside storage */
    char *storage; /* one allocation: the params, then every decoded name and value */
};

enum nd_query_status {
    ND_QUERY_OK = 0,
    ND_QUERY_BAD_ESCAPE, /* "%" not followed by two hex digits */
    ND_QUERY_NUL_BYTE,   /* "%00" */
    ND_QUERY_EMPTY_NAME, /* "=value" or "&=" */
    ND_QUERY_TOO_MANY,   /* more than ND_QUERY_MAX_PARAMS */
    ND_QUERY_NO_MEMORY,
};

/* Parses the part of a request target after '?' (the text may be NULL or
 * empty). '+' decodes to a space, as HTML forms and curl --data-urlencode
 * send it. On error, *bad_name points at a static description or at the
 * offending raw name text (up to 64 bytes copied into bad_name_buffer).
 * The query must be released with nd_query_free, also after an error. */
enum nd_query_status nd_query_parse(const char *raw, size_t length, struct nd_query *query,
                                    char *bad_name_buffer, size_t bad_name_size);

void nd_query_free(struct nd_query *query);

/* Human description of a status, e.g. "malformed percent-encoding". */
const char *nd_query_status_text(enum nd_query_status status);

#endif
