/*
 * A bounded FIFO between the source threads (producers) and the writer (consumer).
 * Bounded in items' events and bytes: a push waits while admitting the item would
 * exceed either bound, so memory stays bounded whatever the backlog. An item larger than
 * a bound on its own is admitted when the queue is empty, so it cannot wait forever, and
 * alone: the queue then holds nothing else until it is popped. So the queue never holds
 * more than its bounds, or one item beyond them.
 *
 * The bounds themselves are bounded (KPID_QUEUE_MAX_EVENTS_LIMIT, ..._BYTES_LIMIT), so
 * that a configured bound always bounds memory.
 *
 * A producer that must not block (a stream source that keeps serving its upstream while
 * it pauses) pushes with kpid_queue_try_push, and on -EAGAIN waits for room with a
 * timeout of its choosing (kpid_queue_wait_room), doing its own work in between.
 *
 * Items are intrusive (kpid_queue_item embedded in the caller's struct); the queue never
 * allocates or frees them. All functions are thread-safe; one mutex guards the queue.
 */
#ifndef KPID_QUEUE_H
#define KPID_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "time/clock.h" /* kpid_now_us, for deadlines */

typedef struct kpid_queue_item {
    struct kpid_queue_item *next;
    size_t events; /* weight in events (at least 1 is counted) */
    size_t bytes;  /* weight in bytes */
} kpid_queue_item;

typedef struct kpid_queue kpid_queue;

/* The largest bounds a queue takes: 10 million events, 4 GiB. */
#define KPID_QUEUE_MAX_EVENTS_LIMIT INT64_C(10000000)
#define KPID_QUEUE_MAX_BYTES_LIMIT (INT64_C(4) << 30)

/* Creates a queue. Returns 0 or -ENOMEM / -EINVAL (a zero bound, or one above its limit). */
int kpid_queue_new(size_t max_events, size_t max_bytes, kpid_queue **ret_queue);

/* Frees the queue (not its items: drain it first). Accepts NULL; returns NULL. */
kpid_queue *kpid_queue_free(kpid_queue *q);

/*
 * Appends item, waiting while the queue is full. Returns 0, -ECANCELED when *cancel
 * turns true while waiting (checked on every wake-up: call kpid_queue_wake after
 * setting it), or -EPIPE when the queue is closed. The item is not queued on error.
 */
int kpid_queue_push(kpid_queue *q, kpid_queue_item *item, const _Atomic bool *cancel);

/*
 * Appends item if it fits now, by the rule of kpid_queue_push, without waiting. Returns
 * 0, -EAGAIN when the queue is too full for it (nothing changes: the item stays the
 * caller's), or -EPIPE when the queue is closed.
 */
int kpid_queue_try_push(kpid_queue *q, kpid_queue_item *item);

/*
 * Waits until an item of the given weight would fit, by the rule of kpid_queue_push
 * (events 0 counts as 1), or until deadline_us (CLOCK_MONOTONIC microseconds; 0 or a
 * past deadline = do not wait; INT64_MAX = no limit). Returns 0 when it fits, -ETIMEDOUT,
 * -ECANCELED when *cancel turns true (checked first, and on every wake-up: call
 * kpid_queue_wake after setting it), or -EPIPE when the queue is closed. The room is not
 * reserved: another producer may take it first, and a kpid_queue_try_push that follows
 * can still return -EAGAIN.
 */
int kpid_queue_wait_room(kpid_queue *q, size_t events, size_t bytes, int64_t deadline_us,
                         const _Atomic bool *cancel);

/*
 * Removes the oldest item, waiting until deadline_us (CLOCK_MONOTONIC microseconds; 0 =
 * do not wait). Returns NULL on timeout, when kpid_queue_wake is called while it waits,
 * or when the queue is closed and empty.
 */
kpid_queue_item *kpid_queue_pop(kpid_queue *q, int64_t deadline_us);

/* Wakes every waiting pusher and room waiter (to recheck its cancel flag) and popper
 * (which returns NULL if the queue is still empty). */
void kpid_queue_wake(kpid_queue *q);

/* After close, pushes fail with -EPIPE and pops return what is left, then NULL. */
void kpid_queue_close(kpid_queue *q);
bool kpid_queue_closed(kpid_queue *q);

/* Current content: items, events and bytes (a snapshot). */
void kpid_queue_depth(kpid_queue *q, size_t *ret_items, size_t *ret_events, size_t *ret_bytes);

#endif
