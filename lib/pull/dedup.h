/*
 * Rows read again: a query with an overlap reads the window behind its cursor again at
 * every poll, to catch rows whose watermark became visible late (a long transaction
 * that committed after rows with later watermarks were read). The dedup set remembers,
 * per event key, a hash of the content last emitted and the watermark of the row it
 * came from, so that a row read again unchanged is skipped and a changed one is emitted.
 *
 * It is bounded: at most max_keys keys, the one of the oldest watermark forgotten first;
 * and kpid_pull_dedup_expire forgets the keys whose watermark fell behind the window,
 * which no page reads again. A key forgotten too early costs one idempotent rewrite of
 * its event, never a lost one.
 *
 * Hashes are SipHash-2-4 with a random key per set, so that neither collisions of
 * content nor a flood of crafted keys can be arranged from the database's side.
 *
 * Thread ownership: a set belongs to one thread (the source's).
 */
#ifndef KPID_PULL_DEDUP_H
#define KPID_PULL_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pull/row.h"

typedef struct kpid_pull_dedup kpid_pull_dedup;

/* Creates an empty set of at most max_keys keys (>= 1). Returns 0 and *ret (freshly
 * allocated; free it with kpid_pull_dedup_free), -EINVAL or -ENOMEM. */
int kpid_pull_dedup_new(size_t max_keys, kpid_pull_dedup **ret);

/* Frees a set. Accepts NULL; returns NULL. */
kpid_pull_dedup *kpid_pull_dedup_free(kpid_pull_dedup *d);

/*
 * The hash of what row would write: retraction or event, and every field of the event
 * (event_key, case_id, subject_id, activity, time, value, attrs). Returns 0 and *ret,
 * or -ENOMEM.
 */
int kpid_pull_dedup_hash(kpid_pull_dedup *d, const kpid_pull_row *row, uint64_t *ret);

/* True when key is in the set with content hash. */
bool kpid_pull_dedup_seen(const kpid_pull_dedup *d, const char *key, uint64_t hash);

/*
 * Records that key was emitted with content hash from a row of watermark value wm
 * (replacing what the set held for key). Returns 0, 1 when a key of the oldest watermark
 * was forgotten to stay within max_keys, or -ENOMEM (the set is unchanged then).
 */
int kpid_pull_dedup_put(kpid_pull_dedup *d, const char *key, uint64_t hash, int64_t wm);

/* Forgets the keys whose watermark is below before. Returns how many. */
size_t kpid_pull_dedup_expire(kpid_pull_dedup *d, int64_t before);

/* The number of keys in the set. */
size_t kpid_pull_dedup_size(const kpid_pull_dedup *d);

/* Forgets every key. */
void kpid_pull_dedup_reset(kpid_pull_dedup *d);

#endif
