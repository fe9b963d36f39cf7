/*
 * The client side of TLS for /connect's tls=1 (GnuTLS, no crypto of our
 * own): a session driven by bytes, not by a socket, so that the probe can
 * carry it over its libuv stream without ever blocking. The caller feeds
 * what the socket read, takes what the session wants written, and steps the
 * handshake until it is done; then it reads the session as the server sent
 * it: version, cipher suite, group, ALPN, the certificate chain and whether
 * it verifies against the system's trust store (and --tls-ca-file).
 */
#ifndef NETDIAG_PROBE_TLS_H
#define NETDIAG_PROBE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "netdiag/error.h"
#include "netdiag/list.h"

enum {
    ND_TLS_CHAIN_MAX = 8,
    ND_TLS_NAMES_MAX = 16, /* subject alternative names kept per certificate */
    ND_TLS_NAME_MAX = 256,
    ND_TLS_DN_MAX = 512,
    ND_TLS_REASONS_MAX = 8,
    ND_TLS_ALPN_MAX = 128, /* "h2,http/1.1" */
};

/* The anchors certificates are checked against, shared, read-only once
 * loaded, by every probe. --tls-ca-file is read at start-up, so that a bad
 * file stops netdiag there; the system's store (Debian's ca-certificates)
 * only when a probe first needs it: parsing its roots takes about 4 MB of
 * memory and 10 ms that a netdiag which never checks a chain does not pay. */
struct nd_tls_trust;

/* ca_file, when not NULL or "", now. ND_ERR_INVALID naming the file when
 * it cannot be read or holds no certificate. */
enum nd_err nd_tls_trust_load(const char *ca_file, struct nd_tls_trust **out,
                              struct nd_error *error);
void nd_tls_trust_free(struct nd_tls_trust *trust);
/* How many anchors came from the system (0 until it is loaded) and from
 * ca_file. */
void nd_tls_trust_counts(const struct nd_tls_trust *trust, unsigned *system, unsigned *extra);

/* Loading the system's store, for an event loop: wait, unwait and loaded
 * belong to the loop's thread, load_system runs on another (it blocks) and
 * no session may use the trust before loaded. */
struct nd_tls_trust_waiter {
    void (*ready)(struct nd_tls_trust_waiter *waiter);
    struct nd_list_node node; /* in the trust's queue; zeroed when in none */
};

enum nd_tls_trust_wait {
    ND_TLS_TRUST_READY,  /* use it now; the waiter is not queued */
    ND_TLS_TRUST_LOAD,   /* queued, and the caller starts nd_tls_trust_load_system */
    ND_TLS_TRUST_QUEUED, /* queued behind a load under way */
};

enum nd_tls_trust_wait nd_tls_trust_wait(struct nd_tls_trust *trust,
                                         struct nd_tls_trust_waiter *waiter);
/* A waiter that no longer waits (its probe ended first); nothing when it
 * is not queued. */
void nd_tls_trust_unwait(struct nd_tls_trust *trust, struct nd_tls_trust_waiter *waiter);
void nd_tls_trust_load_system(struct nd_tls_trust *trust);
/* The load is over: every queued waiter's ready is called, in order. A
 * store that could not be read leaves the system's anchors out: every
 * chain that needs one is then unknown, as on a machine without one. */
void nd_tls_trust_loaded(struct nd_tls_trust *trust);

struct nd_tls_options {
    const char *server_name; /* SNI and the name the certificate must carry; an IP literal
                                is checked against the IP addresses and sent as no SNI */
    const char *alpn;        /* comma-separated protocols, "" = none offered */
};

struct nd_tls_alt_name {
    const char *type; /* "dns", "ip", "uri", "email" (static) */
    char value[ND_TLS_NAME_MAX];
};

struct nd_tls_certificate {
    char subject[ND_TLS_DN_MAX], issuer[ND_TLS_DN_MAX]; /* RFC 4514 strings */
    char serial[2 * 20 + 1];                            /* hex; RFC 5280 caps it at 20 bytes */
    struct nd_tls_alt_name alt_names[ND_TLS_NAMES_MAX];
    size_t alt_name_count;
    bool alt_names_truncated;
    time_t not_before, not_after;
    char public_key_algorithm[32];
    unsigned public_key_bits;
    char signature_algorithm[48];
    char sha256[2 * 32 + 1];
    bool self_signed; /* its issuer is itself */
};

struct nd_tls_session_info {
    char version[16];      /* "TLS1.3" */
    char cipher_suite[80]; /* the IANA name, "TLS_AES_256_GCM_SHA384" */
    char group[24];        /* the key exchange's, "X25519"; "" when none */
    char alpn[32];         /* the protocol the server chose; "" when none */
    bool resumed;
    struct nd_tls_certificate chain[ND_TLS_CHAIN_MAX]; /* as the server sent it */
    size_t chain_length;
    bool chain_truncated;
    bool verified;
    const char *reasons[ND_TLS_REASONS_MAX]; /* why not: "expired", "hostname_mismatch", ... */
    size_t reason_count;
    char verify_message[256];
    char alert[40]; /* the TLS alert that ended a failed handshake ("protocol_version"), or "" */
};

struct nd_tls_session;

enum nd_err nd_tls_session_new(const struct nd_tls_trust *trust,
                               const struct nd_tls_options *options, struct nd_tls_session **out,
                               struct nd_error *error);
void nd_tls_session_free(struct nd_tls_session *session);

/* Bytes the socket read, for the session to consume. */
enum nd_err nd_tls_feed(struct nd_tls_session *session, const uint8_t *data, size_t length,
                        struct nd_error *error);
/* The socket reached end of stream. */
void nd_tls_feed_end(struct nd_tls_session *session);

/* What the session wants sent, as a malloc'd buffer the caller frees once it
 * is written; false when there is nothing. */
bool nd_tls_take_output(struct nd_tls_session *session, uint8_t **data, size_t *length);

enum nd_tls_step {
    ND_TLS_DONE,      /* the handshake is over (or data came, or the peer closed) */
    ND_TLS_WANT_MORE, /* more bytes from the peer are needed */
    ND_TLS_FAILED,    /* error says why (and info->alert, for an alert) */
};

/* Steps the handshake with what was fed. On ND_TLS_DONE, info holds the
 * session, the chain and the verification; on ND_TLS_FAILED, the alert when
 * one came, and what the peer's certificates were if it got that far. */
enum nd_tls_step nd_tls_handshake(struct nd_tls_session *session, struct nd_tls_session_info *info,
                                  struct nd_error *error);

/* Encrypts length bytes of application data into the output. */
enum nd_err nd_tls_write(struct nd_tls_session *session, const uint8_t *data, size_t length,
                         struct nd_error *error);

/* Decrypts what was fed into buffer. ND_TLS_DONE with *count > 0 for data,
 * with *count == 0 when the peer closed; ND_TLS_WANT_MORE; ND_TLS_FAILED. */
enum nd_tls_step nd_tls_read(struct nd_tls_session *session, uint8_t *buffer, size_t size,
                             size_t *count, struct nd_error *error);

#endif
