/*
 * Which servers an operator lets netdiag query on a user's behalf: host
 * names and networks in CIDR form, each with an optional port or port range
 * ("pool.ntp.org,10.0.0.0/8,::1,db.internal:5432,10.1.0.0/16:80-443,
 * [fd00::/8]:443"; an IPv6 entry takes brackets to carry a port). An empty
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
    uint16_t port_low, port_high;     /* the ports it allows; 0-65535 when none was given */
};

struct nd_allowlist {
    size_t count;
    bool nothing; /* "off": the list lets nothing through */
    struct nd_allowlist_entry entries[ND_ALLOWLIST_MAX];
};

/* Comma-separated entries; a bare address is a /32 or /128; "off" alone
 * lets nothing through. ND_ERR_INVALID with a message naming the bad entry;
 * ND_ERR_RANGE past ND_ALLOWLIST_MAX. */
enum nd_err nd_allowlist_parse(const char *text, struct nd_allowlist *out, struct nd_error *error);

/* False for an "off" list. Otherwise true when the list is empty, or an
 * entry names host (case-insensitively)
 * or holds a network containing address (which may be NULL before
 * resolution), and allows port (0: any port will do). */
bool nd_allowlist_permits(const struct nd_allowlist *list, const char *host,
                          const struct sockaddr *address, uint16_t port);

/* True for the addresses no destination list lets through unless one of
 * its networks names them: link-local addresses (169.254.0.0/16, fe80::/10)
 * and cloud metadata services (169.254.169.254 is in the first; also
 * fd00:ec2::254 and 100.100.100.200), where a request made on a caller's
 * behalf could read a machine's credentials. */
bool nd_allowlist_sensitive(const struct sockaddr *address);

/* nd_allowlist_permits, and for a sensitive address, only through a network
 * entry inside its sensitive block (169.254.169.254/32, 169.254.0.0/16, not
 * 0.0.0.0/0): a host name allowed by name may not resolve to the metadata
 * service (DNS rebinding), nor may a catch-all network reach it. */
bool nd_allowlist_permits_destination(const struct nd_allowlist *list, const char *host,
                                      const struct sockaddr *address, uint16_t port);

#endif
