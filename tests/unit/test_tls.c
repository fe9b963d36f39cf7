/* src/probe/tls.c: the client session driven by bytes, against a GnuTLS
 * server in the same process (no sockets), with the certificates
 * tests/tools/make-certificates.sh makes: what is reported of the session
 * and the chain, and every reason a chain does not verify. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "probe/tls.h"

static char directory[256];
static struct nd_tls_trust *trust;

static int make_certificates(void **state)
{
    (void)state;
    const char *source = getenv("NETDIAG_SOURCE_DIR");
    const char *binary = getenv("NETDIAG_TOOLS_DIR");
    if (!source || !binary)
        return -1;
    snprintf(directory, sizeof directory, "%s/certificates", binary);
    char command[1024];
    snprintf(command, sizeof command, "%s/tests/tools/make-certificates.sh %s", source, directory);
    if (system(command) != 0)
        return -1;
    char ca[320];
    snprintf(ca, sizeof ca, "%s/ca.pem", directory);
    return nd_tls_trust_load(ca, &trust, NULL) == ND_OK ? 0 : -1;
}

static int free_trust(void **state)
{
    (void)state;
    nd_tls_trust_free(trust);
    return 0;
}

/* --- a server on a byte pipe ----------------------------------------------- */

struct pipe {
    uint8_t data[65536];
    size_t length;
};

struct server {
    gnutls_session_t session;
    gnutls_certificate_credentials_t credentials;
    struct pipe input; /* what the client sent */
    struct pipe output;
};

static ssize_t server_pull(gnutls_transport_ptr_t pointer, void *buffer, size_t size)
{
    struct server *server = pointer;
    if (server->input.length == 0) {
        gnutls_transport_set_errno(server->session, EAGAIN);
        return -1;
    }
    size_t count = size < server->input.length ? size : server->input.length;
    memcpy(buffer, server->input.data, count);
    memmove(server->input.data, server->input.data + count, server->input.length - count);
    server->input.length -= count;
    return (ssize_t)count;
}

static ssize_t server_push(gnutls_transport_ptr_t pointer, const void *data, size_t size)
{
    struct server *server = pointer;
    if (server->output.length + size > sizeof server->output.data)
        return -1;
    memcpy(server->output.data + server->output.length, data, size);
    server->output.length += size;
    return (ssize_t)size;
}

static void start_server(struct server *server, const char *certificate, const char *priority,
                         const char *alpn)
{
    memset(server, 0, sizeof *server);
    char cert[320], key[320];
    snprintf(cert, sizeof cert, "%s/%s.pem", directory, certificate);
    snprintf(key, sizeof key, "%s/%s-key.pem", directory, certificate);
    assert_int_equal(gnutls_certificate_allocate_credentials(&server->credentials), 0);
    assert_true(gnutls_certificate_set_x509_key_file(server->credentials, cert, key,
                                                     GNUTLS_X509_FMT_PEM) >= 0);
    assert_int_equal(gnutls_init(&server->session, GNUTLS_SERVER | GNUTLS_NONBLOCK), 0);
    assert_true(gnutls_priority_set_direct(server->session, priority ? priority : "NORMAL", NULL) >=
                0);
    assert_int_equal(
        gnutls_credentials_set(server->session, GNUTLS_CRD_CERTIFICATE, server->credentials), 0);
    if (alpn) {
        gnutls_datum_t protocol = {(unsigned char *)alpn, (unsigned)strlen(alpn)};
        assert_int_equal(gnutls_alpn_set_protocols(server->session, &protocol, 1, 0), 0);
    }
    gnutls_transport_set_ptr(server->session, server);
    gnutls_transport_set_push_function(server->session, server_push);
    gnutls_transport_set_pull_function(server->session, server_pull);
}

static void stop_server(struct server *server)
{
    gnutls_deinit(server->session);
    gnutls_certificate_free_credentials(server->credentials);
}

/* Moves what the client wrote to the server. */
static void client_to_server(struct nd_tls_session *client, struct server *server)
{
    uint8_t *data;
    size_t length;
    if (!nd_tls_take_output(client, &data, &length))
        return;
    assert_true(server->input.length + length <= sizeof server->input.data);
    memcpy(server->input.data + server->input.length, data, length);
    server->input.length += length;
    free(data);
}

static void server_to_client(struct server *server, struct nd_tls_session *client)
{
    if (server->output.length == 0)
        return;
    assert_int_equal(nd_tls_feed(client, server->output.data, server->output.length, NULL), ND_OK);
    server->output.length = 0;
}

/* Runs both handshakes to their end; the client's outcome. */
static enum nd_tls_step handshake(const char *certificate, const char *server_name,
                                  const char *server_priority, const char *server_alpn,
                                  const char *client_alpn, struct nd_tls_session_info *info,
                                  struct nd_error *error)
{
    struct server server;
    start_server(&server, certificate, server_priority, server_alpn);
    struct nd_tls_options options = {.server_name = server_name, .alpn = client_alpn};
    struct nd_tls_session *client;
    assert_int_equal(nd_tls_session_new(trust, &options, &client, error), ND_OK);
    memset(info, 0, sizeof *info);
    enum nd_tls_step step = ND_TLS_WANT_MORE;
    bool server_done = false;
    for (int round = 0; round < 20 && step == ND_TLS_WANT_MORE; round++) {
        step = nd_tls_handshake(client, info, error);
        client_to_server(client, &server);
        if (!server_done) {
            int status = gnutls_handshake(server.session);
            server_done = status == 0;
            if (status < 0 && status != GNUTLS_E_AGAIN) {
                /* The server failed: its alert goes out too. */
                server_to_client(&server, client);
                step = nd_tls_handshake(client, info, error);
                break;
            }
        }
        server_to_client(&server, client);
    }
    if (step == ND_TLS_DONE) {
        /* Application data both ways. */
        static const char request[] = "ping";
        assert_int_equal(nd_tls_write(client, (const uint8_t *)request, 4, NULL), ND_OK);
        client_to_server(client, &server);
        char got[8];
        ssize_t n;
        do
            n = gnutls_record_recv(server.session, got, sizeof got);
        while (n == GNUTLS_E_AGAIN && server.input.length > 0);
        assert_int_equal(n, 4);
        assert_memory_equal(got, "ping", 4);
        assert_int_equal(gnutls_record_send(server.session, "pong", 4), 4);
        server_to_client(&server, client);
        uint8_t reply[8];
        size_t count;
        assert_int_equal(nd_tls_read(client, reply, sizeof reply, &count, NULL), ND_TLS_DONE);
        assert_int_equal(count, 4);
        assert_memory_equal(reply, "pong", 4);
    }
    nd_tls_session_free(client);
    stop_server(&server);
    return step;
}

static bool has_reason(const struct nd_tls_session_info *info, const char *reason)
{
    for (size_t i = 0; i < info->reason_count; i++) {
        if (strcmp(info->reasons[i], reason) == 0)
            return true;
    }
    return false;
}

/* --- the cases --------------------------------------------------------------- */

static void test_a_good_chain(void **state)
{
    (void)state;
    struct nd_tls_session_info info;
    struct nd_error error;
    assert_int_equal(handshake("leaf", "localhost", NULL, NULL, NULL, &info, &error), ND_TLS_DONE);
    assert_true(info.verified);
    assert_int_equal(info.reason_count, 0);
    assert_string_equal(info.version, "TLS1.3");
    assert_true(strncmp(info.cipher_suite, "TLS_", 4) == 0);
    assert_true(info.group[0] != '\0');
    assert_false(info.resumed);
    assert_int_equal(info.chain_length, 1);
    const struct nd_tls_certificate *leaf = &info.chain[0];
    assert_string_equal(leaf->subject, "CN=localhost");
    assert_string_equal(leaf->issuer, "CN=netdiag test root CA");
    assert_string_equal(leaf->serial, "1234"); /* serial = 4660 in the template */
    assert_int_equal(leaf->alt_name_count, 3);
    assert_string_equal(leaf->alt_names[0].type, "dns");
    assert_string_equal(leaf->alt_names[0].value, "localhost");
    assert_string_equal(leaf->alt_names[1].type, "ip");
    assert_string_equal(leaf->alt_names[1].value, "127.0.0.1");
    assert_string_equal(leaf->alt_names[2].value, "::1");
    assert_string_equal(leaf->public_key_algorithm, "EC/ECDSA");
    assert_int_equal(leaf->public_key_bits, 256);
    assert_int_equal(strlen(leaf->sha256), 64);
    assert_false(leaf->self_signed);
    assert_true(leaf->not_after - leaf->not_before > 300 * 86400);

    /* An address is checked against the IP names. */
    assert_int_equal(handshake("leaf", "127.0.0.1", NULL, NULL, NULL, &info, &error), ND_TLS_DONE);
    assert_true(info.verified);
    assert_int_equal(handshake("rsa", "localhost", NULL, NULL, NULL, &info, &error), ND_TLS_DONE);
    assert_string_equal(info.chain[0].public_key_algorithm, "RSA");
    assert_int_equal(info.chain[0].public_key_bits, 2048);
}

static void test_an_intermediate(void **state)
{
    (void)state;
    struct nd_tls_session_info info;
    struct nd_error error;
    assert_int_equal(handshake("chain", "localhost", NULL, NULL, NULL, &info, &error), ND_TLS_DONE);
    assert_true(info.verified);
    assert_int_equal(info.chain_length, 2);
    assert_string_equal(info.chain[1].subject, "CN=netdiag test intermediate CA");
    /* Without its intermediate the leaf's issuer is unknown. */
    assert_int_equal(handshake("chain-leaf-only", "localhost", NULL, NULL, NULL, &info, &error),
                     ND_TLS_DONE);
    assert_false(info.verified);
    assert_true(has_reason(&info, "unknown_issuer"));
    assert_int_equal(info.chain_length, 1);
}

static void test_reasons(void **state)
{
    (void)state;
    static const struct {
        const char *certificate;
        const char *name;
        const char *reason;
    } cases[] = {
        {"expired", "localhost", "expired"},
        {"not-yet-valid", "localhost", "not_yet_valid"},
        {"wrong-host", "localhost", "hostname_mismatch"},
        {"leaf", "other.test", "hostname_mismatch"},
        {"self-signed", "localhost", "self_signed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_tls_session_info info;
        struct nd_error error;
        /* The handshake completes: verification is reported, not enforced here. */
        assert_int_equal(
            handshake(cases[i].certificate, cases[i].name, NULL, NULL, NULL, &info, &error),
            ND_TLS_DONE);
        assert_false(info.verified);
        if (!has_reason(&info, cases[i].reason))
            fail_msg("%s: no '%s' among %zu reasons (%s)", cases[i].certificate, cases[i].reason,
                     info.reason_count, info.verify_message);
        assert_true(info.verify_message[0] != '\0');
    }
}

static void test_alpn(void **state)
{
    (void)state;
    struct nd_tls_session_info info;
    struct nd_error error;
    assert_int_equal(handshake("leaf", "localhost", NULL, "http/1.1", "h2,http/1.1", &info, &error),
                     ND_TLS_DONE);
    assert_string_equal(info.alpn, "http/1.1");
    assert_int_equal(handshake("leaf", "localhost", NULL, NULL, "h2", &info, &error), ND_TLS_DONE);
    assert_string_equal(info.alpn, "");

    struct nd_tls_session *client;
    struct nd_tls_options bad = {.server_name = "x", .alpn = "h2,,x"};
    assert_int_equal(nd_tls_session_new(trust, &bad, &client, &error), ND_ERR_INVALID);
}

/* A server that speaks only TLS 1.0, retired by RFC 8996, answers our
 * ClientHello with the protocol_version alert. */
static void test_an_old_server_alerts(void **state)
{
    (void)state;
    struct nd_tls_session_info info;
    struct nd_error error;
    assert_int_equal(
        handshake("leaf", "localhost", "NORMAL:-VERS-ALL:+VERS-TLS1.0", NULL, NULL, &info, &error),
        ND_TLS_FAILED);
    if (strcmp(info.alert, "protocol_version") != 0)
        fail_msg("alert '%s', error '%s'", info.alert, error.message);
    assert_non_null(strstr(error.message, "protocol_version"));
}

static void test_trust_loading(void **state)
{
    (void)state;
    struct nd_tls_trust *loaded;
    struct nd_error error;
    assert_int_equal(nd_tls_trust_load("/nonexistent.pem", &loaded, &error), ND_ERR_INVALID);
    assert_non_null(strstr(error.message, "/nonexistent.pem"));
    unsigned system, extra;
    nd_tls_trust_counts(trust, &system, &extra);
    assert_int_equal(extra, 1);
}

struct waiter {
    struct nd_tls_trust_waiter node;
    int *order;
    int name;
};

static void record_ready(struct nd_tls_trust_waiter *node)
{
    struct waiter *waiter = (struct waiter *)node;
    *waiter->order = *waiter->order * 10 + waiter->name;
}

/* The system's store loads once, for the first waiter; the others queue
 * behind it and are called in order, but for one that stopped waiting. */
static void test_lazy_system_store(void **state)
{
    (void)state;
    struct nd_tls_trust *lazy;
    assert_int_equal(nd_tls_trust_load(NULL, &lazy, NULL), ND_OK);
    unsigned system, extra;
    nd_tls_trust_counts(lazy, &system, &extra);
    assert_int_equal(system, 0);
    assert_int_equal(extra, 0);
    int order = 0;
    struct waiter waiters[4];
    for (int i = 0; i < 4; i++)
        waiters[i] = (struct waiter){.node.ready = record_ready, .order = &order, .name = i + 1};
    assert_int_equal(nd_tls_trust_wait(lazy, &waiters[0].node), ND_TLS_TRUST_LOAD);
    for (int i = 1; i < 4; i++)
        assert_int_equal(nd_tls_trust_wait(lazy, &waiters[i].node), ND_TLS_TRUST_QUEUED);
    nd_tls_trust_unwait(lazy, &waiters[2].node);
    nd_tls_trust_unwait(lazy, &waiters[2].node); /* no longer queued: nothing */
    nd_tls_trust_load_system(lazy);
    nd_tls_trust_loaded(lazy);
    assert_int_equal(order, 124);
    nd_tls_trust_unwait(lazy, &waiters[3].node); /* called already: nothing */
    assert_int_equal(nd_tls_trust_wait(lazy, &waiters[2].node), ND_TLS_TRUST_READY);
    assert_int_equal(order, 124);
    nd_tls_trust_counts(lazy, &system, &extra);
    if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
        assert_true(system >= 100); /* Debian's ca-certificates: 140-odd roots */
    nd_tls_trust_free(lazy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_good_chain),
        cmocka_unit_test(test_an_intermediate),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_alpn),
        cmocka_unit_test(test_an_old_server_alerts),
        cmocka_unit_test(test_trust_loading),
        cmocka_unit_test(test_lazy_system_store),
    };
    return cmocka_run_group_tests(tests, make_certificates, free_trust);
}
