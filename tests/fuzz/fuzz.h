/* Shared by the fuzz targets: the libFuzzer entry point and a helper that
 * turns the input into a NUL-terminated string. */
#ifndef NETDIAG_FUZZ_H
#define NETDIAG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A malloc'd copy with a final NUL; the caller frees. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

#endif
