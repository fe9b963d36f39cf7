/* The fleet view against a simulated cluster on this machine: five netdiag
 * processes on 127.0.0.11 to 127.0.0.15 (the same ports on each, as pods of
 * a DaemonSet), found through a real DNS server (dnsmasq) that answers the
 * peers' name with their addresses, probing each other every second, with a
 * bearer token that they must send each other. Then the cases of a real
 * cluster: all healthy; a peer removed from DNS leaves the matrix; a peer
 * frozen with SIGSTOP (a hung node) is a timeout, not a refusal, and
 * recovers after SIGCONT; a peer killed is refused and its row unreachable;
 * a name that does not resolve, or a DNS server that does not answer, is
 * shown and nothing crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

enum { PODS = 5, INTERVAL_S = 1 };

static const char *const pod_addresses[PODS] = {"127.0.0.11", "127.0.0.12", "127.0.0.13",
                                                "127.0.0.14", "127.0.0.15"};
static const char token[] = "fleet-test-token-0123456789";
static const char *const authorized[] = {"Authorization: Bearer fleet-test-token-0123456789", NULL};

static struct nd_test_server pods[PODS];
static bool pod_running[PODS];
static pid_t dnsmasq_pid;
static unsigned dns_port;
static char directory[64];
static char hosts_path[128];

static void sleep_ms(int milliseconds)
{
    const struct timespec pause = {.tv_sec = milliseconds / 1000,
                                   .tv_nsec = (long)(milliseconds % 1000) * 1000000};
    nanosleep(&pause, NULL);
}

/* The peers' name, as the headless Service's records would give it. */
static void write_hosts(const bool *listed)
{
    char text[512] = "";
    for (int i = 0; i < PODS; i++) {
        if (!listed[i])
            continue;
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "%s netdiag-peers.fleet.test\n",
                 pod_addresses[i]);
    }
    /* The HTTPS case's two pods, under a name of their own. */
    size_t used = strlen(text);
    snprintf(text + used, sizeof text - used,
             "127.0.0.17 tls-peers.fleet.test\n127.0.0.18 tls-peers.fleet.test\n");
    char temporary[160];
    snprintf(temporary, sizeof temporary, "%s.new", hosts_path);
    FILE *file = fopen(temporary, "w");
    assert_non_null(file);
    assert_true(fputs(text, file) >= 0);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(chmod(temporary, 0644), 0);
    assert_int_equal(rename(temporary, hosts_path), 0);
}

/* dnsmasq rereads its hosts files on SIGHUP. */
static void publish_hosts(const bool *listed)
{
    write_hosts(listed);
    assert_int_equal(kill(dnsmasq_pid, SIGHUP), 0);
}

static void start_pod(int i, unsigned http_port, unsigned echo_port, const char *peers_name,
                      unsigned dns_server_port)
{
    char listen[32], echo[32], dns_server[32], node[24], token_file[128];
    snprintf(listen, sizeof listen, "%s:%u", pod_addresses[i], http_port);
    snprintf(echo, sizeof echo, "%s:%u", pod_addresses[i], echo_port);
    snprintf(dns_server, sizeof dns_server, "127.0.0.1:%u", dns_server_port);
    snprintf(node, sizeof node, "node-%d", i + 1);
    snprintf(token_file, sizeof token_file, "%s/token", directory);
    const char *args[] = {"--listen",
                          listen,
                          "--echo-listen",
                          echo,
                          "--peers-dns",
                          peers_name,
                          "--peers-dns-server",
                          dns_server,
                          "--peers-interval",
                          "1",
                          "--pod-ip",
                          pod_addresses[i],
                          "--node-name",
                          node,
                          "--auth-token-file",
                          token_file,
                          "--access-log",
                          "off",
                          NULL};
    nd_test_server_start(&pods[i], args);
    /* The harness speaks to 127.0.0.1; this pod is elsewhere. */
    snprintf(pods[i].base_url, sizeof pods[i].base_url, "http://%s:%u", pod_addresses[i],
             pods[i].http_port);
    pod_running[i] = true;
}

static int start_cluster(void **state)
{
    (void)state;
    snprintf(directory, sizeof directory, "/tmp/netdiag-fleet-XXXXXX");
    assert_non_null(mkdtemp(directory));
    /* dnsmasq reads its hosts file as the user it drops to (nobody). */
    assert_int_equal(chmod(directory, 0755), 0);
    char token_file[128];
    snprintf(token_file, sizeof token_file, "%s/token", directory);
    FILE *file = fopen(token_file, "w");
    assert_non_null(file);
    assert_true(fputs(token, file) >= 0);
    assert_int_equal(fclose(file), 0);

    snprintf(hosts_path, sizeof hosts_path, "%s/hosts", directory);
    const bool all[PODS] = {true, true, true, true, true};
    write_hosts(all);
    static const char *const loopback[] = {"127.0.0.1"};
    dns_port = nd_test_free_port_on(loopback, 1);
    char port[16], hosts_option[160], log_path[128];
    snprintf(port, sizeof port, "--port=%u", dns_port);
    snprintf(hosts_option, sizeof hosts_option, "--addn-hosts=%s", hosts_path);
    snprintf(log_path, sizeof log_path, "%s/dnsmasq.log", directory);
    /* Authoritative for .test from the hosts file alone: a name not in it
     * is NXDOMAIN, and nothing is forwarded anywhere. */
    const char *argv[] = {"dnsmasq",
                          "--keep-in-foreground",
                          port,
                          "--listen-address=127.0.0.1",
                          "--bind-interfaces",
                          "--no-resolv",
                          "--no-hosts",
                          hosts_option,
                          "--local=/test/",
                          "--local-ttl=0",
                          "--pid-file=",
                          "--conf-file=/dev/null",
                          "--log-facility=-",
                          NULL};
    dnsmasq_pid = nd_test_spawn(argv, log_path);

    unsigned http_port = nd_test_free_port_on(pod_addresses, PODS);
    unsigned echo_port;
    do
        echo_port = nd_test_free_port_on(pod_addresses, PODS);
    while (echo_port == http_port);
    for (int i = 0; i < PODS; i++)
        start_pod(i, http_port, echo_port, "netdiag-peers.fleet.test", dns_port);
    return 0;
}

static int stop_cluster(void **state)
{
    (void)state;
    for (int i = 0; i < PODS; i++) {
        if (!pod_running[i])
            continue;
        kill(pods[i].pid, SIGCONT);
        assert_int_equal(nd_test_server_stop(&pods[i], 10000), 0);
    }
    nd_test_terminate(dnsmasq_pid);
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", directory);
    return system(command) == 0 ? 0 : -1;
}

/* /fleet?scope=all from pod `from`, its JSON (the caller frees). */
static cJSON *matrix_from(int from, unsigned timeout_ms)
{
    char path[64];
    snprintf(path, sizeof path, "/fleet?scope=all&timeout_ms=%u", timeout_ms);
    struct nd_test_response response;
    nd_test_request(&pods[from], "GET", path, authorized, &response);
    assert_int_equal(response.status, 200);
    assert_non_null(response.json);
    cJSON *json = response.json;
    response.json = NULL;
    nd_test_response_free(&response);
    return json;
}

static const cJSON *row_of(const cJSON *matrix, const char *address)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(matrix, "rows"))
    {
        if (strcmp(nd_test_json_string(row, "from.address"), address) == 0)
            return row;
    }
    return NULL;
}

static int column_of(const cJSON *matrix, const char *address)
{
    int index = 0;
    const cJSON *column;
    cJSON_ArrayForEach(column, cJSON_GetObjectItemCaseSensitive(matrix, "columns"))
    {
        if (strcmp(nd_test_json_string(column, "address"), address) == 0)
            return index;
        index++;
    }
    return -1;
}

/* The cell of row `row_address`, column `column_address`; NULL when absent. */
static const cJSON *cell_of(const cJSON *matrix, const char *row_address,
                            const char *column_address)
{
    const cJSON *row = row_of(matrix, row_address);
    int column = column_of(matrix, column_address);
    if (!row || column < 0)
        return NULL;
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(row, "cells"), column);
}

static bool cell_is(const cJSON *cell, const char *state, const char *result)
{
    if (!cJSON_IsObject(cell))
        return false;
    const cJSON *cell_state = cJSON_GetObjectItemCaseSensitive(cell, "state");
    const cJSON *cell_result = cJSON_GetObjectItemCaseSensitive(cell, "result");
    return cJSON_IsString(cell_state) && strcmp(cell_state->valuestring, state) == 0 &&
           (!result ||
            (cJSON_IsString(cell_result) && strcmp(cell_result->valuestring, result) == 0));
}

/* Polls the matrix from pod `from` until check says yes, for at most
 * limit_ms; the last matrix is returned (the caller frees) and *met says
 * whether it passed. */
typedef bool (*matrix_check)(const cJSON *matrix);
static cJSON *wait_for_matrix(int from, matrix_check check, int limit_ms, bool *met)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        cJSON *matrix = matrix_from(from, 1500);
        *met = check(matrix);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (*met || elapsed > limit_ms) {
            if (!*met) {
                char *text = cJSON_Print(matrix);
                fprintf(stderr, "last matrix:\n%s\n", text);
                free(text);
            }
            return matrix;
        }
        cJSON_Delete(matrix);
        sleep_ms(200);
    }
}

static bool pods_listed(const cJSON *matrix, const bool *listed)
{
    int expected = 0;
    for (int i = 0; i < PODS; i++) {
        expected += listed[i];
        if ((column_of(matrix, pod_addresses[i]) >= 0) != listed[i] ||
            (row_of(matrix, pod_addresses[i]) != NULL) != listed[i])
            return false;
    }
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(matrix, "columns")) == expected;
}

/* Every row reachable, every cell between listed pods healthy. */
static bool all_healthy_among(const cJSON *matrix, const bool *listed)
{
    if (!pods_listed(matrix, listed))
        return false;
    for (int i = 0; i < PODS; i++) {
        if (!listed[i])
            continue;
        if (!cJSON_IsTrue(
                cJSON_GetObjectItemCaseSensitive(row_of(matrix, pod_addresses[i]), "reachable")))
            return false;
        for (int j = 0; j < PODS; j++) {
            if (listed[j] &&
                !cell_is(cell_of(matrix, pod_addresses[i], pod_addresses[j]), "healthy", "ok"))
                return false;
        }
    }
    return true;
}

static bool five_healthy(const cJSON *matrix)
{
    const bool all[PODS] = {true, true, true, true, true};
    return all_healthy_among(matrix, all);
}

static void test_all_healthy(void **state)
{
    (void)state;
    bool met;
    cJSON *matrix = wait_for_matrix(0, five_healthy, 10000, &met);
    assert_true(met);
    /* 5 x 5, node names from each pod's /healthz, summary in agreement. */
    assert_int_equal((int)nd_test_json_number(matrix, "summary.cells_healthy"), PODS * PODS);
    assert_int_equal((int)nd_test_json_number(matrix, "summary.rows_unreachable"), 0);
    assert_string_equal(nd_test_json_string(matrix, "columns.2.node"), "node-3");
    const cJSON *cell = cell_of(matrix, "127.0.0.12", "127.0.0.14");
    assert_int_equal((int)nd_test_json_number(cell, "tcp.http_status"), 200);
    assert_true(nd_test_json_number(cell, "tcp.connect_ms") > 0);
    assert_int_equal((int)nd_test_json_number(cell, "udp.answered"), 1);
    assert_true(nd_test_json_number(cell, "age_s") < 3);
    /* Each row says how old it is: a view of the last second or two. */
    const cJSON *row = row_of(matrix, "127.0.0.15");
    assert_true(nd_test_json_number(row, "age_s") < 3);
    cJSON_Delete(matrix);

    /* This pod's own view, and its metrics. */
    struct nd_test_response response;
    nd_test_request(&pods[2], "GET", "/fleet", authorized, &response);
    assert_int_equal(response.status, 200);
    assert_int_equal((int)nd_test_json_number(response.json, "summary.healthy"), PODS);
    assert_string_equal(nd_test_json_string(response.json, "self.node"), "node-3");
    assert_true(nd_test_json_bool(response.json, "peers.2.self"));
    assert_true(nd_test_json_bool(response.json, "peers_dns.ok"));
    assert_string_equal(nd_test_json_string(response.json, "peers_dns.rcode"), "NOERROR");
    nd_test_response_free(&response);
    nd_test_request(&pods[2], "GET", "/metrics", NULL, &response);
    assert_non_null(strstr(response.body, "netdiag_fleet_peers_healthy 5\n"));
    assert_non_null(strstr(response.body, "netdiag_fleet_connect_seconds_count{peer=\"127.0.0.15\","
                                          "node=\"node-5\"}"));
    nd_test_response_free(&response);

    /* Without the token, the fleet view is as closed as the rest. */
    nd_test_get(&pods[0], "/fleet", &response);
    assert_int_equal(response.status, 401);
    nd_test_response_free(&response);
}

static bool three_gone(const cJSON *matrix)
{
    const bool listed[PODS] = {true, true, false, true, true};
    return all_healthy_among(matrix, listed);
}

static void test_peer_removed_from_dns_leaves(void **state)
{
    (void)state;
    const bool without_three[PODS] = {true, true, false, true, true};
    publish_hosts(without_three);
    bool met;
    cJSON *matrix = wait_for_matrix(0, three_gone, 2 * INTERVAL_S * 1000 + 2000, &met);
    assert_true(met);
    cJSON_Delete(matrix);
    const bool all[PODS] = {true, true, true, true, true};
    publish_hosts(all);
    matrix = wait_for_matrix(0, five_healthy, 10000, &met);
    assert_true(met);
    cJSON_Delete(matrix);
}

/* Pod `down` is unreachable from here with `result`, and every other pod
 * sees it fail the same way. */
static bool seen_down(const cJSON *matrix, int down, const char *result)
{
    const cJSON *row = row_of(matrix, pod_addresses[down]);
    if (!row || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "reachable")) ||
        strcmp(nd_test_json_string(row, "error.result"), result) != 0)
        return false;
    for (int i = 0; i < PODS; i++) {
        if (i != down &&
            !cell_is(cell_of(matrix, pod_addresses[i], pod_addresses[down]), "unhealthy", result))
            return false;
    }
    return true;
}

static bool four_times_out(const cJSON *matrix)
{
    return seen_down(matrix, 3, "timeout");
}

static void test_frozen_peer_times_out_then_recovers(void **state)
{
    (void)state;
    assert_int_equal(kill(pods[3].pid, SIGSTOP), 0);
    bool met;
    cJSON *matrix = wait_for_matrix(0, four_times_out, 2 * INTERVAL_S * 1000 + 4000, &met);
    assert_true(met);
    /* A hung process still completes the TCP handshake (the kernel does,
     * from the listen queue): the probe fails waiting for the answer. */
    const cJSON *cell = cell_of(matrix, "127.0.0.11", "127.0.0.14");
    assert_string_equal(nd_test_json_string(cell, "last_error.phase"), "first_byte");
    assert_string_equal(nd_test_json_string(cell, "tcp.result"), "timeout");
    /* The others still see each other. */
    assert_true(cell_is(cell_of(matrix, "127.0.0.12", "127.0.0.15"), "healthy", "ok"));
    cJSON_Delete(matrix);

    assert_int_equal(kill(pods[3].pid, SIGCONT), 0);
    matrix = wait_for_matrix(0, five_healthy, 10000, &met);
    assert_true(met);
    cJSON_Delete(matrix);
}

static bool five_refused(const cJSON *matrix)
{
    if (!seen_down(matrix, 4, "refused"))
        return false;
    for (int i = 0; i < PODS - 1; i++) {
        for (int j = 0; j < PODS - 1; j++) {
            if (!cell_is(cell_of(matrix, pod_addresses[i], pod_addresses[j]), "healthy", "ok"))
                return false;
        }
    }
    return true;
}

static void test_killed_peer_is_refused(void **state)
{
    (void)state;
    assert_int_equal(nd_test_server_stop(&pods[4], 10000), 0);
    pod_running[4] = false;
    bool met;
    cJSON *matrix = wait_for_matrix(1, five_refused, 2 * INTERVAL_S * 1000 + 2000, &met);
    assert_true(met);
    const cJSON *cell = cell_of(matrix, "127.0.0.12", "127.0.0.15");
    assert_string_equal(nd_test_json_string(cell, "last_error.code"), "ECONNREFUSED");
    assert_string_equal(nd_test_json_string(cell, "udp.result"), "refused");
    assert_string_equal(nd_test_json_string(row_of(matrix, "127.0.0.15"), "error.code"),
                        "ECONNREFUSED");
    cJSON_Delete(matrix);

    struct nd_test_response response;
    nd_test_request(&pods[1], "GET", "/metrics", NULL, &response);
    assert_non_null(strstr(response.body, "netdiag_fleet_peers_healthy 4\n"));
    assert_non_null(strstr(response.body, "netdiag_fleet_probe_errors_total{peer=\"127.0.0.15\","
                                          "node=\"node-5\",probe=\"tcp\",error=\"refused\"}"));
    nd_test_response_free(&response);
}

/* A pod whose name does not resolve, and one whose DNS server is silent:
 * the failure is in the view, the process carries on. */
static void test_name_not_resolving_is_shown(void **state)
{
    (void)state;
    static const char *const elsewhere[] = {"127.0.0.16"};
    unsigned port = nd_test_free_port_on(elsewhere, 1);
    /* A bound socket nobody reads: the queries go unanswered (a port with
     * nothing on it would refuse them instead). */
    unsigned silent_port;
    int silent = nd_test_udp_socket(&silent_port);
    struct nd_test_server lonely, deaf;
    char listen[32], dns_server[32], silent_server[32];
    snprintf(listen, sizeof listen, "127.0.0.16:%u", port);
    snprintf(dns_server, sizeof dns_server, "127.0.0.1:%u", dns_port);
    snprintf(silent_server, sizeof silent_server, "127.0.0.1:%u", silent_port);
    const char *lonely_args[] = {"--listen",
                                 listen,
                                 "--peers-dns",
                                 "nowhere.fleet.test",
                                 "--peers-dns-server",
                                 dns_server,
                                 "--peers-interval",
                                 "1",
                                 NULL};
    nd_test_server_start(&lonely, lonely_args);
    const char *deaf_args[] = {"--peers-dns", "netdiag-peers.fleet.test", "--peers-dns-server",
                               silent_server, "--peers-interval",         "1",
                               NULL};
    nd_test_server_start(&deaf, deaf_args);
    snprintf(lonely.base_url, sizeof lonely.base_url, "http://127.0.0.16:%u", port);
    sleep_ms(2500);

    struct nd_test_response response;
    nd_test_get(&lonely, "/fleet", &response);
    assert_int_equal(response.status, 200);
    assert_false(nd_test_json_bool(response.json, "peers_dns.ok"));
    assert_string_equal(nd_test_json_string(response.json, "peers_dns.rcode"), "NXDOMAIN");
    assert_string_equal(nd_test_json_string(response.json, "peers_dns.error.code"), "nxdomain");
    assert_int_equal((int)nd_test_json_number(response.json, "summary.peers"), 0);
    nd_test_response_free(&response);
    nd_test_get(&lonely, "/fleet?scope=all", &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(cJSON_GetArraySize(nd_test_json_get(response.json, "rows")), 1);
    nd_test_response_free(&response);

    nd_test_get(&deaf, "/fleet", &response);
    assert_int_equal(response.status, 200);
    assert_false(nd_test_json_bool(response.json, "peers_dns.ok"));
    assert_string_equal(nd_test_json_string(response.json, "peers_dns.error.code"), "timeout");
    nd_test_response_free(&response);

    assert_int_equal(nd_test_server_stop(&lonely, 10000), 0);
    assert_int_equal(nd_test_server_stop(&deaf, 10000), 0);
    assert_int_equal(close(silent), 0);
}

/* Over HTTPS: peers are probed (and fanned out to) over TLS, each
 * certificate checked against the peers' name; a pod whose certificate
 * does not name it is untrusted, and gets no token. */
static void test_https_peers_are_verified(void **state)
{
    (void)state;
    char certificates[160], command[512];
    snprintf(certificates, sizeof certificates, "%s/certificates", directory);
    nd_test_source_path("tests/tools/make-certificates.sh", command, sizeof command);
    size_t length = strlen(command);
    snprintf(command + length, sizeof command - length, " '%s'", certificates);
    assert_int_equal(system(command), 0);
    static const char *const addresses[] = {"127.0.0.17", "127.0.0.18"};
    unsigned port = nd_test_free_port_on(addresses, 2);
    struct nd_test_server secure[2];
    for (int i = 0; i < 2; i++) {
        char listen[32], dns_server[32], cert[224], key[224], ca[224], token_file[128];
        snprintf(listen, sizeof listen, "%s:%u", addresses[i], port);
        snprintf(dns_server, sizeof dns_server, "127.0.0.1:%u", dns_port);
        /* The second pod's certificate names localhost, not the peers. */
        snprintf(cert, sizeof cert, "%s/%s.pem", certificates, i == 0 ? "fleet" : "leaf");
        snprintf(key, sizeof key, "%s/%s-key.pem", certificates, i == 0 ? "fleet" : "leaf");
        snprintf(ca, sizeof ca, "%s/ca.pem", certificates);
        snprintf(token_file, sizeof token_file, "%s/token", directory);
        const char *args[] = {"--listen",
                              listen,
                              "--echo-listen",
                              "off",
                              "--peers-dns",
                              "tls-peers.fleet.test",
                              "--peers-dns-server",
                              dns_server,
                              "--peers-interval",
                              "1",
                              "--pod-ip",
                              addresses[i],
                              "--tls-cert",
                              cert,
                              "--tls-key",
                              key,
                              "--tls-ca-file",
                              ca,
                              "--auth-token-file",
                              token_file,
                              "--access-log",
                              "off",
                              NULL};
        nd_test_server_start(&secure[i], args);
        nd_test_server_use_https(&secure[i], ca);
    }
    snprintf(secure[0].base_url, sizeof secure[0].base_url, "https://127.0.0.17:%u", port);
    sleep_ms(2500);

    struct nd_test_response response;
    nd_test_request(&secure[0], "GET", "/fleet?scope=all", authorized, &response);
    assert_int_equal(response.status, 200);
    const cJSON *matrix = response.json;
    const cJSON *self = cell_of(matrix, "127.0.0.17", "127.0.0.17");
    assert_true(cell_is(self, "healthy", "ok"));
    assert_int_equal((int)nd_test_json_number(self, "tcp.http_status"), 200);
    assert_true(cJSON_IsNull(nd_test_json_get(self, "udp")));
    const cJSON *other = cell_of(matrix, "127.0.0.17", "127.0.0.18");
    assert_true(cell_is(other, "unhealthy", "untrusted"));
    assert_string_equal(nd_test_json_string(other, "last_error.phase"), "verify");
    /* The fan-out to the untrusted pod stops at the same check. */
    const cJSON *row = row_of(matrix, "127.0.0.18");
    assert_false(nd_test_json_bool(row, "reachable"));
    assert_string_equal(nd_test_json_string(row, "error.result"), "untrusted");
    nd_test_response_free(&response);
    for (int i = 0; i < 2; i++)
        assert_int_equal(nd_test_server_stop(&secure[i], 10000), 0);
}

/* Without --peers-dns the endpoint says how to turn it on; bad parameters
 * are named. */
static void test_off_and_bad_parameters(void **state)
{
    (void)state;
    struct nd_test_server plain;
    nd_test_server_start(&plain, NULL);
    struct nd_test_response response;
    nd_test_get(&plain, "/fleet", &response);
    nd_test_assert_problem(&response, 404, "not_found", NULL);
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "--peers-dns"));
    nd_test_response_free(&response);
    nd_test_get(&plain, "/fleet.html", &response);
    assert_int_equal(response.status, 200);
    assert_non_null(strstr(response.content_type, "text/html"));
    assert_non_null(strstr(response.body, "fleet?scope=all"));
    nd_test_response_free(&response);
    static const struct nd_test_bad_input cases[] = {
        {"/fleet?scope=everyone", "invalid_argument", "scope"},
        {"/fleet?timeout_ms=1000", "invalid_argument", "timeout_ms"},
        {"/fleet?scope=all&timeout_ms=99", "out_of_range", "timeout_ms"},
        {"/fleet?scope=all&timeout_ms=10001", "out_of_range", "timeout_ms"},
        {"/fleet?peer=127.0.0.1", "unknown_parameter", "peer"},
    };
    nd_test_expect_bad_inputs(&plain, cases, sizeof cases / sizeof cases[0]);
    assert_int_equal(nd_test_server_stop(&plain, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_healthy),
        cmocka_unit_test(test_peer_removed_from_dns_leaves),
        cmocka_unit_test(test_frozen_peer_times_out_then_recovers),
        cmocka_unit_test(test_killed_peer_is_refused),
        cmocka_unit_test(test_name_not_resolving_is_shown),
        cmocka_unit_test(test_https_peers_are_verified),
        cmocka_unit_test(test_off_and_bad_parameters),
    };
    return cmocka_run_group_tests(tests, start_cluster, stop_cluster);
}
