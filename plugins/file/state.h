/*
 * The file source's position in one file, as keyed source state (kpid.source_state):
 *
 *   key    "f:DEV:INO"                    e.g. "f:2049:1835012"
 *   value  {"off":5120,"line":20,"fp":"9c1f0a3e5b7d2c41","fplen":4096,
 *           "path":"/var/spool/kpid/ed-2024-03-01.ndjson"}
 *
 * DEV and INO are canonical decimals (no sign, no leading zeros) of the file's st_dev
 * and st_ino. off is the number of bytes consumed, always at a line boundary; line the
 * number of lines before off; fp the fingerprint (fingerprint.h) of the first fplen
 * bytes, as 16 lowercase hex digits; path where the file was last seen, printable valid
 * UTF-8 of at most FILE_STATE_PATH_MAX bytes: for people, and for finding a file renamed
 * while kpid was stopped, never for identity. The value is at most KPID_STATE_VALUE_MAX
 * bytes, whatever the path.
 *
 * The cursor of the source is the constant FILE_CURSOR_V2_TEXT: positions are in the
 * state, so the cursor does not grow with the number of files.
 */
#ifndef KPID_FILE_STATE_H
#define KPID_FILE_STATE_H

#include <stddef.h>
#include <stdint.h>

#define FILE_STATE_KEY_SIZE 48   /* "f:" + 20 + ":" + 20 + NUL, rounded up */
#define FILE_STATE_PATH_MAX 1800 /* bytes; JSON escaping at most doubles it */
#define FILE_CURSOR_V2_TEXT "{\"v\":2}"

typedef struct file_state {
    uint64_t dev, ino;
    int64_t off, line;
    uint64_t fp;
    uint32_t fp_len;
    char *path; /* owned by whoever holds the struct */
} file_state;

/* Writes the key of (dev, ino) into out; returns its length. */
int file_state_key(uint64_t dev, uint64_t ino, char out[FILE_STATE_KEY_SIZE]);

/* Parses a key written by file_state_key. Returns 0 or -EINVAL (not this plugin's key,
 * or not canonical). */
int file_state_parse_key(const char *key, uint64_t *ret_dev, uint64_t *ret_ino);

/*
 * Encodes st's value (its path made printable and cut to FILE_STATE_PATH_MAX). On success
 * *ret_text is freshly allocated (the caller frees it). Returns -EINVAL when st is
 * inconsistent (negative off or line, line > off, fp_len > FILE_FP_MAX), or -ENOMEM.
 */
int file_state_encode(const file_state *st, char **ret_text);

/*
 * Decodes the key and value of one state entry into *ret (written only on success; the
 * caller frees ret->path). Every field is checked: unknown or repeated keys, wrong
 * types, negative or inconsistent numbers, fplen above FILE_FP_MAX, a path that is empty,
 * too long or holds NUL. Returns 0, -ENOMEM, or -EINVAL after writing a one-line
 * explanation to err (err_size bytes, always NUL-terminated).
 */
int file_state_decode(const char *key, const char *value, file_state *ret, char *err,
                      size_t err_size);

/*
 * Reads a cursor of this source: returns 2 for FILE_CURSOR_V2_TEXT (exactly {"v":2}, in
 * any JSON spelling), 1 for a version 1 cursor (to decode with file_cursor_decode), or
 * -EINVAL with a one-line explanation in err for anything else.
 */
int file_cursor_version(const char *text, char *err, size_t err_size);

#endif
