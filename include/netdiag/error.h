/*
 * netdiag's one error type. Every core function returns an enum nd_err and,
 * where a caller needs more than the code, fills a struct nd_error with the
 * operating system's errno or the resolver's EAI_* value and a message.
 * The HTTP layer maps each code to a status in one table (src/http/problem.c).
 */
#ifndef NETDIAG_ERROR_H
#define NETDIAG_ERROR_H

#include <stddef.h>

enum nd_err {
    ND_OK = 0,
    ND_ERR_INVALID,   /* the input is not of the expected form */
    ND_ERR_RANGE,     /* the input is well formed but outside the allowed range */
    ND_ERR_NOT_FOUND, /* the thing looked up does not exist */
    ND_ERR_SYSTEM,    /* a system call failed; os_error holds errno */
    ND_ERR_RESOLVE,   /* getaddrinfo/getnameinfo failed; gai_error holds EAI_* */
    ND_ERR_TIMEOUT,   /* no answer within the allowed time */
    ND_ERR_PROTOCOL,  /* the peer answered with something we must not accept */
    ND_ERR_NO_MEMORY, /* an allocation failed */
    ND_ERR_BUSY,      /* a bounded resource is full; try again later */
    ND_ERR_FORBIDDEN, /* refused by the operator's policy */
    ND_ERR_STOPPING,  /* the service is shutting down */
    ND_ERR_MISSING,   /* a required input was not given */
    /* What a request itself gets wrong, beyond one value: each is its own
     * row of the one table that maps errors to answers (src/http/problem.c). */
    ND_ERR_UNEXPECTED,         /* an input that is not among those accepted */
    ND_ERR_DUPLICATE,          /* an input given more than once */
    ND_ERR_TOO_MANY,           /* more values than allowed */
    ND_ERR_ENCODING,           /* text whose encoding is broken (percent-encoding) */
    ND_ERR_MALFORMED,          /* a message that breaks its protocol's grammar */
    ND_ERR_FAMILY_UNSUPPORTED, /* this host has no sockets of that address family */
    ND_ERR_NOT_ALLOWED,        /* an operation the resource does not offer */
    ND_ERR_TOO_LARGE,          /* more data than is accepted */
    ND_ERR_HEAD_TOO_LARGE,     /* a message head too large to be answered */
    ND_ERR_UNAUTHENTICATED,    /* no valid credentials */
    ND_ERR_INTERNAL,           /* a bug of ours */
    ND_ERR__COUNT
};

enum { ND_ERROR_MESSAGE_MAX = 192 };

struct nd_error {
    enum nd_err code;
    int os_error;  /* errno at the failing call, 0 when not a system error */
    int gai_error; /* EAI_* from the resolver, 0 when not a resolver error */
    char message[ND_ERROR_MESSAGE_MAX];
};

/* Stable name of a code, e.g. "ND_ERR_INVALID"; never NULL. */
const char *nd_err_name(enum nd_err code);

/* Short English description of a code; never NULL. */
const char *nd_strerror(enum nd_err code);

/* Stable name of an EAI_* value, e.g. "EAI_NONAME"; "EAI_UNKNOWN" for others. */
const char *nd_gai_name(int gai_error);

/* Stable name of an errno value, e.g. "ECONNREFUSED"; "E_UNKNOWN" for others. */
const char *nd_errno_name(int os_error);

/* The set functions accept a NULL error (the caller wants the code only) and
 * always return the code they set, so `return nd_error_set(...)` reads well. */
enum nd_err nd_error_set(struct nd_error *error, enum nd_err code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Records errno (read before anything can change it) with strerror's text. */
enum nd_err nd_error_set_errno(struct nd_error *error, int os_error, const char *call);

/* Records an EAI_* value with gai_strerror's text; EAI_SYSTEM carries errno too. */
enum nd_err nd_error_set_gai(struct nd_error *error, int gai_error, int os_error, const char *call);

void nd_error_clear(struct nd_error *error);

#endif
