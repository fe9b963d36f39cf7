#include "netdiag/service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "core/services_table.h"

/* glibc's files backend parses a whole services(5) line inside the caller's
 * buffer and answers ERANGE when it does not fit (man getservbyname_r). 1 KiB
 * holds every line of Debian's netbase; the limit stops a corrupt database
 * from making us grow the buffer without end. */
enum { LOOKUP_BUFFER_START = 1024, LOOKUP_BUFFER_LIMIT = 64 * 1024 };

/* By name when name is not NULL, by port otherwise. */
struct query {
    const char *name;
    uint16_t port;
    const char *protocol;
};

const char *nd_service_source_name(enum nd_service_source source)
{
    switch (source) {
    case ND_SERVICE_SOURCE_SYSTEM:
        return "system";
    case ND_SERVICE_SOURCE_BUILTIN:
        return "builtin";
    }
    return "unknown";
}

static enum nd_err check_protocol(const char *protocol, struct nd_error *error)
{
    if (!protocol || (strcmp(protocol, "tcp") != 0 && strcmp(protocol, "udp") != 0))
        return nd_error_set(error, ND_ERR_INVALID, "protocol must be tcp or udp");
    return ND_OK;
}

static bool is_name_character(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '+' || c == '-';
}

/* services(5) names are single words; refusing anything else keeps spaces,
 * slashes and control bytes away from the nsswitch backends. */
static enum nd_err check_name(const char *name, struct nd_error *error)
{
    if (!name || name[0] == '\0')
        return nd_error_set(error, ND_ERR_INVALID, "service name is empty");
    size_t length = strlen(name);
    if (length >= ND_SERVICE_NAME_MAX)
        return nd_error_set(error, ND_ERR_INVALID, "service name is longer than %d characters",
                            ND_SERVICE_NAME_MAX - 1);
    for (size_t i = 0; i < length; i++) {
        if (!is_name_character(name[i]))
            return nd_error_set(error, ND_ERR_INVALID,
                                "character %zu of the service name is not a letter, digit, "
                                "'.', '_', '+' or '-'",
                                i + 1);
    }
    return ND_OK;
}

/* Refuses rather than cuts short: a truncated name would name another service. */
static bool copy_name(char destination[ND_SERVICE_NAME_MAX], const char *source)
{
    size_t length = strlen(source);
    if (length >= ND_SERVICE_NAME_MAX)
        return false;
    memcpy(destination, source, length + 1);
    return true;
}

/* aliases is NULL-terminated, as both servent and the built-in table keep it. */
static enum nd_err fill_service(struct nd_service *out, const char *name, uint16_t port,
                                const char *protocol, const char *const *aliases,
                                enum nd_service_source source, struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    if (!copy_name(out->name, name))
        return nd_error_set(error, ND_ERR_RANGE,
                            "the name of service %u/%s is longer than %d characters", port,
                            protocol, ND_SERVICE_NAME_MAX - 1);
    out->port = port;
    strcpy(out->protocol, protocol);
    for (size_t i = 0; aliases[i]; i++) {
        if (out->alias_count < ND_SERVICE_ALIASES_MAX &&
            copy_name(out->aliases[out->alias_count], aliases[i]))
            out->alias_count++;
        else
            out->aliases_truncated = true;
    }
    out->source = source;
    return ND_OK;
}

static int call_database(const struct query *query, struct servent *entry, char *buffer,
                         size_t size, struct servent **found)
{
    if (query->name)
        return getservbyname_r(query->name, query->protocol, entry, buffer, size, found);
    /* s_port is kept in network byte order, so the key must be too. */
    return getservbyport_r(htons(query->port), query->protocol, entry, buffer, size, found);
}

/* ND_OK with out filled, ND_ERR_NOT_FOUND with error untouched, or the
 * reason the database could not answer. */
static enum nd_err system_find(const struct query *query, struct nd_service *out,
                               struct nd_error *error)
{
    const char *call = query->name ? "getservbyname_r" : "getservbyport_r";
    for (size_t size = LOOKUP_BUFFER_START;; size *= 2) {
        char *buffer = malloc(size);
        if (!buffer)
            return nd_error_set(error, ND_ERR_NO_MEMORY,
                                "no memory for a %zu-byte services lookup buffer", size);
        struct servent entry;
        struct servent *found = NULL;
        int status = call_database(query, &entry, buffer, size, &found);
        if (status == 0 && found) {
            enum nd_err code = fill_service(out, found->s_name, ntohs((uint16_t)found->s_port),
                                            query->protocol, (const char *const *)found->s_aliases,
                                            ND_SERVICE_SOURCE_SYSTEM, error);
            free(buffer);
            return code;
        }
        free(buffer);
        /* glibc reports "no such entry" as 0 with a NULL result; other
         * implementations of the _r family answer ENOENT. */
        if (status == 0 || status == ENOENT)
            return ND_ERR_NOT_FOUND;
        if (status != ERANGE || size >= LOOKUP_BUFFER_LIMIT)
            return nd_error_set_errno(error, status, call);
    }
}

static bool row_matches(const struct nd_services_row *row, const struct query *query)
{
    if (strcmp(row->protocol, query->protocol) != 0)
        return false;
    if (!query->name)
        return row->port == query->port;
    /* The files backend answers a name lookup with an alias too
     * (getservbyname("www", "tcp") is http), so the table does as well. */
    if (strcmp(row->name, query->name) == 0)
        return true;
    for (size_t i = 0; row->aliases[i]; i++) {
        if (strcmp(row->aliases[i], query->name) == 0)
            return true;
    }
    return false;
}

/* The first match wins, as when the files backend reads services(5) top down. */
static const struct nd_services_row *builtin_find(const struct query *query)
{
    for (size_t i = 0; i < nd_services_table_count; i++) {
        if (row_matches(&nd_services_table[i], query))
            return &nd_services_table[i];
    }
    return NULL;
}

static enum nd_err lookup(const struct query *query, bool ask_system, struct nd_service *out,
                          struct nd_error *error)
{
    enum nd_err system_code = ND_ERR_NOT_FOUND;
    if (ask_system) {
        system_code = system_find(query, out, error);
        if (system_code == ND_OK)
            return ND_OK;
    }
    const struct nd_services_row *row = builtin_find(query);
    if (row) {
        nd_error_clear(error);
        return fill_service(out, row->name, row->port, row->protocol, row->aliases,
                            ND_SERVICE_SOURCE_BUILTIN, error);
    }
    if (system_code != ND_ERR_NOT_FOUND)
        return system_code;
    if (query->name)
        return nd_error_set(error, ND_ERR_NOT_FOUND, "no service named '%s' for %s", query->name,
                            query->protocol);
    return nd_error_set(error, ND_ERR_NOT_FOUND, "no service on port %u/%s", query->port,
                        query->protocol);
}

static enum nd_err by_port(uint16_t port, const char *protocol, bool ask_system,
                           struct nd_service *out, struct nd_error *error)
{
    enum nd_err code = check_protocol(protocol, error);
    if (code != ND_OK)
        return code;
    struct query query = {.name = NULL, .port = port, .protocol = protocol};
    return lookup(&query, ask_system, out, error);
}

static enum nd_err by_name(const char *name, const char *protocol, bool ask_system,
                           struct nd_service *out, struct nd_error *error)
{
    enum nd_err code = check_protocol(protocol, error);
    if (code == ND_OK)
        code = check_name(name, error);
    if (code != ND_OK)
        return code;
    struct query query = {.name = name, .port = 0, .protocol = protocol};
    return lookup(&query, ask_system, out, error);
}

enum nd_err nd_service_by_port(uint16_t port, const char *protocol, struct nd_service *out,
                               struct nd_error *error)
{
    return by_port(port, protocol, true, out, error);
}

enum nd_err nd_service_by_name(const char *name, const char *protocol, struct nd_service *out,
                               struct nd_error *error)
{
    return by_name(name, protocol, true, out, error);
}

enum nd_err nd_service_builtin_by_port(uint16_t port, const char *protocol, struct nd_service *out,
                                       struct nd_error *error)
{
    return by_port(port, protocol, false, out, error);
}

enum nd_err nd_service_builtin_by_name(const char *name, const char *protocol,
                                       struct nd_service *out, struct nd_error *error)
{
    return by_name(name, protocol, false, out, error);
}
