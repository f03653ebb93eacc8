#include "path.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if there is none. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2, cp = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3, cp = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    /* Overlong forms, surrogates and code points above U+10FFFF. */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

size_t file_path_printable_to(const char *path, char *out, size_t out_size)
{
    size_t n = out_size ? strnlen(path, out_size - 1) : 0, i = 0;

    if (out_size == 0)
        return 0;
    while (i < n) {
        const unsigned char *s = (const unsigned char *)path + i;
        size_t len = utf8_sequence(s, n - i);
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
