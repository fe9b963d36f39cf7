/*
 * Structured logging to stdout: logfmt ("ts=... level=info event=...") or one
 * JSON object per line. stdout is fully buffered when it is not a terminal,
 * so the access log costs a formatted write into a buffer, not a syscall per
 * request; nd_log_flush, called once a second by the main thread and at exit,
 * pushes it out.
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

void nd_log_flush(void);

#endif
