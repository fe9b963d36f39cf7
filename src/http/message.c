#include "http/message.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 3986 section 2: a URI is visible ASCII only; anything else must be
 * percent-encoded by the client. RFC 9112 section 3.2 lets a server answer
 * 400 to whitespace, controls or other invalid characters in the target. */
static bool uri_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7F;
}

/* "http://" or "https://", case-insensitively (RFC 3986 section 3.1):
 * the length of the prefix, or 0. */
static size_t http_scheme_length(const char *target, size_t length)
{
    if (length >= 7 && strncasecmp(target, "http://", 7) == 0)
        return 7;
    if (length >= 8 && strncasecmp(target, "https://", 8) == 0)
        return 8;
    return 0;
}

static void split_path_and_query(const char *text, size_t length, struct nd_target *out)
{
    const char *question = memchr(text, '?', length);
    out->path = text;
    out->path_length = question ? (size_t)(question - text) : length;
    out->query = question ? question + 1 : NULL;
    out->query_length = question ? length - out->path_length - 1 : 0;
}

bool nd_target_parse(const char *target, size_t length, struct nd_target *out, char *detail,
                     size_t detail_size)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < length; i++) {
        if (!uri_byte((unsigned char)target[i])) {
            snprintf(detail, detail_size,
                     "the request target holds byte 0x%02x at offset %zu; a URI is visible "
                     "ASCII, anything else percent-encoded (RFC 3986)",
                     (unsigned char)target[i], i);
            return false;
        }
    }
    if (length == 1 && target[0] == '*') {
        out->form = ND_TARGET_ASTERISK;
        out->path = target;
        out->path_length = 1;
        return true;
    }
    if (length > 0 && target[0] == '/') {
        out->form = ND_TARGET_ORIGIN;
        split_path_and_query(target, length, out);
        return true;
    }
    size_t scheme = http_scheme_length(target, length);
    if (scheme > 0) {
        /* RFC 9112 section 3.2.2: a server MUST accept the absolute form; the
         * authority in it wins over Host, and the rest routes as usual. */
        size_t authority_end = scheme;
        while (authority_end < length && target[authority_end] != '/' &&
               target[authority_end] != '?')
            authority_end++;
        if (authority_end > scheme) {
            out->form = ND_TARGET_ABSOLUTE;
            split_path_and_query(target + authority_end, length - authority_end, out);
            if (out->path_length == 0) {
                out->path = "/";
                out->path_length = 1;
            }
            return true;
        }
    }
    snprintf(detail, detail_size,
             "the request target must be a path (/...), an absolute http URI or '*' "
             "(RFC 9112 section 3.2)");
    return false;
}

static bool alphanumeric(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 9110 section 5.6.2: tchar. (A switch: this runs for every byte of
 * every field name of every request, and compiles to a bit test.) */
static bool token_byte(unsigned char c)
{
    if (alphanumeric(c))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

static bool is_token(const char *text)
{
    if (!*text)
        return false;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (!token_byte(*p))
            return false;
    }
    return true;
}

/* Counts the codings of one Transfer-Encoding field, noting whether
 * "chunked" is among them and whether it ends the list. */
static void add_transfer_codings(struct nd_message *message, const char *value)
{
    const char *p = value;
    bool last_chunked = false;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t length = (size_t)(p - start);
        last_chunked = length == 7 && strncasecmp(start, "chunked", 7) == 0;
        message->chunked_count += last_chunked;
        while (*p && *p != ',')
            p++; /* parameters of the coding */
    }
    message->chunked_last = last_chunked;
}

void nd_message_add_field(struct nd_message *message, const char *name, const char *value)
{
    message->fields++;
    if (!message->bad_name && !is_token(name))
        message->bad_name = name;
    /* The first letter sorts out all but a few fields cheaply. */
    switch (name[0] | 0x20) {
    case 'a':
        if (strcasecmp(name, "Authorization") == 0)
            message->authorization = value;
        else if (strcasecmp(name, "Access-Control-Request-Headers") == 0)
            message->cors_request_headers = value;
        break;
    case 'c':
        if (strcasecmp(name, "Content-Length") == 0) {
            message->content_length_count++;
            message->content_length = value;
        }
        break;
    case 'h':
        if (strcasecmp(name, "Host") == 0) {
            message->host_count++;
            message->host = value;
        }
        break;
    case 't':
        if (strcasecmp(name, "Transfer-Encoding") == 0) {
            message->transfer_encoding = true;
            add_transfer_codings(message, value);
        }
        break;
    case 'x':
        if (strcasecmp(name, "X-Request-Id") == 0)
            message->request_id = value;
        break;
    default:
        break;
    }
}

/* The length of a field value without trailing whitespace, which is not
 * part of the value (RFC 9112 section 5) and which 0.9.75 leaves in. */
static size_t value_length(const char *value)
{
    size_t length = strlen(value);
    while (length > 0 && (value[length - 1] == ' ' || value[length - 1] == '\t'))
        length--;
    return length;
}

/* RFC 9112 section 3.2 with RFC 3986 section 3.2.2: a host (reg-name,
 * IPv4 or [IP-literal]) and an optional port; empty is allowed. */
static bool valid_host(const char *host)
{
    size_t length = value_length(host);
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)host[i];
        if (alphanumeric(c))
            continue;
        switch (c) {
        case '-':
        case '.':
        case '_':
        case '~':
        case '%':
        case '!':
        case '$':
        case '&':
        case '\'':
        case '(':
        case ')':
        case '*':
        case '+':
        case ',':
        case ';':
        case '=':
        case ':':
        case '[':
        case ']':
            continue;
        default:
            return false;
        }
    }
    return true;
}

static bool all_digits(const char *text)
{
    size_t length = value_length(text);
    if (length == 0)
        return false;
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
    }
    return true;
}

static bool all_zeros(const char *text)
{
    return strspn(text, "0") == value_length(text);
}

enum nd_message_verdict nd_message_check(const struct nd_message *message, bool http11,
                                         char *detail, size_t detail_size)
{
    if (message->bad_name) {
        /* Section 5.1: no whitespace between a field name and the colon. */
        snprintf(detail, detail_size, "header field name '%.40s' is not a token (RFC 9110 5.1)",
                 message->bad_name);
        return ND_MESSAGE_INVALID;
    }
    /* Section 3.2: 400 for an HTTP/1.1 request without Host, and for any
     * request with more than one or with an invalid one. */
    if (http11 && message->host_count == 0) {
        snprintf(detail, detail_size, "an HTTP/1.1 request needs a Host header (RFC 9112 3.2)");
        return ND_MESSAGE_INVALID;
    }
    if (message->host_count > 1) {
        snprintf(detail, detail_size, "%u Host headers; one is allowed (RFC 9112 3.2)",
                 message->host_count);
        return ND_MESSAGE_INVALID;
    }
    if (message->host && !valid_host(message->host)) {
        snprintf(detail, detail_size, "the Host header is not a host[:port] (RFC 9112 3.2)");
        return ND_MESSAGE_INVALID;
    }
    /* Section 6.3: a message whose body length two readers could
     * disagree on is refused and the connection closed, so that no bytes
     * of it are taken for a next request. */
    if (message->transfer_encoding) {
        if (message->content_length_count > 0) {
            snprintf(detail, detail_size,
                     "Transfer-Encoding and Content-Length together (RFC 9112 6.3)");
            return ND_MESSAGE_INVALID;
        }
        if (!http11) {
            snprintf(detail, detail_size,
                     "Transfer-Encoding in an HTTP/1.0 request "
                     "(RFC 9112 6.1)");
            return ND_MESSAGE_INVALID;
        }
        if (message->chunked_count != 1 || !message->chunked_last) {
            snprintf(detail, detail_size,
                     "Transfer-Encoding must end in chunked, applied once (RFC 9112 6.1, 6.3)");
            return ND_MESSAGE_INVALID;
        }
        return ND_MESSAGE_BODY;
    }
    if (message->content_length_count > 1) {
        snprintf(detail, detail_size, "%u Content-Length headers (RFC 9112 6.3)",
                 message->content_length_count);
        return ND_MESSAGE_INVALID;
    }
    if (message->content_length_count == 1) {
        if (!all_digits(message->content_length)) {
            snprintf(detail, detail_size,
                     "Content-Length '%.24s' is not a decimal number (RFC 9110 8.6)",
                     message->content_length);
            return ND_MESSAGE_INVALID;
        }
        if (!all_zeros(message->content_length))
            return ND_MESSAGE_BODY;
    }
    return ND_MESSAGE_OK;
}
