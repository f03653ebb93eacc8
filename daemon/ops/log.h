/*
 * Logging to stderr with sd-daemon priority prefixes ("<3>"), so that journald keeps
 * the levels. One line per call, key=value fields, no patient data, no secrets.
 * A value that holds text from outside kpid (a warehouse message, an error string, a
 * path, configuration or plugin text) is quoted and escaped with kpid_log_value:
 * error="relation \"kpid.event\" does not exist". Values kpid itself restricts
 * (identifiers, numbers, SQLSTATEs, strerror texts) are written as they are.
 * Thread-safe: each line is written with one write(2).
 */
#ifndef KPID_LOG_H
#define KPID_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "kpid/plugin.h"

/* Lines above this level are dropped. Default KPID_LOG_INFO; KPID_LOG_LEVEL overrides. */
void kpid_log_set_level(enum kpid_log_level level);
int kpid_log_parse_level(const char *name, enum kpid_log_level *ret_level);

void kpid_log(enum kpid_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void kpid_logv(enum kpid_log_level level, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Escapes text from outside (warehouse messages, paths, configuration text, error strings)
 * for a quoted log value, key="...", so that the line stays one machine-readable line:
 * a double quote and a backslash get a backslash before them, newline, carriage return
 * and tab are written \n \r \t, and every other byte that is not printable UTF-8 text
 * (control characters, C1 controls, DEL, invalid UTF-8) is written \xHH. Valid UTF-8
 * text passes as it is. s may be NULL (an empty value).
 *
 * Writes the escaped text and a NUL into buf (size bytes, at least 4); when it does not
 * fit, the text is cut before the escape sequence or character that does not fit and
 * ends with "...". Returns buf.
 */
const char *kpid_log_escape(const char *s, char *buf, size_t size);

/* Size of the buffer kpid_log_value gives kpid_log_escape. */
#define KPID_LOG_VALUE_MAX 1024

/*
 * s escaped as by kpid_log_escape, in a buffer that lives until the end of the enclosing
 * block: log_warning("cannot read path=\"%s\"", kpid_log_value(path)).
 */
#define kpid_log_value(s) kpid_log_escape((s), (char[KPID_LOG_VALUE_MAX]){0}, KPID_LOG_VALUE_MAX)

#define log_err(...) kpid_log(KPID_LOG_ERR, __VA_ARGS__)
#define log_warning(...) kpid_log(KPID_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) kpid_log(KPID_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) kpid_log(KPID_LOG_INFO, __VA_ARGS__)
#define log_debug(...) kpid_log(KPID_LOG_DEBUG, __VA_ARGS__)

#endif
