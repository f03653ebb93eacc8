/*
 * The cursor of a HIS database source: for each query, the position of the last row
 * read in its order (watermark, tiebreaker), as the database printed them, in the one
 * cursor string the host keeps in kpid.cursor:
 *
 *   {"v":1,"queries":{"admissions":{"type":"timestamp","watermark_column":"updated_at",
 *     "tiebreaker_column":"encounter_id","watermark":"2024-03-01 10:00:00.5+00",
 *     "tiebreaker":"E1234"}}}
 *
 * The type and the two column names say which order a position belongs to: a query whose
 * watermark or tiebreaker changed in the configuration starts again from its beginning
 * (kpid_pull_position_matches). Text is decoded strictly: any other shape, key, type or
 * value is an error, never a guess (fuzzed: tests/fuzz/pull_cursor.c).
 *
 * Thread ownership: a kpid_pull_cursor belongs to one thread at a time.
 */
#ifndef KPID_PULL_CURSOR_H
#define KPID_PULL_CURSOR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf/buf.h"
#include "pull/spec.h"

#define KPID_PULL_CURSOR_VERSION 1
#define KPID_PULL_CURSOR_MAX 65536 /* bytes of the text, without its NUL (the host's limit) */
#define KPID_PULL_VALUE_MAX 1024   /* bytes of a watermark's or a tiebreaker's text */

/* One query's position. Strings are owned by the cursor. */
typedef struct kpid_pull_position {
    char *name; /* the query's name */
    enum kpid_pull_wm_type type;
    char *watermark_column;
    char *tiebreaker_column;
    char *watermark;  /* the last row's watermark, as the database printed it */
    char *tiebreaker; /* and its tiebreaker */
} kpid_pull_position;

/* Positions in the order added (decoded: in the text's order). Zero-initialize (= {0})
 * for an empty cursor; free with kpid_pull_cursor_clear. */
typedef struct kpid_pull_cursor {
    kpid_pull_position *v;
    size_t n, cap;
} kpid_pull_cursor;

/*
 * Decodes the len bytes at text into *ret (which must be empty; on success the caller
 * clears it). Returns 0, -ENOMEM, or -EINVAL after writing a one-line explanation to err
 * (err_size bytes, always NUL-terminated): "queries.admissions.watermark is not a
 * timestamp: ...". *ret is written only on success.
 */
int kpid_pull_cursor_decode(const char *text, size_t len, kpid_pull_cursor *ret, char *err,
                            size_t err_size);

/*
 * Appends c's text and a NUL (not counted in out->len) to out. Returns 0, -E2BIG when it
 * would be longer than KPID_PULL_CURSOR_MAX bytes, or -ENOMEM (out unchanged then).
 */
int kpid_pull_cursor_encode(const kpid_pull_cursor *c, kpid_buf *out);

/*
 * Sets q's position to (watermark, tiebreaker), adding it or replacing the one of q's
 * name. Returns 0; -EINVAL when watermark is not of q's type or either text is not valid
 * UTF-8 without NUL; -E2BIG when either is longer than KPID_PULL_VALUE_MAX bytes;
 * -ENOMEM. The cursor is unchanged on failure.
 */
int kpid_pull_cursor_set(kpid_pull_cursor *c, const kpid_pull_query *q, const char *watermark,
                         const char *tiebreaker);

/* The position of the query named name, or NULL. Valid until c changes. */
const kpid_pull_position *kpid_pull_cursor_find(const kpid_pull_cursor *c, const char *name);

/* Removes the position of the query named name, if any. */
void kpid_pull_cursor_remove(kpid_pull_cursor *c, const char *name);

/* Whether p is a position in q's order: the same watermark type and columns. */
bool kpid_pull_position_matches(const kpid_pull_position *p, const kpid_pull_query *q);

/* Frees the positions and empties c. Accepts an empty cursor or NULL. */
void kpid_pull_cursor_clear(kpid_pull_cursor *c);

#endif
