#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netdiag/parse.h"
#include "netdiag/resolve.h"
#include "netdiag/version.h"

enum option_kind {
    OPTION_ENDPOINT,
    OPTION_ENDPOINT_OR_OFF,
    OPTION_UDP_LISTEN, /* an endpoint, off, or empty: beside the TCP echo */
    OPTION_NUMBER,
    OPTION_SWITCH,
    OPTION_LOG_FORMAT,
    OPTION_TEXT,
    OPTION_HEADER_VALUE,
    OPTION_SERVER,
    OPTION_PATH,
    OPTION_FILE, /* a path that must name a readable file, when given */
    OPTION_ALLOWLIST,
};

struct option {
    const char *flag;
    const char *env;
    const char *default_text;
    enum option_kind kind;
    uint64_t min, max; /* OPTION_NUMBER's range */
    size_t offset;     /* into struct nd_config */
    size_t size;       /* the field's size, for text kinds */
    const char *help;
};

#define FIELD(name) offsetof(struct nd_config, name), sizeof(((struct nd_config *)0)->name)

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
    {"cors-origin", "NETDIAG_CORS_ORIGIN", "*", OPTION_HEADER_VALUE, 0, 0, FIELD(cors_origin),
     "Access-Control-Allow-Origin value; off = no CORS headers"},
    {"echo-listen", "NETDIAG_ECHO_LISTEN", "*:9900", OPTION_ENDPOINT_OR_OFF, 0, 0,
     FIELD(echo_listen), "TCP echo listener address (recipe 13); off = no echo listener"},
    {"echo-max-connections", "NETDIAG_ECHO_MAX_CONNECTIONS", "10000", OPTION_NUMBER, 1, 1000000,
     FIELD(echo_max_connections), "open echo connections at most; more are closed at once"},
    {"echo-idle-timeout", "NETDIAG_ECHO_IDLE_TIMEOUT", "60", OPTION_NUMBER, 1, 86400,
     FIELD(echo_idle_timeout_s), "seconds an echo connection may stay silent both ways"},
    {"echo-buffer", "NETDIAG_ECHO_BUFFER", "65536", OPTION_NUMBER, 1024, 16777216,
     FIELD(echo_buffer), "bytes buffered per echo connection before reading pauses"},
    {"echo-udp-listen", "NETDIAG_ECHO_UDP_LISTEN", "", OPTION_UDP_LISTEN, 0, 0,
     FIELD(echo_udp_listen),
     "UDP echo listener address (RFC 862); empty = the same as --echo-listen (port 0: a free port "
     "of its own); off = no UDP echo"},
    {"echo-udp-rate", "NETDIAG_ECHO_UDP_RATE", "100", OPTION_NUMBER, 1, 1000000000,
     FIELD(echo_udp_rate),
     "datagrams per second the UDP echo answers each source (an IPv4 address, an IPv6 /64); more "
     "are dropped and counted"},
    {"echo-udp-burst", "NETDIAG_ECHO_UDP_BURST", "100", OPTION_NUMBER, 1, 1000000,
     FIELD(echo_udp_burst), "datagrams a source may send at once, above --echo-udp-rate"},
    {"slow-workers", "NETDIAG_SLOW_WORKERS", "8", OPTION_NUMBER, 1, 256, FIELD(slow_workers),
     "threads of libuv's pool for name lookups (getaddrinfo, getnameinfo) behind /resolve, "
     "/time/sntp, /hostinfo and the server names of /dns"},
    {"slow-max-waiting", "NETDIAG_SLOW_MAX_WAITING", "64", OPTION_NUMBER, 1, 100000,
     FIELD(slow_max_waiting), "DNS/SNTP requests in progress at most; more get 503"},
    {"sntp-server", "NETDIAG_SNTP_SERVER", "pool.ntp.org", OPTION_SERVER, 0, 0, FIELD(sntp_server),
     "default server for /time/sntp: host, host:port or [IPV6]:port"},
    {"sntp-allow", "NETDIAG_SNTP_ALLOW", "", OPTION_ALLOWLIST, 0, 0, FIELD(sntp_allow),
     "servers /time/sntp may query: host names and CIDRs, comma-separated; empty = any"},
    {"connect-allow", "NETDIAG_CONNECT_ALLOW", "", OPTION_ALLOWLIST, 0, 0, FIELD(connect_allow),
     "destinations /connect may reach: host names and CIDRs, each with :PORT or :LOW-HIGH, "
     "comma-separated; empty = any but link-local and cloud metadata addresses, which must be "
     "named; off = /connect is disabled"},
    {"tls-cert", "NETDIAG_TLS_CERT", "", OPTION_FILE, 0, 0, FIELD(tls_cert),
     "PEM certificate (chain) to serve HTTPS with, beside --tls-key; SIGHUP reloads both"},
    {"tls-key", "NETDIAG_TLS_KEY", "", OPTION_FILE, 0, 0, FIELD(tls_key),
     "PEM private key of --tls-cert"},
    {"tls-ca-file", "NETDIAG_TLS_CA_FILE", "", OPTION_FILE, 0, 0, FIELD(tls_ca_file),
     "PEM certificates /connect's tls=1 trusts beside the system's (ca-certificates)"},
    {"dns-resolv-conf", "NETDIAG_DNS_RESOLV_CONF", "/etc/resolv.conf", OPTION_PATH, 0, 0,
     FIELD(dns_resolv_conf), "where /dns finds its default nameservers (read at start-up)"},
    {"dns-servers", "NETDIAG_DNS_SERVERS", "", OPTION_TEXT, 0, 0, FIELD(dns_servers_text),
     "default servers for /dns, IP[:port] or [IPV6]:port, comma-separated; empty = the "
     "nameservers of --dns-resolv-conf"},
    {"dns-allow", "NETDIAG_DNS_ALLOW", "nameservers,127.0.0.0/8,::1", OPTION_TEXT, 0, 0,
     FIELD(dns_allow_text),
     "servers /dns may query: host names and CIDRs, comma-separated; nameservers = the default "
     "servers; empty = any"},
    {"peers-dns", "NETDIAG_PEERS_DNS", "", OPTION_TEXT, 0, 0, FIELD(peers_dns),
     "the fleet view's peers: a headless Service's DNS name (netdiag-peers.NAMESPACE.svc."
     "cluster.local), its A and AAAA records asked every --peers-interval; empty = no fleet view"},
    {"peers-dns-server", "NETDIAG_PEERS_DNS_SERVER", "", OPTION_TEXT, 0, 0,
     FIELD(peers_dns_server_text),
     "where --peers-dns is asked, IP[:port] or [IPV6]:port; empty = the first of /dns's default "
     "servers"},
    {"peers-interval", "NETDIAG_PEERS_INTERVAL", "10", OPTION_NUMBER, 1, 3600,
     FIELD(peers_interval_s),
     "seconds between two lookups of --peers-dns, and two probe rounds of every peer"},
    {"peers-max", "NETDIAG_PEERS_MAX", "256", OPTION_NUMBER, 1, 1024, FIELD(peers_max),
     "peers probed at most (the first addresses in order); more are counted and left out"},
    {"pod-ip", "NETDIAG_POD_IP", "", OPTION_TEXT, 0, 0, FIELD(pod_ip),
     "this pod's address (the downward API's status.podIP), so the fleet view knows itself"},
    {"node-name", "NETDIAG_NODE_NAME", "", OPTION_TEXT, 0, 0, FIELD(node_name),
     "this pod's node (the downward API's spec.nodeName); /healthz tells peers"},
    {"auth-token-file", "NETDIAG_AUTH_TOKEN_FILE", "", OPTION_PATH, 0, 0, FIELD(auth_token_file),
     "file holding a bearer token every route but /healthz, /readyz, /metrics, the "
     "documentation and /fleet.html requires"},
    {"docs-dir", "NETDIAG_DOCS_DIR", "", OPTION_PATH, 0, 0, FIELD(docs_dir),
     "Swagger UI's files (npm swagger-ui-dist) for /docs; empty = look beside the binary"},
};

#undef FIELD

enum { OPTION_COUNT = sizeof options / sizeof options[0] };

void nd_config_print_usage(FILE *out)
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

static bool fail(char *why, size_t why_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(char *why, size_t why_size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(why, why_size, format, args);
    va_end(args);
    return false;
}

static bool copy_text(const char *value, char *field, size_t size, char *why, size_t why_size)
{
    size_t length = strlen(value);
    if (length >= size)
        return fail(why, why_size, "value is %zu bytes long; at most %zu are allowed", length,
                    size - 1);
    memcpy(field, value, length + 1);
    return true;
}

/* A default /time/sntp server: the same forms and checks a request's
 * server= gets, so that a request without one never fails on the
 * operator's mistake. */
static bool valid_server(const char *value, char *why, size_t why_size)
{
    struct nd_net_endpoint endpoint;
    struct nd_error error;
    if (nd_net_parse_host_port(value, 123, &endpoint, &error) != ND_OK ||
        nd_resolve_validate_name(endpoint.host, &error) != ND_OK)
        return fail(why, why_size, "'%.64s': %s", value, error.message);
    return true;
}

/* Returns false with a one-line reason in why. */
static bool apply_option(const struct option *option, const char *value, struct nd_config *config,
                         char *why, size_t why_size)
{
    void *field = (char *)config + option->offset;
    struct nd_error error;
    switch (option->kind) {
    case OPTION_ENDPOINT_OR_OFF:
        if (strcmp(value, "off") == 0) {
            ((struct nd_net_endpoint *)field)->host[0] = '\0';
            return true;
        }
        /* fall through */
    case OPTION_ENDPOINT:
        if (nd_net_parse_endpoint(value, field, &error) != ND_OK)
            return fail(why, why_size, "%s", error.message);
        return true;
    case OPTION_UDP_LISTEN: {
        struct nd_config_udp_listen *listen = field;
        listen->beside_tcp = value[0] == '\0';
        listen->endpoint.host[0] = '\0';
        if (listen->beside_tcp || strcmp(value, "off") == 0)
            return true;
        if (nd_net_parse_endpoint(value, &listen->endpoint, &error) != ND_OK)
            return fail(why, why_size, "%s", error.message);
        return true;
    }
    case OPTION_NUMBER: {
        uint64_t number;
        enum nd_err err = nd_parse_decimal(value, option->max, &number);
        if (err != ND_OK || number < option->min)
            return fail(why, why_size, "'%.64s' is not a whole number from %llu to %llu", value,
                        (unsigned long long)option->min, (unsigned long long)option->max);
        *(uint64_t *)field = number;
        return true;
    }
    case OPTION_SWITCH:
        if (nd_parse_bool(value, field) != ND_OK)
            return fail(why, why_size, "'%.64s' is not on or off", value);
        return true;
    case OPTION_LOG_FORMAT:
        if (strcmp(value, "text") == 0)
            *(enum nd_log_format *)field = ND_LOG_TEXT;
        else if (strcmp(value, "json") == 0)
            *(enum nd_log_format *)field = ND_LOG_JSON;
        else
            return fail(why, why_size, "'%.64s' is not text or json", value);
        return true;
    case OPTION_HEADER_VALUE:
        /* RFC 9110 section 5.5: a field value is visible characters and
         * spaces; a CR or LF would end the header early, and libmicrohttpd
         * then drops it from every response without a word. */
        for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
            if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
                return fail(why, why_size, "character %zu is a control character",
                            (size_t)(p - (const unsigned char *)value) + 1);
        }
        return copy_text(value, field, option->size, why, why_size);
    case OPTION_SERVER:
        return valid_server(value, why, why_size) &&
               copy_text(value, field, option->size, why, why_size);
    case OPTION_FILE:
        if (value[0] && access(value, R_OK) != 0)
            return fail(why, why_size, "%.256s: %s", value, strerror(errno));
        return copy_text(value, field, option->size, why, why_size);
    case OPTION_TEXT:
    case OPTION_PATH:
        return copy_text(value, field, option->size, why, why_size);
    case OPTION_ALLOWLIST:
        if (nd_allowlist_parse(value, field, &error) != ND_OK)
            return fail(why, why_size, "%s", error.message);
        return true;
    }
    return fail(why, why_size, "unknown option kind");
}

static const struct option *find_option(const char *flag, size_t length)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strlen(options[i].flag) == length && strncmp(options[i].flag, flag, length) == 0)
            return &options[i];
    }
    return NULL;
}

static bool is_file(const char *path)
{
    struct stat status;
    return stat(path, &status) == 0 && S_ISREG(status.st_mode);
}

/* Swagger UI's files: --docs-dir must hold them; without it, look beside the
 * binary (an installed share/netdiag/swagger-ui, or swagger-ui in the build
 * directory) and leave it empty when they are not there. */
static bool find_docs_dir(struct nd_config *config, char *why, size_t why_size)
{
    char probe[ND_CONFIG_PATH_MAX + 32];
    if (config->docs_dir[0]) {
        snprintf(probe, sizeof probe, "%s/swagger-ui-bundle.js", config->docs_dir);
        if (!is_file(probe))
            return fail(why, why_size,
                        "--docs-dir %.256s: no swagger-ui-bundle.js there (npm swagger-ui-dist)",
                        config->docs_dir);
        return true;
    }
    char executable[ND_CONFIG_PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", executable, sizeof executable - 1);
    if (length <= 0)
        return true;
    executable[length] = '\0';
    char *slash = strrchr(executable, '/');
    if (!slash)
        return true;
    *slash = '\0';
    static const char *const candidates[] = {"/../share/netdiag/swagger-ui", "/swagger-ui"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char directory[ND_CONFIG_PATH_MAX];
        int written = snprintf(directory, sizeof directory, "%s%s", executable, candidates[i]);
        if (written < 0 || (size_t)written >= sizeof directory)
            continue;
        snprintf(probe, sizeof probe, "%s/swagger-ui-bundle.js", directory);
        if (is_file(probe)) {
            memcpy(config->docs_dir, directory, (size_t)written + 1);
            return true;
        }
    }
    return true;
}

/* The bearer token: the file's first line, whole. A token that does not fit
 * is refused rather than cut, since a cut token would turn every client's
 * correct one into a 401. */
static bool load_auth_token(struct nd_config *config, char *why, size_t why_size)
{
    const char *path = config->auth_token_file;
    config->auth_token[0] = '\0';
    if (!path[0])
        return true;
    FILE *file = fopen(path, "r");
    if (!file)
        return fail(why, why_size, "--auth-token-file %.256s: %s", path, strerror(errno));
    char *token = config->auth_token;
    size_t size = sizeof config->auth_token;
    bool read_ok = fgets(token, (int)size, file) != NULL;
    bool read_error = ferror(file) != 0;
    fclose(file);
    if (read_error)
        return fail(why, why_size, "--auth-token-file %.256s: could not be read", path);
    size_t length = read_ok ? strcspn(token, "\r\n") : 0;
    bool whole_line = read_ok && (token[length] != '\0' || strlen(token) < size - 1);
    if (!whole_line)
        return fail(why, why_size, "--auth-token-file %.256s: the token is longer than %zu bytes",
                    path, size - 2);
    token[length] = '\0';
    if (length < 16)
        return fail(why, why_size,
                    "--auth-token-file %.256s: the token must be at least 16 "
                    "characters",
                    path);
    for (size_t i = 0; i < length; i++) {
        if (token[i] <= ' ' || token[i] == 0x7f)
            return fail(why, why_size,
                        "--auth-token-file %.256s: the token must be printable, without spaces",
                        path);
    }
    return true;
}

/* /dns's default servers: --dns-servers, or else resolv.conf's nameservers
 * (read once, here, not per request). Each is IP[:port] or [IPV6]:port:
 * a default that needed a lookup could fail on every request. */
static bool load_dns_servers(struct nd_config *config, char *why, size_t why_size)
{
    struct nd_dns_servers *servers = &config->dns_servers;
    struct nd_error error;
    if (!config->dns_servers_text[0]) {
        if (nd_dns_read_resolv_conf(config->dns_resolv_conf, servers, &error) != ND_OK)
            return fail(why, why_size, "--dns-resolv-conf: %s", error.message);
        return true;
    }
    servers->count = 0;
    char text[sizeof config->dns_servers_text];
    memcpy(text, config->dns_servers_text, sizeof text);
    char *saved = NULL;
    for (char *entry = strtok_r(text, ",", &saved); entry; entry = strtok_r(NULL, ",", &saved)) {
        if (servers->count == ND_DNS_SERVERS_MAX)
            return fail(why, why_size, "--dns-servers: at most %d servers", ND_DNS_SERVERS_MAX);
        struct nd_net_endpoint *server = &servers->servers[servers->count];
        unsigned char packed[16];
        if (nd_net_parse_host_port(entry, ND_DNS_PORT, server, &error) != ND_OK)
            return fail(why, why_size, "--dns-servers: '%.64s': %s", entry, error.message);
        if (inet_pton(AF_INET, server->host, packed) != 1 &&
            inet_pton(AF_INET6, server->host, packed) != 1)
            return fail(why, why_size, "--dns-servers: '%.64s' is not an IP address", entry);
        servers->count++;
    }
    if (servers->count == 0)
        return fail(why, why_size, "--dns-servers: no server given");
    return true;
}

/* --dns-allow, with "nameservers" replaced by the default servers. */
static bool load_dns_allow(struct nd_config *config, char *why, size_t why_size)
{
    char expanded[sizeof config->dns_allow_text + ND_DNS_SERVERS_MAX * 48];
    size_t used = 0;
    expanded[0] = '\0';
    char text[sizeof config->dns_allow_text];
    memcpy(text, config->dns_allow_text, sizeof text);
    char *saved = NULL;
    for (char *entry = strtok_r(text, ",", &saved); entry; entry = strtok_r(NULL, ",", &saved)) {
        bool servers = strcmp(entry, "nameservers") == 0;
        size_t count = servers ? config->dns_servers.count : 1;
        for (size_t i = 0; i < count; i++) {
            const char *value = servers ? config->dns_servers.servers[i].host : entry;
            int written =
                snprintf(expanded + used, sizeof expanded - used, "%s%s", used ? "," : "", value);
            if (written < 0 || (size_t)written >= sizeof expanded - used)
                return fail(why, why_size, "--dns-allow: too long");
            used += (size_t)written;
        }
    }
    struct nd_error error;
    if (config->dns_allow_text[0] && !expanded[0])
        return fail(why, why_size, "--dns-allow: no entry in '%.64s'", config->dns_allow_text);
    if (nd_allowlist_parse(expanded, &config->dns_allow, &error) != ND_OK)
        return fail(why, why_size, "--dns-allow: %s", error.message);
    return true;
}

/* The fleet view's settings: a name to ask for (not an address), an
 * address to ask it of, and this pod's address in the form the DNS answers
 * are compared in. */
static bool load_fleet(struct nd_config *config, char *why, size_t why_size)
{
    struct nd_error error;
    unsigned char packed[16];
    if (config->pod_ip[0]) {
        int family = strchr(config->pod_ip, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(family, config->pod_ip, packed) != 1)
            return fail(why, why_size, "--pod-ip: '%.64s' is not an IP address", config->pod_ip);
        if (!inet_ntop(family, packed, config->pod_ip, sizeof config->pod_ip))
            return fail(why, why_size, "--pod-ip: %s", strerror(errno));
    }
    /* A Kubernetes node name is a DNS subdomain. */
    if (config->node_name[0] && nd_resolve_validate_name(config->node_name, &error) != ND_OK)
        return fail(why, why_size, "--node-name: %s", error.message);
    if (!config->peers_dns[0])
        return true;
    if (nd_resolve_validate_name(config->peers_dns, &error) != ND_OK)
        return fail(why, why_size, "--peers-dns: %s", error.message);
    if (inet_pton(AF_INET, config->peers_dns, packed) == 1 ||
        inet_pton(AF_INET6, config->peers_dns, packed) == 1)
        return fail(why, why_size,
                    "--peers-dns: '%.64s' is an address; give the headless Service's name",
                    config->peers_dns);
    struct nd_net_endpoint *server = &config->peers_dns_server;
    if (!config->peers_dns_server_text[0]) {
        if (config->dns_servers.count == 0)
            return fail(why, why_size, "--peers-dns-server: no default DNS server to use");
        *server = config->dns_servers.servers[0];
        return true;
    }
    if (nd_net_parse_host_port(config->peers_dns_server_text, ND_DNS_PORT, server, &error) != ND_OK)
        return fail(why, why_size, "--peers-dns-server: %s", error.message);
    if (inet_pton(AF_INET, server->host, packed) != 1 &&
        inet_pton(AF_INET6, server->host, packed) != 1)
        return fail(why, why_size, "--peers-dns-server: '%.64s' is not an IP address",
                    config->peers_dns_server_text);
    return true;
}

/* A flag's value comes after '=' or as the next argument; a next argument
 * that is itself a flag means the value was forgotten, not that it is
 * "--threads". */
static const char *flag_value(int argc, char **argv, int *index, const char *equals)
{
    if (equals)
        return equals + 1;
    if (*index + 1 >= argc || strncmp(argv[*index + 1], "--", 2) == 0)
        return NULL;
    return argv[++*index];
}

enum nd_config_action nd_config_load(int argc, char **argv, struct nd_config *config, char *why,
                                     size_t why_size)
{
    char reason[384];
    memset(config, 0, sizeof *config);
    enum nd_config_action action = ND_CONFIG_SERVE;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (!apply_option(&options[i], options[i].default_text, config, reason, sizeof reason)) {
            fail(why, why_size, "built-in default of --%s: %s", options[i].flag, reason);
            return ND_CONFIG_ERROR;
        }
    }
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *value = getenv(options[i].env);
        if (value && !apply_option(&options[i], value, config, reason, sizeof reason)) {
            fail(why, why_size, "%s: %s", options[i].env, reason);
            return ND_CONFIG_ERROR;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return ND_CONFIG_HELP;
        if (strcmp(arg, "--version") == 0)
            return ND_CONFIG_VERSION;
        if (strcmp(arg, "--healthcheck") == 0) {
            action = ND_CONFIG_HEALTHCHECK;
            const char *url = flag_value(argc, argv, &i, NULL);
            if (url && !copy_text(url, config->healthcheck_url, sizeof config->healthcheck_url,
                                  reason, sizeof reason)) {
                fail(why, why_size, "--healthcheck: %s", reason);
                return ND_CONFIG_ERROR;
            }
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fail(why, why_size, "unexpected argument '%.64s'", arg);
            return ND_CONFIG_ERROR;
        }
        const char *name = arg + 2;
        const char *equals = strchr(name, '=');
        size_t name_length = equals ? (size_t)(equals - name) : strlen(name);
        const struct option *option = find_option(name, name_length);
        if (!option) {
            fail(why, why_size, "unknown option '%.64s'", arg);
            return ND_CONFIG_ERROR;
        }
        const char *value = flag_value(argc, argv, &i, equals);
        if (!value) {
            fail(why, why_size, "option '--%s' needs a value", option->flag);
            return ND_CONFIG_ERROR;
        }
        if (!apply_option(option, value, config, reason, sizeof reason)) {
            fail(why, why_size, "--%s: %s", option->flag, reason);
            return ND_CONFIG_ERROR;
        }
    }
    if (strcmp(config->cors_origin, "off") == 0)
        config->cors_origin[0] = '\0';
    if (!config->tls_cert[0] != !config->tls_key[0]) {
        fail(why, why_size, "--tls-cert and --tls-key go together");
        return ND_CONFIG_ERROR;
    }
    if (action == ND_CONFIG_SERVE &&
        (!find_docs_dir(config, why, why_size) || !load_auth_token(config, why, why_size) ||
         !load_dns_servers(config, why, why_size) || !load_dns_allow(config, why, why_size) ||
         !load_fleet(config, why, why_size)))
        return ND_CONFIG_ERROR;
    return action;
}
