/*
 * What RFC 9112 asks of a request message, checked by netdiag itself so that
 * libmicrohttpd 0.9.75 (lax) and 1.0 (strict) behave the same: the form of
 * the request target, one valid Host, and body framing that cannot be read
 * two ways (request smuggling). Pure functions over the target and the header
 * fields; the server feeds them and turns a refusal into a 400.
 */
#ifndef NETDIAG_HTTP_MESSAGE_H
#define NETDIAG_HTTP_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

enum { ND_MESSAGE_DETAIL_MAX = 160 };

enum nd_target_form {
    ND_TARGET_ORIGIN,   /* "/path?query" */
    ND_TARGET_ABSOLUTE, /* "http://host/path?query" (RFC 9112 section 3.2.2) */
    ND_TARGET_ASTERISK, /* "*", for OPTIONS only (section 3.2.4) */
};

/* The parts of a request target; path and query point into the target. */
struct nd_target {
    enum nd_target_form form;
    const char *path; /* "/" for an absolute form without a path */
    size_t path_length;
    const char *query; /* after '?', not NUL-terminated; NULL when there is none */
    size_t query_length;
};

/* Splits a raw target of length bytes. False, with a reason in detail, for a
 * target that no form allows or that holds a byte a URI cannot (RFC 3986:
 * controls, space, bytes above 0x7E; NUL included). */
bool nd_target_parse(const char *target, size_t length, struct nd_target *out, char *detail,
                     size_t detail_size);

/* What the header fields say, gathered in one pass over them. */
struct nd_message {
    unsigned fields;
    unsigned host_count;
    const char *host;
    unsigned content_length_count;
    const char *content_length;
    bool transfer_encoding;
    unsigned chunked_count;           /* "chunked" codings over every Transfer-Encoding field */
    bool chunked_last;                /* the last coding of the last field is chunked */
    const char *bad_name;             /* the first field name that is not a token */
    const char *request_id;           /* X-Request-Id */
    const char *authorization;        /* Authorization */
    const char *cors_request_headers; /* Access-Control-Request-Headers */
};

/* Adds one header field (name and value as libmicrohttpd stores them, the
 * value without surrounding whitespace). The message starts zeroed. */
void nd_message_add_field(struct nd_message *message, const char *name, const char *value);

enum nd_message_verdict {
    ND_MESSAGE_OK,      /* no body */
    ND_MESSAGE_BODY,    /* a well-framed body follows the header */
    ND_MESSAGE_INVALID, /* 400, and the connection must close (detail says why) */
};

/* Host and framing rules of RFC 9112 sections 3.2 and 6.3 for a request of
 * HTTP/1.1 (http11) or HTTP/1.0. */
enum nd_message_verdict nd_message_check(const struct nd_message *message, bool http11,
                                         char *detail, size_t detail_size);

#endif
