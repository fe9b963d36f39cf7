/* GET /convert: recipe 3, an IP address as text, packed bytes, hex and integer. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "http/handlers.h"
#include "http/request.h"
#include "netdiag/convert.h"

enum { MAX_ADDRESSES = 64 };

static const char *const family_choices[] = {"any", "ipv4", "ipv6", NULL};
static const int family_values[] = {AF_UNSPEC, AF_INET, AF_INET6};

/* inet_aton's reading of an IPv4-looking text, the recipe's own parser. */
static cJSON *render_legacy(const struct nd_convert_legacy *legacy)
{
    cJSON *object = cJSON_CreateObject();
    nd_json_add_bool(object, "accepted", legacy->accepted);
    if (legacy->accepted)
        nd_json_add_string(object, "address", legacy->address);
    nd_json_add_bool(object, "differs_from_strict", legacy->differs);
    if (legacy->reason[0])
        nd_json_add_string(object, "explanation", legacy->reason);
    return object;
}

static cJSON *render_address(const char *kind, const char *input,
                             const struct nd_convert_address *address)
{
    cJSON *object = cJSON_CreateObject();
    nd_json_add_string(object, "input", input);
    nd_json_add_string(object, "input_kind", kind);
    nd_json_add_string(object, "family", address->family == AF_INET ? "ipv4" : "ipv6");
    nd_json_add_string(object, "address", address->text);
    nd_json_add_string(object, "packed_hex", address->packed_hex);
    nd_json_add_integer(object, "packed_length", address->packed_length);
    /* A JSON number is exact up to 2^53: fine for IPv4, not for IPv6. */
    if (address->family == AF_INET)
        nd_json_add_integer(object, "integer", address->ipv4_integer);
    else
        nd_json_add_string(object, "integer", address->integer);
    nd_json_add_string(object, "reverse_pointer", address->reverse_pointer);
    cJSON *properties = nd_json_add_array(object, "properties");
    for (int i = 0; i < ND_CONVERT_PROPERTY_COUNT; i++) {
        if (nd_convert_has_property(address, (enum nd_convert_property)i))
            nd_json_append(properties, cJSON_CreateString(
                                           nd_convert_property_name((enum nd_convert_property)i)));
    }
    const struct nd_convert_special_block *special = address->special;
    if (special) {
        cJSON *block = nd_json_add_object(object, "special_purpose");
        nd_json_add_string(block, "block", special->block);
        nd_json_add_string(block, "name", special->name);
        nd_json_add_string(block, "rfc", special->reference);
        if (special->globally_reachable == ND_CONVERT_REACHABLE_NOT_APPLICABLE)
            nd_json_add_null(block, "globally_reachable");
        else
            nd_json_add_bool(block, "globally_reachable",
                             special->globally_reachable == ND_CONVERT_REACHABLE_YES);
    }
    return object;
}

/* Returns false after answering 400 for a text that is not an address. */
static bool convert_text(struct nd_request *request, const char *text, cJSON *results)
{
    struct nd_convert_address address;
    struct nd_convert_legacy legacy;
    struct nd_error error;
    bool ipv4_looking = strchr(text, ':') == NULL;
    bool has_legacy = ipv4_looking && nd_convert_legacy_ipv4(text, &legacy, NULL) == ND_OK;

    if (nd_convert_text(text, &address, &error) != ND_OK) {
        cJSON *extensions = NULL;
        if (has_legacy && legacy.accepted) {
            size_t used = strlen(error.message);
            snprintf(error.message + used, sizeof error.message - used,
                     "; the legacy inet_aton would read it as %s", legacy.address);
            extensions = cJSON_CreateObject();
            nd_json_add_item(extensions, "inet_aton", render_legacy(&legacy));
        }
        nd_reply_error(request, &error, "ip", extensions);
        return false;
    }
    cJSON *object = render_address("ip", text, &address);
    if (has_legacy)
        nd_json_add_item(object, "inet_aton", render_legacy(&legacy));
    nd_json_append(results, object);
    return true;
}

void nd_handle_convert(struct nd_request *request)
{
    const char *ips[MAX_ADDRESSES], *hexes[MAX_ADDRESSES], *integers[MAX_ADDRESSES];
    size_t ip_count, hex_count, integer_count;
    size_t family_index = 0;
    if (!nd_param_list(request, "ip", ips, MAX_ADDRESSES, &ip_count) ||
        !nd_param_list(request, "hex", hexes, MAX_ADDRESSES, &hex_count) ||
        !nd_param_list(request, "int", integers, MAX_ADDRESSES, &integer_count) ||
        !nd_param_choice(request, "family", family_choices, &family_index, NULL))
        return;
    if (ip_count + hex_count + integer_count == 0) {
        nd_reply_failure(request, ND_ERR_MISSING, "ip",
                         "give at least one of ip (e.g. 127.0.0.1), hex (e.g. 7f000001) "
                         "or int (e.g. 2130706433)");
        return;
    }
    if (ip_count + hex_count + integer_count > MAX_ADDRESSES) {
        nd_reply_failure(request, ND_ERR_TOO_MANY, ip_count ? "ip" : "hex",
                         "at most %d addresses per request", MAX_ADDRESSES);
        return;
    }

    int family = family_values[family_index];
    cJSON *body = cJSON_CreateObject();
    cJSON *results = nd_json_add_array(body, "results");
    for (size_t i = 0; i < ip_count; i++) {
        if (!convert_text(request, ips[i], results)) {
            cJSON_Delete(body);
            return;
        }
    }
    struct nd_convert_address address;
    struct nd_error error;
    for (size_t i = 0; i < hex_count; i++) {
        if (nd_convert_hex(hexes[i], family, &address, &error) != ND_OK) {
            cJSON_Delete(body);
            nd_reply_error(request, &error, "hex", NULL);
            return;
        }
        nd_json_append(results, render_address("hex", hexes[i], &address));
    }
    for (size_t i = 0; i < integer_count; i++) {
        if (nd_convert_integer(integers[i], family, &address, &error) != ND_OK) {
            cJSON_Delete(body);
            nd_reply_error(request, &error, "int", NULL);
            return;
        }
        nd_json_append(results, render_address("int", integers[i], &address));
    }
    nd_reply_json(request, 200, body);
}
