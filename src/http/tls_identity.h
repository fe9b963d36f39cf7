/*
 * The certificate and key netdiag serves HTTPS with (--tls-cert, --tls-key),
 * handed to libmicrohttpd per handshake, so that SIGHUP can put a renewed
 * certificate in place without a restart: connections already open keep
 * the one they began with, new handshakes get the new one.
 */
#ifndef NETDIAG_HTTP_TLS_IDENTITY_H
#define NETDIAG_HTTP_TLS_IDENTITY_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "netdiag/error.h"

struct nd_tls_identity;

/* Reads the PEM certificate chain and its key; ND_ERR_INVALID naming the
 * file and the reason when either cannot be read or they do not match. */
enum nd_err nd_tls_identity_load(const char *certificate_file, const char *key_file,
                                 struct nd_tls_identity **out, struct nd_error *error);

/* Reads the files again; on failure the identity in use stays. Any thread. */
enum nd_err nd_tls_identity_reload(struct nd_tls_identity *identity, struct nd_error *error);

/* The subject and the expiry of the certificate in use, for the log. */
void nd_tls_identity_describe(const struct nd_tls_identity *identity, char *text, size_t size);

/* For libmicrohttpd's MHD_OPTION_HTTPS_CERT_CALLBACK (GnuTLS's retrieve
 * function). It has no context argument: it serves the identity
 * nd_tls_identity_serve made current. */
int nd_tls_identity_retrieve(gnutls_session_t session, const gnutls_datum_t *request_ca_names,
                             int request_ca_count, const gnutls_pk_algorithm_t *algorithms,
                             int algorithm_count, gnutls_pcert_st **certificates,
                             unsigned int *certificate_count, gnutls_privkey_t *key);
void nd_tls_identity_serve(struct nd_tls_identity *identity);

/* Frees every version ever loaded; after the server has stopped. */
void nd_tls_identity_free(struct nd_tls_identity *identity);

#endif
