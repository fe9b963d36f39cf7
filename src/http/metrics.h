/*
 * Prometheus metrics: request counters by route, method and status, a
 * latency histogram by route, and whatever the other modules report through
 * their stats. Counting is a few relaxed atomic additions per request; the
 * text is built only when /metrics is scraped.
 */
#ifndef NETDIAG_HTTP_METRICS_H
#define NETDIAG_HTTP_METRICS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct nd_route;

/* A growable text buffer for the exposition format. */
struct nd_metrics_text {
    char *data;
    size_t length;
    size_t capacity;
    int failed; /* an allocation failed; the text is incomplete */
};

void nd_metrics_append(struct nd_metrics_text *text, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* "# HELP" and "# TYPE" lines for a metric family. */
void nd_metrics_family(struct nd_metrics_text *text, const char *name, const char *type,
                       const char *help);

/* A family of one unlabelled sample: its HELP and TYPE lines and its value. */
void nd_metrics_value(struct nd_metrics_text *text, const char *name, const char *type,
                      const char *help, uint64_t value);

/* Called once at start, before any request. */
void nd_metrics_init(void);

/* route may be NULL (no such path). */
void nd_metrics_record(const struct nd_route *route, const char *method, unsigned status,
                       uint64_t duration_us);

/* A request whose answer was not sent whole; reason is "client_closed",
 * "timeout", "shutdown" or "error". */
void nd_metrics_record_unanswered(const char *reason);

/* An error answer libmicrohttpd wrote itself. */
void nd_metrics_record_library_answer(unsigned status);

/* Appends the request metrics and the process metrics. */
void nd_metrics_render(struct nd_metrics_text *text);

#endif
