/*
 * netdiag's settings: the option table, and where each value comes from.
 * Built-in defaults first, then the environment (NETDIAG_*), then the
 * command line: the last word wins. A bad value is refused here, at start-up,
 * with a one-line reason; nothing later has to second-guess a setting.
 */
#ifndef NETDIAG_CONFIG_H
#define NETDIAG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http/log.h"
#include "netdiag/allowlist.h"
#include "netdiag/dns.h"
#include "netdiag/net.h"

enum { ND_CONFIG_PATH_MAX = 1024, ND_CONFIG_TOKEN_MAX = 4096 };

/* --echo-udp-listen: where the UDP echo listens. */
struct nd_config_udp_listen {
    bool beside_tcp;                 /* the default: --echo-listen's value, off when it is */
    struct nd_net_endpoint endpoint; /* otherwise; host "" = off */
};

struct nd_config {
    struct nd_net_endpoint listen;
    uint64_t threads; /* 0 = one per CPU core */
    uint64_t max_connections;
    uint64_t per_ip_connections;
    uint64_t connection_timeout_s;
    uint64_t connection_memory;
    uint64_t drain_timeout_s;
    uint64_t drain_delay_s;
    enum nd_log_format log_format;
    bool access_log;
    char cors_origin[128];              /* "" = no CORS headers ("off" on the command line) */
    struct nd_net_endpoint echo_listen; /* host "" = the echo listener is off */
    uint64_t echo_max_connections;
    uint64_t echo_idle_timeout_s;
    uint64_t echo_buffer;
    struct nd_config_udp_listen echo_udp_listen;
    uint64_t echo_udp_rate;  /* datagrams per second per source */
    uint64_t echo_udp_burst; /* datagrams a source may send at once */
    uint64_t slow_workers;
    uint64_t slow_max_waiting;
    char sntp_server[ND_NET_HOST_MAX + 8];
    struct nd_allowlist sntp_allow;
    char dns_resolv_conf[ND_CONFIG_PATH_MAX];
    char dns_servers_text[1024];       /* "" = the nameservers of dns_resolv_conf */
    char dns_allow_text[2048];         /* "nameservers" stands for the default servers */
    struct nd_dns_servers dns_servers; /* /dns's defaults, from the two above */
    struct nd_allowlist dns_allow;     /* servers /dns may query */
    struct nd_allowlist connect_allow;
    char docs_dir[ND_CONFIG_PATH_MAX];    /* found beside the binary when not given */
    char tls_cert[ND_CONFIG_PATH_MAX];    /* serve HTTPS with this certificate (chain) */
    char tls_key[ND_CONFIG_PATH_MAX];     /* and this key; both or neither */
    char tls_ca_file[ND_CONFIG_PATH_MAX]; /* extra anchors for /connect's tls=1 */
    char peers_dns[256];                  /* the fleet view's headless Service name; "" = off */
    char peers_dns_server_text[64];       /* "" = the first default /dns server */
    struct nd_net_endpoint peers_dns_server;
    uint64_t peers_interval_s;
    uint64_t peers_max;
    char pod_ip[ND_NET_ADDRESS_TEXT_MAX]; /* as inet_ntop writes it; "" = unknown */
    char node_name[254];                  /* "" = unknown */
    char auth_token_file[ND_CONFIG_PATH_MAX];
    char auth_token[ND_CONFIG_TOKEN_MAX]; /* read from auth_token_file; "" = none */
    char healthcheck_url[ND_CONFIG_PATH_MAX];
};

enum nd_config_action {
    ND_CONFIG_SERVE,       /* run the server */
    ND_CONFIG_HEALTHCHECK, /* --healthcheck: probe a running server and exit */
    ND_CONFIG_HELP,        /* --help */
    ND_CONFIG_VERSION,     /* --version */
    ND_CONFIG_ERROR,       /* a bad flag, variable or value: exit 2 with the reason */
};

/* Fills config from the defaults, the environment and argv. On
 * ND_CONFIG_ERROR, why holds one line naming the flag or variable and what is
 * wrong with it. */
enum nd_config_action nd_config_load(int argc, char **argv, struct nd_config *config, char *why,
                                     size_t why_size);

/* --help's text: every option with its variable, default and meaning. */
void nd_config_print_usage(FILE *out);

#endif
