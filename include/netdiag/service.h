/*
 * Recipe 4: which service runs on a port, and on which port a service runs.
 * The C library's services database (services(5) through nsswitch) answers
 * first; when it knows nothing, a copy of the build machine's /etc/services
 * compiled into the binary answers instead, because minimal containers often
 * ship without /etc/services. All functions are thread-safe.
 */
#ifndef NETDIAG_SERVICE_H
#define NETDIAG_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netdiag/error.h"

enum {
    /* Longest accepted service name or alias plus its NUL. */
    ND_SERVICE_NAME_MAX = 64,
    ND_SERVICE_ALIASES_MAX = 8,
    /* "tcp" or "udp" plus its NUL. */
    ND_SERVICE_PROTOCOL_MAX = 4,
};

enum nd_service_source {
    ND_SERVICE_SOURCE_SYSTEM,  /* the C library's services database */
    ND_SERVICE_SOURCE_BUILTIN, /* the table compiled in at build time */
};

struct nd_service {
    char name[ND_SERVICE_NAME_MAX];
    uint16_t port; /* host byte order */
    char protocol[ND_SERVICE_PROTOCOL_MAX];
    char aliases[ND_SERVICE_ALIASES_MAX][ND_SERVICE_NAME_MAX];
    size_t alias_count;
    /* More aliases existed than fit, or one was longer than ND_SERVICE_NAME_MAX - 1
     * characters; those were left out rather than cut short. */
    bool aliases_truncated;
    enum nd_service_source source;
};

/* "system" or "builtin"; "unknown" for any other value. */
const char *nd_service_source_name(enum nd_service_source source);

/*
 * The system database is copied at the first lookup (services(5) would
 * otherwise be parsed on every call); what the copy lacks is asked of the C
 * library again, and the built-in table answers when the system cannot.
 * Thread-safe.
 *
 * The service on port/protocol, protocol being "tcp" or "udp".
 * ND_ERR_INVALID: protocol is neither. ND_ERR_NOT_FOUND: neither the system
 * nor the built-in table knows the port. ND_ERR_SYSTEM: the system lookup
 * failed and the built-in table does not know the port either.
 * ND_ERR_NO_MEMORY: no room for the lookup's buffer. ND_ERR_RANGE: the
 * database's name for the port is longer than ND_SERVICE_NAME_MAX - 1.
 */
enum nd_err nd_service_by_port(uint16_t port, const char *protocol, struct nd_service *out,
                               struct nd_error *error);

/*
 * The service called name (its official name or an alias, compared
 * case-sensitively as the C library does) on protocol "tcp" or "udp".
 * ND_ERR_INVALID: protocol is neither, or name is empty, longer than
 * ND_SERVICE_NAME_MAX - 1 or has a character outside [A-Za-z0-9._+-].
 * Other errors as nd_service_by_port.
 */
enum nd_err nd_service_by_name(const char *name, const char *protocol, struct nd_service *out,
                               struct nd_error *error);

/* How many tcp and udp entries the copy of the system database holds. */
size_t nd_service_system_entries(void);

/* The same lookups in the built-in table alone; source is always BUILTIN. */
enum nd_err nd_service_builtin_by_port(uint16_t port, const char *protocol, struct nd_service *out,
                                       struct nd_error *error);
enum nd_err nd_service_builtin_by_name(const char *name, const char *protocol,
                                       struct nd_service *out, struct nd_error *error);

#endif
