#include "http/probe.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "netdiag/clock.h"
#include "netdiag/net.h"

/* Milliseconds left until deadline_ns, rounded up so that poll never
 * spins with 0 while time remains. */
static int remaining_ms(uint64_t deadline_ns)
{
    uint64_t now = nd_clock_monotonic_ns();
    return now < deadline_ns ? (int)((deadline_ns - now + 999999u) / 1000000u) : 0;
}

/* Waits for fd to be ready for events; false on timeout or error. */
static bool wait_for(int fd, short events, uint64_t deadline_ns)
{
    struct pollfd entry = {.fd = fd, .events = events};
    for (;;) {
        int n = poll(&entry, 1, remaining_ms(deadline_ns));
        if (n > 0)
            return true;
        if (n == 0 || errno != EINTR)
            return false;
    }
}

/* The connection, plain or TLS (session not NULL). */
struct channel {
    int fd;
    gnutls_session_t session;
    gnutls_certificate_credentials_t credentials;
};

/* A TLS call that must wait says which way through the record direction. */
static short tls_waits_for(const struct channel *channel)
{
    return gnutls_record_get_direction(channel->session) ? POLLOUT : POLLIN;
}

/* Bytes moved, 0 at end of stream, -1 with errno EAGAIN to wait for
 * *events, or -1 with error set. */
static ssize_t channel_io(struct channel *channel, bool sending, void *data, size_t length,
                          short *events, struct nd_error *error)
{
    *events = sending ? POLLOUT : POLLIN;
    if (!channel->session) {
        ssize_t n = sending ? send(channel->fd, data, length, MSG_NOSIGNAL)
                            : recv(channel->fd, data, length, 0);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            nd_error_set_errno(error, errno, sending ? "send" : "recv");
        if (n < 0 && errno == EINTR)
            errno = EAGAIN;
        return n;
    }
    ssize_t n = sending ? gnutls_record_send(channel->session, data, length)
                        : gnutls_record_recv(channel->session, data, length);
    if (n >= 0)
        return n;
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
        *events = tls_waits_for(channel);
        errno = EAGAIN;
        return -1;
    }
    if (n == GNUTLS_E_PREMATURE_TERMINATION)
        return 0;
    nd_error_set(error, ND_ERR_PROTOCOL, "TLS: %s", gnutls_strerror((int)n));
    errno = EPROTO;
    return -1;
}

static enum nd_err exchange(struct channel *channel, const char *request, size_t length,
                            unsigned *status, uint64_t deadline_ns, struct nd_error *error)
{
    size_t sent = 0;
    short events = POLLOUT;
    while (sent < length) {
        if (!wait_for(channel->fd, events, deadline_ns))
            return nd_error_set(error, ND_ERR_TIMEOUT, "timed out sending the request");
        ssize_t n =
            channel_io(channel, true, (char *)request + sent, length - sent, &events, error);
        if (n < 0 && errno != EAGAIN)
            return error ? error->code : ND_ERR_SYSTEM;
        if (n > 0)
            sent += (size_t)n;
    }
    char answer[64];
    size_t received = 0;
    events = POLLIN;
    while (received < 12) {
        if (!wait_for(channel->fd, events, deadline_ns))
            return nd_error_set(error, ND_ERR_TIMEOUT, "timed out waiting for the answer");
        ssize_t n = channel_io(channel, false, answer + received, sizeof answer - 1 - received,
                               &events, error);
        if (n == 0)
            break;
        if (n < 0 && errno != EAGAIN)
            return error ? error->code : ND_ERR_SYSTEM;
        if (n > 0)
            received += (size_t)n;
    }
    answer[received] = '\0';
    unsigned code;
    if (sscanf(answer, "HTTP/1.%*1[01] %3u", &code) != 1)
        return nd_error_set(error, ND_ERR_PROTOCOL, "the answer is not HTTP");
    *status = code;
    return ND_OK;
}

/* The health check asks the process beside it: the certificate is not
 * checked, only that TLS works. */
static enum nd_err start_tls(struct channel *channel, uint64_t deadline_ns, struct nd_error *error)
{
    int status = gnutls_certificate_allocate_credentials(&channel->credentials);
    if (status >= 0)
        status = gnutls_init(&channel->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (status >= 0)
        status = gnutls_set_default_priority(channel->session);
    if (status >= 0)
        status =
            gnutls_credentials_set(channel->session, GNUTLS_CRD_CERTIFICATE, channel->credentials);
    if (status < 0)
        return nd_error_set(error, ND_ERR_SYSTEM, "TLS: %s", gnutls_strerror(status));
    gnutls_transport_set_int(channel->session, channel->fd);
    for (;;) {
        status = gnutls_handshake(channel->session);
        if (status >= 0)
            return ND_OK;
        if (gnutls_error_is_fatal(status))
            return nd_error_set(error, ND_ERR_PROTOCOL, "TLS handshake: %s",
                                gnutls_strerror(status));
        if (!wait_for(channel->fd, tls_waits_for(channel), deadline_ns))
            return nd_error_set(error, ND_ERR_TIMEOUT, "timed out in the TLS handshake");
    }
}

enum nd_err nd_http_probe(const char *url, int timeout_ms, unsigned *status, struct nd_error *error)
{
    static const char plain[] = "http://", secure[] = "https://";
    bool tls = strncmp(url, secure, sizeof secure - 1) == 0;
    if (!tls && strncmp(url, plain, sizeof plain - 1) != 0)
        return nd_error_set(error, ND_ERR_INVALID, "'%s' is not an http:// or https:// URL", url);
    const char *authority = url + (tls ? sizeof secure : sizeof plain) - 1;
    const char *path = strchr(authority, '/');
    char endpoint_text[ND_NET_HOST_MAX + 16];
    size_t authority_length = path ? (size_t)(path - authority) : strlen(authority);
    if (authority_length >= sizeof endpoint_text)
        return nd_error_set(error, ND_ERR_INVALID, "the URL's host is too long");
    memcpy(endpoint_text, authority, authority_length);
    endpoint_text[authority_length] = '\0';
    struct nd_net_endpoint endpoint;
    if (nd_net_parse_endpoint(endpoint_text, &endpoint, error) != ND_OK)
        return ND_ERR_INVALID;

    uint64_t deadline_ns = nd_clock_monotonic_ns() + (uint64_t)timeout_ms * 1000000u;

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)endpoint.port);
    int gai = getaddrinfo(endpoint.host, port, &hints, &list);
    if (gai != 0)
        return nd_error_set_gai(error, gai, errno, "getaddrinfo");
    int fd = socket(list->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int saved = errno;
        freeaddrinfo(list);
        return nd_error_set_errno(error, saved, "socket");
    }
    int rc = connect(fd, list->ai_addr, list->ai_addrlen);
    freeaddrinfo(list);
    enum nd_err err = ND_OK;
    if (rc != 0 && errno != EINPROGRESS) {
        err = nd_error_set_errno(error, errno, "connect");
    } else if (rc != 0) {
        int failure = 0;
        socklen_t failure_length = sizeof failure;
        if (!wait_for(fd, POLLOUT, deadline_ns))
            err = nd_error_set(error, ND_ERR_TIMEOUT, "timed out connecting to %s", endpoint_text);
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &failure_length) != 0)
            err = nd_error_set_errno(error, errno, "getsockopt(SO_ERROR)");
        else if (failure != 0)
            err = nd_error_set_errno(error, failure, "connect");
    }
    struct channel channel = {.fd = fd};
    if (err == ND_OK && tls)
        err = start_tls(&channel, deadline_ns, error);
    if (err == ND_OK) {
        char request[4096 + 2 * ND_NET_HOST_MAX];
        int length =
            snprintf(request, sizeof request,
                     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: netdiag-healthcheck\r\n\r\n",
                     path ? path : "/", endpoint_text);
        if (length < 0 || (size_t)length >= sizeof request)
            err = nd_error_set(error, ND_ERR_INVALID, "the URL is too long");
        else
            err = exchange(&channel, request, (size_t)length, status, deadline_ns, error);
    }
    if (channel.session)
        gnutls_deinit(channel.session);
    if (channel.credentials)
        gnutls_certificate_free_credentials(channel.credentials);
    if (close(fd) != 0 && err == ND_OK)
        err = nd_error_set_errno(error, errno, "close");
    return err;
}
