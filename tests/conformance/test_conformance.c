/* HTTP/1.1 conformance over raw sockets, against the real binary: what
 * RFC 9112 (and RFC 9110) require of a server for each malformed, hostile
 * or unusual request, and that netdiag logs and counts every answer it
 * gives. Each case asserts the status, the body type, whether the
 * connection closes, the access-log line and the metric.
 *
 * libmicrohttpd 0.9.75 (Debian 12) and 1.0 (Debian 13) differ in who
 * answers some requests: netdiag (a problem+json body, an access line with
 * the method) or libmicrohttpd itself (its HTML page, an access line with
 * method "-" when it had read the request line, a counted library answer).
 * The status is the same under both wherever the RFC allows one answer; the
 * few cases where the RFC allows two (a bare LF, obs-fold) say so. The
 * server tells which library it runs in /metrics (netdiag_build_info). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* Who writes the answer. */
enum answerer {
    NETDIAG,       /* netdiag: its body, an access line with the method */
    LIBRARY,       /* libmicrohttpd, after the request line: HTML, access line "method=-" */
    LIBRARY_EARLY, /* libmicrohttpd, on the request line itself: HTML, no access line */
    NOBODY,        /* the connection closes without an answer */
};

struct expectation {
    enum answerer answerer;
    long status;
    const char *type; /* Content-Type of netdiag's answer (NULL: none) */
    bool closes;      /* the server closes the connection after answering */
};

struct conformance_case {
    const char *name;
    /* The request; "%u" in it (at most once) becomes the case's own number,
     * so that its access line can be told from the others'. */
    const char *request;
    size_t length;     /* when the request holds a NUL; 0: strlen */
    const char *route; /* the route label its metric counts under */
    const char *method;
    struct expectation old_library; /* 0.9.75 */
    struct expectation new_library; /* 1.0 */
    /* A pipelined request after it that must (or, when the first closes,
     * must not) be answered on the same connection. */
    bool pipelined_second;
    const char *logged_target; /* when it is not the text after the first space */
};

#define SAME(...)                                                                                  \
    (struct expectation){__VA_ARGS__}, (struct expectation)                                        \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

static const char problem[] = "application/problem+json";
static const char json[] = "application/json";

static const char nul_request[] = "GET /byteorder?value=1\0&bogus=1 HTTP/1.1\r\nHost: x\r\n\r\n";

/* RFC 9112 and RFC 9110 sections are cited where a case checks a MUST. */
static const struct conformance_case cases[] = {
    /* Baseline and the forms of the request target (RFC 9112 3.2). */
    {"plain GET", "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/byteorder", "GET",
     SAME(NETDIAG, 200, json, false), true, NULL},
    {"HEAD", "HEAD /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/byteorder", "HEAD",
     SAME(NETDIAG, 200, json, false), true, NULL},
    {"absolute form is accepted (3.2.2)",
     "GET http://x/byteorder?value=%u HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/byteorder", "GET",
     SAME(NETDIAG, 200, json, false), true, NULL},
    {"absolute form, https and upper case",
     "GET HTTPS://X:8080/byteorder?value=%u HTTP/1.1\r\n"
     "Host: y\r\n\r\n",
     0, "/byteorder", "GET", SAME(NETDIAG, 200, json, false), false, NULL},
    {"OPTIONS * (3.2.4)", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 0, "unmatched", "OPTIONS",
     SAME(NETDIAG, 204, NULL, false), true, NULL},
    {"* with GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 0, "unmatched", "GET",
     SAME(NETDIAG, 400, problem, false), false, NULL},
    {"authority form outside CONNECT", "GET x:%u HTTP/1.1\r\nHost: x\r\n\r\n", 0, "unmatched",
     "GET", SAME(NETDIAG, 400, problem, true), false, NULL},
    {"byte 0xff in the target", "GET /byteorder?value=%u\xff HTTP/1.1\r\nHost: x\r\n\r\n", 0,
     "/byteorder", "GET", SAME(NETDIAG, 400, problem, true), false, NULL},
    {"control byte in the target", "GET /byteorder?value=%u\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 0,
     "/byteorder", "GET", SAME(NETDIAG, 400, problem, true), false, NULL},
    /* A raw NUL: 0.9.75 hands the target over cut at it; netdiag sees the
     * cut and refuses. 1.0 closes the connection itself, unanswered. */
    {"raw NUL in the target",
     nul_request,
     sizeof nul_request - 1,
     "/byteorder",
     "GET",
     {NETDIAG, 400, problem, true},
     {NOBODY, 0, NULL, true},
     false,
     NULL},
    /* Whitespace in odd places (RFC 9112 3: a server may parse leniently or
     * refuse; netdiag refuses under both versions). */
    {"two spaces after the method",
     "GET  /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 400, problem, true},
     {LIBRARY_EARLY, 400, NULL, true},
     false,
     "/byteorder?value=%u"},
    {"space inside the target",
     "GET /byte order?value=%u HTTP/1.1\r\nHost: x\r\n\r\n",
     0,
     "unmatched",
     "GET",
     {NETDIAG, 400, problem, true},
     {LIBRARY_EARLY, 400, NULL, true},
     false,
     "/byte order?value=%u"},
    {"empty method (leading space)", " /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n\r\n", 0,
     "unmatched", "-", SAME(NOBODY, 0, NULL, true), false, NULL},
    {"long method", NULL, 0, "/healthz", "other", SAME(NETDIAG, 405, problem, false), true, NULL},
    /* Host (RFC 9112 3.2): 400 without one in HTTP/1.1, with two, or bad. */
    {"no Host",
     "GET /byteorder?value=%u HTTP/1.1\r\n\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 400, problem, true},
     {LIBRARY, 400, NULL, true},
     false,
     NULL},
    {"no Host in HTTP/1.0", "GET /byteorder?value=%u HTTP/1.0\r\n\r\n", 0, "/byteorder", "GET",
     SAME(NETDIAG, 200, json, true), false, NULL},
    {"two Host fields", "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 0,
     "/byteorder", "GET", SAME(NETDIAG, 400, problem, true), false, NULL},
    {"Host with a space in it", "GET /byteorder?value=%u HTTP/1.1\r\nHost: a b\r\n\r\n", 0,
     "/byteorder", "GET", SAME(NETDIAG, 400, problem, true), false, NULL},
    /* RFC 9112 5.1: whitespace between field name and colon is a 400. */
    {"space before the colon",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost : x\r\n\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 400, problem, true},
     {LIBRARY, 400, NULL, true},
     false,
     NULL},
    {"field name that is not a token",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n"
     "X(Y): 1\r\n\r\n",
     0, "/byteorder", "GET", SAME(NETDIAG, 400, problem, true), false, NULL},
    {"field line without a colon", "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
     0, "/byteorder", "-", SAME(LIBRARY, 400, NULL, true), false, NULL},
    {"trailing whitespace in a field value",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x \t \r\n\r\n", 0, "/byteorder", "GET",
     SAME(NETDIAG, 200, json, false), true, NULL},
    /* RFC 9112 2.2: a recipient MAY take a bare LF as a line end (0.9.75
     * does) or refuse it (1.0 does); 5.2: obs-fold is refused (1.0) or
     * replaced by spaces (0.9.75). */
    {"bare LF line ends",
     "GET /byteorder?value=%u HTTP/1.1\nHost: x\n\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 200, json, false},
     {LIBRARY_EARLY, 400, NULL, true},
     false,
     NULL},
    {"obs-fold",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 200, json, false},
     {LIBRARY, 400, NULL, true},
     false,
     NULL},
    /* Versions (RFC 9112 2.3, 2.6). */
    {"HTTP/0.9 (no version)", "GET /byteorder?value=%u\r\n\r\n", 0, "unmatched", "-",
     SAME(LIBRARY_EARLY, 400, NULL, true), false, NULL},
    {"HTTP/2.0 on the text protocol", "GET /byteorder?value=%u HTTP/2.0\r\nHost: x\r\n\r\n", 0,
     "unmatched", "-", SAME(LIBRARY_EARLY, 505, NULL, true), false, NULL},
    /* Body framing (RFC 9112 6.3): anything two readers could read two
     * ways is a 400 and the connection closes, so that the bytes after the
     * header are never taken for a request (smuggling). */
    {"two Content-Length fields, a request hidden behind them",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n"
     "\r\nGET /byteorder?value=99 HTTP/1.1\r\nHost: x\r\n\r\n",
     0, "/byteorder", "GET", SAME(NETDIAG, 400, problem, true), false, NULL},
    {"Content-Length: abc",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n"
     "\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 400, problem, true},
     {LIBRARY, 400, NULL, true},
     false,
     NULL},
    {"Content-Length: -1",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n"
     "\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 400, problem, true},
     {LIBRARY, 400, NULL, true},
     false,
     NULL},
    {"Content-Length: 0, 5",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: 0, 5\r\n\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 400, problem, true},
     {LIBRARY, 400, NULL, true},
     false,
     NULL},
    {"Content-Length of 20 digits",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: 99999999999999999999\r\n\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 413, problem, true},
     {LIBRARY, 413, NULL, true},
     false,
     NULL},
    {"Transfer-Encoding with Content-Length",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 400, problem, true},
     {LIBRARY, 400, NULL, true},
     false,
     NULL},
    {"Transfer-Encoding: gzip (not chunked last)",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 400, problem, true},
     {LIBRARY, 400, NULL, true},
     false,
     NULL},
    {"Transfer-Encoding: chunked, chunked",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
     "0\r\n\r\n",
     0,
     "/byteorder",
     "GET",
     {NETDIAG, 400, problem, true},
     {LIBRARY, 400, NULL, true},
     false,
     NULL},
    {"two Transfer-Encoding fields",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     0, "/byteorder", "GET", SAME(NETDIAG, 400, problem, true), false, NULL},
    {"Transfer-Encoding in HTTP/1.0",
     "GET /byteorder?value=%u HTTP/1.0\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     0, "/byteorder", "GET", SAME(NETDIAG, 400, problem, true), false, NULL},
    /* A well-framed body: netdiag takes none, answers before reading it
     * and closes (the body is never parsed, so a bad chunk size in it
     * cannot matter). */
    {"chunked body on GET",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n"
     "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
     0, "/byteorder", "GET", SAME(NETDIAG, 413, problem, true), false, NULL},
    {"invalid chunk size on GET",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n"
     "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
     0, "/byteorder", "GET", SAME(NETDIAG, 413, problem, true), false, NULL},
    {"Content-Length body on GET",
     "GET /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: 5\r\n\r\nhello",
     0, "/byteorder", "GET", SAME(NETDIAG, 413, problem, true), false, NULL},
    {"POST with a body is 405, not 413",
     "POST /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: 3\r\n\r\nabc",
     0, "/byteorder", "POST", SAME(NETDIAG, 405, problem, true), false, NULL},
    {"POST with an invalid chunk size",
     "POST /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n"
     "Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
     0, "/byteorder", "POST", SAME(NETDIAG, 405, problem, true), false, NULL},
    /* Errors that keep the connection (RFC 9112 9.3: pipelined requests
     * are answered in order). */
    {"404, then a pipelined request", "GET /nowhere/%u HTTP/1.1\r\nHost: x\r\n\r\n", 0, "unmatched",
     "GET", SAME(NETDIAG, 404, problem, false), true, NULL},
    {"400 for a parameter, then a pipelined request",
     "GET /byteorder?value=x%u HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/byteorder", "GET",
     SAME(NETDIAG, 400, problem, false), true, NULL},
    {"405, then a pipelined request", "DELETE /byteorder?value=%u HTTP/1.1\r\nHost: x\r\n\r\n", 0,
     "/byteorder", "DELETE", SAME(NETDIAG, 405, problem, false), true, NULL},
};

enum { CASE_COUNT = sizeof cases / sizeof cases[0] };

static const char second_request[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

struct answer {
    long status;
    char type[128];
    char *text; /* everything received, NUL-terminated */
    size_t length;
    unsigned answers; /* status lines seen */
    bool closed;      /* the server closed the connection */
};

/* Sends request and reads until the server closes or stays silent for
 * quiet_ms after its last byte. */
static void exchange(unsigned port, const char *request, size_t length, int quiet_ms,
                     struct answer *answer)
{
    memset(answer, 0, sizeof *answer);
    int fd = nd_test_connect(port);
    nd_test_send_all(fd, request, length);
    size_t capacity = 1 << 16;
    answer->text = malloc(capacity);
    assert_non_null(answer->text);
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    while (answer->length < capacity - 1 && poll(&entry, 1, quiet_ms) == 1) {
        ssize_t n = recv(fd, answer->text + answer->length, capacity - 1 - answer->length, 0);
        if (n == 0 || (n < 0 && errno != EINTR)) {
            answer->closed = true;
            break;
        }
        if (n > 0)
            answer->length += (size_t)n;
    }
    close(fd);
    answer->text[answer->length] = '\0';
    sscanf(answer->text, "HTTP/1.%*d %ld", &answer->status);
    const char *head_end = strstr(answer->text, "\r\n\r\n");
    const char *type = strcasestr(answer->text, "\r\nContent-Type: ");
    if (type && head_end && type < head_end) {
        type += strlen("\r\nContent-Type: ");
        size_t n = strcspn(type, "\r;");
        snprintf(answer->type, sizeof answer->type, "%.*s", (int)n, type);
    }
    /* Count the answers: each a head, then Content-Length bytes of body
     * (none after HEAD, 204 or 304). */
    const char *p = answer->text;
    const char *end = answer->text + answer->length;
    while (p < end && strncmp(p, "HTTP/1.", 7) == 0) {
        answer->answers++;
        const char *head = strstr(p, "\r\n\r\n");
        if (!head)
            break;
        const char *field = strcasestr(p, "\r\nContent-Length: ");
        size_t body = field && field < head ? strtoul(field + 18, NULL, 10) : 0;
        bool bodiless = strncmp(request, "HEAD ", 5) == 0 || strncmp(p + 9, "204", 3) == 0;
        p = head + 4 + (bodiless ? 0 : body);
    }
}

/* libmicrohttpd's own error pages (which carry no Content-Type in 0.9.75). */
static bool library_page(const struct answer *answer)
{
    const char *body = strstr(answer->text, "\r\n\r\n");
    return body && strncmp(body + 4, "<html>", 6) == 0;
}

/* The text of a case's request, with its number in it. */
static char *request_text(const struct conformance_case *c, unsigned number, size_t *length)
{
    if (!c->request) {
        /* The long method: 3,000 letters, well inside the pool. */
        size_t size = 3000;
        char *text = malloc(size + 64);
        assert_non_null(text);
        memset(text, 'G', size);
        *length = size + (size_t)sprintf(text + size, " /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        return text;
    }
    if (c->length) {
        char *text = malloc(c->length);
        assert_non_null(text);
        memcpy(text, c->request, c->length);
        *length = c->length;
        return text;
    }
    size_t size = strlen(c->request) + 32;
    char *text = malloc(size);
    assert_non_null(text);
    const char *mark = strstr(c->request, "%u");
    if (!mark) {
        *length = (size_t)snprintf(text, size, "%s", c->request);
        return text;
    }
    *length = (size_t)snprintf(text, size, "%.*s%u%s", (int)(mark - c->request), c->request, number,
                               mark + 2);
    return text;
}

static bool new_library(const struct nd_test_server *server)
{
    struct nd_test_response metrics;
    nd_test_get(server, "/metrics", &metrics);
    const char *label = strstr(metrics.body, "libmicrohttpd=\"");
    assert_non_null(label);
    bool is_new = atoi(label + strlen("libmicrohttpd=\"")) >= 1;
    nd_test_response_free(&metrics);
    return is_new;
}

/* The method label /metrics counts a method under. */
static const char *metric_method(const char *method)
{
    static const char *const named[] = {"GET", "HEAD", "OPTIONS", "-"};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strcmp(method, named[i]) == 0)
            return method;
    }
    return "other";
}

/* The value of the metric line that starts with prefix, or 0. */
static unsigned long long metric_value(const char *metrics, const char *prefix)
{
    size_t prefix_length = strlen(prefix);
    for (const char *line = metrics; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, prefix, prefix_length) == 0 && line[prefix_length] == ' ')
            return strtoull(line + prefix_length + 1, NULL, 10);
    }
    return 0;
}

/* The counters each case is expected to move, added up. */
struct tally {
    char key[192];
    unsigned long long count;
};

static void count(struct tally *tallies, size_t *used, const char *key)
{
    for (size_t i = 0; i < *used; i++) {
        if (strcmp(tallies[i].key, key) == 0) {
            tallies[i].count++;
            return;
        }
    }
    snprintf(tallies[*used].key, sizeof tallies[*used].key, "%s", key);
    tallies[(*used)++].count = 1;
}

/* The access line of a request whose target holds "value=N" or
 * "/nowhere/N" etc.: found by the target text the server logged. */
static bool access_line_logged(const char *log, const char *target, const char *method, long status)
{
    char needle[512];
    snprintf(needle, sizeof needle, "method=%s target=%s status=%ld ", method, target, status);
    return strstr(log, needle) != NULL;
}

static void test_conformance_cases(void **state)
{
    (void)state;
    struct nd_test_server server;
    nd_test_server_start(&server, NULL);
    bool is_new = new_library(&server);
    printf("libmicrohttpd %s\n", is_new ? "1.0" : "0.9");
    struct tally tallies[3 * CASE_COUNT];
    size_t used = 0;
    char key[192];
    unsigned library_early = 0;
    int failures = 0;
    for (unsigned i = 0; i < CASE_COUNT; i++) {
        const struct conformance_case *c = &cases[i];
        const struct expectation *want = is_new ? &c->new_library : &c->old_library;
        size_t length;
        char *request = request_text(c, i + 1000, &length);
        if (c->pipelined_second) {
            request = realloc(request, length + sizeof second_request);
            assert_non_null(request);
            memcpy(request + length, second_request, sizeof second_request);
            length += sizeof second_request - 1;
        }
        struct answer answer;
        exchange(server.http_port, request, length, want->closes ? 3000 : 300, &answer);
        free(request);
        bool ok = answer.status == want->status && answer.closed == want->closes;
        if (want->answerer == NETDIAG && want->type)
            ok = ok && strcmp(answer.type, want->type) == 0;
        if (want->answerer == LIBRARY || want->answerer == LIBRARY_EARLY)
            ok = ok && library_page(&answer);
        /* A pipelined request is answered after one that keeps the
         * connection, and never after one that closes it. */
        unsigned expected_answers = want->status ? 1 + (c->pipelined_second && !want->closes) : 0;
        ok = ok && answer.answers == expected_answers;
        if (!ok) {
            fprintf(
                stderr,
                "FAIL %s: expected %ld %s%s (%u answers), got %ld '%s'%s (%u answers):\n%.600s\n",
                c->name, want->status, want->type ? want->type : "",
                want->closes ? " and close" : "", expected_answers, answer.status, answer.type,
                answer.closed ? " and close" : "", answer.answers, answer.text);
            failures++;
        }
        free(answer.text);
        if (want->answerer == NETDIAG || want->answerer == LIBRARY) {
            snprintf(key, sizeof key,
                     "netdiag_http_requests_total{route=\"%s\",method=\"%s\",status=\"%ld\"}",
                     c->route, want->answerer == LIBRARY ? "-" : metric_method(c->method),
                     want->status);
            count(tallies, &used, key);
        }
        if (c->pipelined_second && !want->closes)
            count(tallies, &used,
                  "netdiag_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}");
        if (want->answerer == LIBRARY || want->answerer == LIBRARY_EARLY) {
            snprintf(key, sizeof key, "netdiag_http_library_answers_total{status=\"%ld\"}",
                     want->status);
            count(tallies, &used, key);
        }
        library_early += want->answerer == LIBRARY_EARLY;
    }
    assert_int_equal(failures, 0);

    /* Every answer is in the log: an access line per answered request that
     * carries its number (the log is flushed once a second). */
    assert_true(nd_test_server_wait_log(&server, "target=/nowhere/", 3000));
    char *log = NULL;
    for (int attempt = 0; attempt < 30; attempt++) {
        free(log);
        log = nd_test_server_log(&server);
        unsigned missing = 0;
        for (unsigned i = 0; i < CASE_COUNT; i++) {
            const struct conformance_case *c = &cases[i];
            const struct expectation *want = is_new ? &c->new_library : &c->old_library;
            if (want->answerer != NETDIAG && want->answerer != LIBRARY)
                continue;
            size_t length;
            char *request = request_text(c, i + 1000, &length);
            /* The target as logged: between the first space and the next. */
            char *target = request + strcspn(request, " ") + 1;
            target[strcspn(target, " \r\n")] = '\0';
            if (c->logged_target) {
                struct conformance_case logged = {.request = c->logged_target};
                free(request);
                request = request_text(&logged, i + 1000, &length);
                target = request;
            }
            bool escaped = c->length != 0; /* the NUL case */
            bool quoted = false;
            for (const unsigned char *p = (const unsigned char *)target; *p; p++) {
                escaped = escaped || *p < 0x20 || *p >= 0x7f;
                quoted = quoted || *p == ' ' || *p == '"' || *p == '=' || *p == '\\';
            }
            if (escaped) {
                free(request);
                continue; /* escaped in the log: test_log checks how */
            }
            char logged[256];
            snprintf(logged, sizeof logged, quoted ? "\"%s\"" : "%s", target);
            const char *method = want->answerer == LIBRARY ? "-" : c->method;
            if (!c->request)
                method = NULL; /* the long method is cut in the log: the status suffices */
            if (method && !access_line_logged(log, logged, method, want->status)) {
                if (attempt == 29)
                    fprintf(stderr, "no access line for %s (%s %s %ld)\n", c->name, method, logged,
                            want->status);
                missing++;
            }
            free(request);
        }
        if (missing == 0)
            break;
        assert_true(attempt < 29);
        usleep(100 * 1000);
    }
    /* libmicrohttpd's own answers are logged with their status. */
    unsigned early_logged = 0;
    for (const char *p = strstr(log, "event=libmicrohttpd status="); p;
         p = strstr(p + 1, "event=libmicrohttpd status="))
        early_logged++;
    free(log);
    assert_true(early_logged >= library_early);

    /* And counted, each once. */
    struct nd_test_response metrics;
    nd_test_get(&server, "/metrics", &metrics);
    for (size_t i = 0; i < used; i++) {
        unsigned long long value = metric_value(metrics.body, tallies[i].key);
        if (value != tallies[i].count)
            fail_msg("%s is %llu, expected %llu", tallies[i].key, value, tallies[i].count);
    }
    assert_int_equal(
        metric_value(metrics.body, "netdiag_http_requests_unanswered_total{reason=\"error\"}"), 0);
    nd_test_response_free(&metrics);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
}

/* Items 1 and 2 of the HTTP edge cases: every size of request line and
 * header gets an answer (never an empty reply or a hang), and the log and
 * /metrics never claim an answer that was not sent. */
static void test_every_size_is_answered(void **state)
{
    (void)state;
    struct nd_test_server server;
    nd_test_server_start(&server, NULL);
    char *request = malloc(16384);
    assert_non_null(request);
    unsigned answered = 0, netdiag_431 = 0, library_431 = 0;
    /* A header padded from 6 KB to past the 8 KiB pool, 16 bytes at a time. */
    for (size_t pad = 6000; pad <= 8400; pad += 16) {
        int n = snprintf(request, 16384,
                         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ");
        memset(request + n, 'p', pad);
        n += (int)pad + snprintf(request + n + pad, 64, "\r\n\r\n");
        struct answer answer;
        exchange(server.http_port, request, (size_t)n, 2000, &answer);
        if (answer.status != 200 && answer.status != 431)
            fail_msg("header of %d bytes: status %ld", n, answer.status);
        if (answer.status == 431 && strcmp(answer.type, "application/problem+json") == 0)
            netdiag_431++;
        else if (answer.status == 431)
            library_431++;
        answered++;
        free(answer.text);
    }
    /* Query strings of 100 to 3,000 parameters: 400 while the line fits,
     * libmicrohttpd's 414 past it; 112 to 128 used to get no answer. */
    for (unsigned params = 100; params <= 3000; params += params < 140 ? 2 : 200) {
        int n = snprintf(request, 16384, "GET /healthz?");
        for (unsigned i = 0; i < params && n < 16000; i++)
            n += snprintf(request + n, 16384 - (size_t)n, "%sa%u=1", i ? "&" : "", i);
        n += snprintf(request + n, 16384 - (size_t)n,
                      " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        struct answer answer;
        exchange(server.http_port, request, (size_t)n, 2000, &answer);
        if (answer.status != 400 && answer.status != 414 && answer.status != 431)
            fail_msg("%u parameters (%d bytes): status %ld", params, n, answer.status);
        if (answer.status == 400) {
            const char *code = params > 128 ? "invalid_query" : "unknown_parameter";
            assert_non_null(strstr(answer.text, code));
        }
        if (answer.status == 431 && strcmp(answer.type, "application/problem+json") == 0)
            netdiag_431++;
        answered++;
        free(answer.text);
    }
    free(request);
    assert_true(netdiag_431 > 0);
    printf("%u requests answered; 431: %u by netdiag, %u by libmicrohttpd\n", answered, netdiag_431,
           library_431);
    struct nd_test_response metrics;
    nd_test_get(&server, "/metrics", &metrics);
    unsigned long long unanswered =
        metric_value(metrics.body, "netdiag_http_requests_unanswered_total{reason=\"error\"}");
    unsigned long long counted_431 = metric_value(
        metrics.body,
        "netdiag_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"431\"}");
    nd_test_response_free(&metrics);
    assert_int_equal(unanswered, 0);
    assert_int_equal(counted_431, netdiag_431);
    /* The log never says 200 for an answer that was not sent. */
    assert_true(nd_test_server_wait_log(&server, "status=431", 3000));
    char *log = nd_test_server_log(&server);
    assert_null(strstr(log, " status=0 "));
    /* Nor does it pass on the "internal error" libmicrohttpd reports when
     * netdiag, having written its own 431, has it close the connection. */
    assert_null(strstr(log, "Application reported internal error"));
    free(log);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
}

/* A client that resets the connection before its answer is logged as
 * unanswered (status 0), not as the status netdiag meant to send. */
static void test_unsent_answer_is_not_claimed(void **state)
{
    (void)state;
    struct nd_test_server server;
    unsigned silent_port;
    int silent = nd_test_udp_socket(&silent_port); /* takes the query, never answers */
    char server_arg[64];
    snprintf(server_arg, sizeof server_arg, "127.0.0.1:%u", silent_port);
    nd_test_server_start(&server, NULL);
    char request[256];
    int n = snprintf(request, sizeof request,
                     "GET /time/sntp?server=%s&timeout_ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n",
                     server_arg);
    int fd = nd_test_connect(server.http_port);
    assert_int_equal(send(fd, request, (size_t)n, MSG_NOSIGNAL), n);
    usleep(200 * 1000);
    /* Gone before the 504, with a reset: the server's send then fails
     * (after a plain close the kernel would still take the bytes). */
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    close(fd);
    assert_true(nd_test_server_wait_log(&server, "unsent=", 5000));
    char *log = nd_test_server_log(&server);
    const char *line = strstr(log, "target=\"/time/sntp");
    if (!line)
        line = strstr(log, "target=/time/sntp");
    assert_non_null(line);
    assert_non_null(strstr(line, " status=0 "));
    free(log);
    struct nd_test_response metrics;
    nd_test_get(&server, "/metrics", &metrics);
    unsigned long long unanswered =
        metric_value(metrics.body,
                     "netdiag_http_requests_unanswered_total{reason=\"client_closed\"}") +
        metric_value(metrics.body, "netdiag_http_requests_unanswered_total{reason=\"error\"}");
    assert_int_equal(unanswered, 1);
    assert_null(strstr(metrics.body, "route=\"/time/sntp\",method=\"GET\",status=\"504\""));
    nd_test_response_free(&metrics);
    close(silent);
    assert_int_equal(nd_test_server_stop(&server, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conformance_cases),
        cmocka_unit_test(test_every_size_is_answered),
        cmocka_unit_test(test_unsent_answer_is_not_claimed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
