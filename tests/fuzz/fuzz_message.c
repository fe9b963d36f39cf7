/* A request's target and header fields (src/http/message.c): the input is
 * the target, then "name: value" lines, as a client sends them. */
#include "fuzz.h"
#include "http/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *text = fuzz_string(data, size);
    char *line_end = strchr(text, '\n');
    size_t target_length = line_end ? (size_t)(line_end - text) : size;
    struct nd_target target;
    char detail[ND_MESSAGE_DETAIL_MAX];
    if (nd_target_parse(text, target_length, &target, detail, sizeof detail) &&
        (target.path < text || target.path + target.path_length > text + target_length) &&
        target.path[0] != '/')
        abort(); /* the path lies inside the target, or is "/" */
    struct nd_message message = {0};
    for (char *line = line_end; line; line = line_end) {
        line++;
        line_end = strchr(line, '\n');
        if (line_end)
            *line_end = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        nd_message_add_field(&message, line, colon + 1);
    }
    nd_message_check(&message, data[0] & 1, detail, sizeof detail);
    free(text);
    return 0;
}
