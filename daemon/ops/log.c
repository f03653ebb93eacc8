#include "ops/log.h"
#include "text/utf8.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic int max_level = KPID_LOG_INFO;

void kpid_log_set_level(enum kpid_log_level level)
{
    atomic_store(&max_level, (int)level);
}

int kpid_log_parse_level(const char *name, enum kpid_log_level *ret_level)
{
    static const struct {
        const char *name;
        enum kpid_log_level level;
    } levels[] = {
        {"err", KPID_LOG_ERR},       {"error", KPID_LOG_ERR}, {"warning", KPID_LOG_WARNING},
        {"notice", KPID_LOG_NOTICE}, {"info", KPID_LOG_INFO}, {"debug", KPID_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcmp(name, levels[i].name) == 0) {
            *ret_level = levels[i].level;
            return 0;
        }
    return -EINVAL;
}

void kpid_logv(enum kpid_log_level level, const char *prefix, const char *fmt, va_list ap)
{
    char line[2048];
    int n, m;

    if ((int)level > atomic_load(&max_level))
        return;
    n = snprintf(line, sizeof(line), "<%d>%s", (int)level, prefix ? prefix : "");
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = sizeof(line) - 2; /* truncated */
    /* A line never spans two: newlines inside a message would forge log lines. */
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    int saved = errno;
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
    errno = saved;
}

/*
 * The escaped form of the character or byte at s (n bytes left, n > 0) in out (at least
 * 4 bytes): returns its length and the input bytes it stands for in *ret_used.
 */
static size_t escape_one(const unsigned char *s, size_t n, char out[4], size_t *ret_used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[0];
    uint32_t cp = 0;
    size_t len;

    *ret_used = 1;
    switch (c) {
    case '"':
    case '\\':
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    case '\n':
        out[0] = '\\';
        out[1] = 'n';
        return 2;
    case '\r':
        out[0] = '\\';
        out[1] = 'r';
        return 2;
    case '\t':
        out[0] = '\\';
        out[1] = 't';
        return 2;
    default: break;
    }
    if (c >= 0x20 && c < 0x7f) {
        out[0] = (char)c;
        return 1;
    }
    /* Printable UTF-8 passes; C1 controls and the line and paragraph separators
     * (U+2028, U+2029) do not: they would act on a terminal or split a line. */
    if (c >= 0x80 && (len = kpid_utf8_decode((const char *)s, n, &cp)) > 0 &&
        !(cp >= 0x80 && cp <= 0x9f) && cp != 0x2028 && cp != 0x2029) {
        memcpy(out, s, len);
        *ret_used = len;
        return len;
    }
    out[0] = '\\';
    out[1] = 'x';
    out[2] = hex[c >> 4];
    out[3] = hex[c & 0xf];
    return 4;
}

const char *kpid_log_escape(const char *s, char *buf, size_t size)
{
    const unsigned char *in = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)in), total = 0, limit, o = 0, used;
    char piece[4];

    if (size == 0)
        return buf;
    for (size_t i = 0; i < n && total < size; i += used)
        total += escape_one(in + i, n - i, piece, &used);
    /* When it does not fit, room is kept for "..." after the last piece that fits. */
    limit = total <= size - 1 ? total : size - 1 >= 3 ? size - 1 - 3 : 0;
    for (size_t i = 0; i < n; i += used) {
        size_t len = escape_one(in + i, n - i, piece, &used);
        if (o + len > limit)
            break;
        memcpy(buf + o, piece, len);
        o += len;
    }
    if (total > size - 1 && size - 1 >= 3) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

void kpid_log(enum kpid_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kpid_logv(level, NULL, fmt, ap);
    va_end(ap);
}
