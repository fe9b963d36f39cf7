/* GET /hostinfo: recipe 1, the host name, its addresses and the interfaces. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/deferred.h"
#include "http/handlers.h"
#include "http/server.h"
#include "http/request.h"
#include "netdiag/hostinfo.h"
#include "runtime/runtime.h"

static const char *family_name(int family)
{
    return family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : "other";
}

static void render_names(cJSON *body, const struct nd_hostinfo_names *names)
{
    nd_json_add_string(body, "host_name", names->host_name);
    cJSON *resolution = nd_json_add_object(body, "resolution");
    if (names->resolve.code != ND_OK) {
        /* The rest of the answer stands; this part is reported as an error. */
        nd_json_add_bool(resolution, "ok", false);
        nd_json_add_string(resolution, "code",
                           names->resolve.gai_error ? nd_gai_name(names->resolve.gai_error)
                                                    : nd_err_name(names->resolve.code));
        nd_json_add_string(resolution, "message", names->resolve.message);
        return;
    }
    nd_json_add_bool(resolution, "ok", true);
    nd_json_add_string(resolution, "fqdn", names->canonical_name);
    if (names->ipv4_address[0])
        nd_json_add_string(resolution, "ip_address", names->ipv4_address);
    else
        nd_json_add_null(resolution, "ip_address");
    cJSON *addresses = nd_json_add_array(resolution, "addresses");
    for (size_t i = 0; i < names->address_count; i++) {
        cJSON *address = cJSON_CreateObject();
        nd_json_add_string(address, "family", family_name(names->addresses[i].family));
        nd_json_add_string(address, "address", names->addresses[i].text);
        nd_json_append(addresses, address);
    }
    nd_json_add_bool(resolution, "truncated", names->addresses_truncated);
}

static cJSON *render_interface(const struct nd_hostinfo_interface *interface)
{
    cJSON *object = cJSON_CreateObject();
    nd_json_add_string(object, "name", interface->name);
    nd_json_add_number(object, "index", interface->index);
    const char *flag_names[ND_HOSTINFO_FLAG_NAMES_MAX];
    size_t flag_count =
        nd_hostinfo_flag_names(interface->flags, flag_names, ND_HOSTINFO_FLAG_NAMES_MAX);
    cJSON *flags = nd_json_add_array(object, "flags");
    for (size_t i = 0; i < flag_count; i++)
        nd_json_append(flags, cJSON_CreateString(flag_names[i]));
    if (interface->mtu >= 0)
        nd_json_add_number(object, "mtu", interface->mtu);
    else
        nd_json_add_null(object, "mtu");
    if (interface->hardware_address[0])
        nd_json_add_string(object, "mac", interface->hardware_address);
    else
        nd_json_add_null(object, "mac");
    cJSON *addresses = nd_json_add_array(object, "addresses");
    for (size_t i = 0; i < interface->address_count; i++) {
        const struct nd_hostinfo_interface_address *entry = &interface->addresses[i];
        cJSON *address = cJSON_CreateObject();
        nd_json_add_string(address, "family", family_name(entry->address.family));
        nd_json_add_string(address, "address", entry->address.text);
        if (entry->prefix_length >= 0)
            nd_json_add_number(address, "prefix_length", entry->prefix_length);
        else
            nd_json_add_null(address, "prefix_length");
        if (entry->broadcast[0])
            nd_json_add_string(address, "broadcast", entry->broadcast);
        if (entry->peer[0])
            nd_json_add_string(address, "peer", entry->peer);
        nd_json_append(addresses, address);
    }
    return object;
}

/* The host name's lookup can wait on DNS; it runs on libuv's pool and
 * gives up after this long, leaving the rest of the answer intact. */
enum { NAMES_TIMEOUT_MS = 2000 };

struct hostinfo_state {
    struct nd_hostinfo_names names;
    struct nd_error error; /* gethostname's failure, if any */
    struct nd_deferred_job *job;
    uv_getaddrinfo_t lookup;
    bool cancelled;
};

static void on_resolved(uv_getaddrinfo_t *lookup, int status, struct addrinfo *list)
{
    struct hostinfo_state *state = lookup->data;
    if (!state->cancelled) {
        int gai_error, os_error;
        nd_runtime_gai_from_status(status, &gai_error, &os_error);
        nd_hostinfo_lookup_result(&state->names, gai_error, os_error, list);
    }
    uv_freeaddrinfo(list);
    nd_deferred_complete(state->job);
}

static void hostinfo_start(struct nd_deferred_job *job, void *context, uv_loop_t *loop)
{
    struct hostinfo_state *state = context;
    state->job = job;
    if (nd_hostinfo_host_name(&state->names, &state->error) != ND_OK) {
        nd_deferred_complete(job);
        return;
    }
    struct addrinfo hints;
    nd_hostinfo_lookup_hints(&hints);
    state->lookup.data = state;
    int status =
        uv_getaddrinfo(loop, &state->lookup, on_resolved, state->names.host_name, NULL, &hints);
    if (status != 0) {
        nd_runtime_set_error(&state->names.resolve, status, "uv_getaddrinfo");
        nd_deferred_complete(job);
    }
}

static void hostinfo_cancel(void *context)
{
    struct hostinfo_state *state = context;
    state->cancelled = true;
    uv_cancel((uv_req_t *)&state->lookup);
}

static void hostinfo_release(void *context)
{
    free(context);
}

static void hostinfo_render(struct nd_request *request, void *context,
                            enum nd_deferred_outcome outcome)
{
    struct hostinfo_state *state = context;
    struct nd_error error;
    bool expired = outcome != ND_DEFERRED_DONE;
    if (!expired && state->error.code != ND_OK) {
        nd_reply_error(request, &state->error, NULL, NULL);
        return;
    }
    /* About 160 KiB: too big for a polling thread's stack. */
    struct nd_hostinfo_interfaces *interfaces = malloc(sizeof *interfaces);
    if (!interfaces) {
        nd_reply_failure(request, ND_ERR_NO_MEMORY, NULL, "out of memory");
        return;
    }
    if (nd_hostinfo_interfaces(interfaces, &error) != ND_OK) {
        free(interfaces);
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }

    cJSON *body = cJSON_CreateObject();
    if (expired) {
        char host_name[ND_HOSTINFO_HOST_NAME_MAX] = "";
        if (gethostname(host_name, sizeof host_name) != 0)
            host_name[0] = '\0';
        struct nd_hostinfo_names names = {0};
        snprintf(names.host_name, sizeof names.host_name, "%s", host_name);
        if (outcome == ND_DEFERRED_STOPPED)
            nd_error_set(&names.resolve, ND_ERR_STOPPING,
                         "resolving '%s' was cut short: the service is shutting down", host_name);
        else
            nd_error_set(&names.resolve, ND_ERR_TIMEOUT, "resolving '%s' took over %d ms",
                         host_name, NAMES_TIMEOUT_MS);
        render_names(body, &names);
    } else {
        render_names(body, &state->names);
    }
    nd_json_add_number(body, "interface_count", (double)interfaces->count);
    cJSON *list = nd_json_add_array(body, "interfaces");
    for (size_t i = 0; i < interfaces->count; i++)
        nd_json_append(list, render_interface(&interfaces->interfaces[i]));
    nd_json_add_bool(body, "truncated", interfaces->truncated);
    free(interfaces);
    nd_reply_json(request, 200, body);
}

static const struct nd_deferred_ops hostinfo_ops = {
    .start = hostinfo_start,
    .cancel = hostinfo_cancel,
    .render = hostinfo_render,
    .release = hostinfo_release,
};

void nd_handle_hostinfo(struct nd_request *request)
{
    struct hostinfo_state *state = calloc(1, sizeof *state);
    if (!state) {
        nd_reply_failure(request, ND_ERR_NO_MEMORY, NULL, "out of memory");
        return;
    }
    nd_deferred_submit(nd_http_deferred(request->server), request, &hostinfo_ops, state,
                       NAMES_TIMEOUT_MS);
}
