/* The strict number, switch, endpoint and allow-list parsers
 * (src/core/parse.c, net.c, allowlist.c). The first byte picks the parser. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "netdiag/allowlist.h"
#include "netdiag/net.h"
#include "netdiag/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *text = fuzz_string(data + 1, size - 1);
    uint64_t value = 0;
    bool flag;
    struct nd_error error;
    switch (data[0] % 6) {
    case 0:
        if (nd_parse_number(text, 0xFFFFFFFFu, &value) == ND_OK && value > 0xFFFFFFFFu)
            abort();
        break;
    case 1:
        if (nd_parse_decimal(text, UINT64_MAX, &value) == ND_OK && text[0] == '\0')
            abort();
        break;
    case 2:
        if (nd_parse_seconds(text, 1000000, &value) == ND_OK && value > 1000000000000u)
            abort();
        break;
    case 3:
        nd_parse_bool(text, &flag);
        break;
    case 4: {
        struct nd_net_endpoint endpoint;
        if (nd_net_parse_endpoint(text, &endpoint, &error) == ND_OK && endpoint.host[0] == '\0')
            abort();
        break;
    }
    case 5: {
        struct nd_allowlist list;
        if (nd_allowlist_parse(text, &list, &error) == ND_OK) {
            struct sockaddr_in address = {.sin_family = AF_INET};
            address.sin_addr.s_addr = htonl(0x7f000001);
            nd_allowlist_permits(&list, text, (struct sockaddr *)&address, 443);
        }
        break;
    }
    }
    free(text);
    return 0;
}
