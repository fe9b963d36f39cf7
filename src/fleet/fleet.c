#include "fleet/fleet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "netdiag/http_reply.h"
#include "netdiag/resolve.h"
#include "netdiag/version.h"
#include "probe/dns_query.h"
#include "probe/udp_ping.h"

enum {
    HEALTH_READ_MAX = 4096,
    /* A request to a peer: a few short lines and the bearer token, which
     * --auth-token-file allows up to 4,094 bytes long. */
    REQUEST_MAX = 8192,
    /* A probe gets half the interval, and never more than this: a peer that
     * takes longer to answer /healthz is unhealthy enough to say so. */
    PROBE_TIMEOUT_MAX_MS = 3000,
    DNS_TYPE_A = 1,
    DNS_TYPE_AAAA = 28,
};

/* A peer as the loop keeps it: what is published, and its probes. What a
 * round needs is kept from one round to the next (a few kilobytes a peer):
 * the request, built once; the results; the UDP socket. Taken and freed
 * each round, it was a page fault or more for each peer and round, once
 * glibc gave the freed memory back. */
struct peer {
    struct nd_fleet_peer public; /* written under the fleet's lock */
    struct nd_fleet *fleet;
    bool in_round;
    bool removed;     /* left the set while its round was in flight */
    unsigned pending; /* probes of the round whose done is still due */
    int64_t at_ms;    /* the round's start */
    uint64_t at_ns;
    uint8_t *request; /* GET /healthz, sized to it */
    struct nd_connect_request tcp_request;
    struct nd_connect_result tcp_result;
    struct nd_connect_probe *tcp_probe;
    struct nd_udp_ping *ping; /* NULL without UDP, or before the first round */
    struct nd_udp_ping_result udp_result;
    bool udp_probed; /* this round */
};

/* One lookup: the A and the AAAA query side by side. */
struct discovery_lookup {
    struct nd_dns_query queries[2];
    char addresses[ND_FLEET_PEERS_MAX][ND_NET_ADDRESS_TEXT_MAX];
    unsigned pending;
    uint64_t started_ns;
};

struct nd_fleet {
    struct nd_fleet_config config;
    uv_loop_t *loop;
    struct nd_runtime *runtime;
    uv_timer_t timer;
    unsigned probe_timeout_ms;
    struct discovery_lookup *lookup; /* NULL when none is in flight */
    /* Loop-owned; the published fields below are written under lock on the
     * loop thread and read under it by any thread. */
    pthread_mutex_t lock;
    struct peer **peers; /* sorted by address */
    size_t peer_count;
    struct nd_fleet_discovery discovery;
    uint64_t rounds;
    /* Stopping: the timer's close, lookups, rounds and pings' closes still to end. */
    unsigned outstanding;
    bool stopping;
    struct nd_runtime_done *stopped;
    int start_status; /* libuv's, from the loop thread */
};

static int64_t wall_ms(void)
{
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0)
        return 0;
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static unsigned bucket_of(uint64_t microseconds)
{
    unsigned i = 0;
    while (i + 1 < ND_CONNECT_BUCKETS && microseconds > nd_connect_bucket_bounds_us[i])
        i++;
    return i;
}

static uint32_t clamp_us(uint64_t microseconds)
{
    return microseconds > UINT32_MAX ? UINT32_MAX : (uint32_t)microseconds;
}

bool nd_fleet_round_healthy(const struct nd_fleet_round *round)
{
    return round->tcp_ok && (!round->udp_probed || round->udp_ok);
}

const struct nd_fleet_round *nd_fleet_peer_last(const struct nd_fleet_peer *peer)
{
    return peer->round_count ? &peer->rounds[peer->last_round] : NULL;
}

const struct nd_fleet_config *nd_fleet_config(const struct nd_fleet *fleet)
{
    return &fleet->config;
}

size_t nd_fleet_request_text(const struct nd_fleet_config *config, const char *address,
                             const char *path, char *out, size_t size)
{
    bool ipv6 = strchr(address, ':') != NULL;
    int length = snprintf(out, size,
                          ipv6 ? "GET %s HTTP/1.0\r\nHost: [%s]:%u\r\n"
                               : "GET %s HTTP/1.0\r\nHost: "
                                 "%s:%u\r\n",
                          path, address, (unsigned)config->http_port);
    if (length < 0 || (size_t)length >= size)
        return 0;
    size_t used = (size_t)length;
    length = snprintf(out + used, size - used, "User-Agent: netdiag/%s (fleet)\r\n%s%s%s",
                      NETDIAG_VERSION, config->auth_token[0] ? "Authorization: Bearer " : "",
                      config->auth_token, config->auth_token[0] ? "\r\n" : "");
    if (length < 0 || (size_t)length >= size - used)
        return 0;
    used += (size_t)length;
    length = snprintf(out + used, size - used, "Connection: close\r\n\r\n");
    if (length < 0 || (size_t)length >= size - used)
        return 0;
    return used + (size_t)length;
}

static int compare_addresses(const void *a, const void *b)
{
    return strcmp(a, b);
}

struct address_set {
    char (*addresses)[ND_NET_ADDRESS_TEXT_MAX];
    size_t max, *count;
    unsigned *dropped;
};

static void add_address(int family, const uint8_t *address, void *context)
{
    struct address_set *set = context;
    char text[ND_NET_ADDRESS_TEXT_MAX];
    if (!inet_ntop(family, address, text, sizeof text))
        return;
    for (size_t j = 0; j < *set->count; j++) {
        if (strcmp(set->addresses[j], text) == 0)
            return;
    }
    if (*set->count == set->max)
        (*set->dropped)++;
    else
        memcpy(set->addresses[(*set->count)++], text, sizeof text);
}

enum nd_err nd_fleet_parse_addresses(const uint8_t *reply, size_t length,
                                     char (*addresses)[ND_NET_ADDRESS_TEXT_MAX], size_t max,
                                     size_t *count, unsigned *dropped, unsigned *rcode,
                                     struct nd_error *error)
{
    struct address_set set = {addresses, max, count, dropped};
    enum nd_err err = nd_dns_reply_addresses(reply, length, add_address, &set, rcode, error);
    if (err != ND_OK)
        return err;
    qsort(addresses, *count, sizeof addresses[0], compare_addresses);
    return ND_OK;
}

/* --- Stopping --------------------------------------------------------------------- */

/* Each thing that ends after the stop began (the timer's close, a lookup,
 * a round) calls this; the last one lets nd_fleet_stop go on. */
static void outstanding_done(struct nd_fleet *fleet)
{
    fleet->outstanding--;
    if (fleet->stopping && fleet->outstanding == 0)
        nd_runtime_signal(fleet->stopped);
}

static void on_ping_closed(void *context)
{
    outstanding_done(context);
}

/* The ping's close ends a ping in flight, whose done comes first; the stop
 * waits for the close. */
static void close_ping(struct peer *peer)
{
    if (!peer->ping)
        return;
    peer->fleet->outstanding++;
    nd_udp_ping_close(peer->ping, on_ping_closed, peer->fleet);
    peer->ping = NULL;
}

/* On the loop thread while its socket is open (nd_fleet_stop frees the
 * rest once the loop has closed them). */
static void free_peer(struct peer *peer)
{
    close_ping(peer);
    free(peer->request);
    free(peer);
}

/* --- Rounds ----------------------------------------------------------------------- */

/* A failure to remember, by probe and name. */
static void note_error(struct nd_fleet_peer *peer, const char *probe, const char *phase,
                       const char *result, int64_t at_ms, const struct nd_error *error)
{
    peer->has_error = true;
    peer->error_probe = probe;
    peer->error_phase = phase;
    peer->error_result = result;
    peer->error_at_ms = at_ms;
    peer->error = *error;
}

/* The /healthz answer: its status, and the node the peer says it runs on. */
static void read_health_answer(const struct nd_connect_result *result, struct nd_fleet_round *round,
                               char *node, size_t node_size, struct nd_error *error)
{
    struct nd_http_reply reply;
    if (nd_http_reply_parse(result->received, result->received_length, &reply, error) != ND_OK)
        return;
    if (!reply.head_complete) {
        nd_error_set(error, ND_ERR_PROTOCOL, "the answer to GET /healthz ended inside its head");
        return;
    }
    round->http_status = reply.status;
    if (reply.status != 200)
        nd_error_set(error, ND_ERR_PROTOCOL, "GET /healthz answered %u %s", reply.status,
                     reply.reason);
    /* A peer's word goes into labels and JSON: a node name (a DNS name, as
     * --node-name must be) or nothing. */
    for (size_t i = 0; i < reply.field_count; i++) {
        const struct nd_http_reply_field *field = &reply.fields[i];
        struct nd_error invalid;
        if (strcasecmp(field->name, "Netdiag-Node") == 0 && !field->value_cut &&
            strlen(field->value) < node_size &&
            nd_resolve_validate_name(field->value, &invalid) == ND_OK)
            snprintf(node, node_size, "%s", field->value);
    }
}

/* Both probes of a round are over: publish what they found. */
static void finish_round(struct peer *peer)
{
    struct nd_fleet *fleet = peer->fleet;
    struct nd_fleet_round record = {.at_ms = peer->at_ms, .at_ns = peer->at_ns};
    record.took_us = (uv_hrtime() - peer->at_ns) / 1000;

    const struct nd_connect_result *tcp = &peer->tcp_result;
    struct nd_error http_error = {.code = ND_OK};
    char node[ND_FLEET_NODE_MAX] = "";
    record.tcp_outcome = tcp->outcome;
    record.tcp_phase = tcp->failed_phase;
    record.tcp_errno = tcp->error.os_error;
    for (size_t i = 0; i < tcp->attempt_count; i++) {
        if (tcp->attempts[i].outcome == ND_CONNECT_CONNECTED)
            record.connect_us = clamp_us(tcp->attempts[i].duration_us);
    }
    if (tcp->got_first_byte) {
        record.http_us = clamp_us(tcp->first_byte_us);
        read_health_answer(tcp, &record, node, sizeof node, &http_error);
    }
    record.tcp_ok = tcp->ok && record.http_status == 200;

    const struct nd_udp_ping_result *udp = &peer->udp_result;
    record.udp_probed = peer->udp_probed;
    if (record.udp_probed) {
        record.udp_ok = udp->ok;
        record.udp_outcome = udp->outcome;
        record.udp_phase = udp->failed_phase;
        record.udp_errno = udp->error.os_error;
        record.udp_sent = (uint8_t)udp->sent;
        record.udp_answered = (uint8_t)udp->answered;
        if (udp->answered)
            record.udp_rtt_us = clamp_us(udp->rtt_us);
    }
    pthread_mutex_lock(&fleet->lock);
    struct nd_fleet_peer *public = &peer->public;
    if (public->round_count)
    public->last_round = (public->last_round + 1) % ND_FLEET_ROUNDS;
    if (public->round_count < ND_FLEET_ROUNDS)
    public->round_count++;
    public->rounds[public->last_round] = record;
    if (node[0] && !public->self)
        memcpy(public->node, node, sizeof node);
    struct nd_fleet_peer_stats *stats = &public->stats;
    stats->rounds++;
    if (record.connect_us) {
        stats->connect_buckets[bucket_of(record.connect_us)]++;
        stats->connect_sum_us += record.connect_us;
    }
    if (tcp->got_first_byte) {
        stats->http_buckets[bucket_of(record.http_us)]++;
        stats->http_sum_us += record.http_us;
    }
    /* The UDP failure first, so that when both probes failed the TCP one,
     * the more telling (a phase, an errno), is the one remembered. */
    if (record.udp_probed && udp->ok) {
        stats->udp_rtt_buckets[bucket_of(record.udp_rtt_us)]++;
        stats->udp_rtt_sum_us += record.udp_rtt_us;
    } else if (record.udp_probed) {
        stats->udp_errors[udp->outcome]++;
        note_error(public, "udp", nd_udp_phase_name(udp->failed_phase),
                   nd_udp_outcome_name(udp->outcome), record.at_ms, &udp->error);
    }
    if (!tcp->ok) {
        stats->tcp_errors[tcp->outcome]++;
        note_error(public, "tcp", nd_connect_phase_name(tcp->failed_phase),
                   nd_connect_outcome_name(tcp->outcome), record.at_ms, &tcp->error);
    } else if (record.http_status != 200) {
        stats->http_errors++;
        note_error(public, "http", "status", "bad_status", record.at_ms, &http_error);
    }
    pthread_mutex_unlock(&fleet->lock);

    nd_connect_result_free(&peer->tcp_result);
    peer->in_round = false;
    if (peer->removed)
        free_peer(peer);
    outstanding_done(fleet);
}

static void on_probe_done(void *context)
{
    struct peer *peer = context;
    if (--peer->pending == 0)
        finish_round(peer);
}

static void on_tcp_done(void *context)
{
    struct peer *peer = context;
    peer->tcp_probe = NULL;
    on_probe_done(peer);
}

static void cancel_round(struct peer *peer)
{
    if (peer->tcp_probe)
        nd_connect_cancel(peer->tcp_probe);
    if (peer->ping)
        nd_udp_ping_cancel(peer->ping);
}

/* What a peer's probes ask, once: the bytes of GET /healthz, and where
 * they go. False when memory runs out. */
static bool prepare_probes(struct nd_fleet *fleet, struct peer *peer)
{
    char text[REQUEST_MAX];
    size_t length =
        nd_fleet_request_text(&fleet->config, peer->public.address, "/healthz", text, sizeof text);
    if (!length || !(peer->request = malloc(length)))
        return false;
    memcpy(peer->request, text, length);

    struct nd_connect_request *tcp = &peer->tcp_request;
    snprintf(tcp->host, sizeof tcp->host, "%s", peer->public.address);
    tcp->port = fleet->config.http_port;
    tcp->family = ND_RESOLVE_ANY;
    tcp->timeout_ms = fleet->probe_timeout_ms;
    tcp->send = peer->request;
    tcp->send_length = length;
    tcp->await_reply = true;
    tcp->read_limit = HEALTH_READ_MAX;
    if (fleet->config.https) {
        tcp->tls = true;
        tcp->trust = fleet->config.trust;
        snprintf(tcp->server_name, sizeof tcp->server_name, "%s", fleet->config.peers_name);
    }
    return true;
}

/* The peer's UDP echo, at its address (the text inet_ntop gave). */
static struct nd_udp_ping *open_ping(struct nd_fleet *fleet, const struct peer *peer)
{
    struct sockaddr_storage address;
    if (nd_net_address_from_literal(peer->public.address, fleet->config.echo_udp_port, &address) ==
        0)
        return NULL;
    return nd_udp_ping_open(fleet->loop, (struct sockaddr *)&address);
}

/* The two probes of a peer, side by side. */
static void start_round(struct nd_fleet *fleet, struct peer *peer)
{
    if (peer->in_round)
        return; /* the last one is still running: it has its own deadline */
    peer->at_ms = wall_ms();
    peer->at_ns = uv_hrtime();
    peer->tcp_probe =
        nd_connect_start(fleet->loop, &peer->tcp_request, &peer->tcp_result, on_tcp_done, peer);
    if (!peer->tcp_probe) {
        nd_connect_result_free(&peer->tcp_result);
        return; /* no memory now: the next interval tries again */
    }
    peer->in_round = true;
    peer->pending = 1;
    fleet->outstanding++;

    peer->udp_probed = false;
    if (fleet->config.echo_udp_port) {
        if (!peer->ping)
            peer->ping = open_ping(fleet, peer);
        peer->udp_probed = peer->ping && nd_udp_ping_send(peer->ping, fleet->probe_timeout_ms,
                                                          &peer->udp_result, on_probe_done, peer);
        if (peer->udp_probed)
            peer->pending++;
    }
}

/* --- Discovery -------------------------------------------------------------------- */

static struct peer *find_peer(struct peer **peers, size_t count, const char *address)
{
    size_t low = 0, high = count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = strcmp(peers[middle]->public.address, address);
        if (order == 0)
            return peers[middle];
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return NULL;
}

/* The new set of peers, from the addresses found (sorted): the ones still
 * there keep their history, new ones start empty, the others go (a round
 * in flight is cut short and frees its peer when it ends). */
static void replace_peers(struct nd_fleet *fleet, char (*addresses)[ND_NET_ADDRESS_TEXT_MAX],
                          size_t count)
{
    struct peer **peers = calloc(count ? count : 1, sizeof *peers);
    if (!peers)
        return; /* keep the old set; the next lookup tries again */
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        struct peer *peer = find_peer(fleet->peers, fleet->peer_count, addresses[i]);
        if (!peer) {
            peer = calloc(1, sizeof *peer);
            if (!peer)
                continue;
            peer->fleet = fleet;
            memcpy(peer->public.address, addresses[i], sizeof peer->public.address);
            if (!prepare_probes(fleet, peer)) {
                free_peer(peer);
                continue;
            }
            peer->public.self = strcmp(addresses[i], fleet->config.pod_ip) == 0;
            if (peer->public.self)
                snprintf(peer->public.node, sizeof peer->public.node, "%s",
                         fleet->config.node_name);
            peer->public.since_ms = wall_ms();
        }
        peers[kept++] = peer;
    }
    struct peer **old = fleet->peers;
    size_t old_count = fleet->peer_count;
    pthread_mutex_lock(&fleet->lock);
    fleet->peers = peers;
    fleet->peer_count = kept;
    pthread_mutex_unlock(&fleet->lock);
    for (size_t i = 0; i < old_count; i++) {
        if (find_peer(peers, kept, old[i]->public.address))
            continue;
        if (old[i]->in_round) {
            old[i]->removed = true;
            cancel_round(old[i]);
        } else {
            free_peer(old[i]);
        }
    }
    free(old);
}

/* Both answers are in: the set of peers, then a round for each. A lookup
 * that failed (no answer, SERVFAIL, REFUSED) keeps the last set: a DNS
 * hiccup is not every peer leaving. NXDOMAIN is an answer: no peers. */
static void lookup_over(struct nd_fleet *fleet, struct discovery_lookup *lookup)
{
    char(*addresses)[ND_NET_ADDRESS_TEXT_MAX] = lookup->addresses;
    size_t count = 0;
    unsigned dropped = 0, rcode = 0;
    struct nd_error error = {.code = ND_OK};
    bool answered = true;
    for (int i = 0; i < 2 && answered; i++) {
        struct nd_dns_query_result *result = &lookup->queries[i].result;
        unsigned this_rcode = 0;
        if (result->error.code != ND_OK) {
            error = result->error;
            answered = false;
        } else if (nd_fleet_parse_addresses(result->reply, result->reply_length, addresses,
                                            fleet->config.peers_max, &count, &dropped, &this_rcode,
                                            &error) != ND_OK) {
            answered = false;
        } else if (this_rcode != 0 && this_rcode != 3) { /* NOERROR, NXDOMAIN */
            char name[16];
            nd_error_set(&error, ND_ERR_PROTOCOL, "%s port %u answered %s for %s",
                         fleet->config.dns_server.host, (unsigned)fleet->config.dns_server.port,
                         nd_dns_rcode_name(this_rcode, name, sizeof name),
                         fleet->config.peers_name);
            answered = false;
        }
        if (rcode == 0)
            rcode = this_rcode;
    }
    if (answered && rcode == 3)
        nd_error_set(&error, ND_ERR_NOT_FOUND, "%s does not exist (NXDOMAIN from %s port %u)",
                     fleet->config.peers_name, fleet->config.dns_server.host,
                     (unsigned)fleet->config.dns_server.port);

    pthread_mutex_lock(&fleet->lock);
    struct nd_fleet_discovery *discovery = &fleet->discovery;
    discovery->done = true;
    discovery->ok = answered && rcode == 0;
    discovery->rcode = rcode;
    discovery->query_time_us = (uv_hrtime() - lookup->started_ns) / 1000;
    discovery->at_ms = wall_ms();
    discovery->at_ns = uv_hrtime();
    discovery->addresses = (unsigned)count + dropped;
    discovery->dropped = dropped;
    discovery->error = error;
    discovery->lookups++;
    if (!discovery->ok)
        discovery->failures++;
    pthread_mutex_unlock(&fleet->lock);

    if (answered)
        replace_peers(fleet, addresses, count);
    pthread_mutex_lock(&fleet->lock);
    fleet->rounds++;
    pthread_mutex_unlock(&fleet->lock);
    for (size_t i = 0; i < fleet->peer_count; i++)
        start_round(fleet, fleet->peers[i]);
}

static void on_query_done(struct nd_dns_query *query, void *context)
{
    struct nd_fleet *fleet = context;
    struct discovery_lookup *lookup = fleet->lookup;
    (void)query;
    if (--lookup->pending > 0)
        return;
    if (!fleet->stopping)
        lookup_over(fleet, lookup);
    for (int i = 0; i < 2; i++)
        nd_dns_query_release(&lookup->queries[i]);
    free(lookup);
    fleet->lookup = NULL;
    outstanding_done(fleet);
}

static void on_tick(uv_timer_t *timer)
{
    struct nd_fleet *fleet = timer->data;
    if (fleet->lookup || fleet->stopping)
        return; /* the last lookup is still waiting for its server */
    /* Not zeroed: the addresses alone are tens of kilobytes, and each
     * field is written before it is read. */
    struct discovery_lookup *lookup = malloc(sizeof *lookup);
    if (!lookup)
        return;
    static const uint16_t types[2] = {DNS_TYPE_A, DNS_TYPE_AAAA};
    struct nd_dns_query_request requests[2];
    uint8_t wires[2][ND_DNS_QUERY_MAX]; /* nd_dns_query_start copies them */
    for (int i = 0; i < 2; i++) {
        struct nd_dns_query_request *request = &requests[i];
        memset(request, 0, sizeof *request);
        uint8_t *wire = wires[i];
        struct nd_dns_query_options options = {.type = types[i], .recursion_desired = true};
        struct nd_error error;
        /* RFC 5452: an unpredictable id, so that an answer cannot be forged
         * blind. */
        if (getrandom(&options.id, sizeof options.id, 0) != (ssize_t)sizeof options.id)
            options.id = (uint16_t)uv_hrtime();
        char name[ND_DNS_NAME_TEXT_MAX];
        if (nd_dns_query_name(fleet->config.peers_name, types[i], name, sizeof name, &error) !=
                ND_OK ||
            nd_dns_build_query(name, &options, wire, ND_DNS_QUERY_MAX, &request->query_length,
                               &error) != ND_OK) {
            free(lookup);
            return; /* the name was checked at start-up */
        }
        request->query = wire;
        snprintf(request->host, sizeof request->host, "%s", fleet->config.dns_server.host);
        request->port = fleet->config.dns_server.port;
        request->timeout_ms = fleet->probe_timeout_ms;
    }
    fleet->lookup = lookup;
    lookup->pending = 2;
    lookup->started_ns = uv_hrtime();
    fleet->outstanding++;
    for (int i = 0; i < 2; i++)
        nd_dns_query_start(&lookup->queries[i], fleet->loop, &requests[i], on_query_done, fleet);
}

/* --- Start and stop --------------------------------------------------------------- */

static void start_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct nd_fleet *fleet = argument;
    fleet->loop = loop;
    fleet->start_status = uv_timer_init(loop, &fleet->timer);
    if (fleet->start_status == 0) {
        fleet->timer.data = fleet;
        fleet->start_status =
            uv_timer_start(&fleet->timer, on_tick, 0, (uint64_t)fleet->config.interval_s * 1000);
        if (fleet->start_status != 0)
            uv_close((uv_handle_t *)&fleet->timer, NULL);
    }
    nd_runtime_signal(done);
}

static void on_timer_closed(uv_handle_t *handle)
{
    outstanding_done(handle->data);
}

static void stop_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct nd_fleet *fleet = argument;
    (void)loop;
    fleet->stopping = true;
    fleet->stopped = done;
    fleet->outstanding++;
    uv_close((uv_handle_t *)&fleet->timer, on_timer_closed);
    if (fleet->lookup) {
        for (int i = 0; i < 2; i++)
            nd_dns_query_cancel(&fleet->lookup->queries[i]);
    }
    for (size_t i = 0; i < fleet->peer_count; i++) {
        struct peer *peer = fleet->peers[i];
        if (peer->tcp_probe)
            nd_connect_cancel(peer->tcp_probe);
        close_ping(peer);
    }
}

/* A turn of the loop, so that a close requested earlier has run. */
static void wait_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    (void)argument;
    (void)loop;
    nd_runtime_signal(done);
}

enum nd_err nd_fleet_start(struct nd_runtime *runtime, const struct nd_fleet_config *config,
                           struct nd_fleet **out, struct nd_error *error)
{
    struct nd_fleet *fleet = calloc(1, sizeof *fleet);
    if (!fleet)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    fleet->config = *config;
    fleet->runtime = runtime;
    unsigned half = config->interval_s * 500;
    fleet->probe_timeout_ms = half < PROBE_TIMEOUT_MAX_MS ? half : PROBE_TIMEOUT_MAX_MS;
    int status = pthread_mutex_init(&fleet->lock, NULL);
    if (status != 0) {
        free(fleet);
        return nd_error_set_errno(error, status, "pthread_mutex_init");
    }
    if (!nd_runtime_call(runtime, start_on_loop, fleet)) {
        pthread_mutex_destroy(&fleet->lock);
        free(fleet);
        return nd_error_set(error, ND_ERR_STOPPING, "the runtime is stopping");
    }
    if (fleet->start_status != 0) {
        nd_runtime_set_error(error, fleet->start_status, "uv_timer_start");
        /* The timer's close (when it was opened) is done by the next loop
         * turn; nothing else refers to the engine. */
        nd_runtime_call(runtime, wait_on_loop, NULL);
        pthread_mutex_destroy(&fleet->lock);
        free(fleet);
        return error->code;
    }
    *out = fleet;
    return ND_OK;
}

void nd_fleet_stop(struct nd_fleet *fleet)
{
    if (!fleet)
        return;
    /* When the runtime is already gone, so are the handles: nothing to wait
     * for, and the pings are not closed on a loop that no longer runs. */
    bool stopped = nd_runtime_call(fleet->runtime, stop_on_loop, fleet);
    for (size_t i = 0; i < fleet->peer_count; i++) {
        if (!stopped)
            fleet->peers[i]->ping = NULL;
        free_peer(fleet->peers[i]);
    }
    free(fleet->peers);
    pthread_mutex_destroy(&fleet->lock);
    free(fleet);
}

/* --- Views ------------------------------------------------------------------------ */

enum nd_err nd_fleet_snapshot(struct nd_fleet *fleet, struct nd_fleet_view *view,
                              struct nd_error *error)
{
    memset(view, 0, sizeof *view);
    view->config = &fleet->config;
    pthread_mutex_lock(&fleet->lock);
    size_t count = fleet->peer_count;
    view->peers = calloc(count ? count : 1, sizeof *view->peers);
    if (!view->peers) {
        pthread_mutex_unlock(&fleet->lock);
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < count; i++)
        view->peers[i] = fleet->peers[i]->public;
    view->peer_count = count;
    view->discovery = fleet->discovery;
    view->rounds = fleet->rounds;
    view->now_ms = wall_ms();
    view->now_ns = uv_hrtime();
    pthread_mutex_unlock(&fleet->lock);
    return ND_OK;
}

void nd_fleet_view_free(struct nd_fleet_view *view)
{
    free(view->peers);
    view->peers = NULL;
    view->peer_count = 0;
}

/* --- Fan-out ---------------------------------------------------------------------- */

struct fanout_slot {
    struct nd_fleet_fanout *fanout;
    size_t index;
    uint8_t *request;
    struct nd_connect_request probe_request;
    struct nd_connect_probe *probe;
};

static void start_next_fetch(struct nd_fleet_fanout *fanout);

static void on_fetch_done(void *context)
{
    struct fanout_slot *slot = context;
    struct nd_fleet_fanout *fanout = slot->fanout;
    struct nd_fleet_fetch *fetch = &fanout->fetches[slot->index];
    slot->probe = NULL;
    free(slot->request);
    slot->request = NULL;
    fetch->took_us = fetch->result.total_us;
    struct nd_http_reply reply;
    struct nd_error error;
    if (fetch->result.ok && fetch->result.received_length > 0 &&
        nd_http_reply_parse(fetch->result.received, fetch->result.received_length, &reply,
                            &error) == ND_OK &&
        reply.head_complete) {
        fetch->ok = true;
        fetch->status = reply.status;
        fetch->body = fetch->result.received + reply.body_offset;
        fetch->body_length = fetch->result.received_length - reply.body_offset;
    } else if (fetch->result.ok) {
        fetch->result.ok = false;
        fetch->result.outcome = ND_CONNECT_ERROR;
        fetch->result.failed_phase = ND_CONNECT_RECEIVE;
        nd_error_set(&fetch->result.error, ND_ERR_PROTOCOL, "the answer to GET /fleet is not HTTP");
    }
    fanout->in_flight--;
    start_next_fetch(fanout);
    if (fanout->in_flight == 0 && (fanout->next == fanout->count || fanout->cancelled))
        fanout->done(fanout->context);
}

static void start_next_fetch(struct nd_fleet_fanout *fanout)
{
    while (!fanout->cancelled && fanout->next < fanout->count &&
           fanout->in_flight < ND_FLEET_FANOUT_CONCURRENCY) {
        size_t index = fanout->next++;
        struct nd_fleet_fetch *fetch = &fanout->fetches[index];
        struct fanout_slot *slot = &fanout->slots[index];
        const struct nd_fleet_config *config = &fanout->fleet->config;
        uint64_t now = uv_hrtime();
        if (now >= fanout->deadline_ns) {
            fanout->cancelled = true;
            break;
        }
        char text[REQUEST_MAX];
        size_t length = nd_fleet_request_text(config, fetch->address, "/fleet", text, sizeof text);
        slot->request = length ? malloc(length) : NULL;
        if (!slot->request)
            continue; /* counted as not started */
        memcpy(slot->request, text, length);
        slot->fanout = fanout;
        slot->index = index;
        struct nd_connect_request *request = &slot->probe_request;
        snprintf(request->host, sizeof request->host, "%s", fetch->address);
        request->port = config->http_port;
        request->family = ND_RESOLVE_ANY;
        uint64_t left_ms = (fanout->deadline_ns - now) / 1000000;
        request->timeout_ms = left_ms ? (unsigned)left_ms : 1;
        request->send = slot->request;
        request->send_length = length;
        request->await_reply = true;
        request->read_limit = ND_FLEET_FANOUT_READ_MAX;
        if (config->https) {
            request->tls = true;
            request->trust = config->trust;
            snprintf(request->server_name, sizeof request->server_name, "%s", config->peers_name);
        }
        slot->probe = nd_connect_start(fanout->loop, request, &fetch->result, on_fetch_done, slot);
        if (!slot->probe) {
            free(slot->request);
            slot->request = NULL;
            continue;
        }
        fetch->started = true;
        fanout->in_flight++;
    }
}

bool nd_fleet_fanout_start(struct nd_fleet_fanout *fanout, struct nd_fleet *fleet, uv_loop_t *loop,
                           unsigned timeout_ms, void (*done)(void *context), void *context)
{
    memset(fanout, 0, sizeof *fanout);
    size_t others = 0;
    for (size_t i = 0; i < fleet->peer_count; i++)
        others += !fleet->peers[i]->public.self;
    fanout->fetches = calloc(others ? others : 1, sizeof *fanout->fetches);
    fanout->slots = calloc(others ? others : 1, sizeof *fanout->slots);
    if (!fanout->fetches || !fanout->slots) {
        nd_fleet_fanout_free(fanout);
        fanout->out_of_memory = true;
        return false;
    }
    pthread_mutex_lock(&fleet->lock);
    for (size_t i = 0; i < fleet->peer_count; i++) {
        const struct nd_fleet_peer *peer = &fleet->peers[i]->public;
        if (peer->self)
            continue;
        struct nd_fleet_fetch *fetch = &fanout->fetches[fanout->count++];
        memcpy(fetch->address, peer->address, sizeof fetch->address);
        memcpy(fetch->node, peer->node, sizeof fetch->node);
    }
    pthread_mutex_unlock(&fleet->lock);
    fanout->fleet = fleet;
    fanout->loop = loop;
    fanout->timeout_ms = timeout_ms;
    fanout->deadline_ns = uv_hrtime() + (uint64_t)timeout_ms * 1000000;
    fanout->done = done;
    fanout->context = context;
    start_next_fetch(fanout);
    return fanout->in_flight > 0;
}

void nd_fleet_fanout_cancel(struct nd_fleet_fanout *fanout)
{
    fanout->cancelled = true;
    for (size_t i = 0; i < fanout->count; i++) {
        if (fanout->slots[i].probe)
            nd_connect_cancel(fanout->slots[i].probe);
    }
}

void nd_fleet_fanout_free(struct nd_fleet_fanout *fanout)
{
    for (size_t i = 0; fanout->fetches && i < fanout->count; i++)
        nd_connect_result_free(&fanout->fetches[i].result);
    for (size_t i = 0; fanout->slots && i < fanout->count; i++)
        free(fanout->slots[i].request);
    free(fanout->fetches);
    free(fanout->slots);
    fanout->fetches = NULL;
    fanout->slots = NULL;
    fanout->count = 0;
}
