#include "netdiag/http_reply.h"

#include <string.h>

/* RFC 9110 section 5.6.2: tchar. */
static bool token_character(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The next line of data[*position, length): its bytes without CR LF or LF.
 * False when no line end comes before length. */
static bool next_line(const uint8_t *data, size_t length, size_t *position, const uint8_t **line,
                      size_t *line_length)
{
    const uint8_t *start = data + *position;
    const uint8_t *end = memchr(start, '\n', length - *position);
    if (!end)
        return false;
    size_t size = (size_t)(end - start);
    if (size > 0 && start[size - 1] == '\r')
        size--;
    *line = start;
    *line_length = size;
    *position = (size_t)(end - data) + 1;
    return true;
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* Copies at most size - 1 bytes and a NUL; true when all of them fit. */
static bool copy_cut(char *out, size_t size, const uint8_t *text, size_t length)
{
    size_t kept = length < size - 1 ? length : size - 1;
    memcpy(out, text, kept);
    out[kept] = '\0';
    return kept == length;
}

static void trim(const uint8_t **text, size_t *length)
{
    while (*length > 0 && is_space((*text)[0])) {
        (*text)++;
        (*length)--;
    }
    while (*length > 0 && is_space((*text)[*length - 1]))
        (*length)--;
}

/* Section 4: HTTP-version SP 3DIGIT SP [reason-phrase]. */
static enum nd_err parse_status_line(const uint8_t *line, size_t length, struct nd_http_reply *out,
                                     struct nd_error *error)
{
    static const char prefix[] = "HTTP/";
    if (length < 12 || memcmp(line, prefix, 5) != 0 || line[5] < '0' || line[5] > '9' ||
        line[6] != '.' || line[7] < '0' || line[7] > '9' || line[8] != ' ')
        return nd_error_set(error, ND_ERR_PROTOCOL,
                            "the reply does not start with an HTTP/x.y status line");
    memcpy(out->version, line, 8);
    out->version[8] = '\0';
    unsigned status = 0;
    for (size_t i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return nd_error_set(error, ND_ERR_PROTOCOL, "the status code is not three digits");
        status = status * 10 + (unsigned)(line[i] - '0');
    }
    if (status < 100)
        return nd_error_set(error, ND_ERR_PROTOCOL, "status code %03u is below 100", status);
    if (length > 12 && line[12] != ' ')
        return nd_error_set(error, ND_ERR_PROTOCOL, "no space after the status code");
    out->status = status;
    const uint8_t *reason = line + (length > 12 ? 13 : 12);
    copy_cut(out->reason, sizeof out->reason, reason, length - (size_t)(reason - line));
    return ND_OK;
}

/* Appends an obs-fold continuation to the last field kept. */
static void fold_into_last(struct nd_http_reply *out, const uint8_t *text, size_t length)
{
    if (out->field_count == 0)
        return;
    struct nd_http_reply_field *field = &out->fields[out->field_count - 1];
    size_t used = strlen(field->value);
    trim(&text, &length);
    if (used + 1 + length >= sizeof field->value)
        field->value_cut = true;
    if (used + 1 < sizeof field->value) {
        field->value[used] = ' ';
        field->value_cut |=
            !copy_cut(field->value + used + 1, sizeof field->value - used - 1, text, length);
    }
}

static enum nd_err parse_field_line(const uint8_t *line, size_t length, struct nd_http_reply *out,
                                    struct nd_error *error)
{
    size_t name_length = 0;
    while (name_length < length && token_character(line[name_length]))
        name_length++;
    bool field_line = name_length > 0 && name_length < length && line[name_length] == ':';
    if (!field_line) {
        size_t after = name_length;
        while (after < length && is_space(line[after]))
            after++;
        return nd_error_set(error, ND_ERR_PROTOCOL,
                            name_length > 0 && after > name_length && after < length &&
                                    line[after] == ':'
                                ? "a header field has white space before its colon"
                                : "a header line is not NAME: VALUE");
    }
    if (out->field_count == ND_HTTP_REPLY_FIELDS_MAX || name_length >= ND_HTTP_REPLY_NAME_MAX) {
        out->fields_dropped++;
        return ND_OK;
    }
    struct nd_http_reply_field *field = &out->fields[out->field_count++];
    copy_cut(field->name, sizeof field->name, line, name_length);
    const uint8_t *value = line + name_length + 1;
    size_t value_length = length - name_length - 1;
    trim(&value, &value_length);
    field->value_cut = !copy_cut(field->value, sizeof field->value, value, value_length);
    return ND_OK;
}

enum nd_err nd_http_reply_parse(const uint8_t *data, size_t length, struct nd_http_reply *out,
                                struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    size_t position = 0;
    const uint8_t *line;
    size_t line_length;
    if (!next_line(data, length, &position, &line, &line_length)) {
        /* No whole status line yet: judge what there is. */
        if (memcmp(data, "HTTP/", length < 5 ? length : 5) != 0)
            return nd_error_set(error, ND_ERR_PROTOCOL,
                                "the reply does not start with an HTTP/x.y status line");
        return ND_OK;
    }
    enum nd_err err = parse_status_line(line, line_length, out, error);
    if (err != ND_OK)
        return err;
    bool dropped_last = false;
    while (next_line(data, length, &position, &line, &line_length)) {
        if (line_length == 0) {
            out->head_complete = true;
            out->body_offset = position;
            return ND_OK;
        }
        if (is_space(line[0])) {
            if (!dropped_last)
                fold_into_last(out, line, line_length);
            continue;
        }
        size_t dropped_before = out->fields_dropped;
        err = parse_field_line(line, line_length, out, error);
        if (err != ND_OK)
            return err;
        dropped_last = out->fields_dropped != dropped_before;
    }
    return ND_OK;
}
