#include "http/probe.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

static enum nd_err exchange(int fd, const char *request, size_t length, unsigned *status,
                            uint64_t deadline_ns, struct nd_error *error)
{
    size_t sent = 0;
    while (sent < length) {
        if (!wait_for(fd, POLLOUT, deadline_ns))
            return nd_error_set(error, ND_ERR_TIMEOUT, "timed out sending the request");
        ssize_t n = send(fd, request + sent, length - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return nd_error_set_errno(error, errno, "send");
        if (n > 0)
            sent += (size_t)n;
    }
    char answer[64];
    size_t received = 0;
    while (received < 12) {
        if (!wait_for(fd, POLLIN, deadline_ns))
            return nd_error_set(error, ND_ERR_TIMEOUT, "timed out waiting for the answer");
        ssize_t n = recv(fd, answer + received, sizeof answer - 1 - received, 0);
        if (n == 0)
            break;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return nd_error_set_errno(error, errno, "recv");
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

enum nd_err nd_http_probe(const char *url, int timeout_ms, unsigned *status, struct nd_error *error)
{
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return nd_error_set(error, ND_ERR_INVALID, "'%s' is not an http:// URL", url);
    const char *authority = url + sizeof scheme - 1;
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
    if (err == ND_OK) {
        char request[4096 + 2 * ND_NET_HOST_MAX];
        int length =
            snprintf(request, sizeof request,
                     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: netdiag-healthcheck\r\n\r\n",
                     path ? path : "/", endpoint_text);
        if (length < 0 || (size_t)length >= sizeof request)
            err = nd_error_set(error, ND_ERR_INVALID, "the URL is too long");
        else
            err = exchange(fd, request, (size_t)length, status, deadline_ns, error);
    }
    if (close(fd) != 0 && err == ND_OK)
        err = nd_error_set_errno(error, errno, "close");
    return err;
}
