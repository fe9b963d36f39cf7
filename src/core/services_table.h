/* The built-in services table, generated at build time (cmake/services.cmake). */
#ifndef NETDIAG_CORE_SERVICES_TABLE_H
#define NETDIAG_CORE_SERVICES_TABLE_H

#include <stddef.h>
#include <stdint.h>

enum { ND_SERVICES_MAX_ALIASES = 4 };

struct nd_services_row {
    const char *name;
    uint16_t port;
    const char *protocol; /* "tcp" or "udp" */
    /* NULL-terminated; room for one more than the generator ever writes. */
    const char *aliases[ND_SERVICES_MAX_ALIASES + 1];
};

/* Terminated by a row whose name is NULL; the count excludes that row. */
extern const struct nd_services_row nd_services_table[];
extern const size_t nd_services_table_count;

#endif
