/*
 * Recipes 6, 8, 9 and 10: a fresh socket's options before and after a
 * change, and what the kernel made of the change. One socket per call,
 * created and closed inside it.
 */
#ifndef NETDIAG_SOCKOPTS_H
#define NETDIAG_SOCKOPTS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "netdiag/error.h"

enum nd_sockopts_type { ND_SOCKOPTS_TCP, ND_SOCKOPTS_UDP };
enum nd_sockopts_family { ND_SOCKOPTS_IPV4, ND_SOCKOPTS_IPV6 };

/* The options, in the order a change is applied. */
enum nd_sockopts_option {
    ND_SOCKOPTS_REUSEADDR, /* SO_REUSEADDR, 0 or 1 (recipe 10) */
    ND_SOCKOPTS_SNDBUF,    /* SO_SNDBUF, bytes (recipe 8) */
    ND_SOCKOPTS_RCVBUF,    /* SO_RCVBUF, bytes (recipe 8) */
    ND_SOCKOPTS_NODELAY,   /* TCP_NODELAY, 0 or 1, TCP only (recipe 8) */
    /* Python's settimeout (recipe 6), in microseconds: ND_SOCKOPTS_TIMEOUT_NONE
     * (None: blocking, no timeout), 0 (non-blocking), or > 0 (blocking calls
     * that give up after it: SO_RCVTIMEO and SO_SNDTIMEO). */
    ND_SOCKOPTS_TIMEOUT,
    ND_SOCKOPTS_BLOCKING, /* 1 unless O_NONBLOCK is set (recipe 9) */
    ND_SOCKOPTS_OPTION_COUNT
};

enum {
    ND_SOCKOPTS_BUFFER_MAX = 64 * 1024 * 1024,
    ND_SOCKOPTS_TIMEOUT_MAX_S = 1000000,
    ND_SOCKOPTS_NOTE_MAX = 256,
    ND_SOCKOPTS_TIMEOUT_NONE = -1, /* Python's None as a timeout: blocking, no time limit */
};

struct nd_sockopts_request {
    enum nd_sockopts_type type;
    enum nd_sockopts_family family;
    bool present[ND_SOCKOPTS_OPTION_COUNT];
    int64_t value[ND_SOCKOPTS_OPTION_COUNT];
    bool bind; /* bind to the loopback, port 0 (TCP: and listen), recipe 9's trivial server */
};

struct nd_sockopts_value {
    bool applicable; /* false for TCP_NODELAY on UDP */
    int64_t before;
    bool requested_present;
    int64_t requested;
    int64_t after;
    char note[ND_SOCKOPTS_NOTE_MAX]; /* why after differs from requested; "" when it does not */
};

struct nd_sockopts_result {
    struct nd_sockopts_value options[ND_SOCKOPTS_OPTION_COUNT];
    bool has_wmem_max, has_rmem_max; /* /proc/sys/net/core was readable */
    int64_t wmem_max, rmem_max;
    bool bound;
    char bound_address[INET6_ADDRSTRLEN];
    uint16_t bound_port;
};

/* "reuseaddr", "sndbuf", ... (the query parameter names). */
const char *nd_sockopts_option_name(enum nd_sockopts_option option);

/* The level and the option as the socket API names them: "SOL_SOCKET" and
 * "SO_SNDBUF", "IPPROTO_TCP" and "TCP_NODELAY", "fcntl" and "O_NONBLOCK". */
const char *nd_sockopts_option_level(enum nd_sockopts_option option);
const char *nd_sockopts_option_call(enum nd_sockopts_option option);

/* Checks ranges and combinations (TCP_NODELAY on UDP); on failure *bad names
 * the option at fault. */
enum nd_err nd_sockopts_validate(const struct nd_sockopts_request *request,
                                 enum nd_sockopts_option *bad, struct nd_error *error);

/* Validates, creates the socket, reads every option, applies the requested
 * changes, reads every option again, binds if asked, closes. */
enum nd_err nd_sockopts_run(const struct nd_sockopts_request *request,
                            struct nd_sockopts_result *out, struct nd_error *error);

#endif
