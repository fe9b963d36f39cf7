/* GET /sockopts: recipes 6, 8, 9 and 10, a fresh socket's options before and
 * after a change. */
#include <errno.h>
#include <string.h>

#include "http/handlers.h"
#include "http/request.h"
#include "netdiag/parse.h"
#include "netdiag/sockopts.h"

static const char *const type_choices[] = {"tcp", "udp", NULL};
static const char *const family_choices[] = {"ipv4", "ipv6", NULL};

/* timeout: seconds ("100", "0.5") or "none"; false after a 400. */
static bool parse_timeout(struct nd_request *request, struct nd_sockopts_request *change)
{
    const char *text;
    if (!nd_param_string(request, "timeout", &text))
        return false;
    if (!text)
        return true;
    change->present[ND_SOCKOPTS_TIMEOUT] = true;
    if (strcmp(text, "none") == 0) {
        change->value[ND_SOCKOPTS_TIMEOUT] = ND_SOCKOPTS_TIMEOUT_NONE;
        return true;
    }
    uint64_t microseconds;
    enum nd_err err = nd_parse_seconds(text, ND_SOCKOPTS_TIMEOUT_MAX_S, &microseconds);
    if (err != ND_OK) {
        nd_reply_failure(request, err == ND_ERR_RANGE ? ND_ERR_RANGE : ND_ERR_INVALID, "timeout",
                         "timeout must be seconds from 0 to %d (e.g. 100 or 0.5) or none, "
                         "not '%.32s'",
                         ND_SOCKOPTS_TIMEOUT_MAX_S, text);
        return false;
    }
    change->value[ND_SOCKOPTS_TIMEOUT] = (int64_t)microseconds;
    return true;
}

static bool parse_request(struct nd_request *request, struct nd_sockopts_request *change)
{
    size_t type = 0, family = 0;
    if (!nd_param_choice(request, "type", type_choices, &type, NULL) ||
        !nd_param_choice(request, "family", family_choices, &family, NULL) ||
        !nd_param_bool(request, "bind", &change->bind, NULL) || !parse_timeout(request, change))
        return false;
    change->type = type == 0 ? ND_SOCKOPTS_TCP : ND_SOCKOPTS_UDP;
    change->family = family == 0 ? ND_SOCKOPTS_IPV4 : ND_SOCKOPTS_IPV6;

    static const enum nd_sockopts_option numeric[] = {ND_SOCKOPTS_SNDBUF, ND_SOCKOPTS_RCVBUF,
                                                      ND_SOCKOPTS_NODELAY, ND_SOCKOPTS_REUSEADDR,
                                                      ND_SOCKOPTS_BLOCKING};
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
        enum nd_sockopts_option option = numeric[i];
        bool is_buffer = option == ND_SOCKOPTS_SNDBUF || option == ND_SOCKOPTS_RCVBUF;
        uint64_t value = 0;
        bool present;
        if (!nd_param_number(request, nd_sockopts_option_name(option), 0,
                             is_buffer ? ND_SOCKOPTS_BUFFER_MAX : 1, false, &value, &present))
            return false;
        change->present[option] = present;
        change->value[option] = (int64_t)value;
    }
    return true;
}

static void add_value(cJSON *object, const char *name, int64_t value, bool is_timeout)
{
    if (is_timeout && value == ND_SOCKOPTS_TIMEOUT_NONE)
        nd_json_add_null(object, name);
    else if (is_timeout)
        nd_json_add_number(object, name, (double)value / 1e6);
    else
        nd_json_add_number(object, name, (double)value);
}

static cJSON *render(const struct nd_sockopts_request *change,
                     const struct nd_sockopts_result *result)
{
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "type", type_choices[change->type]);
    nd_json_add_string(body, "family", family_choices[change->family]);
    cJSON *options = nd_json_add_object(body, "options");
    for (int i = 0; i < ND_SOCKOPTS_OPTION_COUNT; i++) {
        const struct nd_sockopts_value *value = &result->options[i];
        if (!value->applicable)
            continue;
        enum nd_sockopts_option option = (enum nd_sockopts_option)i;
        bool is_timeout = option == ND_SOCKOPTS_TIMEOUT;
        cJSON *item = nd_json_add_object(options, nd_sockopts_option_name(option));
        nd_json_add_string(item, "level", nd_sockopts_option_level(option));
        nd_json_add_string(item, "option", nd_sockopts_option_call(option));
        add_value(item, "before", value->before, is_timeout);
        if (value->requested_present)
            add_value(item, "requested", value->requested, is_timeout);
        add_value(item, "after", value->after, is_timeout);
        if (value->note[0])
            nd_json_add_string(item, "note", value->note);
    }
    cJSON *limits = nd_json_add_object(body, "limits");
    if (result->has_wmem_max)
        nd_json_add_number(limits, "wmem_max", (double)result->wmem_max);
    if (result->has_rmem_max)
        nd_json_add_number(limits, "rmem_max", (double)result->rmem_max);
    if (result->bound) {
        cJSON *bound = nd_json_add_object(body, "bind");
        nd_json_add_string(bound, "address", result->bound_address);
        nd_json_add_number(bound, "port", result->bound_port);
    }
    return body;
}

void nd_handle_sockopts(struct nd_request *request)
{
    struct nd_sockopts_request change = {0};
    if (!parse_request(request, &change))
        return;
    struct nd_error error;
    enum nd_sockopts_option bad = ND_SOCKOPTS_OPTION_COUNT;
    if (nd_sockopts_validate(&change, &bad, &error) != ND_OK) {
        nd_reply_error(request, &error, nd_sockopts_option_name(bad), NULL);
        return;
    }
    struct nd_sockopts_result result;
    if (nd_sockopts_run(&change, &result, &error) != ND_OK) {
        if (error.os_error == EAFNOSUPPORT) {
            nd_reply_failure(request, ND_ERR_FAMILY_UNSUPPORTED, "family",
                             "this host has no %s sockets: %s", family_choices[change.family],
                             error.message);
            return;
        }
        nd_reply_error(request, &error, NULL, NULL);
        return;
    }
    nd_reply_json(request, 200, render(&change, &result));
}
