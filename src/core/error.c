#include "netdiag/error.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct err_info {
    const char *name;
    const char *message;
};

static const struct err_info err_table[ND_ERR__COUNT] = {
    [ND_OK] = {"ND_OK", "success"},
    [ND_ERR_INVALID] = {"ND_ERR_INVALID", "invalid argument"},
    [ND_ERR_RANGE] = {"ND_ERR_RANGE", "value out of range"},
    [ND_ERR_NOT_FOUND] = {"ND_ERR_NOT_FOUND", "not found"},
    [ND_ERR_SYSTEM] = {"ND_ERR_SYSTEM", "system call failed"},
    [ND_ERR_RESOLVE] = {"ND_ERR_RESOLVE", "name resolution failed"},
    [ND_ERR_TIMEOUT] = {"ND_ERR_TIMEOUT", "timed out"},
    [ND_ERR_PROTOCOL] = {"ND_ERR_PROTOCOL", "protocol violation by the peer"},
    [ND_ERR_NO_MEMORY] = {"ND_ERR_NO_MEMORY", "out of memory"},
    [ND_ERR_BUSY] = {"ND_ERR_BUSY", "resource busy"},
    [ND_ERR_FORBIDDEN] = {"ND_ERR_FORBIDDEN", "forbidden by policy"},
    [ND_ERR_STOPPING] = {"ND_ERR_STOPPING", "shutting down"},
    [ND_ERR_MISSING] = {"ND_ERR_MISSING", "a required input is missing"},
    [ND_ERR_UNEXPECTED] = {"ND_ERR_UNEXPECTED", "an input that is not accepted"},
    [ND_ERR_DUPLICATE] = {"ND_ERR_DUPLICATE", "an input given more than once"},
    [ND_ERR_TOO_MANY] = {"ND_ERR_TOO_MANY", "more values than allowed"},
    [ND_ERR_ENCODING] = {"ND_ERR_ENCODING", "broken encoding"},
    [ND_ERR_MALFORMED] = {"ND_ERR_MALFORMED", "malformed message"},
    [ND_ERR_FAMILY_UNSUPPORTED] = {"ND_ERR_FAMILY_UNSUPPORTED", "address family not supported"},
    [ND_ERR_NOT_ALLOWED] = {"ND_ERR_NOT_ALLOWED", "operation not allowed"},
    [ND_ERR_TOO_LARGE] = {"ND_ERR_TOO_LARGE", "too large"},
    [ND_ERR_HEAD_TOO_LARGE] = {"ND_ERR_HEAD_TOO_LARGE", "message head too large"},
    [ND_ERR_UNAUTHENTICATED] = {"ND_ERR_UNAUTHENTICATED", "no valid credentials"},
    [ND_ERR_INTERNAL] = {"ND_ERR_INTERNAL", "internal error"},
};

const char *nd_err_name(enum nd_err code)
{
    if ((unsigned)code >= ND_ERR__COUNT)
        return "ND_ERR_UNKNOWN";
    return err_table[code].name;
}

const char *nd_strerror(enum nd_err code)
{
    if ((unsigned)code >= ND_ERR__COUNT)
        return "unknown error";
    return err_table[code].message;
}

struct named_value {
    int value;
    const char *name;
};

#define NAMED(x)                                                                                   \
    {                                                                                              \
        x, #x                                                                                      \
    }

static const struct named_value gai_names[] = {
    NAMED(EAI_BADFLAGS), NAMED(EAI_NONAME),   NAMED(EAI_AGAIN),   NAMED(EAI_FAIL),
    NAMED(EAI_FAMILY),   NAMED(EAI_SOCKTYPE), NAMED(EAI_SERVICE), NAMED(EAI_MEMORY),
    NAMED(EAI_SYSTEM),   NAMED(EAI_OVERFLOW), NAMED(EAI_NODATA),  NAMED(EAI_ADDRFAMILY),
};

static const struct named_value errno_names[] = {
    NAMED(EPERM),        NAMED(ENOENT),       NAMED(EINTR),           NAMED(EIO),
    NAMED(EBADF),        NAMED(EAGAIN),       NAMED(ENOMEM),          NAMED(EACCES),
    NAMED(EFAULT),       NAMED(EBUSY),        NAMED(EEXIST),          NAMED(EINVAL),
    NAMED(ENFILE),       NAMED(EMFILE),       NAMED(ENOSPC),          NAMED(EPIPE),
    NAMED(ERANGE),       NAMED(ENOSYS),       NAMED(ENOTSOCK),        NAMED(EMSGSIZE),
    NAMED(EPROTOTYPE),   NAMED(ENOPROTOOPT),  NAMED(EPROTONOSUPPORT), NAMED(EOPNOTSUPP),
    NAMED(EAFNOSUPPORT), NAMED(EADDRINUSE),   NAMED(EADDRNOTAVAIL),   NAMED(ENETDOWN),
    NAMED(ENETUNREACH),  NAMED(ECONNABORTED), NAMED(ECONNRESET),      NAMED(ENOBUFS),
    NAMED(EISCONN),      NAMED(ENOTCONN),     NAMED(ETIMEDOUT),       NAMED(ECONNREFUSED),
    NAMED(EHOSTDOWN),    NAMED(EHOSTUNREACH), NAMED(EALREADY),        NAMED(EINPROGRESS),
};

#undef NAMED

static const char *find_name(const struct named_value *table, size_t count, int value,
                             const char *fallback)
{
    for (size_t i = 0; i < count; i++) {
        if (table[i].value == value)
            return table[i].name;
    }
    return fallback;
}

const char *nd_gai_name(int gai_error)
{
    return find_name(gai_names, sizeof gai_names / sizeof gai_names[0], gai_error, "EAI_UNKNOWN");
}

const char *nd_errno_name(int os_error)
{
    return find_name(errno_names, sizeof errno_names / sizeof errno_names[0], os_error,
                     "E_UNKNOWN");
}

void nd_error_clear(struct nd_error *error)
{
    if (!error)
        return;
    error->code = ND_OK;
    error->os_error = 0;
    error->gai_error = 0;
    error->message[0] = '\0';
}

enum nd_err nd_error_set(struct nd_error *error, enum nd_err code, const char *format, ...)
{
    if (!error)
        return code;
    nd_error_clear(error);
    error->code = code;
    if (format) {
        va_list args;
        va_start(args, format);
        vsnprintf(error->message, sizeof error->message, format, args);
        va_end(args);
    }
    return code;
}

enum nd_err nd_error_set_errno(struct nd_error *error, int os_error, const char *call)
{
    if (!error)
        return ND_ERR_SYSTEM;
    char text[128];
    /* GNU strerror_r may return a static string instead of filling text. */
    const char *reason = strerror_r(os_error, text, sizeof text);
    nd_error_set(error, ND_ERR_SYSTEM, "%s: %s", call, reason);
    error->os_error = os_error;
    return ND_ERR_SYSTEM;
}

enum nd_err nd_error_set_gai(struct nd_error *error, int gai_error, int os_error, const char *call)
{
    if (!error)
        return ND_ERR_RESOLVE;
    if (gai_error == EAI_SYSTEM) {
        char text[128];
        const char *reason = strerror_r(os_error, text, sizeof text);
        nd_error_set(error, ND_ERR_RESOLVE, "%s: %s", call, reason);
        error->os_error = os_error;
    } else {
        nd_error_set(error, ND_ERR_RESOLVE, "%s: %s", call, gai_strerror(gai_error));
    }
    error->gai_error = gai_error;
    return ND_ERR_RESOLVE;
}
