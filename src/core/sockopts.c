#include "netdiag/sockopts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct option_info {
    const char *name;
    const char *level_name;
    const char *call_name;
    int level;
    int option; /* for SOL_SOCKET / IPPROTO_TCP integer options */
};

static const struct option_info options[ND_SOCKOPTS_OPTION_COUNT] = {
    [ND_SOCKOPTS_REUSEADDR] = {"reuseaddr", "SOL_SOCKET", "SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR},
    [ND_SOCKOPTS_SNDBUF] = {"sndbuf", "SOL_SOCKET", "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF},
    [ND_SOCKOPTS_RCVBUF] = {"rcvbuf", "SOL_SOCKET", "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF},
    [ND_SOCKOPTS_NODELAY] = {"nodelay", "IPPROTO_TCP", "TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY},
    [ND_SOCKOPTS_TIMEOUT] = {"timeout", "SOL_SOCKET", "SO_RCVTIMEO/SO_SNDTIMEO", SOL_SOCKET, 0},
    [ND_SOCKOPTS_BLOCKING] = {"blocking", "fcntl", "O_NONBLOCK", 0, 0},
};

const char *nd_sockopts_option_name(enum nd_sockopts_option option)
{
    return (unsigned)option < ND_SOCKOPTS_OPTION_COUNT ? options[option].name : "unknown";
}

const char *nd_sockopts_option_level(enum nd_sockopts_option option)
{
    return (unsigned)option < ND_SOCKOPTS_OPTION_COUNT ? options[option].level_name : "unknown";
}

const char *nd_sockopts_option_call(enum nd_sockopts_option option)
{
    return (unsigned)option < ND_SOCKOPTS_OPTION_COUNT ? options[option].call_name : "unknown";
}

enum nd_err nd_sockopts_validate(const struct nd_sockopts_request *request,
                                 enum nd_sockopts_option *bad, struct nd_error *error)
{
    for (int i = 0; i < ND_SOCKOPTS_OPTION_COUNT; i++) {
        if (!request->present[i])
            continue;
        enum nd_sockopts_option option = (enum nd_sockopts_option)i;
        int64_t value = request->value[i];
        int64_t max = 1;
        if (option == ND_SOCKOPTS_SNDBUF || option == ND_SOCKOPTS_RCVBUF)
            max = ND_SOCKOPTS_BUFFER_MAX;
        else if (option == ND_SOCKOPTS_TIMEOUT)
            max = (int64_t)ND_SOCKOPTS_TIMEOUT_MAX_S * 1000000;
        if (option == ND_SOCKOPTS_TIMEOUT && value == ND_SOCKOPTS_TIMEOUT_NONE)
            continue;
        if (value < 0 || value > max) {
            *bad = option;
            return nd_error_set(error, ND_ERR_RANGE, "%s must be between 0 and %lld, not %lld",
                                options[i].name, (long long)max, (long long)value);
        }
        if (option == ND_SOCKOPTS_NODELAY && request->type == ND_SOCKOPTS_UDP) {
            *bad = option;
            return nd_error_set(error, ND_ERR_INVALID,
                                "TCP_NODELAY (nodelay) applies to TCP sockets, not UDP");
        }
    }
    return ND_OK;
}

/* The file status flags, where O_NONBLOCK (the recipe's setblocking) lives. */
static enum nd_err get_status_flags(int fd, int *flags, struct nd_error *error)
{
    *flags = fcntl(fd, F_GETFL);
    if (*flags < 0)
        return nd_error_set_errno(error, errno, "fcntl(F_GETFL)");
    return ND_OK;
}

static enum nd_err read_option(int fd, enum nd_sockopts_option option, int64_t *value,
                               struct nd_error *error)
{
    const struct option_info *info = &options[option];
    char call[64];
    if (option == ND_SOCKOPTS_BLOCKING) {
        int flags;
        enum nd_err err = get_status_flags(fd, &flags, error);
        if (err == ND_OK)
            *value = (flags & O_NONBLOCK) ? 0 : 1;
        return err;
    }
    if (option == ND_SOCKOPTS_TIMEOUT) {
        /* What Python's gettimeout() would say: 0.0 for a non-blocking
         * socket, None for a blocking one without a time limit. */
        int flags;
        enum nd_err err = get_status_flags(fd, &flags, error);
        if (err != ND_OK)
            return err;
        struct timeval timeout;
        socklen_t length = sizeof timeout;
        if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, &length) != 0)
            return nd_error_set_errno(error, errno, "getsockopt(SO_RCVTIMEO)");
        int64_t microseconds = (int64_t)timeout.tv_sec * 1000000 + timeout.tv_usec;
        if (flags & O_NONBLOCK)
            *value = 0;
        else
            *value = microseconds == 0 ? ND_SOCKOPTS_TIMEOUT_NONE : microseconds;
        return ND_OK;
    }
    int number = 0;
    socklen_t length = sizeof number;
    if (getsockopt(fd, info->level, info->option, &number, &length) != 0) {
        snprintf(call, sizeof call, "getsockopt(%s)", info->call_name);
        return nd_error_set_errno(error, errno, call);
    }
    *value = number;
    return ND_OK;
}

static enum nd_err write_option(int fd, enum nd_sockopts_option option, int64_t value,
                                struct nd_error *error)
{
    const struct option_info *info = &options[option];
    char call[64];
    if (option == ND_SOCKOPTS_BLOCKING) {
        int flags;
        enum nd_err err = get_status_flags(fd, &flags, error);
        if (err != ND_OK)
            return err;
        flags = value ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
        if (fcntl(fd, F_SETFL, flags) != 0)
            return nd_error_set_errno(error, errno, "fcntl(F_SETFL, O_NONBLOCK)");
        return ND_OK;
    }
    if (option == ND_SOCKOPTS_TIMEOUT) {
        /* Python's settimeout(0) is setblocking(False), settimeout(None)
         * setblocking(True). settimeout(t) keeps its own deadline over a
         * non-blocking descriptor; the kernel's counterpart for blocking
         * calls is a receive and a send timeout. */
        int64_t microseconds = value > 0 ? value : 0;
        struct timeval timeout = {.tv_sec = (time_t)(microseconds / 1000000),
                                  .tv_usec = (suseconds_t)(microseconds % 1000000)};
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0)
            return nd_error_set_errno(error, errno, "setsockopt(SO_RCVTIMEO)");
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0)
            return nd_error_set_errno(error, errno, "setsockopt(SO_SNDTIMEO)");
        return write_option(fd, ND_SOCKOPTS_BLOCKING, value != 0, error);
    }
    int number = (int)value;
    if (setsockopt(fd, info->level, info->option, &number, sizeof number) != 0) {
        snprintf(call, sizeof call, "setsockopt(%s)", info->call_name);
        return nd_error_set_errno(error, errno, call);
    }
    return ND_OK;
}

static bool read_limit(const char *path, int64_t *value)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return false;
    long long number;
    bool ok = fscanf(file, "%lld", &number) == 1;
    fclose(file);
    if (ok)
        *value = number;
    return ok;
}

/* Explains a buffer size the kernel changed: socket(7) says the value is
 * doubled to leave room for bookkeeping, after clamping to
 * net.core.[wr]mem_max, and raised to a minimum (SOCK_MIN_SNDBUF/RCVBUF). */
static void explain_buffer(struct nd_sockopts_value *value, bool has_max, int64_t max,
                           const char *sysctl)
{
    int64_t requested = value->requested;
    int64_t effective = has_max && requested > max ? max : requested;
    if (value->after == requested)
        return;
    if (value->after == 2 * effective && effective < requested) {
        snprintf(value->note, sizeof value->note,
                 "the kernel clamped %lld to net.core.%s (%lld), then doubled it to allow for "
                 "bookkeeping overhead (socket(7))",
                 (long long)requested, sysctl, (long long)max);
    } else if (value->after == 2 * effective) {
        snprintf(value->note, sizeof value->note,
                 "the kernel doubled the requested %lld to allow for bookkeeping overhead "
                 "(socket(7)); getsockopt reports the doubled value",
                 (long long)requested);
    } else if (value->after > 2 * effective) {
        snprintf(value->note, sizeof value->note,
                 "the kernel raised %lld to its minimum buffer size (%lld after doubling)",
                 (long long)requested, (long long)value->after);
    } else {
        snprintf(value->note, sizeof value->note, "the kernel set %lld instead of %lld",
                 (long long)value->after, (long long)requested);
    }
}

static void explain(const struct nd_sockopts_request *request, struct nd_sockopts_result *out)
{
    struct nd_sockopts_value *send_buffer = &out->options[ND_SOCKOPTS_SNDBUF];
    struct nd_sockopts_value *receive_buffer = &out->options[ND_SOCKOPTS_RCVBUF];
    if (send_buffer->requested_present)
        explain_buffer(send_buffer, out->has_wmem_max, out->wmem_max, "wmem_max");
    if (receive_buffer->requested_present)
        explain_buffer(receive_buffer, out->has_rmem_max, out->rmem_max, "rmem_max");
    struct nd_sockopts_value *timeout = &out->options[ND_SOCKOPTS_TIMEOUT];
    snprintf(timeout->note, sizeof timeout->note,
             "Python's settimeout(): null (None) blocks until done, 0 makes the socket "
             "non-blocking (setblocking(False)), seconds > 0 are emulated with the kernel's "
             "SO_RCVTIMEO and SO_SNDTIMEO on a blocking socket%s",
             request->present[ND_SOCKOPTS_TIMEOUT] && timeout->requested > 0 &&
                     timeout->after != timeout->requested
                 ? "; the kernel rounded the value to its clock tick"
                 : "");
    struct nd_sockopts_value *blocking = &out->options[ND_SOCKOPTS_BLOCKING];
    snprintf(blocking->note, sizeof blocking->note,
             "Python's setblocking(False) is fcntl(F_SETFL, O_NONBLOCK) on the descriptor");
}

static enum nd_err bind_loopback(int fd, const struct nd_sockopts_request *request,
                                 struct nd_sockopts_result *out, struct nd_error *error)
{
    struct sockaddr_storage address;
    memset(&address, 0, sizeof address);
    socklen_t length;
    if (request->family == ND_SOCKOPTS_IPV4) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof *v4;
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_loopback;
        length = sizeof *v6;
    }
    if (bind(fd, (struct sockaddr *)&address, length) != 0)
        return nd_error_set_errno(error, errno, "bind");
    if (request->type == ND_SOCKOPTS_TCP && listen(fd, 1) != 0)
        return nd_error_set_errno(error, errno, "listen");
    length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0)
        return nd_error_set_errno(error, errno, "getsockname");
    const void *raw = request->family == ND_SOCKOPTS_IPV4
                          ? (const void *)&((struct sockaddr_in *)&address)->sin_addr
                          : (const void *)&((struct sockaddr_in6 *)&address)->sin6_addr;
    inet_ntop(address.ss_family, raw, out->bound_address, sizeof out->bound_address);
    out->bound_port =
        ntohs(request->family == ND_SOCKOPTS_IPV4 ? ((struct sockaddr_in *)&address)->sin_port
                                                  : ((struct sockaddr_in6 *)&address)->sin6_port);
    out->bound = true;
    return ND_OK;
}

static enum nd_err run_on(int fd, const struct nd_sockopts_request *request,
                          struct nd_sockopts_result *out, struct nd_error *error)
{
    enum nd_err err;
    for (int i = 0; i < ND_SOCKOPTS_OPTION_COUNT; i++) {
        struct nd_sockopts_value *value = &out->options[i];
        value->applicable = !(i == ND_SOCKOPTS_NODELAY && request->type == ND_SOCKOPTS_UDP);
        if (value->applicable && (err = read_option(fd, i, &value->before, error)) != ND_OK)
            return err;
    }
    for (int i = 0; i < ND_SOCKOPTS_OPTION_COUNT; i++) {
        if (!request->present[i])
            continue;
        out->options[i].requested_present = true;
        out->options[i].requested = request->value[i];
        if ((err = write_option(fd, i, request->value[i], error)) != ND_OK)
            return err;
    }
    for (int i = 0; i < ND_SOCKOPTS_OPTION_COUNT; i++) {
        struct nd_sockopts_value *value = &out->options[i];
        if (value->applicable && (err = read_option(fd, i, &value->after, error)) != ND_OK)
            return err;
    }
    explain(request, out);
    if (request->bind)
        return bind_loopback(fd, request, out, error);
    return ND_OK;
}

enum nd_err nd_sockopts_run(const struct nd_sockopts_request *request,
                            struct nd_sockopts_result *out, struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    enum nd_sockopts_option bad;
    enum nd_err err = nd_sockopts_validate(request, &bad, error);
    if (err != ND_OK)
        return err;
    out->has_wmem_max = read_limit("/proc/sys/net/core/wmem_max", &out->wmem_max);
    out->has_rmem_max = read_limit("/proc/sys/net/core/rmem_max", &out->rmem_max);

    int family = request->family == ND_SOCKOPTS_IPV4 ? AF_INET : AF_INET6;
    int type = request->type == ND_SOCKOPTS_TCP ? SOCK_STREAM : SOCK_DGRAM;
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return nd_error_set_errno(error, errno,
                                  family == AF_INET6 ? "socket(AF_INET6)" : "socket(AF_INET)");
    err = run_on(fd, request, out, error);
    if (close(fd) != 0 && err == ND_OK)
        err = nd_error_set_errno(error, errno, "close");
    return err;
}
