/*
 * Reading the configuration file into libconfig's tree: the file and the files it
 * @includes (from the main file's directory), refusing a syntax error and nesting
 * deeper than KPID_CONFIG_MAX_DEPTH, after which nothing in the file can be trusted.
 */
#ifndef KPID_CONFIG_FILE_READ_H
#define KPID_CONFIG_FILE_READ_H

#include <libconfig.h>

#include "config/reader.h"

/*
 * Groups, lists and arrays nest at most this deep (a top-level group is level 1).
 * libconfig 1.5's parser keeps its state on a bison stack of 10000 entries and fails
 * with "memory exhausted" at 1999 nested groups (2856 alternating lists and groups, 4997
 * lists); kpid's own configurations need fewer than 10 levels.
 */
#define KPID_CONFIG_MAX_DEPTH 100

/*
 * Reads the file of the load l (its path) into lc, which config_init prepared.
 * Returns 0 when it could be read and nests no deeper than the limit. Otherwise nothing
 * more is to be read from it, and it returns:
 *   -errno (or -EIO) when the file cannot be read, reported to l;
 *   -EINVAL with *ret_errors, for a syntax error: the whole error text, one
 *     "FILE:LINE: message" line in libconfig's words (or the nesting limit's, when its
 *     parser ran out of stack), freshly allocated, for the caller to free;
 *   -EINVAL when nesting is too deep, reported to l;
 *   -ENOMEM when memory ran out.
 */
int kpid__config_file_read(kpid__loader *l, config_t *lc, char **ret_errors);

#endif
