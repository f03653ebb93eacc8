/*
 * Text from outside (a server's message, a path) made fit for a value of a log line:
 * key="value" stays one line that a reader splits unambiguously.
 */
#ifndef KPID_TEXT_LOGTEXT_H
#define KPID_TEXT_LOGTEXT_H

#include <stddef.h>

/*
 * Writes text's first line into out: '"' and '\\' escaped with '\\', other control
 * characters as '?', cut to fit out_size bytes with its NUL. NULL is "". Returns out.
 */
char *kpid_log_text(const char *text, char *out, size_t out_size);

#endif
