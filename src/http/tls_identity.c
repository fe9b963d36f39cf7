#include "http/tls_identity.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/x509.h>

enum { CHAIN_MAX = 16 };

/* One loaded certificate chain and key. Versions are never freed while the
 * server runs: a handshake that began with one may still use it. */
struct version {
    gnutls_pcert_st chain[CHAIN_MAX];
    unsigned chain_length;
    gnutls_privkey_t key;
    char description[384];
    struct version *older;
};

struct nd_tls_identity {
    char certificate_file[1024], key_file[1024];
    _Atomic(struct version *) current;
    pthread_mutex_t reload_lock; /* one reload at a time */
};

/* The callback has no context argument: the identity being served. */
static _Atomic(struct nd_tls_identity *) served;

static void free_version(struct version *version)
{
    for (unsigned i = 0; i < version->chain_length; i++)
        gnutls_pcert_deinit(&version->chain[i]);
    gnutls_privkey_deinit(version->key);
    free(version);
}

static void describe(struct version *version)
{
    gnutls_x509_crt_t crt;
    char subject[256] = "?";
    time_t expires = 0;
    if (gnutls_pcert_export_x509(&version->chain[0], &crt) >= 0) {
        size_t size = sizeof subject;
        if (gnutls_x509_crt_get_dn(crt, subject, &size) < 0)
            snprintf(subject, sizeof subject, "?");
        expires = gnutls_x509_crt_get_expiration_time(crt);
        gnutls_x509_crt_deinit(crt);
    }
    struct tm parts;
    char when[32] = "?";
    if (gmtime_r(&expires, &parts))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &parts);
    snprintf(version->description, sizeof version->description, "%s, valid until %s", subject,
             when);
}

static enum nd_err load_version(const char *certificate_file, const char *key_file,
                                struct version **out, struct nd_error *error)
{
    /* The pairing check GnuTLS makes for a credentials structure. */
    gnutls_certificate_credentials_t check;
    int status = gnutls_certificate_allocate_credentials(&check);
    if (status < 0)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "gnutls: %s", gnutls_strerror(status));
    status = gnutls_certificate_set_x509_key_file(check, certificate_file, key_file,
                                                  GNUTLS_X509_FMT_PEM);
    gnutls_certificate_free_credentials(check);
    if (status < 0)
        return nd_error_set(error, ND_ERR_INVALID, "%.200s with %.200s: %s", certificate_file,
                            key_file, gnutls_strerror(status));

    struct version *version = calloc(1, sizeof *version);
    if (!version)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    version->chain_length = CHAIN_MAX;
    status =
        gnutls_pcert_list_import_x509_file(version->chain, &version->chain_length, certificate_file,
                                           GNUTLS_X509_FMT_PEM, NULL, NULL, 0);
    if (status < 0) {
        version->chain_length = 0;
        free_version(version);
        return nd_error_set(error, ND_ERR_INVALID, "%.256s: %s", certificate_file,
                            gnutls_strerror(status));
    }
    gnutls_datum_t pem = {NULL, 0};
    status = gnutls_load_file(key_file, &pem);
    if (status >= 0)
        status = gnutls_privkey_init(&version->key);
    if (status >= 0)
        status = gnutls_privkey_import_x509_raw(version->key, &pem, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_free(pem.data);
    if (status < 0) {
        free_version(version);
        return nd_error_set(error, ND_ERR_INVALID, "%.256s: %s", key_file, gnutls_strerror(status));
    }
    describe(version);
    *out = version;
    return ND_OK;
}

enum nd_err nd_tls_identity_load(const char *certificate_file, const char *key_file,
                                 struct nd_tls_identity **out, struct nd_error *error)
{
    struct nd_tls_identity *identity = calloc(1, sizeof *identity);
    if (!identity)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    snprintf(identity->certificate_file, sizeof identity->certificate_file, "%s", certificate_file);
    snprintf(identity->key_file, sizeof identity->key_file, "%s", key_file);
    struct version *version;
    enum nd_err err = load_version(certificate_file, key_file, &version, error);
    if (err != ND_OK) {
        free(identity);
        return err;
    }
    atomic_init(&identity->current, version);
    pthread_mutex_init(&identity->reload_lock, NULL);
    *out = identity;
    return ND_OK;
}

enum nd_err nd_tls_identity_reload(struct nd_tls_identity *identity, struct nd_error *error)
{
    struct version *version;
    enum nd_err err = load_version(identity->certificate_file, identity->key_file, &version, error);
    if (err != ND_OK)
        return err;
    pthread_mutex_lock(&identity->reload_lock);
    version->older = atomic_load(&identity->current);
    atomic_store_explicit(&identity->current, version, memory_order_release);
    pthread_mutex_unlock(&identity->reload_lock);
    return ND_OK;
}

void nd_tls_identity_describe(const struct nd_tls_identity *identity, char *text, size_t size)
{
    struct version *version = atomic_load_explicit(&identity->current, memory_order_acquire);
    snprintf(text, size, "%s", version->description);
}

int nd_tls_identity_retrieve(gnutls_session_t session, const gnutls_datum_t *request_ca_names,
                             int request_ca_count, const gnutls_pk_algorithm_t *algorithms,
                             int algorithm_count, gnutls_pcert_st **certificates,
                             unsigned int *certificate_count, gnutls_privkey_t *key)
{
    (void)session;
    (void)request_ca_names;
    (void)request_ca_count;
    (void)algorithms;
    (void)algorithm_count;
    struct nd_tls_identity *identity = atomic_load_explicit(&served, memory_order_acquire);
    if (!identity)
        return -1;
    struct version *version = atomic_load_explicit(&identity->current, memory_order_acquire);
    *certificates = version->chain;
    *certificate_count = version->chain_length;
    *key = version->key;
    return 0;
}

void nd_tls_identity_serve(struct nd_tls_identity *identity)
{
    atomic_store_explicit(&served, identity, memory_order_release);
}

void nd_tls_identity_free(struct nd_tls_identity *identity)
{
    if (!identity)
        return;
    if (atomic_load(&served) == identity)
        nd_tls_identity_serve(NULL);
    struct version *version = atomic_load(&identity->current);
    while (version) {
        struct version *older = version->older;
        free_version(version);
        version = older;
    }
    pthread_mutex_destroy(&identity->reload_lock);
    free(identity);
}
