/*
 * The file source's version 1 cursor: how far each file has been read, every file in
 * the one cursor (which grows with the number of files; a few hundred filled its 64
 * KiB). The file source now keeps each file's position as keyed source state and
 * submits the constant cursor {"v":2} (state.h); it decodes a version 1 cursor found at
 * start once, to take its positions over.
 *
 * Text form (what the host stored in kpid.cursor, at most FILE_CURSOR_MAX bytes):
 *
 *   {"v":1,"files":[{"dev":"2049","ino":"1835012","off":5120,"line":20,
 *                    "path":"/var/spool/kpid/ed-2024-03-01.ndjson"}, ...]}
 *
 * A file is identified by (dev, ino), so a renamed file keeps its position; dev and ino
 * are decimal strings because they are unsigned 64-bit numbers (overlayfs sets the top
 * bit of inode numbers) that JSON readers, jansson included, cannot hold as integers.
 * off is the number of bytes consumed, always at a line boundary; line is the number of
 * lines before off, so the next line is number line + 1. path is where the file was
 * last seen, made printable valid UTF-8: it is for people and locators, not identity.
 *
 * Thread ownership: a file_cursor belongs to one thread (the source's).
 */
#ifndef KPID_FILE_CURSOR_H
#define KPID_FILE_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#define FILE_CURSOR_VERSION 1
#define FILE_CURSOR_MAX 65536 /* bytes of text, the terminating NUL excluded */
#define FILE_CURSOR_PATH_MAX 4096

typedef struct file_cursor_entry {
    uint64_t dev;
    uint64_t ino;
    int64_t off;
    int64_t line;
    char *path; /* owned, printable valid UTF-8 */

    /* Scratch space for the caller, not encoded; zero after decode and add. */
    int64_t size;
    unsigned flags;
} file_cursor_entry;

/* Entries in the order added (the file source adds them in path order). Zero-initialize
 * (= {0}) for an empty cursor; free with file_cursor_clear(). */
typedef struct file_cursor {
    file_cursor_entry *files;
    size_t n_files;
    size_t cap;
} file_cursor;

/*
 * Decodes text into *ret (which must be empty; on success the caller clears it).
 * Returns 0, -ENOMEM, or -EINVAL after writing a one-line explanation of what is wrong
 * to err (err_size bytes, always NUL-terminated): "files[2].off must be a non-negative
 * integer". Every field is checked; *ret is written only on success.
 */
int file_cursor_decode(const char *text, file_cursor *ret, char *err, size_t err_size);

/*
 * Encodes c. On success *ret_text is freshly allocated (the caller frees it). Returns
 * -E2BIG when the text would exceed FILE_CURSOR_MAX bytes, -EINVAL when an entry is
 * inconsistent (negative off or line), or -ENOMEM.
 */
int file_cursor_encode(const file_cursor *c, char **ret_text);

/*
 * Appends an entry. path is copied, with invalid UTF-8 and control characters replaced
 * by '?' and cut to FILE_CURSOR_PATH_MAX bytes. Returns 0 or -ENOMEM.
 */
int file_cursor_add(file_cursor *c, uint64_t dev, uint64_t ino, int64_t off, int64_t line,
                    const char *path);

/*
 * The entry of (dev, ino), or NULL. *hint (may be NULL) is where the search starts and
 * is set past a hit, so that lookups in the order entries were added cost O(1) each.
 */
file_cursor_entry *file_cursor_find(const file_cursor *c, uint64_t dev, uint64_t ino, size_t *hint);

/* Frees the entries and empties c. Accepts an empty or NULL cursor. */
void file_cursor_clear(file_cursor *c);

/* Swaps the contents of a and b. */
void file_cursor_swap(file_cursor *a, file_cursor *b);

#endif
