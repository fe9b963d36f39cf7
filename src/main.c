/*
 * netdiag: configuration, signals, start and stop. The only file that knows
 * the HTTP server, the echo listener and the core together.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/log.h"
#include "http/metrics.h"
#include "http/probe.h"
#include "echo/echo.h"
#include "http/server.h"
#include "netdiag/allowlist.h"
#include "netdiag/net.h"
#include "netdiag/parse.h"
#include "netdiag/version.h"

struct settings {
    struct nd_net_endpoint listen;
    uint64_t threads;
    uint64_t max_connections;
    uint64_t per_ip_connections;
    uint64_t connection_timeout_s;
    uint64_t connection_memory;
    uint64_t drain_timeout_s;
    uint64_t drain_delay_s;
    enum nd_log_format log_format;
    bool access_log;
    char cors_origin[128];
    struct nd_net_endpoint echo_listen; /* host "" = the echo listener is off */
    uint64_t echo_max_connections;
    uint64_t echo_idle_timeout_s;
    uint64_t echo_buffer;
    uint64_t slow_workers;
    uint64_t slow_max_waiting;
    char sntp_server[ND_NET_HOST_MAX + 8];
    struct nd_allowlist sntp_allow;
    char docs_dir[1024];
    char auth_token_file[1024];
    bool healthcheck; /* --healthcheck: probe a running server and exit */
    char healthcheck_url[1024];
};

enum option_kind {
    OPTION_ENDPOINT,
    OPTION_ENDPOINT_OR_OFF,
    OPTION_NUMBER,
    OPTION_SWITCH,
    OPTION_LOG_FORMAT,
    OPTION_TEXT,
    OPTION_ALLOWLIST,
};

struct option {
    const char *flag;
    const char *env;
    const char *default_text;
    enum option_kind kind;
    uint64_t min, max; /* OPTION_NUMBER's range; OPTION_TEXT's field size in max */
    size_t offset;     /* into struct settings */
    const char *help;
};

#define FIELD(name) offsetof(struct settings, name)
#define FIELD_SIZE(name) sizeof(((struct settings *)0)->name)

static const struct option options[] = {
    {"listen", "NETDIAG_LISTEN", "*:8080", OPTION_ENDPOINT, 0, 0, FIELD(listen),
     "HTTP address, HOST:PORT or [IPV6]:PORT; * = every IPv4 and IPv6 address"},
    {"threads", "NETDIAG_THREADS", "0", OPTION_NUMBER, 0, 256, FIELD(threads),
     "HTTP polling threads, each with its own epoll set; 0 = one per CPU core"},
    {"max-connections", "NETDIAG_MAX_CONNECTIONS", "20000", OPTION_NUMBER, 1, 1000000,
     FIELD(max_connections), "open HTTP connections at most; more are refused"},
    {"per-ip-connections", "NETDIAG_PER_IP_CONNECTIONS", "0", OPTION_NUMBER, 0, 1000000,
     FIELD(per_ip_connections), "open HTTP connections per client address; 0 = no limit"},
    {"connection-timeout", "NETDIAG_CONNECTION_TIMEOUT", "60", OPTION_NUMBER, 1, 86400,
     FIELD(connection_timeout_s),
     "seconds an idle or stalled HTTP connection is kept, and that a request may take to arrive "
     "whole"},
    {"connection-memory", "NETDIAG_CONNECTION_MEMORY", "8192", OPTION_NUMBER, 4096, 1048576,
     FIELD(connection_memory),
     "bytes per HTTP connection for the request line and headers (414/431 beyond)"},
    {"drain-delay", "NETDIAG_DRAIN_DELAY", "0", OPTION_NUMBER, 0, 600, FIELD(drain_delay_s),
     "seconds between SIGTERM (/readyz turns 503) and refusing new connections"},
    {"drain-timeout", "NETDIAG_DRAIN_TIMEOUT", "10", OPTION_NUMBER, 0, 3600, FIELD(drain_timeout_s),
     "seconds in-flight requests get to finish on SIGTERM"},
    {"log-format", "NETDIAG_LOG_FORMAT", "text", OPTION_LOG_FORMAT, 0, 0, FIELD(log_format),
     "log lines on stdout: text (logfmt) or json"},
    {"access-log", "NETDIAG_ACCESS_LOG", "on", OPTION_SWITCH, 0, 0, FIELD(access_log),
     "one log line per request: on or off"},
    {"cors-origin", "NETDIAG_CORS_ORIGIN", "*", OPTION_TEXT, 0, FIELD_SIZE(cors_origin),
     FIELD(cors_origin), "Access-Control-Allow-Origin value; off = no CORS headers"},
    {"echo-listen", "NETDIAG_ECHO_LISTEN", "*:9900", OPTION_ENDPOINT_OR_OFF, 0, 0,
     FIELD(echo_listen), "TCP echo listener address (recipe 13); off = no echo listener"},
    {"echo-max-connections", "NETDIAG_ECHO_MAX_CONNECTIONS", "10000", OPTION_NUMBER, 1, 1000000,
     FIELD(echo_max_connections), "open echo connections at most; more are closed at once"},
    {"echo-idle-timeout", "NETDIAG_ECHO_IDLE_TIMEOUT", "60", OPTION_NUMBER, 1, 86400,
     FIELD(echo_idle_timeout_s), "seconds an echo connection may stay silent both ways"},
    {"echo-buffer", "NETDIAG_ECHO_BUFFER", "65536", OPTION_NUMBER, 1024, 16777216,
     FIELD(echo_buffer), "bytes buffered per echo connection before reading pauses"},
    {"slow-workers", "NETDIAG_SLOW_WORKERS", "8", OPTION_NUMBER, 1, 256, FIELD(slow_workers),
     "threads for blocking lookups (getaddrinfo) behind /resolve and /time/sntp"},
    {"slow-max-waiting", "NETDIAG_SLOW_MAX_WAITING", "64", OPTION_NUMBER, 1, 100000,
     FIELD(slow_max_waiting), "DNS/SNTP requests in progress at most; more get 503"},
    {"sntp-server", "NETDIAG_SNTP_SERVER", "pool.ntp.org", OPTION_TEXT, 0, FIELD_SIZE(sntp_server),
     FIELD(sntp_server), "default server for /time/sntp: host or host:port"},
    {"sntp-allow", "NETDIAG_SNTP_ALLOW", "", OPTION_ALLOWLIST, 0, 0, FIELD(sntp_allow),
     "servers /time/sntp may query: host names and CIDRs, comma-separated; empty = any"},
    {"auth-token-file", "NETDIAG_AUTH_TOKEN_FILE", "", OPTION_TEXT, 0, FIELD_SIZE(auth_token_file),
     FIELD(auth_token_file),
     "file holding a bearer token every route but /healthz, /readyz, /metrics requires"},
    {"docs-dir", "NETDIAG_DOCS_DIR", "", OPTION_TEXT, 0, FIELD_SIZE(docs_dir), FIELD(docs_dir),
     "Swagger UI's files (npm swagger-ui-dist) for /docs; empty = look beside the binary"},
};

#undef FIELD
#undef FIELD_SIZE

enum { OPTION_COUNT = sizeof options / sizeof options[0] };

static void print_usage(FILE *out)
{
    fprintf(out, "Usage: netdiag [OPTION VALUE]...\n"
                 "Socket API recipes as a JSON/HTTP service.\n\n"
                 "Every option can also be set by its environment variable; flags win.\n\n");
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", options[i].flag);
        fprintf(out, "  %-24s %s\n  %-24s env %s, default %s\n", flag, options[i].help, "",
                options[i].env, options[i].default_text[0] ? options[i].default_text : "(empty)");
    }
    fprintf(out, "  %-24s %s\n  %-24s %s\n", "--healthcheck [URL]",
            "GET URL (default: /healthz on --listen) and exit 0 on 200, else 1", "",
            "for container health checks: the image has no curl");
    fprintf(out, "  %-24s %s\n  %-24s %s\n", "--help", "show this help and exit", "--version",
            "show the version and exit");
}

/* Returns false with a one-line reason in why. */
static bool apply_option(const struct option *option, const char *value, struct settings *settings,
                         char *why, size_t why_size)
{
    void *field = (char *)settings + option->offset;
    struct nd_error error;
    switch (option->kind) {
    case OPTION_ENDPOINT_OR_OFF:
        if (strcmp(value, "off") == 0) {
            ((struct nd_net_endpoint *)field)->host[0] = '\0';
            return true;
        }
        /* fall through */
    case OPTION_ENDPOINT:
        if (nd_net_parse_endpoint(value, field, &error) != ND_OK) {
            snprintf(why, why_size, "%s", error.message);
            return false;
        }
        return true;
    case OPTION_NUMBER: {
        uint64_t number;
        enum nd_err err = nd_parse_decimal(value, option->max, &number);
        if (err != ND_OK || number < option->min) {
            snprintf(why, why_size, "'%s' is not a whole number from %llu to %llu", value,
                     (unsigned long long)option->min, (unsigned long long)option->max);
            return false;
        }
        *(uint64_t *)field = number;
        return true;
    }
    case OPTION_SWITCH:
        if (nd_parse_bool(value, field) != ND_OK) {
            snprintf(why, why_size, "'%s' is not on or off", value);
            return false;
        }
        return true;
    case OPTION_LOG_FORMAT:
        if (strcmp(value, "text") == 0) {
            *(enum nd_log_format *)field = ND_LOG_TEXT;
        } else if (strcmp(value, "json") == 0) {
            *(enum nd_log_format *)field = ND_LOG_JSON;
        } else {
            snprintf(why, why_size, "'%s' is not text or json", value);
            return false;
        }
        return true;
    case OPTION_TEXT: {
        size_t size = (size_t)option->max; /* the field's size, for text */
        if (strlen(value) >= size) {
            snprintf(why, why_size, "value is longer than %zu bytes", size - 1);
            return false;
        }
        snprintf(field, size, "%s", value);
        return true;
    }
    case OPTION_ALLOWLIST:
        if (nd_allowlist_parse(value, field, &error) != ND_OK) {
            snprintf(why, why_size, "%s", error.message);
            return false;
        }
        return true;
    }
    return false;
}

static const struct option *find_option(const char *flag, size_t length)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strlen(options[i].flag) == length && strncmp(options[i].flag, flag, length) == 0)
            return &options[i];
    }
    return NULL;
}

static _Noreturn void usage_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void usage_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "netdiag: ");
    vfprintf(stderr, format, args);
    fprintf(stderr, " (see netdiag --help)\n");
    va_end(args);
    exit(2);
}

/* Defaults, then the environment, then the flags: the last word wins. */
static void load_settings(int argc, char **argv, struct settings *settings)
{
    char why[256];
    memset(settings, 0, sizeof *settings);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (!apply_option(&options[i], options[i].default_text, settings, why, sizeof why))
            usage_error("built-in default of --%s: %s", options[i].flag, why);
    }
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *value = getenv(options[i].env);
        if (value && !apply_option(&options[i], value, settings, why, sizeof why))
            usage_error("%s: %s", options[i].env, why);
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(stdout);
            exit(0);
        }
        if (strcmp(arg, "--version") == 0) {
            printf("netdiag %s\n", NETDIAG_VERSION);
            exit(0);
        }
        if (strcmp(arg, "--healthcheck") == 0) {
            settings->healthcheck = true;
            if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                const char *url = argv[++i];
                if (strlen(url) >= sizeof settings->healthcheck_url)
                    usage_error("--healthcheck: URL is too long");
                snprintf(settings->healthcheck_url, sizeof settings->healthcheck_url, "%s", url);
            }
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            usage_error("unexpected argument '%s'", arg);
        const char *name = arg + 2;
        const char *equals = strchr(name, '=');
        size_t name_length = equals ? (size_t)(equals - name) : strlen(name);
        const struct option *option = find_option(name, name_length);
        if (!option)
            usage_error("unknown option '%s'", arg);
        const char *value = equals ? equals + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc)
                usage_error("option '%s' needs a value", arg);
            value = argv[++i];
        }
        if (!apply_option(option, value, settings, why, sizeof why))
            usage_error("--%s: %s", option->flag, why);
    }
    if (strcmp(settings->cors_origin, "off") == 0)
        settings->cors_origin[0] = '\0';
}

/* --healthcheck: the default URL is /healthz where --listen points, with a
 * wildcard address replaced by the loopback. */
static int run_healthcheck(const struct settings *settings)
{
    char url[sizeof settings->healthcheck_url];
    if (settings->healthcheck_url[0]) {
        snprintf(url, sizeof url, "%s", settings->healthcheck_url);
    } else {
        const char *host = settings->listen.host;
        bool ipv6 = strchr(host, ':') != NULL;
        if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
            host = "127.0.0.1";
        else if (strcmp(host, "::") == 0)
            host = "::1";
        snprintf(url, sizeof url, ipv6 ? "http://[%s]:%u/healthz" : "http://%s:%u/healthz", host,
                 (unsigned)settings->listen.port);
    }
    unsigned status = 0;
    struct nd_error error;
    if (nd_http_probe(url, 3000, &status, &error) != ND_OK) {
        fprintf(stderr, "netdiag: healthcheck %s: %s\n", url, error.message);
        return 1;
    }
    if (status != 200) {
        fprintf(stderr, "netdiag: healthcheck %s: status %u\n", url, status);
        return 1;
    }
    return 0;
}

/* Swagger UI's files: --docs-dir, else beside the binary (an installed
 * share/netdiag/swagger-ui, or swagger-ui in the build directory). */
static void find_docs_dir(struct settings *settings)
{
    if (settings->docs_dir[0])
        return;
    char executable[1024];
    ssize_t length = readlink("/proc/self/exe", executable, sizeof executable - 1);
    if (length <= 0)
        return;
    executable[length] = '\0';
    char *slash = strrchr(executable, '/');
    if (!slash)
        return;
    *slash = '\0';
    static const char *const candidates[] = {"/../share/netdiag/swagger-ui", "/swagger-ui"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char directory[sizeof executable + 32];
        char probe[sizeof directory + 32];
        struct stat status;
        snprintf(directory, sizeof directory, "%s%s", executable, candidates[i]);
        snprintf(probe, sizeof probe, "%s/swagger-ui-bundle.js", directory);
        if (stat(probe, &status) == 0 && strlen(directory) < sizeof settings->docs_dir) {
            snprintf(settings->docs_dir, sizeof settings->docs_dir, "%s", directory);
            return;
        }
    }
}

/* The bearer token, from the file's first line; exits 2 when it is unusable. */
static void load_auth_token(const char *path, char *token, size_t size)
{
    token[0] = '\0';
    if (!path[0])
        return;
    FILE *file = fopen(path, "r");
    if (!file)
        usage_error("--auth-token-file %s: %s", path, strerror(errno));
    bool ok = fgets(token, (int)size, file) != NULL;
    fclose(file);
    size_t length = ok ? strcspn(token, "\r\n") : 0;
    token[length] = '\0';
    if (length < 16)
        usage_error("--auth-token-file %s: the token must be at least 16 characters", path);
    for (size_t i = 0; i < length; i++) {
        if (token[i] <= ' ' || token[i] == 0x7f)
            usage_error("--auth-token-file %s: the token must be printable, without spaces", path);
    }
}

/* Each connection is a file descriptor; the usual soft limit of 1024 would
 * cap the server far below its connection limit. */
static void raise_file_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            nd_log_event("warn", "rlimit", "message", strerror(errno), NULL);
    }
}

static unsigned cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* Waits for SIGTERM or SIGINT, flushing the buffered log once a second. */
static int wait_for_stop_signal(const sigset_t *signals)
{
    const struct timespec tick = {.tv_sec = 1, .tv_nsec = 0};
    for (;;) {
        int signal_number = sigtimedwait(signals, NULL, &tick);
        nd_log_flush();
        if (signal_number > 0)
            return signal_number;
        if (errno != EAGAIN && errno != EINTR)
            return -1;
    }
}

static bool echo_ready(void *context, char *reason, size_t size)
{
    const struct nd_echo *echo = context;
    if (nd_echo_accepting(echo))
        return true;
    snprintf(reason, size, "echo listener is enabled but not accepting");
    return false;
}

static void echo_metrics(void *context, struct nd_metrics_text *text)
{
    struct nd_echo_stats stats;
    nd_echo_get_stats(context, &stats);
    nd_metrics_family(text, "netdiag_echo_connections_open", "gauge", "Echo connections open now.");
    nd_metrics_append(text, "netdiag_echo_connections_open %llu\n",
                      (unsigned long long)stats.connections_open);
    nd_metrics_family(text, "netdiag_echo_connections_total", "counter",
                      "Echo connections accepted and served.");
    nd_metrics_append(text, "netdiag_echo_connections_total %llu\n",
                      (unsigned long long)stats.connections_total);
    nd_metrics_family(text, "netdiag_echo_connections_refused_total", "counter",
                      "Echo connections closed at once because the limit was reached.");
    nd_metrics_append(text, "netdiag_echo_connections_refused_total %llu\n",
                      (unsigned long long)stats.connections_refused);
    nd_metrics_family(text, "netdiag_echo_received_bytes_total", "counter",
                      "Bytes the echo listener read from clients.");
    nd_metrics_append(text, "netdiag_echo_received_bytes_total %llu\n",
                      (unsigned long long)stats.bytes_in);
    nd_metrics_family(text, "netdiag_echo_sent_bytes_total", "counter",
                      "Bytes the echo listener wrote back to clients.");
    nd_metrics_append(text, "netdiag_echo_sent_bytes_total %llu\n",
                      (unsigned long long)stats.bytes_out);
}

/* The echo listener is optional; *echo stays NULL when it is off. */
static bool start_echo(const struct settings *settings, struct nd_echo **echo, char *address,
                       size_t address_size)
{
    *echo = NULL;
    snprintf(address, address_size, "off");
    if (settings->echo_listen.host[0] == '\0')
        return true;
    struct nd_error error;
    struct sockaddr_storage bound;
    socklen_t bound_length;
    int fd;
    if (nd_net_listen_tcp(&settings->echo_listen, 1024, &fd, &bound, &bound_length, &error) !=
        ND_OK) {
        nd_log_event("error", "echo_listen_failed", "address", settings->echo_listen.host,
                     "message", error.message, NULL);
        return false;
    }
    struct nd_echo_config config = {
        .listen_fd = fd,
        .max_connections = (unsigned)settings->echo_max_connections,
        .idle_timeout_s = (unsigned)settings->echo_idle_timeout_s,
        .buffer_size = (size_t)settings->echo_buffer,
    };
    if (nd_echo_start(&config, echo, &error) != ND_OK) {
        close(fd);
        nd_log_event("error", "echo_start_failed", "message", error.message, NULL);
        return false;
    }
    nd_net_format_address((struct sockaddr *)&bound, address, address_size);
    return true;
}

/* SIGTERM: readiness turns 503 at once; after drain_delay_s (time for a load
 * balancer to stop sending) new connections are refused; requests in flight
 * get up to drain_timeout_s to finish; then every connection is closed. */
static void drain_and_stop(struct nd_http_server *server, uint64_t drain_delay_s,
                           uint64_t drain_timeout_s)
{
    nd_http_begin_drain(server);
    for (uint64_t waited = 0; waited < drain_delay_s; waited++) {
        const struct timespec second = {.tv_sec = 1, .tv_nsec = 0};
        nanosleep(&second, NULL);
        nd_log_flush();
    }
    nd_http_stop_accepting(server);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
    while (nd_http_in_flight(server) > 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((uint64_t)(now.tv_sec - start.tv_sec) >= drain_timeout_s) {
            char left[16];
            snprintf(left, sizeof left, "%u", nd_http_in_flight(server));
            nd_log_event("warn", "drain_timeout", "in_flight", left, NULL);
            break;
        }
        nanosleep(&pause, NULL);
    }
    nd_http_stop(server);
}

int main(int argc, char **argv)
{
    struct settings settings;
    load_settings(argc, argv, &settings);
    if (settings.healthcheck)
        return run_healthcheck(&settings);
    static char auth_token[512];
    load_auth_token(settings.auth_token_file, auth_token, sizeof auth_token);
    nd_log_init(settings.log_format);
    find_docs_dir(&settings);

    /* Signals are taken synchronously by the main thread; every thread
     * started below inherits this mask. A client closing early must not kill
     * the process with SIGPIPE. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &stop_signals, NULL) != 0 ||
        signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fprintf(stderr, "netdiag: cannot set up signal handling\n");
        return 1;
    }
    raise_file_limit();

    struct nd_error error;
    int listen_fd;
    struct sockaddr_storage bound;
    socklen_t bound_length;
    if (nd_net_listen_tcp(&settings.listen, 1024, &listen_fd, &bound, &bound_length, &error) !=
        ND_OK) {
        nd_log_event("error", "listen_failed", "address", settings.listen.host, "message",
                     error.message, NULL);
        return 1;
    }

    struct nd_echo *echo;
    char echo_address[ND_NET_ADDRESS_TEXT_MAX];
    if (!start_echo(&settings, &echo, echo_address, sizeof echo_address)) {
        close(listen_fd);
        return 1;
    }

    struct nd_http_config http = {
        .listen_fd = listen_fd,
        .threads = settings.threads ? (unsigned)settings.threads : cpu_count(),
        .max_connections = (unsigned)settings.max_connections,
        .per_ip_connections = (unsigned)settings.per_ip_connections,
        .connection_timeout_s = (unsigned)settings.connection_timeout_s,
        .connection_memory = (size_t)settings.connection_memory,
        .access_log = settings.access_log,
        .cors_origin = settings.cors_origin,
        .ready = echo ? echo_ready : NULL,
        .ready_context = echo,
        .slow_workers = (unsigned)settings.slow_workers,
        .slow_max_waiting = (unsigned)settings.slow_max_waiting,
        .sntp_default_server = settings.sntp_server,
        .sntp_allow = &settings.sntp_allow,
        .docs_dir = settings.docs_dir,
        .auth_token = auth_token,
        .extra_metrics = echo ? echo_metrics : NULL,
        .extra_metrics_context = echo,
    };
    struct nd_http_server *server;
    if (nd_http_start(&http, &server, &error) != ND_OK) {
        close(listen_fd);
        nd_echo_stop(echo);
        nd_log_event("error", "start_failed", "message", error.message, NULL);
        return 1;
    }

    char address[ND_NET_ADDRESS_TEXT_MAX];
    char threads[16];
    snprintf(threads, sizeof threads, "%u", http.threads);
    nd_net_format_address((struct sockaddr *)&bound, address, sizeof address);
    nd_log_event("info", "listening", "http", address, "echo", echo_address, "threads", threads,
                 "version", NETDIAG_VERSION, NULL);

    int signal_number = wait_for_stop_signal(&stop_signals);
    nd_log_event("info", "stopping", "signal",
                 signal_number == SIGINT    ? "SIGINT"
                 : signal_number == SIGTERM ? "SIGTERM"
                                            : "?",
                 NULL);
    drain_and_stop(server, settings.drain_delay_s, settings.drain_timeout_s);
    nd_echo_stop(echo);
    nd_log_event("info", "stopped", NULL);
    nd_log_flush();
    return 0;
}
