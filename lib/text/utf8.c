/* UTF-8 validation (utf8.h). */
#include "text/utf8.h"

size_t kpid_utf8_decode(const char *str, size_t n, uint32_t *ret_cp)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80) {
        if (ret_cp)
            *ret_cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    } else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms (two-byte ones are excluded by the lead byte), surrogates and code
     * points above U+10FFFF. */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    if (ret_cp)
        *ret_cp = cp;
    return len;
}

bool kpid_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t n;

        if (s[i] == '\0')
            return false;
        n = kpid_utf8_decode(s + i, len - i, NULL);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

ssize_t kpid_utf8_find_control(const char *s, size_t len, unsigned *ret_cp)
{
    const unsigned char *u = (const unsigned char *)s;

    for (size_t i = 0; i < len; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f) {
            *ret_cp = u[i];
            return (ssize_t)i;
        }
        /* U+0080 to U+009F are C2 80 to C2 9F, and 0xC2 is never a continuation byte:
         * bytes are enough. */
        if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f) {
            *ret_cp = u[i + 1];
            return (ssize_t)i;
        }
    }
    return -1;
}
