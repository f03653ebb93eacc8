#include "log.h"

#include <errno.h>
#include <stdatomic.h>
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
        {"err", KPID_LOG_ERR},   {"error", KPID_LOG_ERR},   {"warning", KPID_LOG_WARNING},
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

void kpid_log(enum kpid_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kpid_logv(level, NULL, fmt, ap);
    va_end(ap);
}
