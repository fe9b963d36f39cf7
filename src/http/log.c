#include "http/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netdiag/format.h"

/* A value is cut with "..." past its share of the line, the request target
 * (which the client chooses) at TARGET_MAX bytes and the others at VALUE_MAX,
 * so that every field of an access line fits whole. */
enum { LOG_LINE_MAX = 4096, TARGET_MAX = 2048, VALUE_MAX = 512 };

static enum nd_log_format log_format = ND_LOG_TEXT;
static atomic_bool unflushed;
static void (*wake_flusher)(void);

void nd_log_init(enum nd_log_format format)
{
    log_format = format;
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
}

struct line {
    char text[LOG_LINE_MAX];
    size_t length;
    bool truncated;
};

static void append(struct line *line, const char *text, size_t length)
{
    /* Two bytes are always kept for the closing brace and the newline. */
    size_t room = sizeof line->text - 2 - line->length;
    if (length > room) {
        length = room;
        line->truncated = true;
    }
    memcpy(line->text + line->length, text, length);
    line->length += length;
}

static void append_text(struct line *line, const char *text)
{
    append(line, text, strlen(text));
}

/* Printable ASCII is copied as it is; the rest is looked at byte by byte. */
static bool is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* JSON string content: quotes, backslashes and control bytes escaped; valid
 * UTF-8 kept, and any other byte above 0x7E (a client may send one in a
 * target) written as \u00XX, so that a JSON line is always valid UTF-8.
 * Logfmt values are quoted the same way when they hold spaces or quotes,
 * which keeps both formats safe against log injection via a request target.
 * Runs of plain bytes are copied whole. */
static void append_escaped(struct line *line, const char *text, size_t max_bytes)
{
    /* Whatever the values, 512 bytes stay free for the closing quote, brace
     * and newline: a line is never cut mid-escape into invalid JSON. */
    size_t limit = sizeof line->text - 512;
    if (line->length + max_bytes < limit)
        limit = line->length + max_bytes;
    const unsigned char *p = (const unsigned char *)text;
    for (;;) {
        const unsigned char *run = p;
        while (is_plain(*p))
            p++;
        size_t length = (size_t)(p - run);
        if (line->length + length > limit) {
            if (line->length < limit)
                append(line, (const char *)run, limit - line->length);
            append_text(line, "...");
            return;
        }
        append(line, (const char *)run, length);
        if (*p == '\0')
            return;
        size_t sequence = *p >= 0x80 ? nd_format_utf8_length(p, strnlen((const char *)p, 4)) : 0;
        if (sequence > 1) {
            append(line, (const char *)p, sequence);
            p += sequence;
            continue;
        }
        char escaped[8];
        if (*p == '"' || *p == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)*p;
            append(line, escaped, 2);
        } else {
            memcpy(escaped, "\\u00", 4);
            nd_format_hex(p, 1, escaped + 4);
            append(line, escaped, 6);
        }
        p++;
    }
}

static bool needs_quotes(const char *text)
{
    if (text[0] == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
            return true;
    }
    return false;
}

static void append_field_cut(struct line *line, const char *key, const char *value, bool first,
                             size_t max_bytes)
{
    if (log_format == ND_LOG_JSON) {
        append_text(line, first ? "{\"" : ",\"");
        append_text(line, key);
        append_text(line, "\":\"");
        append_escaped(line, value, max_bytes);
        append_text(line, "\"");
        return;
    }
    if (!first)
        append_text(line, " ");
    append_text(line, key);
    append_text(line, "=");
    /* Unquoted values hold no byte to escape: append_escaped only cuts them. */
    bool quoted = needs_quotes(value);
    if (quoted)
        append_text(line, "\"");
    append_escaped(line, value, max_bytes);
    if (quoted)
        append_text(line, "\"");
}

static void append_field(struct line *line, const char *key, const char *value, bool first)
{
    append_field_cut(line, key, value, first, VALUE_MAX);
}

static void append_number(struct line *line, const char *key, uint64_t value)
{
    char number[ND_FORMAT_DECIMAL_MAX];
    size_t n = nd_format_decimal(value, number);
    if (log_format == ND_LOG_JSON) {
        append_text(line, ",\"");
        append_text(line, key);
        append_text(line, "\":");
    } else {
        append_text(line, " ");
        append_text(line, key);
        append_text(line, "=");
    }
    append(line, number, n);
}

/* The date and time to the second change once a second: each thread keeps
 * the last one formatted, and a line only adds its milliseconds. */
static _Thread_local time_t stamp_second = -1;
static _Thread_local char stamp_prefix[32];

static void start_line(struct line *line, const char *level, const char *event)
{
    struct timespec now;
    char stamp[40];
    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec != stamp_second) {
        struct tm utc;
        gmtime_r(&now.tv_sec, &utc);
        strftime(stamp_prefix, sizeof stamp_prefix, "%Y-%m-%dT%H:%M:%S", &utc);
        stamp_second = now.tv_sec;
    }
    size_t n = strlen(stamp_prefix);
    memcpy(stamp, stamp_prefix, n);
    long millisecond = now.tv_nsec / 1000000;
    stamp[n] = '.';
    stamp[n + 1] = (char)('0' + millisecond / 100);
    stamp[n + 2] = (char)('0' + millisecond / 10 % 10);
    stamp[n + 3] = (char)('0' + millisecond % 10);
    stamp[n + 4] = 'Z';
    stamp[n + 5] = '\0';

    line->length = 0;
    line->truncated = false;
    append_field(line, "ts", stamp, true);
    append_field(line, "level", level, false);
    append_field(line, "event", event, false);
}

static void finish_line(struct line *line)
{
    if (log_format == ND_LOG_JSON)
        line->text[line->length++] = '}';
    line->text[line->length++] = '\n';
    /* One fwrite per line: stdio's lock keeps lines from different threads whole. */
    fwrite(line->text, 1, line->length, stdout);
}

void nd_log_event(const char *level, const char *event, ...)
{
    struct line line;
    start_line(&line, level, event);
    va_list args;
    va_start(args, event);
    for (;;) {
        const char *key = va_arg(args, const char *);
        if (!key)
            break;
        const char *value = va_arg(args, const char *);
        append_field(&line, key, value ? value : "", false);
    }
    va_end(args);
    finish_line(&line);
    /* Events are rare and matter (start, stop, errors): do not let them sit in a buffer. */
    fflush(stdout);
}

void nd_log_access(const struct nd_access_entry *entry)
{
    struct line line;
    start_line(&line, "info", "access");
    append_field(&line, "method", entry->method, false);
    append_field_cut(&line, "target", entry->target, false, TARGET_MAX);
    append_number(&line, "status", entry->status);
    append_number(&line, "bytes", entry->bytes);
    append_number(&line, "duration_us", entry->duration_us);
    append_field(&line, "client", entry->client, false);
    append_field(&line, "request_id", entry->request_id, false);
    if (entry->unsent)
        append_field(&line, "unsent", entry->unsent, false);
    finish_line(&line);
    if (!atomic_exchange_explicit(&unflushed, true, memory_order_acq_rel) && wake_flusher)
        wake_flusher();
}

void nd_log_flush(void)
{
    /* Cleared first: a line written meanwhile goes out now or wakes the
     * flusher again. */
    atomic_store_explicit(&unflushed, false, memory_order_release);
    fflush(stdout);
}

void nd_log_on_unflushed(void (*wake)(void))
{
    wake_flusher = wake;
}

bool nd_log_unflushed(void)
{
    return atomic_load_explicit(&unflushed, memory_order_acquire);
}
