/*
 * The head of an HTTP/1.x response as a client sees it (RFC 9112 section 4,
 * the status line, and section 5, the field lines), for /connect's
 * http_path probe: which version, status and reason the server sent, its
 * header fields, and where the body starts. Bounded: fields past the limits
 * are counted, not kept.
 */
#ifndef NETDIAG_HTTP_REPLY_H
#define NETDIAG_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netdiag/error.h"

enum {
    ND_HTTP_REPLY_VERSION_MAX = 9, /* "HTTP/1.1" */
    ND_HTTP_REPLY_REASON_MAX = 128,
    ND_HTTP_REPLY_FIELDS_MAX = 32,
    ND_HTTP_REPLY_NAME_MAX = 64,
    ND_HTTP_REPLY_VALUE_MAX = 256,
};

struct nd_http_reply_field {
    char name[ND_HTTP_REPLY_NAME_MAX];   /* as sent */
    char value[ND_HTTP_REPLY_VALUE_MAX]; /* without surrounding white space, cut when longer */
    bool value_cut;
};

struct nd_http_reply {
    char version[ND_HTTP_REPLY_VERSION_MAX];
    unsigned status; /* 100-999 */
    char reason[ND_HTTP_REPLY_REASON_MAX];
    struct nd_http_reply_field fields[ND_HTTP_REPLY_FIELDS_MAX];
    size_t field_count;
    size_t fields_dropped; /* past ND_HTTP_REPLY_FIELDS_MAX, or names too long to keep */
    bool head_complete;    /* the empty line that ends the head was seen */
    size_t body_offset;    /* where the body starts in the bytes given, when complete */
};

/* Parses the head at the start of length bytes. ND_OK with head_complete
 * when the empty line came, or without it when the bytes end first (the
 * read stopped early: what came is filled in). ND_ERR_PROTOCOL, naming what
 * is wrong, when the bytes are not an HTTP/1.x response: no "HTTP/x.y"
 * status line, a status outside 100-999, a field line without a colon or
 * with white space before it (section 5.1). A bare LF ends a line as CRLF
 * does, and an obsolete folded line (obs-fold) joins its field with a
 * space, as section 2.2 and 5.2 let a recipient do. */
enum nd_err nd_http_reply_parse(const uint8_t *data, size_t length, struct nd_http_reply *out,
                                struct nd_error *error);

#endif
