/* IP text, hex and integer conversion (src/core/convert.c), with the
 * round trip checked: what parses must convert back to itself. */
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "netdiag/convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6};
    int family = families[data[0] % 3];
    char *text = fuzz_string(data + 1, size - 1);
    struct nd_convert_address address, again;
    struct nd_convert_legacy legacy;
    struct nd_error error;

    if (nd_convert_text(text, &address, &error) == ND_OK) {
        if (nd_convert_hex(address.packed_hex, AF_UNSPEC, &again, &error) != ND_OK ||
            strcmp(again.text, address.text) != 0)
            abort();
        if (nd_convert_integer(address.integer, address.family, &again, &error) != ND_OK ||
            strcmp(again.text, address.text) != 0)
            abort();
    }
    nd_convert_legacy_ipv4(text, &legacy, &error);
    nd_convert_hex(text, family, &address, &error);
    nd_convert_integer(text, family, &address, &error);
    free(text);
    return 0;
}
