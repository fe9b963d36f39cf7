/* GET /service: recipe 4, port and protocol to service name, and back. */
#include <string.h>

#include "http/handlers.h"
#include "http/request.h"
#include "netdiag/parse.h"
#include "netdiag/service.h"

enum { MAX_LOOKUPS = 64 };

static const char *const protocol_choices[] = {"tcp", "udp", NULL};

static cJSON *render_service(const struct nd_service *service)
{
    cJSON *object = cJSON_CreateObject();
    nd_json_add_bool(object, "found", true);
    nd_json_add_integer(object, "port", service->port);
    nd_json_add_string(object, "protocol", service->protocol);
    nd_json_add_string(object, "name", service->name);
    cJSON *aliases = nd_json_add_array(object, "aliases");
    for (size_t i = 0; i < service->alias_count; i++)
        nd_json_append(aliases, cJSON_CreateString(service->aliases[i]));
    nd_json_add_string(object, "source", nd_service_source_name(service->source));
    return object;
}

static cJSON *render_miss(const char *key, const char *value, uint16_t port,
                          const struct nd_error *error)
{
    cJSON *object = cJSON_CreateObject();
    nd_json_add_bool(object, "found", false);
    if (value)
        nd_json_add_string(object, key, value);
    else
        nd_json_add_number(object, key, port);
    nd_json_add_string(object, "error", error->message);
    return object;
}

/* Splits the port parameters ("80", "80,443") into numbers; false after a 400. */
static bool collect_ports(struct nd_request *request, uint16_t *ports, size_t *count)
{
    const char *values[MAX_LOOKUPS];
    size_t value_count;
    if (!nd_param_list(request, "port", values, MAX_LOOKUPS, &value_count))
        return false;
    *count = 0;
    for (size_t i = 0; i < value_count; i++) {
        const char *cursor = values[i];
        for (;;) {
            char item[16];
            size_t length = strcspn(cursor, ",");
            uint64_t port = 0;
            enum nd_err err = ND_ERR_INVALID;
            if (length < sizeof item) {
                memcpy(item, cursor, length);
                item[length] = '\0';
                err = nd_parse_decimal(item, 65535, &port);
            }
            if (err != ND_OK) {
                nd_reply_failure(request, err == ND_ERR_RANGE ? ND_ERR_RANGE : ND_ERR_INVALID,
                                 "port", "port '%.*s' is not a number from 0 to 65535",
                                 (int)(length < 32 ? length : 32), cursor);
                return false;
            }
            if (*count == MAX_LOOKUPS) {
                nd_reply_failure(request, ND_ERR_TOO_MANY, "port", "at most %d ports per request",
                                 MAX_LOOKUPS);
                return false;
            }
            ports[(*count)++] = (uint16_t)port;
            if (cursor[length] == '\0')
                break;
            cursor += length + 1;
        }
    }
    return true;
}

void nd_handle_service(struct nd_request *request)
{
    uint16_t ports[MAX_LOOKUPS];
    const char *names[MAX_LOOKUPS];
    size_t port_count, name_count, protocol_index = 0;
    if (!collect_ports(request, ports, &port_count) ||
        !nd_param_list(request, "name", names, MAX_LOOKUPS, &name_count) ||
        !nd_param_choice(request, "protocol", protocol_choices, &protocol_index, NULL))
        return;
    if (port_count + name_count == 0) {
        nd_reply_failure(request, ND_ERR_MISSING, "port",
                         "give port (e.g. 80, or 80,443) or name (e.g. http)");
        return;
    }
    if (port_count + name_count > MAX_LOOKUPS) {
        nd_reply_failure(request, ND_ERR_TOO_MANY, "name", "at most %d lookups per request",
                         MAX_LOOKUPS);
        return;
    }

    const char *protocol = protocol_choices[protocol_index];
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "protocol", protocol);
    cJSON *results = nd_json_add_array(body, "results");
    size_t found = 0;
    struct nd_error first_miss;
    const char *first_miss_param = NULL;
    struct nd_service service;
    struct nd_error error;

    for (size_t i = 0; i < port_count; i++) {
        enum nd_err err = nd_service_by_port(ports[i], protocol, &service, &error);
        if (err == ND_OK) {
            found++;
            nd_json_append(results, render_service(&service));
            continue;
        }
        if (err != ND_ERR_NOT_FOUND) {
            cJSON_Delete(body);
            nd_reply_error(request, &error, "port", NULL);
            return;
        }
        if (!first_miss_param) {
            first_miss = error;
            first_miss_param = "port";
        }
        nd_json_append(results, render_miss("port", NULL, ports[i], &error));
    }
    for (size_t i = 0; i < name_count; i++) {
        enum nd_err err = nd_service_by_name(names[i], protocol, &service, &error);
        if (err == ND_OK) {
            found++;
            nd_json_append(results, render_service(&service));
            continue;
        }
        if (err != ND_ERR_NOT_FOUND) {
            cJSON_Delete(body);
            nd_reply_error(request, &error, "name", NULL);
            return;
        }
        if (!first_miss_param) {
            first_miss = error;
            first_miss_param = "name";
        }
        nd_json_append(results, render_miss("name", names[i], 0, &error));
    }

    /* Partly found is still an answer, as the recipe's loop prints a line
     * per port; nothing found is a 404 naming what was asked. */
    if (found == 0) {
        cJSON_Delete(body);
        nd_reply_error(request, &first_miss, first_miss_param, NULL);
        return;
    }
    nd_reply_json(request, 200, body);
}
