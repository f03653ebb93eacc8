/*
 * Logging to stderr with sd-daemon priority prefixes ("<3>"), so that journald keeps
 * the levels. One line per call, key=value fields, no patient data, no secrets.
 * Thread-safe: each line is written with one write(2).
 */
#ifndef KPID_LOG_H
#define KPID_LOG_H

#include <stdarg.h>

#include "kpid/plugin.h"

/* Lines above this level are dropped. Default KPID_LOG_INFO; KPID_LOG_LEVEL overrides. */
void kpid_log_set_level(enum kpid_log_level level);
int kpid_log_parse_level(const char *name, enum kpid_log_level *ret_level);

void kpid_log(enum kpid_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void kpid_logv(enum kpid_log_level level, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_err(...) kpid_log(KPID_LOG_ERR, __VA_ARGS__)
#define log_warning(...) kpid_log(KPID_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) kpid_log(KPID_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) kpid_log(KPID_LOG_INFO, __VA_ARGS__)
#define log_debug(...) kpid_log(KPID_LOG_DEBUG, __VA_ARGS__)

#endif
