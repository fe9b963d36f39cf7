/*
 * Listening sockets and address text shared by the HTTP server and the echo
 * listener: "HOST:PORT" parsing, bind with the options a server wants, and
 * printing a socket address back as "HOST:PORT".
 */
#ifndef NETDIAG_NET_H
#define NETDIAG_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "netdiag/error.h"

enum { ND_NET_HOST_MAX = 256, ND_NET_ADDRESS_TEXT_MAX = 64 };

struct nd_net_endpoint {
    char host[ND_NET_HOST_MAX]; /* "*" means every address, IPv6 too where the host has it */
    uint16_t port;
};

/* Parses "HOST:PORT", "[IPV6]:PORT" or "*:PORT". Port 0 asks the kernel for
 * any free port. ND_ERR_INVALID with a message naming what is wrong. */
enum nd_err nd_net_parse_endpoint(const char *text, struct nd_net_endpoint *out,
                                  struct nd_error *error);

/* A destination: "host", "host:port", "[IPV6]:port", "[IPV6]" or a bare
 * IPv6 literal ("::1", which cannot carry a port). default_port fills in a
 * missing port; port 0 is refused, since nothing can be reached there. The
 * host is copied as given: checking it as a name is the caller's part. */
enum nd_err nd_net_parse_host_port(const char *text, uint16_t default_port,
                                   struct nd_net_endpoint *out, struct nd_error *error);

/* Creates a non-blocking, close-on-exec TCP socket bound to the endpoint and
 * listening with the given backlog. "*" binds [::] with IPV6_V6ONLY off, so one
 * socket serves IPv4 and IPv6, and falls back to 0.0.0.0 on hosts without
 * IPv6. The caller owns *fd_out and closes it. The address actually bound
 * (with the kernel's port for port 0) is written to bound/bound_length. */
enum nd_err nd_net_listen_tcp(const struct nd_net_endpoint *endpoint, int backlog, int *fd_out,
                              struct sockaddr_storage *bound, socklen_t *bound_length,
                              struct nd_error *error);

/* A listening socket whose connections are handed to accept() only once
 * their first bytes came (TCP_DEFER_ACCEPT), or after about seconds without
 * any: for a protocol whose client speaks first (HTTP, TLS), the server
 * wakes once per connection instead of at the handshake and again at the
 * request, and a connection that never sends costs it nothing. The client
 * sees no difference: its connect() completes at the handshake. */
enum nd_err nd_net_defer_accept(int fd, int seconds, struct nd_error *error);

/* The same for UDP: a non-blocking, close-on-exec datagram socket bound to
 * the endpoint ("*" as above). */
enum nd_err nd_net_bind_udp(const struct nd_net_endpoint *endpoint, int *fd_out,
                            struct sockaddr_storage *bound, socklen_t *bound_length,
                            struct nd_error *error);

/* "127.0.0.1:8080" or "[::1]:8080" into text (at least ND_NET_ADDRESS_TEXT_MAX
 * bytes; a shorter buffer gets the text cut, NUL-terminated). Returns text;
 * "?" for families other than IPv4 and IPv6. */
const char *nd_net_format_address(const struct sockaddr *address, char *text, size_t size);

/* The numeric address alone, without the port: "127.0.0.1" or "::1". */
const char *nd_net_format_host(const struct sockaddr *address, char *text, size_t size);

/* An IPv4 or IPv6 literal (what inet_pton accepts: no "[...]", no zone)
 * with port (host order) as a socket address, the rest of *out zeroed. The
 * address's length, or 0 when text is not such a literal. */
socklen_t nd_net_address_from_literal(const char *text, uint16_t port,
                                      struct sockaddr_storage *out);

/* The port of an IPv4 or IPv6 address, in host order; 0 for other families. */
uint16_t nd_net_port(const struct sockaddr *address);

/* The dotted text of four octets, the same as inet_ntop(AF_INET) writes but
 * without its trip through sprintf (a tenth of a request on the hot paths that
 * print addresses). Writes at most 15 characters and no NUL; returns the end. */
char *nd_net_format_ipv4(const uint8_t octets[4], char *out);

#endif
