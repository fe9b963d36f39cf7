/* GET /byteorder: recipe 5, ntohl/htonl/ntohs/htons on one value. */
#include "http/handlers.h"
#include "http/request.h"
#include "netdiag/byteorder.h"
#include "netdiag/format.h"

static void add_bytes(cJSON *object, const char *name, const uint8_t *bytes, size_t count)
{
    char hex[2 * 4 + 1];
    nd_format_hex(bytes, count, hex);
    nd_json_add_string(object, name, hex);
}

void nd_handle_byteorder(struct nd_request *request)
{
    uint64_t value = 0, width = 0;
    bool has_value;
    if (!nd_param_number(request, "value", 0, UINT32_MAX, true, &value, &has_value))
        return;
    if (!has_value) {
        nd_reply_failure(request, ND_ERR_MISSING, "value",
                         "parameter 'value' is required (decimal or 0x hex, e.g. 1234)");
        return;
    }
    const char *width_text;
    if (!nd_param_string(request, "width", &width_text))
        return;
    if (width_text && !nd_param_number(request, "width", 16, 32, false, &width, NULL))
        return;
    if (width_text && width != 16 && width != 32) {
        nd_reply_failure(request, ND_ERR_INVALID, "width",
                         "parameter 'width' must be 16 or 32, not '%.16s'", width_text);
        return;
    }

    struct nd_byteorder_result result;
    struct nd_error error;
    if (nd_byteorder_convert(value, (unsigned)width, &result, &error) != ND_OK) {
        nd_reply_error(request, &error, "value", NULL);
        return;
    }

    const char *input;
    nd_param_string(request, "value", &input);
    cJSON *body = cJSON_CreateObject();
    nd_json_add_string(body, "input", input);
    nd_json_add_integer(body, "value", value);
    nd_json_add_string(body, "host_byte_order", nd_byteorder_name(result.host));
    if (result.has_32) {
        cJSON *long_form = nd_json_add_object(body, "uint32");
        nd_json_add_integer(long_form, "value", result.bits_32.value);
        nd_json_add_integer(long_form, "ntohl", result.bits_32.network_to_host);
        nd_json_add_integer(long_form, "htonl", result.bits_32.host_to_network);
        add_bytes(long_form, "host_order_bytes", result.bits_32.host_bytes, 4);
        add_bytes(long_form, "network_order_bytes", result.bits_32.network_bytes, 4);
    }
    if (result.has_16) {
        cJSON *short_form = nd_json_add_object(body, "uint16");
        nd_json_add_integer(short_form, "value", result.bits_16.value);
        nd_json_add_integer(short_form, "ntohs", result.bits_16.network_to_host);
        nd_json_add_integer(short_form, "htons", result.bits_16.host_to_network);
        add_bytes(short_form, "host_order_bytes", result.bits_16.host_bytes, 2);
        add_bytes(short_form, "network_order_bytes", result.bits_16.network_bytes, 2);
    }
    nd_reply_json(request, 200, body);
}
