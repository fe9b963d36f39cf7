/*
 * Which servers an operator lets netdiag query on a user's behalf: host
 * names and networks in CIDR form ("pool.ntp.org,10.0.0.0/8,::1"). An empty
 * list lets everything through.
 */
#ifndef NETDIAG_ALLOWLIST_H
#define NETDIAG_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "netdiag/error.h"

enum { ND_ALLOWLIST_MAX = 32, ND_ALLOWLIST_NAME_MAX = 254 };

struct nd_allowlist_entry {
    bool is_network;
    int family;          /* AF_INET or AF_INET6 for a network */
    uint8_t address[16]; /* network byte order */
    unsigned prefix_length;
    char name[ND_ALLOWLIST_NAME_MAX]; /* for a host name entry */
};

struct nd_allowlist {
    size_t count;
    struct nd_allowlist_entry entries[ND_ALLOWLIST_MAX];
};

/* Comma-separated entries; a bare address is a /32 or /128. ND_ERR_INVALID
 * with a message naming the bad entry; ND_ERR_RANGE past ND_ALLOWLIST_MAX. */
enum nd_err nd_allowlist_parse(const char *text, struct nd_allowlist *out, struct nd_error *error);

/* True when the list is empty, names host (case-insensitively), or holds a
 * network containing address (which may be NULL before resolution). */
bool nd_allowlist_permits(const struct nd_allowlist *list, const char *host,
                          const struct sockaddr *address);

#endif
