#include "path.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/utf8.h"

size_t file_path_printable_to(const char *path, char *out, size_t out_size)
{
    size_t n = out_size ? strnlen(path, out_size - 1) : 0, i = 0;

    if (out_size == 0)
        return 0;
    while (i < n) {
        const unsigned char *s = (const unsigned char *)path + i;
        size_t len = kpid_utf8_decode(path + i, n - i, NULL);
        if (len == 1 && (s[0] < 0x20 || s[0] == 0x7F))
            len = 0;
        if (len == 0) {
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, s, len);
        i += len;
    }
    out[n] = '\0';
    return n;
}

char *file_path_printable(const char *path, size_t max)
{
    size_t n = strnlen(path, max);
    char *out = malloc(n + 1);

    if (out)
        file_path_printable_to(path, out, n + 1);
    return out;
}
