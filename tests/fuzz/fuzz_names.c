/* Host-name syntax (src/core/resolve.c) and service-name lookup input
 * (src/core/service.c, the built-in table; the system lookup reads files). */
#include "fuzz.h"
#include "netdiag/resolve.h"
#include "netdiag/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *text = fuzz_string(data + 1, size - 1);
    struct nd_error error;
    struct nd_service service;
    const char *protocol = data[0] & 1 ? "udp" : "tcp";
    nd_resolve_validate_name(text, &error);
    nd_service_builtin_by_name(text, protocol, &service, &error);
    if (size >= 3)
        nd_service_builtin_by_port((uint16_t)(data[1] << 8 | data[2]), protocol, &service, &error);
    free(text);
    return 0;
}
