/*
 * Paths as the file source shows them: in logs, locators, cursors and state values they
 * must be printable, valid UTF-8, whatever bytes the file system allows in a name.
 */
#ifndef KPID_FILE_PATH_H
#define KPID_FILE_PATH_H

#include <stddef.h>

/*
 * A copy of path with every byte that is not part of a valid UTF-8 sequence, and every
 * control character (C0 and DEL), replaced by '?', cut to at most max bytes at a
 * character boundary. The result is freshly allocated (the caller frees it); NULL when
 * out of memory.
 */
char *file_path_printable(const char *path, size_t max);

/* The same into out (out_size bytes, at least 1): at most out_size - 1 bytes and a NUL.
 * Returns the length written. */
size_t file_path_printable_to(const char *path, char *out, size_t out_size);

#endif
