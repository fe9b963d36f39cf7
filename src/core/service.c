#include "netdiag/service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
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

/*
 * The system database, read once. glibc's files backend opens and parses the
 * whole of services(5) on every getservbyport_r call, about 14 µs, which made
 * /service the slowest fast endpoint. A miss still asks the C library, so
 * entries added later and backends that cannot be listed keep answering.
 */
struct snapshot_row {
    const char *name;
    uint16_t port;
    const char *protocol; /* "tcp" or "udp", static */
    char **aliases;       /* NULL-terminated */
};

struct snapshot {
    struct snapshot_row *rows; /* in database order: the first match wins */
    size_t count;
    size_t *by_port; /* indexes of rows, sorted by port, protocol, then order */
};

static struct snapshot snapshot;
static pthread_once_t snapshot_once = PTHREAD_ONCE_INIT;

static void free_row(struct snapshot_row *row)
{
    free((char *)row->name);
    for (size_t i = 0; row->aliases && row->aliases[i]; i++)
        free(row->aliases[i]);
    free(row->aliases);
}

static bool copy_entry(const struct servent *entry, const char *protocol, struct snapshot_row *row)
{
    size_t alias_count = 0;
    while (entry->s_aliases[alias_count])
        alias_count++;
    *row = (struct snapshot_row){.port = ntohs((uint16_t)entry->s_port), .protocol = protocol};
    row->name = strdup(entry->s_name);
    row->aliases = calloc(alias_count + 1, sizeof *row->aliases);
    if (!row->name || !row->aliases) {
        free_row(row);
        return false;
    }
    for (size_t i = 0; i < alias_count; i++) {
        row->aliases[i] = strdup(entry->s_aliases[i]);
        if (!row->aliases[i]) {
            free_row(row);
            return false;
        }
    }
    return true;
}

static int compare_by_port(const void *left, const void *right)
{
    size_t a = *(const size_t *)left, b = *(const size_t *)right;
    const struct snapshot_row *x = &snapshot.rows[a], *y = &snapshot.rows[b];
    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    int protocol = strcmp(x->protocol, y->protocol);
    if (protocol != 0)
        return protocol;
    return a < b ? -1 : (a > b);
}

static void discard_snapshot(void)
{
    for (size_t i = 0; i < snapshot.count; i++)
        free_row(&snapshot.rows[i]);
    free(snapshot.rows);
    free(snapshot.by_port);
    snapshot = (struct snapshot){0};
}

/* Any failure leaves the snapshot empty, and every lookup asks the C library. */
static void load_snapshot(void)
{
    size_t capacity = 0, size = LOOKUP_BUFFER_START;
    char *buffer = malloc(size);
    if (!buffer)
        return;
    setservent(0);
    for (;;) {
        struct servent entry;
        struct servent *found = NULL;
        int status = getservent_r(&entry, buffer, size, &found);
        if (status == ERANGE && size < LOOKUP_BUFFER_LIMIT) {
            char *bigger = realloc(buffer, size * 2);
            if (!bigger)
                break;
            buffer = bigger;
            size *= 2;
            continue;
        }
        if (status != 0 || !found)
            break;
        const char *protocol = strcmp(found->s_proto, "tcp") == 0   ? "tcp"
                               : strcmp(found->s_proto, "udp") == 0 ? "udp"
                                                                    : NULL;
        if (!protocol)
            continue;
        if (snapshot.count == capacity) {
            size_t grown = capacity ? capacity * 2 : 256;
            struct snapshot_row *rows = realloc(snapshot.rows, grown * sizeof *rows);
            if (!rows)
                goto failed;
            snapshot.rows = rows;
            capacity = grown;
        }
        if (!copy_entry(found, protocol, &snapshot.rows[snapshot.count]))
            goto failed;
        snapshot.count++;
    }
    endservent();
    free(buffer);
    snapshot.by_port = malloc((snapshot.count ? snapshot.count : 1) * sizeof *snapshot.by_port);
    if (!snapshot.by_port) {
        discard_snapshot();
        return;
    }
    for (size_t i = 0; i < snapshot.count; i++)
        snapshot.by_port[i] = i;
    qsort(snapshot.by_port, snapshot.count, sizeof *snapshot.by_port, compare_by_port);
    return;

failed:
    endservent();
    free(buffer);
    discard_snapshot();
}

static const struct snapshot_row *snapshot_find_port(uint16_t port, const char *protocol)
{
    size_t low = 0, high = snapshot.count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        const struct snapshot_row *row = &snapshot.rows[snapshot.by_port[middle]];
        int order =
            row->port != port ? (row->port < port ? -1 : 1) : strcmp(row->protocol, protocol);
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    if (low == snapshot.count)
        return NULL;
    const struct snapshot_row *row = &snapshot.rows[snapshot.by_port[low]];
    return row->port == port && strcmp(row->protocol, protocol) == 0 ? row : NULL;
}

static bool name_in(const char *name, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        if (strcmp(names[i], name) == 0)
            return true;
    }
    return false;
}

static const struct snapshot_row *snapshot_find_name(const char *name, const char *protocol)
{
    for (size_t i = 0; i < snapshot.count; i++) {
        const struct snapshot_row *row = &snapshot.rows[i];
        if (strcmp(row->protocol, protocol) == 0 &&
            (strcmp(row->name, name) == 0 || name_in(name, (const char *const *)row->aliases)))
            return row;
    }
    return NULL;
}

static enum nd_err snapshot_find(const struct query *query, struct nd_service *out,
                                 struct nd_error *error)
{
    if (pthread_once(&snapshot_once, load_snapshot) != 0)
        return ND_ERR_NOT_FOUND;
    const struct snapshot_row *row = query->name ? snapshot_find_name(query->name, query->protocol)
                                                 : snapshot_find_port(query->port, query->protocol);
    if (!row)
        return ND_ERR_NOT_FOUND;
    return fill_service(out, row->name, row->port, row->protocol, (const char *const *)row->aliases,
                        ND_SERVICE_SOURCE_SYSTEM, error);
}

size_t nd_service_system_entries(void)
{
    return pthread_once(&snapshot_once, load_snapshot) == 0 ? snapshot.count : 0;
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
    return name_in(query->name, row->aliases);
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
        system_code = snapshot_find(query, out, error);
        if (system_code == ND_ERR_NOT_FOUND)
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
