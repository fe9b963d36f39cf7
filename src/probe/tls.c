#include "probe/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "netdiag/format.h"

enum {
    /* Bytes the peer may have sent ahead of what the session consumed: a
     * handshake's flight, or a reply past read_bytes. More is an error. */
    INPUT_MAX = 1 << 20,
};

struct nd_tls_trust {
    gnutls_certificate_credentials_t credentials;
    /* Read by /metrics on the HTTP threads while the pool may write them. */
    atomic_uint system_count, extra_count;
    enum { SYSTEM_UNREAD, SYSTEM_LOADING, SYSTEM_READ } system_state;
    struct nd_list waiting; /* of struct nd_tls_trust_waiter, first come first */
};

struct nd_tls_session {
    gnutls_session_t session;
    char server_name[ND_TLS_NAME_MAX];
    uint8_t *input;
    size_t input_start, input_length, input_capacity;
    uint8_t *output;
    size_t output_length, output_capacity;
    bool peer_closed;
    bool push_failed;
    /* The start of the peer's first record: a server too old for us sends
     * its alert in a record GnuTLS will not open, so it is read here. */
    uint8_t first_record[11];
    size_t first_record_length;
};

enum nd_err nd_tls_trust_load(const char *ca_file, struct nd_tls_trust **out,
                              struct nd_error *error)
{
    struct nd_tls_trust *trust = calloc(1, sizeof *trust);
    if (!trust)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    int status = gnutls_certificate_allocate_credentials(&trust->credentials);
    if (status < 0) {
        free(trust);
        return nd_error_set(error, ND_ERR_NO_MEMORY, "gnutls: %s", gnutls_strerror(status));
    }
    if (ca_file && ca_file[0]) {
        status = gnutls_certificate_set_x509_trust_file(trust->credentials, ca_file,
                                                        GNUTLS_X509_FMT_PEM);
        if (status <= 0) {
            nd_tls_trust_free(trust);
            return nd_error_set(error, ND_ERR_INVALID, "%.256s: %s", ca_file,
                                status == 0 ? "no certificate in it" : gnutls_strerror(status));
        }
        atomic_store_explicit(&trust->extra_count, (unsigned)status, memory_order_relaxed);
    }
    *out = trust;
    return ND_OK;
}

void nd_tls_trust_free(struct nd_tls_trust *trust)
{
    if (!trust)
        return;
    gnutls_certificate_free_credentials(trust->credentials);
    free(trust);
}

void nd_tls_trust_counts(const struct nd_tls_trust *trust, unsigned *system, unsigned *extra)
{
    *system = atomic_load_explicit(&trust->system_count, memory_order_relaxed);
    *extra = atomic_load_explicit(&trust->extra_count, memory_order_relaxed);
}

enum nd_tls_trust_wait nd_tls_trust_wait(struct nd_tls_trust *trust,
                                         struct nd_tls_trust_waiter *waiter)
{
    if (trust->system_state == SYSTEM_READ)
        return ND_TLS_TRUST_READY;
    nd_list_append(&trust->waiting, &waiter->node);
    if (trust->system_state == SYSTEM_LOADING)
        return ND_TLS_TRUST_QUEUED;
    trust->system_state = SYSTEM_LOADING;
    return ND_TLS_TRUST_LOAD;
}

void nd_tls_trust_unwait(struct nd_tls_trust *trust, struct nd_tls_trust_waiter *waiter)
{
    nd_list_remove(&trust->waiting, &waiter->node);
}

void nd_tls_trust_load_system(struct nd_tls_trust *trust)
{
    /* A machine without ca-certificates has no system store: that is not
     * an error, every chain is then unknown. */
    int status = gnutls_certificate_set_x509_system_trust(trust->credentials);
    atomic_store_explicit(&trust->system_count, status > 0 ? (unsigned)status : 0,
                          memory_order_relaxed);
}

void nd_tls_trust_loaded(struct nd_tls_trust *trust)
{
    trust->system_state = SYSTEM_READ;
    /* A ready callback may end its probe, and so unwait another waiter:
     * take each one off the queue before calling it. */
    while (trust->waiting.first) {
        struct nd_tls_trust_waiter *waiter =
            ND_LIST_ENTRY(trust->waiting.first, struct nd_tls_trust_waiter, node);
        nd_tls_trust_unwait(trust, waiter);
        waiter->ready(waiter);
    }
}

/* GnuTLS reads the peer's bytes from what was fed. */
static ssize_t pull(gnutls_transport_ptr_t pointer, void *buffer, size_t size)
{
    struct nd_tls_session *tls = pointer;
    if (tls->input_length == 0) {
        if (tls->peer_closed)
            return 0;
        gnutls_transport_set_errno(tls->session, EAGAIN);
        return -1;
    }
    size_t count = size < tls->input_length ? size : tls->input_length;
    memcpy(buffer, tls->input + tls->input_start, count);
    tls->input_start += count;
    tls->input_length -= count;
    if (tls->input_length == 0)
        tls->input_start = 0;
    return (ssize_t)count;
}

/* GnuTLS's records wait in the output until the caller takes them. */
static ssize_t push(gnutls_transport_ptr_t pointer, const void *data, size_t size)
{
    struct nd_tls_session *tls = pointer;
    if (tls->output_length + size > tls->output_capacity) {
        size_t capacity = tls->output_capacity ? tls->output_capacity : 4096;
        while (capacity < tls->output_length + size)
            capacity *= 2;
        uint8_t *grown = realloc(tls->output, capacity);
        if (!grown) {
            tls->push_failed = true;
            gnutls_transport_set_errno(tls->session, ENOMEM);
            return -1;
        }
        tls->output = grown;
        tls->output_capacity = capacity;
    }
    memcpy(tls->output + tls->output_length, data, size);
    tls->output_length += size;
    return (ssize_t)size;
}

static bool is_address(const char *text)
{
    uint8_t bytes[16];
    return inet_pton(AF_INET, text, bytes) == 1 || inet_pton(AF_INET6, text, bytes) == 1;
}

/* "h2,http/1.1" as GnuTLS wants it. */
static enum nd_err offer_alpn(gnutls_session_t session, const char *list, struct nd_error *error)
{
    gnutls_datum_t protocols[8];
    char copy[ND_TLS_ALPN_MAX];
    if (!list || !list[0])
        return ND_OK;
    if (strlen(list) >= sizeof copy)
        return nd_error_set(error, ND_ERR_RANGE, "alpn is longer than %d bytes",
                            ND_TLS_ALPN_MAX - 1);
    memcpy(copy, list, strlen(list) + 1);
    unsigned count = 0;
    for (char *start = copy, *end;; start = end + 1) {
        end = strchr(start, ',');
        if (end)
            *end = '\0';
        if (!start[0] || count == 8)
            return nd_error_set(error, ND_ERR_INVALID,
                                "alpn takes up to 8 protocol names, comma-separated");
        protocols[count].data = (unsigned char *)start;
        protocols[count++].size = (unsigned)strlen(start);
        if (!end)
            break;
    }
    int status = gnutls_alpn_set_protocols(session, protocols, count, 0);
    if (status < 0)
        return nd_error_set(error, ND_ERR_INVALID, "alpn: %s", gnutls_strerror(status));
    return ND_OK;
}

enum nd_err nd_tls_session_new(const struct nd_tls_trust *trust,
                               const struct nd_tls_options *options, struct nd_tls_session **out,
                               struct nd_error *error)
{
    struct nd_tls_session *tls = calloc(1, sizeof *tls);
    if (!tls)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    snprintf(tls->server_name, sizeof tls->server_name, "%s", options->server_name);
    int status = gnutls_init(&tls->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (status < 0) {
        free(tls);
        return nd_error_set(error, ND_ERR_NO_MEMORY, "gnutls_init: %s", gnutls_strerror(status));
    }
    enum nd_err err = ND_OK;
    /* TLS 1.2 and 1.3 only (RFC 8996 retired 1.0 and 1.1): a server that
     * speaks nothing newer is told so, with the protocol_version alert. */
    status = gnutls_priority_set_direct(tls->session, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
                                        NULL);
    if (status >= 0)
        status = gnutls_credentials_set(tls->session, GNUTLS_CRD_CERTIFICATE, trust->credentials);
    /* RFC 6066 section 3: a literal address is never a server name. */
    if (status >= 0 && tls->server_name[0] && !is_address(tls->server_name))
        status = gnutls_server_name_set(tls->session, GNUTLS_NAME_DNS, tls->server_name,
                                        strlen(tls->server_name));
    if (status < 0)
        err = nd_error_set(error, ND_ERR_SYSTEM, "gnutls: %s", gnutls_strerror(status));
    if (err == ND_OK)
        err = offer_alpn(tls->session, options->alpn, error);
    if (err != ND_OK) {
        nd_tls_session_free(tls);
        return err;
    }
    gnutls_transport_set_ptr(tls->session, tls);
    gnutls_transport_set_push_function(tls->session, push);
    gnutls_transport_set_pull_function(tls->session, pull);
    *out = tls;
    return ND_OK;
}

void nd_tls_session_free(struct nd_tls_session *tls)
{
    if (!tls)
        return;
    gnutls_deinit(tls->session);
    free(tls->input);
    free(tls->output);
    free(tls);
}

enum nd_err nd_tls_feed(struct nd_tls_session *tls, const uint8_t *data, size_t length,
                        struct nd_error *error)
{
    if (tls->input_start > 0 && tls->input_length > 0) {
        memmove(tls->input, tls->input + tls->input_start, tls->input_length);
        tls->input_start = 0;
    }
    if (tls->input_length + length > INPUT_MAX)
        return nd_error_set(error, ND_ERR_RANGE, "the peer sent over %d bytes ahead", INPUT_MAX);
    if (tls->input_length + length > tls->input_capacity) {
        size_t capacity = tls->input_capacity ? tls->input_capacity : 16384;
        while (capacity < tls->input_length + length)
            capacity *= 2;
        uint8_t *grown = realloc(tls->input, capacity);
        if (!grown)
            return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
        tls->input = grown;
        tls->input_capacity = capacity;
    }
    memcpy(tls->input + tls->input_length, data, length);
    tls->input_length += length;
    while (tls->first_record_length < sizeof tls->first_record && length > 0) {
        tls->first_record[tls->first_record_length++] = *data++;
        length--;
    }
    return ND_OK;
}

void nd_tls_feed_end(struct nd_tls_session *tls)
{
    tls->peer_closed = true;
}

bool nd_tls_take_output(struct nd_tls_session *tls, uint8_t **data, size_t *length)
{
    if (tls->output_length == 0)
        return false;
    *data = tls->output;
    *length = tls->output_length;
    tls->output = NULL;
    tls->output_length = tls->output_capacity = 0;
    return true;
}

/* "GNUTLS_A_PROTOCOL_VERSION" as the RFC names it: "protocol_version". */
static void alert_name(gnutls_alert_description_t alert, char *out, size_t size)
{
    const char *name = gnutls_alert_get_strname(alert);
    static const char prefix[] = "GNUTLS_A_";
    if (!name) {
        snprintf(out, size, "alert_%d", (int)alert);
        return;
    }
    if (strncmp(name, prefix, sizeof prefix - 1) == 0)
        name += sizeof prefix - 1;
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++)
        out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    out[i] = '\0';
}

/* A GnuTLS-allocated string into a buffer, freed. */
static void take_string(gnutls_datum_t *datum, char *out, size_t size)
{
    snprintf(out, size, "%.*s", (int)datum->size, datum->data ? (const char *)datum->data : "");
    gnutls_free(datum->data);
    datum->data = NULL;
}

static void read_alt_names(gnutls_x509_crt_t crt, struct nd_tls_certificate *out)
{
    for (unsigned i = 0;; i++) {
        char value[ND_TLS_NAME_MAX];
        size_t size = sizeof value - 1;
        int type = gnutls_x509_crt_get_subject_alt_name(crt, i, value, &size, NULL);
        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            return;
        if (type < 0)
            continue; /* too long to keep, or unreadable: the next one */
        if (out->alt_name_count == ND_TLS_NAMES_MAX) {
            out->alt_names_truncated = true;
            return;
        }
        struct nd_tls_alt_name *name = &out->alt_names[out->alt_name_count];
        switch (type) {
        case GNUTLS_SAN_DNSNAME:
        case GNUTLS_SAN_URI:
        case GNUTLS_SAN_RFC822NAME:
            value[size] = '\0';
            name->type = type == GNUTLS_SAN_DNSNAME ? "dns"
                         : type == GNUTLS_SAN_URI   ? "uri"
                                                    : "email";
            snprintf(name->value, sizeof name->value, "%s", value);
            break;
        case GNUTLS_SAN_IPADDRESS:
            name->type = "ip";
            if (!inet_ntop(size == 4 ? AF_INET : AF_INET6, value, name->value, sizeof name->value))
                snprintf(name->value, sizeof name->value, "?");
            break;
        default:
            continue;
        }
        out->alt_name_count++;
    }
}

static void read_certificate(const gnutls_datum_t *der, struct nd_tls_certificate *out)
{
    memset(out, 0, sizeof *out);
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crt_deinit(crt);
        snprintf(out->subject, sizeof out->subject, "(not a readable X.509 certificate)");
        return;
    }
    gnutls_datum_t text = {NULL, 0};
    if (gnutls_x509_crt_get_dn3(crt, &text, 0) >= 0)
        take_string(&text, out->subject, sizeof out->subject);
    if (gnutls_x509_crt_get_issuer_dn3(crt, &text, 0) >= 0)
        take_string(&text, out->issuer, sizeof out->issuer);
    uint8_t serial[20];
    size_t size = sizeof serial;
    if (gnutls_x509_crt_get_serial(crt, serial, &size) >= 0)
        nd_format_hex(serial, size, out->serial);
    read_alt_names(crt, out);
    out->not_before = gnutls_x509_crt_get_activation_time(crt);
    out->not_after = gnutls_x509_crt_get_expiration_time(crt);
    unsigned bits = 0;
    int algorithm = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
    const char *name = algorithm >= 0 ? gnutls_pk_algorithm_get_name(algorithm) : NULL;
    snprintf(out->public_key_algorithm, sizeof out->public_key_algorithm, "%s",
             name ? name : "unknown");
    out->public_key_bits = bits;
    int signature = gnutls_x509_crt_get_signature_algorithm(crt);
    name = signature >= 0 ? gnutls_sign_get_name(signature) : NULL;
    snprintf(out->signature_algorithm, sizeof out->signature_algorithm, "%s",
             name ? name : "unknown");
    uint8_t digest[32];
    size = sizeof digest;
    if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, digest, &size) >= 0)
        nd_format_hex(digest, size, out->sha256);
    out->self_signed = gnutls_x509_crt_check_issuer(crt, crt) != 0;
    gnutls_x509_crt_deinit(crt);
}

static void read_chain(gnutls_session_t session, struct nd_tls_session_info *info)
{
    unsigned count = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &count);
    info->chain_length = 0;
    for (unsigned i = 0; chain && i < count; i++) {
        if (info->chain_length == ND_TLS_CHAIN_MAX) {
            info->chain_truncated = true;
            break;
        }
        read_certificate(&chain[i], &info->chain[info->chain_length++]);
    }
}

struct reason {
    unsigned bit;
    const char *name;
};

/* RFC 5280's failures, by the names a reader expects. */
static const struct reason reasons[] = {
    {GNUTLS_CERT_EXPIRED, "expired"},
    {GNUTLS_CERT_NOT_ACTIVATED, "not_yet_valid"},
    {GNUTLS_CERT_UNEXPECTED_OWNER, "hostname_mismatch"},
    {GNUTLS_CERT_SIGNER_NOT_FOUND, "unknown_issuer"},
    {GNUTLS_CERT_INSECURE_ALGORITHM, "insecure_algorithm"},
    {GNUTLS_CERT_REVOKED, "revoked"},
    {GNUTLS_CERT_SIGNATURE_FAILURE, "bad_signature"},
    {GNUTLS_CERT_SIGNER_NOT_CA, "signer_not_ca"},
    {GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "signer_constraints"},
    {GNUTLS_CERT_PURPOSE_MISMATCH, "purpose_mismatch"},
};

static void verify(struct nd_tls_session *tls, struct nd_tls_session_info *info)
{
    unsigned status = 0;
    int result = gnutls_certificate_verify_peers3(
        tls->session, tls->server_name[0] ? tls->server_name : NULL, &status);
    if (result < 0) {
        info->verified = false;
        info->reasons[info->reason_count++] = "no_certificate";
        snprintf(info->verify_message, sizeof info->verify_message, "%s", gnutls_strerror(result));
        return;
    }
    info->verified = status == 0;
    /* An unknown issuer that is the certificate itself is a self-signed one. */
    bool self_signed = info->chain_length == 1 && info->chain[0].self_signed;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (!(status & reasons[i].bit) || info->reason_count == ND_TLS_REASONS_MAX)
            continue;
        bool unknown_self = reasons[i].bit == GNUTLS_CERT_SIGNER_NOT_FOUND && self_signed;
        info->reasons[info->reason_count++] = unknown_self ? "self_signed" : reasons[i].name;
    }
    if (status && info->reason_count == 0)
        info->reasons[info->reason_count++] = "other";
    gnutls_datum_t text = {NULL, 0};
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0)
        take_string(&text, info->verify_message, sizeof info->verify_message);
    size_t length = strlen(info->verify_message);
    while (length > 0 && info->verify_message[length - 1] == ' ')
        info->verify_message[--length] = '\0';
}

static void describe(struct nd_tls_session *tls, struct nd_tls_session_info *info)
{
    gnutls_session_t session = tls->session;
    const char *version = gnutls_protocol_get_name(gnutls_protocol_get_version(session));
    snprintf(info->version, sizeof info->version, "%s", version ? version : "unknown");
    const char *suite = gnutls_ciphersuite_get(session);
    snprintf(info->cipher_suite, sizeof info->cipher_suite, "%s", suite ? suite : "unknown");
    int group = gnutls_group_get(session);
    const char *group_name = group > 0 ? gnutls_group_get_name(group) : NULL;
    snprintf(info->group, sizeof info->group, "%s", group_name ? group_name : "");
    gnutls_datum_t alpn = {NULL, 0};
    if (gnutls_alpn_get_selected_protocol(session, &alpn) == 0)
        snprintf(info->alpn, sizeof info->alpn, "%.*s", (int)alpn.size, (const char *)alpn.data);
    info->resumed = gnutls_session_is_resumed(session) != 0;
    read_chain(session, info);
    verify(tls, info);
}

static enum nd_tls_step failure(struct nd_tls_session *tls, int status,
                                struct nd_tls_session_info *info, struct nd_error *error)
{
    if (status == GNUTLS_E_FATAL_ALERT_RECEIVED || status == GNUTLS_E_WARNING_ALERT_RECEIVED) {
        char name[sizeof info->alert];
        alert_name(gnutls_alert_get(tls->session), name, sizeof name);
        if (info)
            memcpy(info->alert, name, sizeof name);
        nd_error_set(error, ND_ERR_PROTOCOL, "the server sent the %s alert", name);
        return ND_TLS_FAILED;
    }
    /* A server older than TLS 1.2 answers in a record GnuTLS will not
     * open; its first bytes tell what it said (RFC 8446 section 5.1: type
     * 21 is an alert, the description its second byte; type 22 a handshake
     * message, a ServerHello (2) with the version the server chose). */
    const uint8_t *record = tls->first_record;
    if (status == GNUTLS_E_UNSUPPORTED_VERSION_PACKET && tls->first_record_length >= 7 &&
        record[0] == 21) {
        if (info)
            alert_name((gnutls_alert_description_t)record[6], info->alert, sizeof info->alert);
        nd_error_set(error, ND_ERR_PROTOCOL, "the server sent the %s alert",
                     info ? info->alert : "?");
        return ND_TLS_FAILED;
    }
    if (status == GNUTLS_E_UNSUPPORTED_VERSION_PACKET &&
        tls->first_record_length == sizeof tls->first_record && record[0] == 22 && record[5] == 2) {
        /* RFC 8446 section 4.2.1: the client aborts with protocol_version. */
        static const char *const old_versions[] = {"SSL 3.0", "TLS 1.0", "TLS 1.1"};
        if (info)
            alert_name(GNUTLS_A_PROTOCOL_VERSION, info->alert, sizeof info->alert);
        nd_error_set(error, ND_ERR_PROTOCOL,
                     "the server chose %s, older than the TLS 1.2 this client accepts (RFC "
                     "8996): protocol_version",
                     record[9] == 3 && record[10] <= 2 ? old_versions[record[10]]
                                                       : "an old version");
        return ND_TLS_FAILED;
    }
    if (status == GNUTLS_E_PREMATURE_TERMINATION || status == GNUTLS_E_PULL_ERROR)
        nd_error_set(error, ND_ERR_PROTOCOL, "the server closed the connection mid-handshake");
    else if (tls->push_failed)
        nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    else
        nd_error_set(error, ND_ERR_PROTOCOL, "%s (%s)", gnutls_strerror(status),
                     gnutls_strerror_name(status));
    return ND_TLS_FAILED;
}

enum nd_tls_step nd_tls_handshake(struct nd_tls_session *tls, struct nd_tls_session_info *info,
                                  struct nd_error *error)
{
    int status = gnutls_handshake(tls->session);
    if (status == GNUTLS_E_AGAIN || status == GNUTLS_E_INTERRUPTED)
        return ND_TLS_WANT_MORE;
    if (status < 0) {
        read_chain(tls->session, info);
        return failure(tls, status, info, error);
    }
    describe(tls, info);
    return ND_TLS_DONE;
}

enum nd_err nd_tls_write(struct nd_tls_session *tls, const uint8_t *data, size_t length,
                         struct nd_error *error)
{
    size_t written = 0;
    while (written < length) {
        ssize_t status = gnutls_record_send(tls->session, data + written, length - written);
        if (status == GNUTLS_E_INTERRUPTED || status == GNUTLS_E_AGAIN)
            continue;
        if (status < 0)
            return failure(tls, (int)status, NULL, error) == ND_TLS_FAILED ? ND_ERR_PROTOCOL
                                                                           : ND_OK;
        written += (size_t)status;
    }
    return ND_OK;
}

enum nd_tls_step nd_tls_read(struct nd_tls_session *tls, uint8_t *buffer, size_t size,
                             size_t *count, struct nd_error *error)
{
    *count = 0;
    for (;;) {
        ssize_t status = gnutls_record_recv(tls->session, buffer, size);
        if (status > 0) {
            *count = (size_t)status;
            return ND_TLS_DONE;
        }
        if (status == 0 || status == GNUTLS_E_PREMATURE_TERMINATION)
            return ND_TLS_DONE; /* closed, with or without close_notify */
        /* A post-handshake message (TLS 1.3's session tickets) ends a call
         * with GNUTLS_E_AGAIN though more records may wait in the input. */
        if (status == GNUTLS_E_AGAIN && tls->input_length == 0)
            return ND_TLS_WANT_MORE;
        if (status == GNUTLS_E_AGAIN || status == GNUTLS_E_INTERRUPTED ||
            status == GNUTLS_E_REHANDSHAKE || status == GNUTLS_E_GOT_APPLICATION_DATA)
            continue;
        return failure(tls, (int)status, NULL, error);
    }
}
