#include "http/metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>
#include <unistd.h>

#include "http/routes.h"
#include "netdiag/version.h"

/* The statuses netdiag answers with; anything else is counted as "other". */
static const unsigned statuses[] = {200, 204, 301, 308, 400, 401, 403, 404, 405, 408,
                                    413, 414, 431, 500, 502, 503, 504, 505, 0};
enum { STATUS_COUNT = sizeof statuses / sizeof statuses[0] };

/* "-" is a request libmicrohttpd refused before netdiag learnt its method. */
static const char *const methods[] = {"GET", "HEAD", "OPTIONS", "-", "other"};
enum { METHOD_COUNT = sizeof methods / sizeof methods[0] };

/* Latency bucket bounds in microseconds, from 50 µs to 10 s. */
static const uint64_t bucket_bounds_us[] = {50,     100,     250,     500,     1000,    2500,
                                            5000,   10000,   25000,   50000,   100000,  250000,
                                            500000, 1000000, 2500000, 5000000, 10000000};
enum { BUCKET_COUNT = sizeof bucket_bounds_us / sizeof bucket_bounds_us[0] };

/* Routes in the table plus one for paths that match none. */
enum { MAX_ROUTES = ND_ROUTES_MAX };

struct route_counters {
    atomic_uint_fast64_t requests[METHOD_COUNT][STATUS_COUNT];
    atomic_uint_fast64_t buckets[BUCKET_COUNT]; /* not cumulative; summed when rendered */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
};

static struct route_counters counters[MAX_ROUTES + 1];

/* Requests whose answer was not sent whole, by why (termination_name in
 * server.c), and the answers libmicrohttpd wrote itself, by status. */
static const char *const unanswered_reasons[] = {"client_closed", "timeout", "shutdown", "error"};
enum { REASON_COUNT = sizeof unanswered_reasons / sizeof unanswered_reasons[0] };
static atomic_uint_fast64_t unanswered[REASON_COUNT];
static atomic_uint_fast64_t library_answers[STATUS_COUNT];
static time_t start_time;

void nd_metrics_init(void)
{
    start_time = time(NULL);
}

static size_t route_slot(const struct nd_route *route)
{
    if (!route)
        return MAX_ROUTES;
    return route->index < MAX_ROUTES ? route->index : MAX_ROUTES;
}

static size_t method_slot(const char *method)
{
    for (size_t i = 0; i + 1 < METHOD_COUNT; i++) {
        if (strcmp(method, methods[i]) == 0)
            return i;
    }
    return METHOD_COUNT - 1;
}

static size_t status_slot(unsigned status)
{
    for (size_t i = 0; i + 1 < STATUS_COUNT; i++) {
        if (statuses[i] == status)
            return i;
    }
    return STATUS_COUNT - 1;
}

void nd_metrics_record(const struct nd_route *route, const char *method, unsigned status,
                       uint64_t duration_us)
{
    struct route_counters *slot = &counters[route_slot(route)];
    atomic_fetch_add_explicit(&slot->requests[method_slot(method)][status_slot(status)], 1,
                              memory_order_relaxed);
    size_t bucket = 0;
    while (bucket < BUCKET_COUNT && duration_us > bucket_bounds_us[bucket])
        bucket++;
    if (bucket < BUCKET_COUNT)
        atomic_fetch_add_explicit(&slot->buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&slot->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&slot->sum_us, duration_us, memory_order_relaxed);
}

void nd_metrics_record_unanswered(const char *reason)
{
    size_t slot = REASON_COUNT - 1;
    for (size_t i = 0; i < REASON_COUNT; i++) {
        if (strcmp(reason, unanswered_reasons[i]) == 0)
            slot = i;
    }
    atomic_fetch_add_explicit(&unanswered[slot], 1, memory_order_relaxed);
}

void nd_metrics_record_library_answer(unsigned status)
{
    atomic_fetch_add_explicit(&library_answers[status_slot(status)], 1, memory_order_relaxed);
}

void nd_metrics_append(struct nd_metrics_text *text, const char *format, ...)
{
    if (text->failed)
        return;
    for (;;) {
        size_t room = text->capacity - text->length;
        va_list args;
        va_start(args, format);
        int n = text->data ? vsnprintf(text->data + text->length, room, format, args) : -1;
        va_end(args);
        if (n >= 0 && (size_t)n < room) {
            text->length += (size_t)n;
            return;
        }
        size_t capacity = text->capacity ? text->capacity * 2 : 16384;
        while (n >= 0 && capacity - text->length <= (size_t)n)
            capacity *= 2;
        char *grown = realloc(text->data, capacity);
        if (!grown) {
            text->failed = 1;
            return;
        }
        text->data = grown;
        text->capacity = capacity;
    }
}

void nd_metrics_family(struct nd_metrics_text *text, const char *name, const char *type,
                       const char *help)
{
    nd_metrics_append(text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void nd_metrics_value(struct nd_metrics_text *text, const char *name, const char *type,
                      const char *help, uint64_t value)
{
    nd_metrics_family(text, name, type, help);
    nd_metrics_append(text, "%s %llu\n", name, (unsigned long long)value);
}

static const char *route_label(size_t slot)
{
    return slot < nd_routes_count ? nd_routes[slot].path : "unmatched";
}

static void status_label(size_t slot, char *out, size_t size)
{
    if (statuses[slot])
        snprintf(out, size, "%u", statuses[slot]);
    else
        snprintf(out, size, "other");
}

static void render_requests(struct nd_metrics_text *text, size_t slots)
{
    nd_metrics_family(text, "netdiag_http_requests_total", "counter",
                      "HTTP requests answered, by route, method and status.");
    for (size_t r = 0; r < slots; r++) {
        size_t slot = r < nd_routes_count ? r : MAX_ROUTES;
        for (size_t m = 0; m < METHOD_COUNT; m++) {
            for (size_t s = 0; s < STATUS_COUNT; s++) {
                uint64_t value =
                    atomic_load_explicit(&counters[slot].requests[m][s], memory_order_relaxed);
                if (value == 0)
                    continue;
                char status[16];
                status_label(s, status, sizeof status);
                nd_metrics_append(text,
                                  "netdiag_http_requests_total{route=\"%s\",method=\"%s\","
                                  "status=\"%s\"} %llu\n",
                                  route_label(slot), methods[m], status, (unsigned long long)value);
            }
        }
    }
}

static void render_latency(struct nd_metrics_text *text, size_t slots)
{
    nd_metrics_family(text, "netdiag_http_request_duration_seconds", "histogram",
                      "Time from the request line to the last byte of the answer, by route.");
    for (size_t r = 0; r < slots; r++) {
        size_t slot = r < nd_routes_count ? r : MAX_ROUTES;
        const struct route_counters *counter = &counters[slot];
        uint64_t count = atomic_load_explicit(&counter->count, memory_order_relaxed);
        uint64_t cumulative = 0;
        for (size_t b = 0; b < BUCKET_COUNT; b++) {
            cumulative += atomic_load_explicit(&counter->buckets[b], memory_order_relaxed);
            nd_metrics_append(text,
                              "netdiag_http_request_duration_seconds_bucket{route=\"%s\","
                              "le=\"%g\"} %llu\n",
                              route_label(slot), (double)bucket_bounds_us[b] / 1e6,
                              (unsigned long long)cumulative);
        }
        /* Counters move while we read: keep the histogram monotonic. */
        if (count < cumulative)
            count = cumulative;
        nd_metrics_append(text,
                          "netdiag_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                          "%llu\n",
                          route_label(slot), (unsigned long long)count);
        nd_metrics_append(text, "netdiag_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                          route_label(slot),
                          (double)atomic_load_explicit(&counter->sum_us, memory_order_relaxed) /
                              1e6);
        nd_metrics_append(text, "netdiag_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                          route_label(slot), (unsigned long long)count);
    }
}

static long resident_bytes(void)
{
    FILE *file = fopen("/proc/self/statm", "r");
    if (!file)
        return -1;
    long pages_total, pages_resident;
    int matched = fscanf(file, "%ld %ld", &pages_total, &pages_resident);
    fclose(file);
    return matched == 2 ? pages_resident * sysconf(_SC_PAGESIZE) : -1;
}

void nd_metrics_render(struct nd_metrics_text *text)
{
    size_t slots = nd_routes_count + 1; /* every route, then "unmatched" */
    render_requests(text, slots);
    render_latency(text, slots);

    nd_metrics_family(text, "netdiag_http_requests_unanswered_total", "counter",
                      "Requests whose answer was not sent whole, by reason (the access log "
                      "shows them with status 0).");
    for (size_t i = 0; i < REASON_COUNT; i++) {
        nd_metrics_append(
            text, "netdiag_http_requests_unanswered_total{reason=\"%s\"} %llu\n",
            unanswered_reasons[i],
            (unsigned long long)atomic_load_explicit(&unanswered[i], memory_order_relaxed));
    }
    nd_metrics_family(text, "netdiag_http_library_answers_total", "counter",
                      "Error answers libmicrohttpd wrote itself (HTML) for a request line or "
                      "header it refused, by status.");
    for (size_t s = 0; s < STATUS_COUNT; s++) {
        uint64_t value = atomic_load_explicit(&library_answers[s], memory_order_relaxed);
        if (value == 0)
            continue;
        char status[16];
        status_label(s, status, sizeof status);
        nd_metrics_append(text, "netdiag_http_library_answers_total{status=\"%s\"} %llu\n", status,
                          (unsigned long long)value);
    }

    nd_metrics_family(text, "netdiag_build_info", "gauge",
                      "Always 1; the version and libmicrohttpd's as labels.");
    nd_metrics_append(text, "netdiag_build_info{version=\"%s\",libmicrohttpd=\"%s\"} 1\n",
                      NETDIAG_VERSION, MHD_get_version());
    nd_metrics_family(text, "process_start_time_seconds", "gauge",
                      "Start time of the process since the Unix epoch in seconds.");
    nd_metrics_append(text, "process_start_time_seconds %lld\n", (long long)start_time);
    long resident = resident_bytes();
    if (resident >= 0) {
        nd_metrics_family(text, "process_resident_memory_bytes", "gauge",
                          "Resident memory size in bytes.");
        nd_metrics_append(text, "process_resident_memory_bytes %ld\n", resident);
    }
}
