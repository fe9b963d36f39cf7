#include "netdiag/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netdiag/format.h"
#include "netdiag/parse.h"

enum nd_err nd_net_parse_endpoint(const char *text, struct nd_net_endpoint *out,
                                  struct nd_error *error)
{
    const char *host_start = text;
    const char *host_end;
    const char *port_text;

    if (!text || text[0] == '\0')
        return nd_error_set(error, ND_ERR_INVALID, "empty address (expected HOST:PORT)");
    if (text[0] == '[') {
        host_start = text + 1;
        host_end = strchr(host_start, ']');
        if (!host_end || host_end[1] != ':')
            return nd_error_set(error, ND_ERR_INVALID,
                                "'%s' is not [IPV6]:PORT (missing ']' or ':PORT')", text);
        port_text = host_end + 2;
    } else {
        host_end = strrchr(text, ':');
        if (!host_end)
            return nd_error_set(error, ND_ERR_INVALID, "'%s' has no port (expected HOST:PORT)",
                                text);
        if (memchr(text, ':', (size_t)(host_end - text)))
            return nd_error_set(error, ND_ERR_INVALID,
                                "'%s': write IPv6 addresses in brackets, e.g. [::]:8080", text);
        port_text = host_end + 1;
    }
    size_t host_length = (size_t)(host_end - host_start);
    if (host_length == 0)
        return nd_error_set(error, ND_ERR_INVALID, "'%s' has an empty host (use * for any)", text);
    if (host_length >= sizeof out->host)
        return nd_error_set(error, ND_ERR_INVALID, "host in '%.40s...' is too long", text);

    uint64_t port;
    enum nd_err err = nd_parse_decimal(port_text, 65535, &port);
    if (err != ND_OK)
        return nd_error_set(error, err, "'%s' is not a port number 0-65535", port_text);

    memcpy(out->host, host_start, host_length);
    out->host[host_length] = '\0';
    out->port = (uint16_t)port;
    return ND_OK;
}

enum nd_err nd_net_parse_host_port(const char *text, uint16_t default_port,
                                   struct nd_net_endpoint *out, struct nd_error *error)
{
    if (!text || text[0] == '\0')
        return nd_error_set(error, ND_ERR_INVALID, "empty host");
    const char *first_colon = strchr(text, ':');
    const char *host_start = text, *host_end, *port_text = NULL;
    if (text[0] == '[') {
        host_start = text + 1;
        host_end = strchr(host_start, ']');
        if (!host_end || (host_end[1] != '\0' && host_end[1] != ':'))
            return nd_error_set(error, ND_ERR_INVALID, "'%.64s' is not [IPV6] or [IPV6]:PORT",
                                text);
        if (host_end[1] == ':')
            port_text = host_end + 2;
    } else if (first_colon && strchr(first_colon + 1, ':')) {
        host_end = text + strlen(text); /* a bare IPv6 literal */
    } else if (first_colon) {
        host_end = first_colon;
        port_text = first_colon + 1;
    } else {
        host_end = text + strlen(text);
    }
    size_t host_length = (size_t)(host_end - host_start);
    if (host_length == 0)
        return nd_error_set(error, ND_ERR_INVALID, "'%.64s' has an empty host", text);
    if (host_length >= sizeof out->host)
        return nd_error_set(error, ND_ERR_INVALID, "the host in '%.40s...' is too long", text);
    uint64_t port = default_port;
    if (port_text) {
        enum nd_err err = nd_parse_decimal(port_text, 65535, &port);
        if (err != ND_OK || port == 0)
            return nd_error_set(error, err != ND_OK ? err : ND_ERR_RANGE,
                                "'%.16s' is not a port number 1-65535", port_text);
    }
    memcpy(out->host, host_start, host_length);
    out->host[host_length] = '\0';
    out->port = (uint16_t)port;
    return ND_OK;
}

/* backlog < 0: a datagram socket, bound and not listening. */
static enum nd_err listen_on(const struct sockaddr *address, socklen_t length, int backlog,
                             bool dual_stack, int *fd_out, struct nd_error *error)
{
    int type = backlog < 0 ? SOCK_DGRAM : SOCK_STREAM;
    int fd = socket(address->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return nd_error_set_errno(error, errno, "socket");

    /* A restarted server must be able to bind while old connections sit in
     * TIME_WAIT (the recipe 10 lesson). */
    int on = 1;
    if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
        goto fail;
    if (address->sa_family == AF_INET6) {
        int v6only = dual_stack ? 0 : 1;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0)
            goto fail;
    }
    if (bind(fd, address, length) != 0) {
        int saved = errno;
        close(fd);
        return nd_error_set_errno(error, saved, "bind");
    }
    if (type == SOCK_STREAM && listen(fd, backlog) != 0)
        goto fail;
    *fd_out = fd;
    return ND_OK;

fail : {
    int saved = errno;
    close(fd);
    return nd_error_set_errno(error, saved, "setsockopt/listen");
}
}

static enum nd_err bind_endpoint(const struct nd_net_endpoint *endpoint, int backlog, int *fd_out,
                                 struct sockaddr_storage *bound, socklen_t *bound_length,
                                 struct nd_error *error)
{
    enum nd_err err;
    int fd = -1;

    if (strcmp(endpoint->host, "*") == 0) {
        struct sockaddr_in6 any6 = {.sin6_family = AF_INET6,
                                    .sin6_port = htons(endpoint->port),
                                    .sin6_addr = IN6ADDR_ANY_INIT};
        err = listen_on((const struct sockaddr *)&any6, sizeof any6, backlog, true, &fd, error);
        if (err != ND_OK && error && error->os_error == EAFNOSUPPORT) {
            struct sockaddr_in any4 = {.sin_family = AF_INET,
                                       .sin_port = htons(endpoint->port),
                                       .sin_addr.s_addr = htonl(INADDR_ANY)};
            err =
                listen_on((const struct sockaddr *)&any4, sizeof any4, backlog, false, &fd, error);
        }
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = backlog < 0 ? SOCK_DGRAM : SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        struct addrinfo *list = NULL;
        char port_text[8];
        snprintf(port_text, sizeof port_text, "%u", (unsigned)endpoint->port);
        int gai = getaddrinfo(endpoint->host, port_text, &hints, &list);
        if (gai != 0)
            return nd_error_set_gai(error, gai, errno, "getaddrinfo");
        err = ND_ERR_NOT_FOUND;
        nd_error_set(error, err, "'%s' has no address to listen on", endpoint->host);
        for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
            /* An explicit [::] means IPv6 and, as on Linux by default, IPv4 too. */
            err = listen_on(ai->ai_addr, ai->ai_addrlen, backlog, true, &fd, error);
            if (err == ND_OK)
                break;
        }
        freeaddrinfo(list);
    }
    if (err != ND_OK)
        return err;

    *bound_length = sizeof *bound;
    if (getsockname(fd, (struct sockaddr *)bound, bound_length) != 0) {
        int saved = errno;
        close(fd);
        return nd_error_set_errno(error, saved, "getsockname");
    }
    *fd_out = fd;
    return ND_OK;
}

enum nd_err nd_net_listen_tcp(const struct nd_net_endpoint *endpoint, int backlog, int *fd_out,
                              struct sockaddr_storage *bound, socklen_t *bound_length,
                              struct nd_error *error)
{
    return bind_endpoint(endpoint, backlog < 0 ? 0 : backlog, fd_out, bound, bound_length, error);
}

socklen_t nd_net_address_from_literal(const char *text, uint16_t port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return sizeof *v4;
    }
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return sizeof *v6;
    }
    memset(out, 0, sizeof *out);
    return 0;
}

enum nd_err nd_net_defer_accept(int fd, int seconds, struct nd_error *error)
{
    if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) != 0)
        return nd_error_set_errno(error, errno, "setsockopt TCP_DEFER_ACCEPT");
    return ND_OK;
}

enum nd_err nd_net_bind_udp(const struct nd_net_endpoint *endpoint, int *fd_out,
                            struct sockaddr_storage *bound, socklen_t *bound_length,
                            struct nd_error *error)
{
    return bind_endpoint(endpoint, -1, fd_out, bound, bound_length, error);
}

char *nd_net_format_ipv4(const uint8_t octets[4], char *out)
{
    for (int i = 0; i < 4; i++) {
        unsigned value = octets[i];
        if (i > 0)
            *out++ = '.';
        if (value >= 100)
            *out++ = (char)('0' + value / 100);
        if (value >= 10)
            *out++ = (char)('0' + value / 10 % 10);
        *out++ = (char)('0' + value % 10);
    }
    return out;
}

/* Copies text whole or cut to size - 1 bytes, always NUL-terminated. */
static void copy_cut(char *out, size_t size, const char *text, size_t length)
{
    if (size == 0)
        return;
    if (length > size - 1)
        length = size - 1;
    memcpy(out, text, length);
    out[length] = '\0';
}

uint16_t nd_net_port(const struct sockaddr *address)
{
    if (address->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)address)->sin_port);
    if (address->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)address)->sin6_port);
    return 0;
}

const char *nd_net_format_host(const struct sockaddr *address, char *text, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    size_t length;
    if (address->sa_family == AF_INET) {
        const void *raw = &((const struct sockaddr_in *)address)->sin_addr;
        length = (size_t)(nd_net_format_ipv4(raw, host) - host);
    } else if (address->sa_family == AF_INET6 &&
               inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)address)->sin6_addr, host,
                         sizeof host)) {
        length = strlen(host);
    } else {
        host[0] = '?';
        length = 1;
    }
    copy_cut(text, size, host, length);
    return text;
}

const char *nd_net_format_address(const struct sockaddr *address, char *text, size_t size)
{
    char whole[ND_NET_ADDRESS_TEXT_MAX];
    char *end = whole;
    uint16_t port;
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *ipv4 = (const struct sockaddr_in *)address;
        end = nd_net_format_ipv4((const uint8_t *)&ipv4->sin_addr, end);
        port = ntohs(ipv4->sin_port);
    } else if (address->sa_family == AF_INET6) {
        *end++ = '[';
        nd_net_format_host(address, end, sizeof whole - 1);
        end += strlen(end);
        *end++ = ']';
        port = ntohs(((const struct sockaddr_in6 *)address)->sin6_port);
    } else {
        copy_cut(text, size, "?", 1);
        return text;
    }
    *end++ = ':';
    end += nd_format_decimal(port, end);
    copy_cut(text, size, whole, (size_t)(end - whole));
    return text;
}
