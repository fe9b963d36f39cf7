/*
 * Structured logging to stdout: logfmt ("ts=... level=info event=...") or one
 * JSON object per line. stdout is fully buffered when it is not a terminal,
 * so the access log costs a formatted write into a buffer, not a syscall per
 * request; nd_log_flush, called by the main thread within a second of the
 * first line it has not pushed out yet, and at exit, pushes it out.
 */
#ifndef NETDIAG_HTTP_LOG_H
#define NETDIAG_HTTP_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum nd_log_format { ND_LOG_TEXT, ND_LOG_JSON };

struct nd_access_entry {
    const char *method;
    const char *target; /* raw request target as received */
    unsigned status;
    uint64_t bytes;
    uint64_t duration_us;
    const char *client; /* "127.0.0.1:5555" */
    const char *request_id;
    const char *unsent; /* NULL when the answer went out whole, else why not */
};

void nd_log_init(enum nd_log_format format);

/* One event line; the variadic part is key, value pairs of strings ended by
 * NULL: nd_log_event("info", "listening", "http", "0.0.0.0:8080", NULL). */
void nd_log_event(const char *level, const char *event, ...) __attribute__((sentinel));

void nd_log_access(const struct nd_access_entry *entry);

/* Pushes the buffer out. */
void nd_log_flush(void);

/* wake() runs, in the thread that wrote it, when the first access line
 * since the last flush went into the buffer: whoever flushes can then
 * sleep while there is nothing to flush. Set once, before lines are
 * written; NULL = nobody. */
void nd_log_on_unflushed(void (*wake)(void));

/* True while an access line waits in the buffer. */
bool nd_log_unflushed(void);

#endif
