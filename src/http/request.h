/*
 * What a handler sees of a request, and how it answers. Handlers are thin:
 * read parameters with the nd_param_* helpers (which answer 400 themselves
 * and return false on bad input, so a handler just returns), call the core,
 * and reply with nd_reply_json or nd_reply_error.
 */
#ifndef NETDIAG_HTTP_REQUEST_H
#define NETDIAG_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "http/message.h"
#include "http/problem.h"
#include "http/query.h"
#include "netdiag/error.h"
#include "netdiag/net.h"

struct MHD_Connection;
struct MHD_Response;
struct nd_http_server;
struct nd_route;
struct nd_deferred_job;
struct nd_deadline_watch;

enum { ND_REQUEST_ID_MAX = 65 };

struct nd_request {
    struct nd_http_server *server;
    struct MHD_Connection *connection;
    const struct nd_route *route;
    const char *method;
    struct nd_query query;
    bool pretty;
    bool answered;          /* a response is ready */
    bool queued;            /* and handed to libmicrohttpd */
    bool answered_directly; /* written to the socket by the server, not libmicrohttpd */
    bool must_close;        /* the answer closes the connection (a body left unread) */
    bool has_body;          /* the request announced a body */
    unsigned status;
    struct MHD_Response *response;
    struct nd_deferred_job *deferred;         /* slow work in progress, or NULL */
    struct nd_deadline_watch *deadline_watch; /* the connection's, or NULL */
    uint64_t body_bytes;
    uint64_t start_ns;
    char request_id[ND_REQUEST_ID_MAX];
    char client[ND_NET_ADDRESS_TEXT_MAX];
    struct nd_message message; /* what the header fields say */
    const char *path;          /* what routes: inside target, or "/" */
    size_t path_length;
    const char *query_text; /* after '?', not NUL-terminated; NULL when there is none */
    size_t query_text_length;
    size_t target_length;
    char target[]; /* the raw request target, as received */
};

/* --- Parameters. Each returns false after answering 400 on bad input. --- */

/* The value of a parameter given at most once; *value is NULL when absent. */
bool nd_param_string(struct nd_request *request, const char *name, const char **value);

/* Every value of a repeatable parameter, in order; at most max of them. */
bool nd_param_list(struct nd_request *request, const char *name, const char **values, size_t max,
                   size_t *count);

/* A number in [min, max] (decimal, or 0x hex when allow_hex); *value keeps
 * its previous content (the default) when the parameter is absent. */
bool nd_param_number(struct nd_request *request, const char *name, uint64_t min, uint64_t max,
                     bool allow_hex, uint64_t *value, bool *present);

/* One of choices (a NULL-terminated list); *index keeps the default when absent. */
bool nd_param_choice(struct nd_request *request, const char *name, const char *const *choices,
                     size_t *index, bool *present);

/* 0/1/true/false/yes/no/on/off; *value keeps the default when absent. */
bool nd_param_bool(struct nd_request *request, const char *name, bool *value, bool *present);

/* --- JSON. --- */

/* Members for the hot handlers. name must be a string literal (or live as
 * long as the tree): cJSON keeps it instead of copying it, one allocation
 * less per member. Each returns the new item, NULL on failure. */

/* A whole number. cJSON prints every number with "%1.15g" and reads it back
 * with sscanf to check the round trip; a decimal integer written as raw JSON
 * costs a fraction of that. */
cJSON *nd_json_add_integer(cJSON *object, const char *name, uint64_t value);
cJSON *nd_json_add_string(cJSON *object, const char *name, const char *value);
cJSON *nd_json_add_bool(cJSON *object, const char *name, bool value);
cJSON *nd_json_add_number(cJSON *object, const char *name, double value);
cJSON *nd_json_add_null(cJSON *object, const char *name);
cJSON *nd_json_add_object(cJSON *object, const char *name);
cJSON *nd_json_add_array(cJSON *object, const char *name);

/* Adds item (which it takes, deleting it when the add fails). */
cJSON *nd_json_add_item(cJSON *object, const char *name, cJSON *item);

/* Appends item to array (taking it likewise). */
cJSON *nd_json_append(cJSON *array, cJSON *item);

/* --- Answers. Exactly one per request. --- */

/* Sends body (which this function deletes) as application/json. */
void nd_reply_json(struct nd_request *request, unsigned status, cJSON *body);

/* Sends text (malloc'd; this function frees it) with the given type. */
void nd_reply_text(struct nd_request *request, unsigned status, const char *content_type,
                   char *text, size_t length);

/* Sends a body that lives as long as the process (the embedded OpenAPI
 * document, fixed pages): no copy is made. */
void nd_reply_static(struct nd_request *request, unsigned status, const char *content_type,
                     const char *body, size_t length);

/* Sends a response the handler built itself (a file, say); takes it. */
void nd_reply_response(struct nd_request *request, unsigned status, struct MHD_Response *response,
                       uint64_t length);

/* Adds a header to the answer given (nd_reply_json and the others); none
 * when there is no answer yet (or it could not be built). */
void nd_reply_add_header(struct nd_request *request, const char *name, const char *value);

/* Answers a failure of the request by its kind: the status and the
 * problem's code come from the one table (problem.c), never from the
 * handler; the detail is printf-style (up to a problem's 512 bytes, where a
 * struct nd_error holds 192). */
void nd_reply_failure(struct nd_request *request, enum nd_err code, const char *param,
                      const char *format, ...) __attribute__((format(printf, 4, 5)));

/* Maps a core error to its status and code (problem.c) and sends it, with
 * extensions (may be NULL; taken) added to the body. */
void nd_reply_error(struct nd_request *request, const struct nd_error *error, const char *param,
                    cJSON *extensions);

/* The same for a failure of a server netdiag asked on the client's behalf
 * (the table's upstream column: a bad gateway rather than a 404 or a 500). */
void nd_reply_upstream_error(struct nd_request *request, const struct nd_error *error,
                             const char *param, cJSON *extensions);

#endif
