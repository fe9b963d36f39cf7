/* DNS replies (src/core/dns.c, through ldns's parser) into netdiag's
 * rendering (src/http/dns_json.c): any bytes a server might send. The input
 * is also checked against a query, as the probe does with every datagram. */
#include "fuzz.h"
#include "http/dns_json.h"
#include "netdiag/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t query[ND_DNS_QUERY_MAX];
    static size_t query_length;
    if (query_length == 0) {
        struct nd_dns_query_options options = {.id = 0x1234, .type = 15, .recursion_desired = true};
        struct nd_error error;
        if (nd_dns_build_query("example.com.", &options, query, sizeof query, &query_length,
                               &error) != ND_OK)
            abort();
    }
    char reason[160];
    enum nd_dns_reply_kind kind =
        nd_dns_classify_reply(query, query_length, data, size, reason, sizeof reason);
    if (kind == ND_DNS_REPLY_MATCHES)
        (void)nd_dns_reply_truncated(data, size);

    struct nd_dns_message message;
    struct nd_error error;
    if (nd_dns_parse_message(data, size, &message, &error) != ND_OK) {
        if (kind != ND_DNS_REPLY_NOT_DNS)
            abort(); /* what classifies as DNS parses */
        return 0;
    }
    cJSON *object = cJSON_CreateObject();
    if (!object)
        abort();
    nd_dns_json_add_message(object, &message);
    char *text = cJSON_PrintUnformatted(object);
    /* The rendered answer is JSON that reads back. */
    cJSON *again = text ? cJSON_Parse(text) : NULL;
    if (text && !again)
        abort();
    cJSON_Delete(again);
    free(text);
    cJSON_Delete(object);
    nd_dns_message_free(&message);
    return 0;
}
