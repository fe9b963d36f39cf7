/*
 * netdiag: signals, start and stop. The only file that knows
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

#include "config.h"
#include "http/log.h"
#include "http/metrics.h"
#include "http/probe.h"
#include "echo/echo.h"
#include "echo/udp_echo.h"
#include "fleet/fleet.h"
#include "http/handlers.h"
#include "http/routes.h"
#include "http/server.h"
#include "http/tls_identity.h"
#include "probe/connect.h"
#include "probe/tls.h"
#include "probe/udp.h"
#include "runtime/runtime.h"
#include "netdiag/allowlist.h"
#include "netdiag/net.h"
#include "netdiag/parse.h"
#include "netdiag/version.h"

/* --healthcheck: the default URL is /healthz where --listen points, with a
 * wildcard address replaced by the loopback. */
static int run_healthcheck(const struct nd_config *config)
{
    char url[sizeof config->healthcheck_url];
    if (config->healthcheck_url[0]) {
        snprintf(url, sizeof url, "%s", config->healthcheck_url);
    } else {
        const char *host = config->listen.host;
        bool ipv6 = strchr(host, ':') != NULL;
        if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
            host = "127.0.0.1";
        else if (strcmp(host, "::") == 0)
            host = "::1";
        const char *scheme = config->tls_cert[0] ? "https" : "http";
        snprintf(url, sizeof url, ipv6 ? "%s://[%s]:%u/healthz" : "%s://%s:%u/healthz", scheme,
                 host, (unsigned)config->listen.port);
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

/* SIGHUP: the certificate files are read again (a renewal, say); new
 * handshakes get the new one, and a file that does not load leaves the old
 * one in place. */
static void reload_certificate(struct nd_tls_identity *identity)
{
    if (!identity) {
        nd_log_event("info", "sighup", "message", "nothing to reload: HTTPS is off", NULL);
        return;
    }
    struct nd_error error;
    char description[384];
    if (nd_tls_identity_reload(identity, &error) != ND_OK) {
        nd_log_event("error", "tls_reload_failed", "message", error.message, "kept", "previous",
                     NULL);
        return;
    }
    nd_tls_identity_describe(identity, description, sizeof description);
    nd_log_event("info", "tls_reloaded", "certificate", description, NULL);
}

/* SIGUSR1: an access line waits in the log's buffer (nd_log_on_unflushed). */
static pthread_t main_thread;

static void wake_main_thread(void)
{
    /* It fails only if the main thread is gone, and then so is the wait. */
    (void)pthread_kill(main_thread, SIGUSR1);
}

/* Waits for SIGTERM or SIGINT, reloading the certificate on SIGHUP and
 * flushing the access log's buffer within a second of its first line. With
 * nothing in the buffer the thread sleeps until a signal, instead of waking
 * every second for nothing. */
static int wait_for_stop_signal(const sigset_t *signals, struct nd_tls_identity *identity)
{
    const struct timespec tick = {.tv_sec = 1, .tv_nsec = 0};
    for (;;) {
        int signal_number =
            nd_log_unflushed() ? sigtimedwait(signals, NULL, &tick) : sigwaitinfo(signals, NULL);
        if (signal_number == SIGUSR1)
            continue; /* flushed when the tick runs out */
        if (signal_number == SIGHUP)
            reload_certificate(identity);
        nd_log_flush();
        if (signal_number > 0 && signal_number != SIGHUP)
            return signal_number;
        if (signal_number < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
    }
}

/* The echo listeners /readyz waits for: each NULL when it is off. */
struct echo_listeners {
    struct nd_echo *tcp;
    struct nd_udp_echo *udp;
};

static bool echo_ready(void *context, char *reason, size_t size)
{
    const struct echo_listeners *echo = context;
    if (echo->tcp && !nd_echo_accepting(echo->tcp)) {
        snprintf(reason, size, "echo listener is enabled but not accepting");
        return false;
    }
    if (echo->udp && !nd_udp_echo_receiving(echo->udp)) {
        snprintf(reason, size, "UDP echo listener is enabled but not receiving");
        return false;
    }
    return true;
}

static void echo_metrics(void *context, struct nd_metrics_text *text)
{
    struct nd_echo_stats stats;
    nd_echo_get_stats(context, &stats);
    nd_metrics_value(text, "netdiag_echo_connections_open", "gauge", "Echo connections open now.",
                     stats.connections_open);
    nd_metrics_value(text, "netdiag_echo_connections_total", "counter",
                     "Echo connections accepted and served.", stats.connections_total);
    nd_metrics_value(text, "netdiag_echo_connections_refused_total", "counter",
                     "Echo connections closed at once because the limit was reached.",
                     stats.connections_refused);
    nd_metrics_value(text, "netdiag_echo_received_bytes_total", "counter",
                     "Bytes the echo listener read from clients.", stats.bytes_in);
    nd_metrics_value(text, "netdiag_echo_sent_bytes_total", "counter",
                     "Bytes the echo listener wrote back to clients.", stats.bytes_out);
}

static void udp_echo_metrics(void *context, struct nd_metrics_text *text)
{
    struct nd_udp_echo_stats stats;
    nd_udp_echo_get_stats(context, &stats);
    nd_metrics_value(text, "netdiag_echo_udp_received_datagrams_total", "counter",
                     "Datagrams the UDP echo read.", stats.datagrams_in);
    nd_metrics_value(text, "netdiag_echo_udp_sent_datagrams_total", "counter",
                     "Datagrams the UDP echo sent back.", stats.datagrams_out);
    nd_metrics_value(text, "netdiag_echo_udp_received_bytes_total", "counter",
                     "Payload bytes the UDP echo read.", stats.bytes_in);
    nd_metrics_value(text, "netdiag_echo_udp_sent_bytes_total", "counter",
                     "Payload bytes the UDP echo sent back.", stats.bytes_out);
    nd_metrics_family(text, "netdiag_echo_udp_dropped_datagrams_total", "counter",
                      "Datagrams the UDP echo did not answer, by reason (queue_full: dropped by "
                      "the kernel before they were read).");
    for (int i = 0; i < ND_UDP_ECHO_DROP_COUNT; i++) {
        if (i == ND_UDP_ECHO_QUEUE_FULL && !stats.kernel_drops_counted)
            continue; /* unknown is not zero */
        nd_metrics_append(text, "netdiag_echo_udp_dropped_datagrams_total{reason=\"%s\"} %llu\n",
                          nd_udp_echo_drop_name((enum nd_udp_echo_drop)i),
                          (unsigned long long)stats.dropped[i]);
    }
}

/* The echo listener is optional; *echo stays NULL when it is off. */
static bool start_echo(const struct nd_config *config, struct nd_runtime *runtime,
                       struct nd_echo **echo, char *address, size_t address_size)
{
    *echo = NULL;
    snprintf(address, address_size, "off");
    if (config->echo_listen.host[0] == '\0')
        return true;
    struct nd_error error;
    struct sockaddr_storage bound;
    socklen_t bound_length;
    int fd;
    if (nd_net_listen_tcp(&config->echo_listen, 1024, &fd, &bound, &bound_length, &error) !=
        ND_OK) {
        nd_log_event("error", "echo_listen_failed", "address", config->echo_listen.host, "message",
                     error.message, NULL);
        return false;
    }
    struct nd_echo_config echo_config = {
        .listen_fd = fd,
        .max_connections = (unsigned)config->echo_max_connections,
        .idle_timeout_s = (unsigned)config->echo_idle_timeout_s,
        .buffer_size = (size_t)config->echo_buffer,
    };
    if (nd_echo_start(runtime, &echo_config, echo, &error) != ND_OK) {
        nd_log_event("error", "echo_start_failed", "message", error.message, NULL);
        return false;
    }
    nd_net_format_address((struct sockaddr *)&bound, address, address_size);
    return true;
}

/* The UDP echo is optional too; by default it listens where --echo-listen
 * says (port 0: a free port of its own), and is off when the TCP echo is. */
static bool start_udp_echo(const struct nd_config *config, struct nd_runtime *runtime,
                           struct nd_udp_echo **echo, char *address, size_t address_size,
                           uint16_t *port)
{
    *echo = NULL;
    *port = 0;
    snprintf(address, address_size, "off");
    const struct nd_net_endpoint endpoint =
        config->echo_udp_listen.beside_tcp ? config->echo_listen : config->echo_udp_listen.endpoint;
    if (endpoint.host[0] == '\0')
        return true;
    struct nd_error error;
    struct sockaddr_storage bound;
    socklen_t bound_length;
    int fd;
    if (nd_net_bind_udp(&endpoint, &fd, &bound, &bound_length, &error) != ND_OK) {
        nd_log_event("error", "echo_udp_listen_failed", "address", endpoint.host, "message",
                     error.message, NULL);
        return false;
    }
    struct nd_udp_echo_config echo_config = {
        .fd = fd,
        .rate = (uint32_t)config->echo_udp_rate,
        .burst = (uint32_t)config->echo_udp_burst,
    };
    if (nd_udp_echo_start(runtime, &echo_config, echo, &error) != ND_OK) {
        nd_log_event("error", "echo_udp_start_failed", "message", error.message, NULL);
        return false;
    }
    struct nd_udp_echo_stats stats;
    nd_udp_echo_get_stats(*echo, &stats);
    if (!stats.kernel_drops_counted)
        nd_log_event("warn", "echo_udp_kernel_drops_not_counted", "message",
                     "SO_RXQ_OVFL is not available: datagrams the kernel drops are not counted",
                     NULL);
    nd_net_format_address((struct sockaddr *)&bound, address, address_size);
    *port = nd_net_port((struct sockaddr *)&bound);
    return true;
}

/* A name lookup cannot be interrupted; one still in libuv's pool after the
 * grace period would hold the exit for the resolver's whole timeout (libuv
 * joins its pool at exit), so the process leaves without waiting for it. */
static void stop_runtime(struct nd_runtime *runtime)
{
    if (nd_runtime_stop(runtime, 2000))
        return;
    nd_log_event("warn", "stopped_with_lookups_in_flight", NULL);
    nd_log_flush();
    _exit(0);
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
    /* Large (the token, paths): static rather than on the main stack. */
    static struct nd_config config;
    char why[512];
    switch (nd_config_load(argc, argv, &config, why, sizeof why)) {
    case ND_CONFIG_SERVE:
        break;
    case ND_CONFIG_HEALTHCHECK:
        return run_healthcheck(&config);
    case ND_CONFIG_HELP:
        nd_config_print_usage(stdout);
        return 0;
    case ND_CONFIG_VERSION:
        printf("netdiag %s\n", NETDIAG_VERSION);
        return 0;
    case ND_CONFIG_ERROR:
        fprintf(stderr, "netdiag: %s (see netdiag --help)\n", why);
        return 2;
    }
    nd_log_init(config.log_format);

    /* Signals are taken synchronously by the main thread; every thread
     * started below inherits this mask. A client closing early must not kill
     * the process with SIGPIPE. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    sigaddset(&stop_signals, SIGUSR1);
    if (pthread_sigmask(SIG_BLOCK, &stop_signals, NULL) != 0 ||
        signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fprintf(stderr, "netdiag: cannot set up signal handling\n");
        return 1;
    }
    main_thread = pthread_self();
    nd_log_on_unflushed(wake_main_thread);
    raise_file_limit();

    struct nd_error error;
    int listen_fd;
    struct sockaddr_storage bound;
    socklen_t bound_length;
    if (nd_net_listen_tcp(&config.listen, 1024, &listen_fd, &bound, &bound_length, &error) !=
        ND_OK) {
        nd_log_event("error", "listen_failed", "address", config.listen.host, "message",
                     error.message, NULL);
        return 1;
    }
    /* HTTP and TLS clients speak first. (Not the echo listener: an echo
     * client may connect and wait, and its connection is counted then.) */
    if (nd_net_defer_accept(listen_fd, 1, &error) != ND_OK)
        nd_log_event("warn", "defer_accept_failed", "message", error.message, NULL);

    /* From here on every exit goes through stop, which stops what started
     * (each stop and free takes NULL for what did not). */
    int exit_code = 1;
    struct nd_runtime *runtime = NULL;
    struct nd_echo *echo = NULL;
    struct nd_udp_echo *udp_echo = NULL;
    struct nd_tls_trust *trust = NULL;
    struct nd_tls_identity *identity = NULL;
    struct nd_fleet *fleet = NULL;

    struct nd_runtime_config runtime_config = {.slow_workers = (unsigned)config.slow_workers};
    if (nd_runtime_start(&runtime_config, &runtime, &error) != ND_OK) {
        nd_log_event("error", "runtime_start_failed", "message", error.message, NULL);
        goto stop;
    }

    char echo_address[ND_NET_ADDRESS_TEXT_MAX], udp_echo_address[ND_NET_ADDRESS_TEXT_MAX];
    if (!start_echo(&config, runtime, &echo, echo_address, sizeof echo_address))
        goto stop;
    uint16_t udp_echo_port;
    if (!start_udp_echo(&config, runtime, &udp_echo, udp_echo_address, sizeof udp_echo_address,
                        &udp_echo_port))
        goto stop;
    static struct echo_listeners echo_listeners;
    echo_listeners = (struct echo_listeners){.tcp = echo, .udp = udp_echo};

    /* The anchors /connect's tls=1 checks chains against: --tls-ca-file now,
     * the system's store when the first handshake needs it. */
    if (nd_tls_trust_load(config.tls_ca_file, &trust, &error) != ND_OK) {
        fprintf(stderr, "netdiag: --tls-ca-file %s (see netdiag --help)\n", error.message);
        exit_code = 2;
        goto stop;
    }

    /* HTTPS: the certificate netdiag serves with. */
    if (config.tls_cert[0] &&
        nd_tls_identity_load(config.tls_cert, config.tls_key, &identity, &error) != ND_OK) {
        fprintf(stderr, "netdiag: --tls-cert %s (see netdiag --help)\n", error.message);
        exit_code = 2;
        goto stop;
    }

    /* The fleet view: every peer serves where this pod does. */
    if (config.peers_dns[0]) {
        struct nd_fleet_config fleet_config = {
            .dns_server = config.peers_dns_server,
            .interval_s = (unsigned)config.peers_interval_s,
            .peers_max = (unsigned)config.peers_max,
            .http_port = nd_net_port((struct sockaddr *)&bound),
            .https = identity != NULL,
            .trust = trust,
            .echo_udp_port = udp_echo_port,
            .auth_token = config.auth_token,
        };
        memcpy(fleet_config.peers_name, config.peers_dns, sizeof config.peers_dns);
        memcpy(fleet_config.pod_ip, config.pod_ip, sizeof config.pod_ip);
        memcpy(fleet_config.node_name, config.node_name, sizeof config.node_name);
        if (nd_fleet_start(runtime, &fleet_config, &fleet, &error) != ND_OK) {
            nd_log_event("error", "fleet_start_failed", "message", error.message, NULL);
            goto stop;
        }
    }

    /* Each handler's settings travel with its route. */
    static struct nd_connect_stats connect_stats;
    static struct nd_udp_stats connect_udp_stats;
    static struct nd_route_settings route_settings;
    route_settings = (struct nd_route_settings){
        .sntp = {.default_server = config.sntp_server, .allow = &config.sntp_allow},
        .connect = {.allow = &config.connect_allow,
                    .stats = &connect_stats,
                    .udp_stats = &connect_udp_stats,
                    .trust = trust},
        .dns = {.servers = &config.dns_servers, .allow = &config.dns_allow},
        .fleet = {.fleet = fleet, .node_name = config.node_name},
        .docs = {.directory = config.docs_dir},
        .modules = {.ready = echo || udp_echo ? echo_ready : NULL,
                    .ready_context = &echo_listeners},
    };
    struct nd_module_reports *reports = &route_settings.modules;
    reports->metrics[reports->metrics_count].render = nd_connect_metrics;
    reports->metrics[reports->metrics_count++].context = &connect_stats;
    reports->metrics[reports->metrics_count].render = nd_connect_udp_metrics;
    reports->metrics[reports->metrics_count++].context = &connect_udp_stats;
    reports->metrics[reports->metrics_count].render = nd_tls_trust_metrics;
    reports->metrics[reports->metrics_count++].context = trust;
    if (echo) {
        reports->metrics[reports->metrics_count].render = echo_metrics;
        reports->metrics[reports->metrics_count++].context = echo;
    }
    if (udp_echo) {
        reports->metrics[reports->metrics_count].render = udp_echo_metrics;
        reports->metrics[reports->metrics_count++].context = udp_echo;
    }
    if (fleet) {
        reports->metrics[reports->metrics_count].render = nd_fleet_metrics;
        reports->metrics[reports->metrics_count++].context = fleet;
    }
    static struct nd_route routes[ND_ROUTES_MAX];
    nd_routes_build(&route_settings, routes);

    struct nd_http_config http = {
        .listen_fd = listen_fd,
        .threads = config.threads ? (unsigned)config.threads : cpu_count(),
        .max_connections = (unsigned)config.max_connections,
        .per_ip_connections = (unsigned)config.per_ip_connections,
        .connection_timeout_s = (unsigned)config.connection_timeout_s,
        .connection_memory = (size_t)config.connection_memory,
        .access_log = config.access_log,
        .cors_origin = config.cors_origin,
        .runtime = runtime,
        .routes = routes,
        .route_count = nd_routes_count,
        .slow_max_waiting = (unsigned)config.slow_max_waiting,
        .auth_token = config.auth_token,
        .tls = identity,
    };
    struct nd_http_server *server;
    if (nd_http_start(&http, &server, &error) != ND_OK) {
        nd_log_event("error", "start_failed", "message", error.message, NULL);
        goto stop;
    }

    char address[ND_NET_ADDRESS_TEXT_MAX];
    char threads[16];
    snprintf(threads, sizeof threads, "%u", http.threads);
    nd_net_format_address((struct sockaddr *)&bound, address, sizeof address);
    char certificate[384] = "";
    if (identity)
        nd_tls_identity_describe(identity, certificate, sizeof certificate);
    nd_log_event("info", "listening", "http", address, "echo", echo_address, "echo_udp",
                 udp_echo_address, "fleet", config.peers_dns[0] ? config.peers_dns : "off",
                 "threads", threads, "tls", identity ? certificate : "off", "version",
                 NETDIAG_VERSION, NULL);

    int signal_number = wait_for_stop_signal(&stop_signals, identity);
    nd_log_event("info", "stopping", "signal",
                 signal_number == SIGINT    ? "SIGINT"
                 : signal_number == SIGTERM ? "SIGTERM"
                                            : "?",
                 NULL);
    drain_and_stop(server, config.drain_delay_s, config.drain_timeout_s);
    listen_fd = -1; /* the server's, closed with it */
    exit_code = 0;

stop:
    if (listen_fd >= 0)
        close(listen_fd);
    nd_fleet_stop(fleet);
    nd_echo_stop(echo);
    nd_udp_echo_stop(udp_echo);
    stop_runtime(runtime);
    nd_tls_trust_free(trust);
    nd_tls_identity_free(identity);
    if (exit_code == 0)
        nd_log_event("info", "stopped", NULL);
    nd_log_flush();
    return exit_code;
}
