/*
 * The password_file of a HIS source: the HIS role's password on its first line, read at
 * each connection so that a corrected or rotated file is taken without a reload.
 */
#ifndef KPID_PULL_PASSWORD_H
#define KPID_PULL_PASSWORD_H

#include <stdbool.h>

#include <kpid/plugin.h>

/*
 * Reads the first line of path (without its line end; "" for an empty file). Logs, for
 * src, a file readable by every user once (*warned) and a file that cannot be read.
 * Returns the password, freshly allocated (the caller wipes and frees it), or NULL.
 */
char *kpid_pull_password_read(const kpid_host *host, kpid_source *src, const char *path,
                              bool *warned);

#endif
