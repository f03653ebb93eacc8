#include "json/json.h"

#include <errno.h>

int kpid_json_put_string(kpid_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t mark = out->len;

    if (kpid_buf_putc(out, '"') < 0)
        goto nomem;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc = 0;

        switch (c) {
        case '"': esc = '"'; break;
        case '\\': esc = '\\'; break;
        case '\b': esc = 'b'; break;
        case '\f': esc = 'f'; break;
        case '\n': esc = 'n'; break;
        case '\r': esc = 'r'; break;
        case '\t': esc = 't'; break;
        default: break;
        }
        if (esc) {
            char two[2] = {'\\', esc};
            if (kpid_buf_append(out, two, 2) < 0)
                goto nomem;
        } else if (c < 0x20) {
            char six[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            if (kpid_buf_append(out, six, 6) < 0)
                goto nomem;
        } else if (kpid_buf_putc(out, (char)c) < 0)
            goto nomem;
    }
    if (kpid_buf_putc(out, '"') < 0)
        goto nomem;
    return 0;
nomem:
    out->len = mark;
    return -ENOMEM;
}
