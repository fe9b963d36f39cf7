#include "netdiag/hostinfo.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "netdiag/format.h"
#include "netdiag/net.h"

struct flag_name {
    unsigned int bit;
    const char *name;
};

static const struct flag_name flag_names[] = {
    {IFF_UP, "up"},
    {IFF_BROADCAST, "broadcast"},
    {IFF_DEBUG, "debug"},
    {IFF_LOOPBACK, "loopback"},
    {IFF_POINTOPOINT, "pointopoint"},
    {IFF_NOTRAILERS, "notrailers"},
    {IFF_RUNNING, "running"},
    {IFF_NOARP, "noarp"},
    {IFF_PROMISC, "promisc"},
    {IFF_ALLMULTI, "allmulti"},
    {IFF_MASTER, "master"},
    {IFF_SLAVE, "slave"},
    {IFF_MULTICAST, "multicast"},
    {IFF_PORTSEL, "portsel"},
    {IFF_AUTOMEDIA, "automedia"},
    {IFF_DYNAMIC, "dynamic"},
    /* IFF_LOWER_UP, IFF_DORMANT and IFF_ECHO live in linux/if.h, which
     * clashes with net/if.h; getifaddrs passes them on from the kernel. */
    {1u << 16, "lower_up"},
    {1u << 17, "dormant"},
    {1u << 18, "echo"},
};

_Static_assert(sizeof flag_names / sizeof flag_names[0] == ND_HOSTINFO_FLAG_NAMES_MAX,
               "ND_HOSTINFO_FLAG_NAMES_MAX counts the named flags");

size_t nd_hostinfo_flag_names(unsigned int flags, const char *names[], size_t capacity)
{
    size_t count = 0;
    for (size_t i = 0; i < ND_HOSTINFO_FLAG_NAMES_MAX && count < capacity; i++) {
        if (flags & flag_names[i].bit)
            names[count++] = flag_names[i].name;
    }
    return count;
}

/* The address bytes of an AF_INET or AF_INET6 socket address; NULL for others. */
static const unsigned char *address_bytes(const struct sockaddr *address, size_t *size)
{
    if (address->sa_family == AF_INET) {
        *size = sizeof(struct in_addr);
        return (const unsigned char *)&((const struct sockaddr_in *)address)->sin_addr;
    }
    if (address->sa_family == AF_INET6) {
        *size = sizeof(struct in6_addr);
        return (const unsigned char *)&((const struct sockaddr_in6 *)address)->sin6_addr;
    }
    return NULL;
}

int nd_hostinfo_prefix_length(const struct sockaddr *mask)
{
    if (!mask)
        return -1;
    size_t size = 0;
    const unsigned char *bytes = address_bytes(mask, &size);
    if (!bytes)
        return -1;
    int length = 0;
    bool seen_zero = false;
    for (size_t i = 0; i < size; i++) {
        for (int bit = 7; bit >= 0; bit--) {
            bool one = (bytes[i] >> bit) & 1;
            if (one && seen_zero)
                return -1;
            if (one)
                length++;
            else
                seen_zero = true;
        }
    }
    return length;
}

static bool is_internet_family(const struct sockaddr *address)
{
    return address && (address->sa_family == AF_INET || address->sa_family == AF_INET6);
}

static bool has_address(const struct nd_hostinfo_names *names,
                        const struct nd_hostinfo_address *address)
{
    for (size_t i = 0; i < names->address_count; i++) {
        if (names->addresses[i].family == address->family &&
            strcmp(names->addresses[i].text, address->text) == 0)
            return true;
    }
    return false;
}

/* The IPv6 scope is left out of the text, as nd_net_format_host does: a
 * host name's addresses carry none unless /etc/hosts gives one. */
static void add_resolved_address(struct nd_hostinfo_names *out,
                                 const struct sockaddr *socket_address)
{
    struct nd_hostinfo_address address = {.family = socket_address->sa_family};
    nd_net_format_host(socket_address, address.text, sizeof address.text);
    if (address.family == AF_INET && out->ipv4_address[0] == '\0')
        memcpy(out->ipv4_address, address.text, sizeof out->ipv4_address);
    if (has_address(out, &address))
        return;
    if (out->address_count == ND_HOSTINFO_ADDRESSES_MAX)
        out->addresses_truncated = true;
    else
        out->addresses[out->address_count++] = address;
}

enum nd_err nd_hostinfo_host_name(struct nd_hostinfo_names *out, struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    if (gethostname(out->host_name, sizeof out->host_name) != 0)
        return nd_error_set_errno(error, errno, "gethostname");
    return ND_OK;
}

void nd_hostinfo_lookup_hints(struct addrinfo *hints)
{
    /* Without a socket type getaddrinfo answers every address once per type
     * (stream, datagram, raw); one type gives each address once, though a
     * name listed twice in /etc/hosts still comes back twice. */
    memset(hints, 0, sizeof *hints);
    hints->ai_flags = AI_CANONNAME;
    hints->ai_family = AF_UNSPEC;
    hints->ai_socktype = SOCK_STREAM;
}

void nd_hostinfo_lookup_result(struct nd_hostinfo_names *out, int gai_error, int os_error,
                               const struct addrinfo *list)
{
    if (gai_error != 0) {
        char context[ND_HOSTINFO_HOST_NAME_MAX + 32];
        snprintf(context, sizeof context, "resolving host name '%s'", out->host_name);
        nd_error_set_gai(&out->resolve, gai_error, os_error, context);
        return;
    }
    /* getaddrinfo puts the canonical name on the first result only. */
    if (list && list->ai_canonname)
        snprintf(out->canonical_name, sizeof out->canonical_name, "%s", list->ai_canonname);
    for (const struct addrinfo *entry = list; entry; entry = entry->ai_next) {
        if (is_internet_family(entry->ai_addr))
            add_resolved_address(out, entry->ai_addr);
    }
}

enum nd_err nd_hostinfo_names(struct nd_hostinfo_names *out, struct nd_error *error)
{
    enum nd_err err = nd_hostinfo_host_name(out, error);
    if (err != ND_OK)
        return err;
    struct addrinfo hints;
    nd_hostinfo_lookup_hints(&hints);
    struct addrinfo *list = NULL;
    int status = getaddrinfo(out->host_name, NULL, &hints, &list);
    nd_hostinfo_lookup_result(out, status, errno, list);
    if (list)
        freeaddrinfo(list);
    return ND_OK;
}

static int read_mtu(int probe, const char *name)
{
    struct ifreq request;
    memset(&request, 0, sizeof request);
    snprintf(request.ifr_name, sizeof request.ifr_name, "%s", name);
    if (ioctl(probe, SIOCGIFMTU, &request) != 0)
        return -1;
    return request.ifr_mtu;
}

static void format_hardware_address(const struct sockaddr_ll *link,
                                    char text[ND_HOSTINFO_HARDWARE_ADDRESS_TEXT_MAX])
{
    size_t length = link->sll_halen;
    if (length > sizeof link->sll_addr)
        length = sizeof link->sll_addr;
    text[0] = '\0';
    for (size_t i = 0; i < length; i++) {
        nd_format_hex(&link->sll_addr[i], 1, text + 3 * i);
        text[3 * i + 2] = ':';
    }
    if (length > 0)
        text[3 * length - 1] = '\0';
}

static struct nd_hostinfo_interface *find_or_add_interface(struct nd_hostinfo_interfaces *out,
                                                           const struct ifaddrs *entry, int probe)
{
    for (size_t i = 0; i < out->count; i++) {
        if (strcmp(out->interfaces[i].name, entry->ifa_name) == 0)
            return &out->interfaces[i];
    }
    if (out->count == ND_HOSTINFO_INTERFACES_MAX) {
        out->truncated = true;
        return NULL;
    }
    struct nd_hostinfo_interface *interface = &out->interfaces[out->count++];
    snprintf(interface->name, sizeof interface->name, "%s", entry->ifa_name);
    interface->index = if_nametoindex(entry->ifa_name);
    interface->flags = entry->ifa_flags;
    interface->mtu = read_mtu(probe, entry->ifa_name);
    return interface;
}

static void add_interface_address(struct nd_hostinfo_interface *interface,
                                  const struct ifaddrs *entry)
{
    if (interface->address_count == ND_HOSTINFO_INTERFACE_ADDRESSES_MAX) {
        interface->addresses_truncated = true;
        return;
    }
    struct nd_hostinfo_interface_address *slot = &interface->addresses[interface->address_count++];
    int family = entry->ifa_addr->sa_family;
    slot->address.family = family;
    nd_net_format_host(entry->ifa_addr, slot->address.text, sizeof slot->address.text);
    slot->prefix_length = nd_hostinfo_prefix_length(entry->ifa_netmask);
    /* ifa_broadaddr and ifa_dstaddr are one union (ifa_ifu); the interface
     * flags say which of the two it holds. */
    const struct sockaddr *other = entry->ifa_ifu.ifu_broadaddr;
    if (!other || other->sa_family != family)
        return;
    if (entry->ifa_flags & IFF_POINTOPOINT)
        nd_net_format_host(other, slot->peer, sizeof slot->peer);
    else if ((entry->ifa_flags & IFF_BROADCAST) && family == AF_INET)
        nd_net_format_host(other, slot->broadcast, sizeof slot->broadcast);
}

static void add_entry(struct nd_hostinfo_interfaces *out, const struct ifaddrs *entry, int probe)
{
    struct nd_hostinfo_interface *interface = find_or_add_interface(out, entry, probe);
    if (!interface)
        return;
    if (entry->ifa_addr && entry->ifa_addr->sa_family == AF_PACKET)
        format_hardware_address((const struct sockaddr_ll *)entry->ifa_addr,
                                interface->hardware_address);
    else if (is_internet_family(entry->ifa_addr))
        add_interface_address(interface, entry);
}

enum nd_err nd_hostinfo_interfaces(struct nd_hostinfo_interfaces *out, struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    /* SIOCGIFMTU is answered by the kernel's device layer whatever the
     * socket's family; an AF_INET datagram socket is the cheapest to open. */
    int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return nd_error_set_errno(error, errno, "socket");
    struct ifaddrs *list = NULL;
    enum nd_err code = ND_OK;
    if (getifaddrs(&list) != 0) {
        code = nd_error_set_errno(error, errno, "getifaddrs");
    } else {
        for (const struct ifaddrs *entry = list; entry; entry = entry->ifa_next)
            add_entry(out, entry, probe);
        freeifaddrs(list);
    }
    if (close(probe) != 0 && code == ND_OK)
        code = nd_error_set_errno(error, errno, "close");
    return code;
}
