/*
 * Recipe 1: this machine's name and addresses. nd_hostinfo_names answers what
 * gethostname() and gethostbyname(hostname) answer, done with getaddrinfo so
 * that IPv6 and every address count; nd_hostinfo_interfaces lists the network
 * interfaces as getifaddrs() and the kernel describe them.
 * Both are plain blocking functions with no global state and are thread-safe.
 */
#ifndef NETDIAG_HOSTINFO_H
#define NETDIAG_HOSTINFO_H

#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "netdiag/error.h"

enum {
    ND_HOSTINFO_HOST_NAME_MAX = HOST_NAME_MAX + 1,
    ND_HOSTINFO_CANONICAL_NAME_MAX = NI_MAXHOST,
    ND_HOSTINFO_ADDRESS_TEXT_MAX = INET6_ADDRSTRLEN,
    ND_HOSTINFO_ADDRESSES_MAX = 32,
    ND_HOSTINFO_INTERFACES_MAX = 64,
    ND_HOSTINFO_INTERFACE_ADDRESSES_MAX = 16,
    /* sockaddr_ll holds at most 8 address bytes, each written "xx:" with the
     * last colon replaced by the NUL. */
    ND_HOSTINFO_HARDWARE_ADDRESS_TEXT_MAX = 8 * 3,
    /* How many IFF_* bits nd_hostinfo_flag_names knows by name. */
    ND_HOSTINFO_FLAG_NAMES_MAX = 19,
};

struct nd_hostinfo_address {
    int family; /* AF_INET or AF_INET6 */
    char text[ND_HOSTINFO_ADDRESS_TEXT_MAX];
};

struct nd_hostinfo_names {
    char host_name[ND_HOSTINFO_HOST_NAME_MAX];
    /* The outcome of getaddrinfo(host_name): resolve.code is ND_OK, or
     * ND_ERR_RESOLVE with the EAI_* value (and errno for EAI_SYSTEM) and a
     * message, and then the fields below are empty. */
    struct nd_error resolve;
    char canonical_name[ND_HOSTINFO_CANONICAL_NAME_MAX]; /* "" when the resolver gave none */
    /* The first IPv4 address in getaddrinfo's (RFC 6724 sorted) order,
     * normally the one gethostbyname(host_name) answers; "" when none. */
    char ipv4_address[ND_HOSTINFO_ADDRESS_TEXT_MAX];
    /* Every address of the name once, in getaddrinfo's order. */
    struct nd_hostinfo_address addresses[ND_HOSTINFO_ADDRESSES_MAX];
    size_t address_count;
    bool addresses_truncated; /* the name had more addresses than fit */
};

struct nd_hostinfo_interface_address {
    struct nd_hostinfo_address address;
    int prefix_length; /* -1 when the netmask is absent or not contiguous */
    char broadcast[ND_HOSTINFO_ADDRESS_TEXT_MAX]; /* IPv4 on a broadcast link; "" otherwise */
    char peer[ND_HOSTINFO_ADDRESS_TEXT_MAX];      /* far end of a point-to-point link; or "" */
};

/*
 * One name getifaddrs reports. An IPv4 address with a label ("eth0:1") is
 * reported under that label, as a separate interface, as the kernel lists it.
 */
struct nd_hostinfo_interface {
    char name[IF_NAMESIZE];
    unsigned int index; /* 0 when if_nametoindex failed: the interface went away */
    unsigned int flags; /* IFF_* bits as the kernel reports them */
    int mtu;            /* -1 when SIOCGIFMTU failed, e.g. the interface went away */
    /* Link-layer (MAC) address as "aa:bb:cc:dd:ee:ff", as many bytes as the
     * link has (loopback reports 00:00:00:00:00:00); "" when the kernel gave
     * none (no AF_PACKET entry, or a link without addresses such as tun). */
    char hardware_address[ND_HOSTINFO_HARDWARE_ADDRESS_TEXT_MAX];
    struct nd_hostinfo_interface_address addresses[ND_HOSTINFO_INTERFACE_ADDRESSES_MAX];
    size_t address_count;
    bool addresses_truncated; /* the interface had more addresses than fit */
};

/* About 160 KiB: allocate it rather than putting it on a thread's stack. */
struct nd_hostinfo_interfaces {
    struct nd_hostinfo_interface interfaces[ND_HOSTINFO_INTERFACES_MAX];
    size_t count;
    bool truncated; /* more interfaces existed than fit */
};

/*
 * Fills out with the host name and what it resolves to. Returns ND_OK even
 * when the name does not resolve (see out->resolve); ND_ERR_SYSTEM when
 * gethostname fails. Blocks as long as the resolver does
 * (seconds when DNS is unreachable); error may be NULL.
 */
enum nd_err nd_hostinfo_names(struct nd_hostinfo_names *out, struct nd_error *error);

/* The parts of nd_hostinfo_names, for a caller that runs getaddrinfo itself
 * (the runtime does, on libuv's pool): the host name (out zeroed first;
 * ND_ERR_SYSTEM when gethostname fails), the hints to look it up with, and
 * the rest of out made of what getaddrinfo answered (gai_error 0 and list,
 * or EAI_* and errno for EAI_SYSTEM, which land in out->resolve). */
enum nd_err nd_hostinfo_host_name(struct nd_hostinfo_names *out, struct nd_error *error);
void nd_hostinfo_lookup_hints(struct addrinfo *hints);
void nd_hostinfo_lookup_result(struct nd_hostinfo_names *out, int gai_error, int os_error,
                               const struct addrinfo *list);

/*
 * Fills out with every interface, in the order getifaddrs first names them.
 * ND_ERR_SYSTEM when socket, getifaddrs or close fails.
 */
enum nd_err nd_hostinfo_interfaces(struct nd_hostinfo_interfaces *out, struct nd_error *error);

/*
 * Writes into names the names of the IFF_* bits set in flags, lower case and
 * in bit order ("up", "broadcast", "debug", "loopback", "pointopoint",
 * "notrailers", "running", "noarp", "promisc", "allmulti", "master", "slave",
 * "multicast", "portsel", "automedia", "dynamic", "lower_up", "dormant",
 * "echo"), at most capacity of them, and returns how many it wrote. Bits
 * without a name are left out. The strings are static.
 */
size_t nd_hostinfo_flag_names(unsigned int flags, const char *names[], size_t capacity);

/*
 * The prefix length of an AF_INET or AF_INET6 netmask: the number of leading
 * one bits. -1 for a NULL mask, another family, or a non-contiguous mask (a
 * one bit after a zero bit, e.g. 255.0.255.0), which has no prefix length:
 * CIDR (RFC 4632 section 3.1) defines only contiguous masks.
 */
int nd_hostinfo_prefix_length(const struct sockaddr *mask);

#endif
