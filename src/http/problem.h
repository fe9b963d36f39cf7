/*
 * RFC 9457 problem details: the one place that turns an nd_err (or a
 * protocol-level mistake) into an HTTP status, a stable `code` and a body.
 */
#ifndef NETDIAG_HTTP_PROBLEM_H
#define NETDIAG_HTTP_PROBLEM_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "netdiag/error.h"

enum { ND_PROBLEM_DETAIL_MAX = 512 };

struct nd_problem {
    unsigned status;
    const char *code;  /* stable, machine readable: "invalid_argument", "EAI_NONAME", ... */
    const char *param; /* the offending query parameter, or NULL */
    char detail[ND_PROBLEM_DETAIL_MAX];
    unsigned retry_after_s; /* > 0 adds a Retry-After header (503) */
    cJSON *extensions;      /* members added to the body (RFC 9457 section 3.2), or NULL;
                               nd_problem_render takes ownership */
};

/* Status and code for a core error; resolver errors map by their EAI_* value.
 * upstream: the error came from a server asked on the client's behalf. */
void nd_problem_from_error(const struct nd_error *error, const char *param, bool upstream,
                           struct nd_problem *out);

/* The reason phrase of a status, used as the problem's title. */
const char *nd_problem_title(unsigned status);

/* Builds the problem object, moving problem->extensions' members into it
 * (and deleting the emptied container). The caller owns the result
 * (cJSON_Delete); NULL only when memory runs out. instance may be NULL. */
cJSON *nd_problem_render(struct nd_problem *problem, const char *instance);

#endif
