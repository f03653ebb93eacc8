/*
 * Durations as the configuration writes them: an integer (milliseconds) or an integer
 * with a unit, "250ms", "5s", "2m", "1h", "1d" (no space, no sign). Plain functions of
 * their arguments, safe from any thread.
 */
#ifndef KPID_CONFIG_DURATION_H
#define KPID_CONFIG_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses text. Returns 0 and *ret_ms, -EINVAL when it is no duration, or -ERANGE when it
 * is beyond INT64_MAX milliseconds. */
int kpid_duration_parse(const char *text, int64_t *ret_ms);

/* Writes ms with the largest unit that divides it ("10ms", "5s", "1d"; 0 is "0ms") into
 * buf of size bytes, cut to fit. */
void kpid_duration_format(int64_t ms, char *buf, size_t size);

#endif
