/* TLS: netdiag serving HTTPS (--tls-cert, --healthcheck, SIGHUP), and
 * /connect?tls=1 against real TLS servers with the certificates
 * tests/tools/make-certificates.sh makes: the session and chain reported
 * (checked against certtool -i), every verification failure by name, an
 * old server's protocol_version, ALPN. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static char certificates[320];
static char ca[400];
static struct nd_test_server server; /* HTTPS, with the test CA as an extra anchor */

static void certificate_path(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s.pem", certificates, name);
}

/* netdiag serving HTTPS with the certificate name (and its key). */
static void start_https(struct nd_test_server *https, const char *name)
{
    char cert[400], key[400];
    certificate_path(name, cert, sizeof cert);
    snprintf(key, sizeof key, "%s/%s-key.pem", certificates, name);
    nd_test_server_start(https,
                         (const char *[]){"--tls-cert", cert, "--tls-key", key, "--tls-ca-file", ca,
                                          "--echo-listen", "off", NULL});
    nd_test_server_use_https(https, ca);
}

static void probe(const char *query, struct nd_test_response *response)
{
    char path[512];
    snprintf(path, sizeof path, "/connect?%s", query);
    nd_test_get(&server, path, response);
    if (response->status != 200)
        fprintf(stderr, "GET %s -> %ld %s\n", path, response->status, response->body);
    assert_int_equal(response->status, 200);
}

static bool has_reason(const cJSON *body, const char *reason)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, nd_test_json_get(body, "tls.reasons"))
    {
        if (strcmp(item->valuestring, reason) == 0)
            return true;
    }
    return false;
}

/* A line of `certtool -i` for the certificate, after prefix; "" when none. */
static void certtool_field(const char *certificate, const char *prefix, char *out, size_t size,
                           const char *after)
{
    char command[512];
    snprintf(command, sizeof command, "certtool -i --infile '%s'", certificate);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    char line[512];
    bool armed = after == NULL;
    out[0] = '\0';
    while (fgets(line, sizeof line, pipe)) {
        char *text = line + strspn(line, " \t");
        text[strcspn(text, "\n")] = '\0';
        if (!armed) {
            armed = strncmp(text, after, strlen(after)) == 0;
            continue;
        }
        if (!out[0] && strncmp(text, prefix, strlen(prefix)) == 0)
            snprintf(out, size, "%s", text + strlen(prefix));
    }
    pclose(pipe);
}

/* certtool's "Sat Nov 28 09:53:15 UTC 2026" as ISO 8601. */
static void certtool_time(const char *certificate, const char *prefix, char *out, size_t size)
{
    char text[64];
    certtool_field(certificate, prefix, text, sizeof text, NULL);
    struct tm parts = {0};
    assert_non_null(strptime(text, "%a %b %d %H:%M:%S UTC %Y", &parts));
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &parts);
}

/* --- netdiag over HTTPS --------------------------------------------------- */

static void test_serves_https(void **state)
{
    (void)state;
    struct nd_test_response response;
    nd_test_get(&server, "/healthz", &response);
    assert_int_equal(response.status, 200);
    nd_test_response_free(&response);
    assert_true(nd_test_server_wait_log(&server, "tls=\"CN=localhost, valid until", 1000));

    /* --healthcheck speaks HTTPS when TLS is on (the certificate unchecked). */
    char command[1024], cert[400], key[400];
    certificate_path("leaf", cert, sizeof cert);
    snprintf(key, sizeof key, "%s/leaf-key.pem", certificates);
    snprintf(command, sizeof command,
             "'%s' --listen 127.0.0.1:%u --tls-cert '%s' --tls-key '%s' --healthcheck",
             getenv("NETDIAG_BINARY"), server.http_port, cert, key);
    assert_int_equal(system(command), 0);
    snprintf(command, sizeof command,
             "'%s' --healthcheck http://127.0.0.1:%u/healthz >/dev/null 2>&1",
             getenv("NETDIAG_BINARY"), server.http_port);
    assert_int_not_equal(system(command), 0); /* plain HTTP to a TLS port fails */
}

/* A request head too large to leave libmicrohttpd room for an answer gets
 * netdiag's own 431, written past libmicrohttpd: over HTTPS it must go
 * through the TLS session, or the client reads plain bytes where it expects
 * a record and the transfer fails. The server serves on afterwards. */
static void test_large_head_over_https(void **state)
{
    (void)state;
    static char pad[7000];
    int n = snprintf(pad, sizeof pad, "X-Pad: ");
    memset(pad + n, 'p', sizeof pad - (size_t)n - 1);
    pad[sizeof pad - 1] = '\0';
    struct nd_test_response response;
    nd_test_request(&server, "GET", "/healthz", (const char *[]){pad, NULL}, &response);
    nd_test_assert_problem(&response, 431, "headers_too_large", NULL);
    nd_test_response_free(&response);
    nd_test_get(&server, "/healthz", &response);
    assert_int_equal(response.status, 200);
    nd_test_response_free(&response);
}

/* Recipe 7 over TLS to itself: the session, then the chain field by field
 * against what certtool -i says of the same file. */
static void test_connect_to_itself(void **state)
{
    (void)state;
    char query[200];
    snprintf(query, sizeof query, "host=localhost&port=%u&tls=1&http_path=/healthz&alpn=http/1.1",
             server.http_port);
    struct nd_test_response response;
    probe(query, &response);
    const cJSON *body = response.json;
    assert_true(nd_test_json_bool(body, "ok"));
    assert_int_equal(nd_test_json_number(body, "http.status"), 200);
    assert_string_equal(nd_test_json_string(body, "tls.version"), "TLS1.3");
    assert_true(strncmp(nd_test_json_string(body, "tls.cipher_suite"), "TLS_", 4) == 0);
    assert_true(nd_test_json_bool(body, "tls.verified"));
    assert_false(nd_test_json_bool(body, "tls.resumed"));
    assert_string_equal(nd_test_json_string(body, "tls.server_name"), "localhost");
    assert_string_equal(nd_test_json_string(body, "phases.2.phase"), "handshake");
    assert_string_equal(nd_test_json_string(body, "phases.3.phase"), "verify");

    char cert[400], expected[200];
    certificate_path("leaf", cert, sizeof cert);
    const cJSON *leaf = nd_test_json_get(body, "tls.chain.0");
    certtool_field(cert, "Subject: ", expected, sizeof expected, NULL);
    assert_string_equal(nd_test_json_string(leaf, "subject"), expected);
    certtool_field(cert, "Issuer: ", expected, sizeof expected, NULL);
    assert_string_equal(nd_test_json_string(leaf, "issuer"), expected);
    certtool_field(cert, "Serial Number (hex): ", expected, sizeof expected, NULL);
    assert_string_equal(nd_test_json_string(leaf, "serial"), expected);
    certtool_time(cert, "Not Before: ", expected, sizeof expected);
    assert_string_equal(nd_test_json_string(leaf, "not_before"), expected);
    certtool_time(cert, "Not After: ", expected, sizeof expected);
    assert_string_equal(nd_test_json_string(leaf, "not_after"), expected);
    certtool_field(cert, "sha256:", expected, sizeof expected, "Fingerprint:");
    assert_string_equal(nd_test_json_string(leaf, "sha256"), expected);
    certtool_field(cert, "Signature Algorithm: ", expected, sizeof expected, NULL);
    assert_string_equal(nd_test_json_string(leaf, "signature_algorithm"), expected);
    certtool_field(cert, "Subject Public Key Algorithm: ", expected, sizeof expected, NULL);
    assert_string_equal(nd_test_json_string(leaf, "public_key.algorithm"), expected);
    certtool_field(cert, "DNSname: ", expected, sizeof expected, NULL);
    assert_string_equal(nd_test_json_string(leaf, "alt_names.0.value"), expected);
    certtool_field(cert, "IPAddress: ", expected, sizeof expected, NULL);
    assert_string_equal(nd_test_json_string(leaf, "alt_names.1.value"), expected);
    double days = nd_test_json_number(leaf, "days_left");
    assert_true(days >= 363 && days <= 365);
    nd_test_response_free(&response);
}

/* netdiag_tls_trust_anchors{source=...}'s value in /metrics; -1 when absent. */
static long anchors(const struct nd_test_server *target, const char *source)
{
    struct nd_test_response metrics;
    nd_test_get(target, "/metrics", &metrics);
    char series[96];
    snprintf(series, sizeof series, "\nnetdiag_tls_trust_anchors{source=\"%s\"} ", source);
    const char *line = strstr(metrics.body, series);
    long value = line ? strtol(line + strlen(series), NULL, 10) : -1;
    nd_test_response_free(&metrics);
    return value;
}

/* A fresh netdiag that /connect?tls=1 can verify the test CA's chains with. */
static void start_fresh(struct nd_test_server *fresh)
{
    nd_test_server_start(fresh, (const char *[]){"--tls-ca-file", ca, "--echo-listen", "off",
                                                 "--slow-workers", "2", NULL});
    assert_int_equal(anchors(fresh, "file"), 1);
    assert_int_equal(anchors(fresh, "system"), 0);
}

static void assert_system_anchors_loaded(const struct nd_test_server *fresh)
{
    /* Debian's ca-certificates has 140-odd roots; a machine without it none. */
    bool has_store = access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0;
    long system = anchors(fresh, "system");
    if (has_store ? system < 100 : system != 0)
        fail_msg("%ld system anchors after the first handshake", system);
}

/* The system's anchors are read when the first handshake needs them, not at
 * start-up. The probe that waits for them says how long, apart from its
 * handshake's own time; the next one does not wait. */
static void test_anchors_load_on_first_use(void **state)
{
    (void)state;
    struct nd_test_server fresh;
    start_fresh(&fresh);
    long idle_kib = nd_test_resident_kib(fresh.pid);
    char path[256];
    snprintf(path, sizeof path, "/connect?host=localhost&port=%u&tls=1", server.http_port);
    struct nd_test_response response;
    nd_test_get(&fresh, path, &response);
    assert_int_equal(response.status, 200);
    assert_true(nd_test_json_bool(response.json, "tls.verified"));
    double waited = nd_test_json_number(response.json, "tls.anchors_load_ms");
    double total = nd_test_json_number(response.json, "total_ms");
    if (!(waited > 0 && waited < total))
        fail_msg("anchors_load_ms %.3f, total_ms %.3f", waited, total);
    nd_test_response_free(&response);
    assert_system_anchors_loaded(&fresh);
    print_message("resident memory: %ld KiB before the first handshake, %ld after\n", idle_kib,
                  nd_test_resident_kib(fresh.pid));
    nd_test_get(&fresh, path, &response);
    assert_true(nd_test_json_bool(response.json, "tls.verified"));
    const cJSON *tls = nd_test_json_get(response.json, "tls");
    assert_null(cJSON_GetObjectItemCaseSensitive(tls, "anchors_load_ms"));
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&fresh, 10000), 0);
}

/* Eight first handshakes at once: one starts the load, the others wait
 * behind it, and every one connects. */
static void test_anchors_load_once_for_many(void **state)
{
    (void)state;
    struct nd_test_server fresh;
    start_fresh(&fresh);
    char path[256];
    snprintf(path, sizeof path, "/connect?host=localhost&port=%u&tls=1", server.http_port);
    long statuses[8];
    nd_test_get_all(&fresh, path, 8, statuses);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(statuses[i], 200);
    struct nd_test_response metrics;
    nd_test_get(&fresh, "/metrics", &metrics);
    assert_non_null(strstr(metrics.body, "netdiag_connect_probes_total{result=\"connected\"} 8\n"));
    nd_test_response_free(&metrics);
    assert_system_anchors_loaded(&fresh);
    assert_int_equal(nd_test_server_stop(&fresh, 10000), 0);
}

/* Each broken chain fails verification, by name; insecure=1 goes on and
 * still reports it. */
static void test_verification_failures(void **state)
{
    (void)state;
    static const struct {
        const char *certificate;
        const char *sni; /* NULL: the host */
        const char *reason;
    } cases[] = {
        {"expired", NULL, "expired"},
        {"not-yet-valid", NULL, "not_yet_valid"},
        {"wrong-host", NULL, "hostname_mismatch"},
        {"leaf", "other.test", "hostname_mismatch"},
        {"self-signed", NULL, "self_signed"},
        {"chain-leaf-only", NULL, "unknown_issuer"},
        {"chain", NULL, NULL}, /* the intermediate sent along: verified */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_test_server tls_server;
        start_https(&tls_server, cases[i].certificate);
        char query[256];
        snprintf(query, sizeof query, "host=localhost&port=%u&tls=1%s%s", tls_server.http_port,
                 cases[i].sni ? "&sni=" : "", cases[i].sni ? cases[i].sni : "");
        struct nd_test_response response;
        probe(query, &response);
        const cJSON *body = response.json;
        if (!cases[i].reason) {
            assert_true(nd_test_json_bool(body, "ok"));
            assert_true(nd_test_json_bool(body, "tls.verified"));
            assert_int_equal(cJSON_GetArraySize(nd_test_json_get(body, "tls.chain")), 2);
        } else {
            assert_false(nd_test_json_bool(body, "ok"));
            assert_string_equal(nd_test_json_string(body, "failed_phase"), "verify");
            assert_string_equal(nd_test_json_string(body, "result"), "untrusted");
            assert_false(nd_test_json_bool(body, "tls.verified"));
            if (!has_reason(body, cases[i].reason))
                fail_msg("%s: no reason %s", cases[i].certificate, cases[i].reason);
        }
        nd_test_response_free(&response);

        /* insecure=1: the request goes over the unverified session. */
        snprintf(
            query, sizeof query, "host=localhost&port=%u&tls=1&insecure=1&http_path=/healthz%s%s",
            tls_server.http_port, cases[i].sni ? "&sni=" : "", cases[i].sni ? cases[i].sni : "");
        probe(query, &response);
        assert_true(nd_test_json_bool(response.json, "ok"));
        assert_int_equal(nd_test_json_number(response.json, "http.status"), 200);
        assert_true(nd_test_json_bool(response.json, "tls.insecure"));
        nd_test_response_free(&response);
        assert_int_equal(nd_test_server_stop(&tls_server, 10000), 0);
    }
}

/* --- gnutls-serv: an old protocol, ALPN -------------------------------------- */

static pid_t start_gnutls_serv(unsigned port, const char *const *extra, char *log, size_t size)
{
    char cert[400], key[400], port_text[16];
    certificate_path("leaf", cert, sizeof cert);
    snprintf(key, sizeof key, "%s/leaf-key.pem", certificates);
    snprintf(port_text, sizeof port_text, "%u", port);
    const char *argv[16] = {
        "/usr/bin/gnutls-serv",  "--port", port_text, "--x509certfile", cert, "--x509keyfile", key,
        "--disable-client-cert", "--http"};
    size_t argc = 9;
    for (size_t i = 0; extra[i]; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    snprintf(log, size, "%s/gnutls-serv-%u.log", certificates, port);
    pid_t pid = nd_test_spawn(argv, log);
    /* Ready when it says it listens. */
    for (int waited = 0; nd_test_count_in_file(log, "listening") == 0; waited += 20) {
        assert_true(waited < 5000);
        usleep(20 * 1000);
    }
    return pid;
}

static void test_old_protocol_and_alpn(void **state)
{
    (void)state;
    char log[512];
    unsigned port = nd_test_free_port_on((const char *[]){"127.0.0.1"}, 1);
    pid_t old = start_gnutls_serv(
        port, (const char *[]){"--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.0", NULL}, log,
        sizeof log);
    char query[200];
    snprintf(query, sizeof query, "host=localhost&port=%u&tls=1", port);
    struct nd_test_response response;
    probe(query, &response);
    assert_false(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "failed_phase"), "handshake");
    assert_string_equal(nd_test_json_string(response.json, "result"), "tls_alert");
    assert_string_equal(nd_test_json_string(response.json, "tls.alert"), "protocol_version");
    nd_test_response_free(&response);
    nd_test_terminate(old);

    port = nd_test_free_port_on((const char *[]){"127.0.0.1"}, 1);
    pid_t modern = start_gnutls_serv(port, (const char *[]){"--alpn", "h2", NULL}, log, sizeof log);
    snprintf(query, sizeof query, "host=localhost&port=%u&tls=1&alpn=h2,http/1.1", port);
    probe(query, &response);
    assert_true(nd_test_json_bool(response.json, "ok"));
    assert_string_equal(nd_test_json_string(response.json, "tls.alpn"), "h2");
    nd_test_response_free(&response);
    nd_test_terminate(modern);
}

/* --- SIGHUP puts a renewed certificate in place -------------------------------- */

static void copy_file(const char *from, const char *to)
{
    char command[2048];
    snprintf(command, sizeof command, "cp '%s' '%s.new' && mv '%s.new' '%s'", from, to, to, to);
    assert_int_equal(system(command), 0);
}

static void test_sighup_reloads(void **state)
{
    (void)state;
    char directory[] = "/tmp/netdiag-tls-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char cert[400], key[400], from[400];
    snprintf(cert, sizeof cert, "%s/cert.pem", directory);
    snprintf(key, sizeof key, "%s/key.pem", directory);
    certificate_path("leaf", from, sizeof from);
    copy_file(from, cert);
    snprintf(from, sizeof from, "%s/leaf-key.pem", certificates);
    copy_file(from, key);
    struct nd_test_server renewed;
    nd_test_server_start(&renewed, (const char *[]){"--tls-cert", cert, "--tls-key", key,
                                                    "--echo-listen", "off", NULL});
    char query[200];
    snprintf(query, sizeof query, "host=localhost&port=%u&tls=1", renewed.http_port);
    struct nd_test_response response;
    probe(query, &response);
    assert_string_equal(nd_test_json_string(response.json, "tls.chain.0.public_key.algorithm"),
                        "EC/ECDSA");
    nd_test_response_free(&response);

    certificate_path("rsa", from, sizeof from);
    copy_file(from, cert);
    snprintf(from, sizeof from, "%s/rsa-key.pem", certificates);
    copy_file(from, key);
    assert_int_equal(kill(renewed.pid, SIGHUP), 0);
    assert_true(nd_test_server_wait_log(&renewed, "event=tls_reloaded", 3000));
    probe(query, &response);
    assert_string_equal(nd_test_json_string(response.json, "tls.chain.0.public_key.algorithm"),
                        "RSA");
    nd_test_response_free(&response);

    /* A file that does not load leaves the certificate in use. */
    copy_file("/etc/passwd", cert);
    assert_int_equal(kill(renewed.pid, SIGHUP), 0);
    assert_true(nd_test_server_wait_log(&renewed, "event=tls_reload_failed", 3000));
    probe(query, &response);
    assert_string_equal(nd_test_json_string(response.json, "tls.chain.0.public_key.algorithm"),
                        "RSA");
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&renewed, 10000), 0);

    /* Without TLS, SIGHUP is logged and nothing else happens. */
    struct nd_test_server plain;
    nd_test_server_start(&plain, NULL);
    assert_int_equal(kill(plain.pid, SIGHUP), 0);
    assert_true(nd_test_server_wait_log(&plain, "event=sighup", 3000));
    nd_test_get(&plain, "/healthz", &response);
    assert_int_equal(response.status, 200);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&plain, 10000), 0);
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", directory);
    assert_int_equal(system(command), 0);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    static const struct nd_test_bad_input cases[] = {
        {"/connect?host=localhost&port=443&sni=x.test", "invalid_argument", "sni"},
        {"/connect?host=localhost&port=443&insecure=1", "invalid_argument", "insecure"},
        {"/connect?host=localhost&port=443&alpn=h2", "invalid_argument", "alpn"},
        {"/connect?host=localhost&port=443&tls=2", "invalid_argument", "tls"},
        {"/connect?host=localhost&port=443&tls=1&sni=a..b", "invalid_argument", "sni"},
        {"/connect?host=localhost&port=443&tls=1&alpn=h2,,x", "invalid_argument", "alpn"},
        {"/connect?host=localhost&port=443&tls=1&alpn=,h2", "invalid_argument", "alpn"},
    };
    nd_test_expect_bad_inputs(&server, cases, sizeof cases / sizeof cases[0]);
}

static int start(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(certificates, sizeof certificates, "%s/certificates", getenv("NETDIAG_TOOLS_DIR"));
    char command[1024];
    nd_test_source_path("tests/tools/make-certificates.sh", command, sizeof command);
    strncat(command, " ", sizeof command - strlen(command) - 1);
    strncat(command, certificates, sizeof command - strlen(command) - 1);
    if (system(command) != 0)
        return -1;
    snprintf(ca, sizeof ca, "%s/ca.pem", certificates);
    start_https(&server, "leaf");
    return 0;
}

static int stop(void **state)
{
    (void)state;
    int status = nd_test_server_stop(&server, 10000);
    curl_global_cleanup();
    return status == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_https),
        cmocka_unit_test(test_large_head_over_https),
        cmocka_unit_test(test_connect_to_itself),
        cmocka_unit_test(test_verification_failures),
        cmocka_unit_test(test_old_protocol_and_alpn),
        cmocka_unit_test(test_sighup_reloads),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_anchors_load_on_first_use),
        cmocka_unit_test(test_anchors_load_once_for_many),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
