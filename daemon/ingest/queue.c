#include "ingest/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct kpid_queue {
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t not_full;
    pthread_cond_t not_empty;
    kpid_queue_item *head, *tail;
    size_t items, events, bytes;
    size_t max_events, max_bytes;
    bool closed;
    uint64_t wakes; /* kpid_queue_wake calls: a waiting pop returns at one */
};

int kpid_queue_new(size_t max_events, size_t max_bytes, kpid_queue **ret_queue)
{
    pthread_condattr_t attr;
    kpid_queue *q;

    if (max_events == 0 || max_bytes == 0 || (uint64_t)max_events > KPID_QUEUE_MAX_EVENTS_LIMIT ||
        (uint64_t)max_bytes > KPID_QUEUE_MAX_BYTES_LIMIT)
        return -EINVAL;
    q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_full, &attr);
    pthread_cond_init(&q->not_empty, &attr);
    pthread_condattr_destroy(&attr);
    q->max_events = max_events;
    q->max_bytes = max_bytes;
    *ret_queue = q;
    return 0;
}

kpid_queue *kpid_queue_free(kpid_queue *q)
{
    if (!q)
        return NULL;
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    free(q);
    return NULL;
}

static size_t item_events(const kpid_queue_item *item)
{
    return item->events ? item->events : 1;
}

static bool fits(const kpid_queue *q, const kpid_queue_item *item)
{
    if (q->items == 0)
        return true;
    return q->events + item_events(item) <= q->max_events && q->bytes + item->bytes <= q->max_bytes;
}

/* Links item at the tail. Called with the lock held, after fits(). */
static void enqueue(kpid_queue *q, kpid_queue_item *item)
{
    item->next = NULL;
    if (q->tail)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    q->items++;
    q->events += item_events(item);
    q->bytes += item->bytes;
    pthread_cond_signal(&q->not_empty);
}

int kpid_queue_push(kpid_queue *q, kpid_queue_item *item, const _Atomic bool *cancel)
{
    int r = 0;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->closed) {
            r = -EPIPE;
            goto out;
        }
        if (cancel && atomic_load(cancel)) {
            r = -ECANCELED;
            goto out;
        }
        if (fits(q, item))
            break;
        pthread_cond_wait(&q->not_full, &q->lock);
    }
    enqueue(q, item);
out:
    pthread_mutex_unlock(&q->lock);
    return r;
}

int kpid_queue_try_push(kpid_queue *q, kpid_queue_item *item)
{
    int r = 0;

    pthread_mutex_lock(&q->lock);
    if (q->closed)
        r = -EPIPE;
    else if (!fits(q, item))
        r = -EAGAIN;
    else
        enqueue(q, item);
    pthread_mutex_unlock(&q->lock);
    return r;
}

int kpid_queue_wait_room(kpid_queue *q, size_t events, size_t bytes, int64_t deadline_us,
                         const _Atomic bool *cancel)
{
    kpid_queue_item probe = {.events = events, .bytes = bytes};
    struct timespec ts = {.tv_sec = deadline_us / 1000000,
                          .tv_nsec = (long)(deadline_us % 1000000) * 1000};
    int r;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (cancel && atomic_load(cancel)) {
            r = -ECANCELED;
            break;
        }
        if (q->closed) {
            r = -EPIPE;
            break;
        }
        if (fits(q, &probe)) {
            r = 0;
            break;
        }
        if (deadline_us <= kpid_now_us()) {
            r = -ETIMEDOUT;
            break;
        }
        if (deadline_us == INT64_MAX)
            pthread_cond_wait(&q->not_full, &q->lock);
        else
            (void)pthread_cond_timedwait(&q->not_full, &q->lock, &ts);
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

kpid_queue_item *kpid_queue_pop(kpid_queue *q, int64_t deadline_us)
{
    kpid_queue_item *item = NULL;
    struct timespec ts = {.tv_sec = deadline_us / 1000000,
                          .tv_nsec = (long)(deadline_us % 1000000) * 1000};

    pthread_mutex_lock(&q->lock);
    uint64_t wakes = q->wakes;
    while (!q->head && !q->closed) {
        if (deadline_us <= kpid_now_us() || q->wakes != wakes)
            goto out;
        if (pthread_cond_timedwait(&q->not_empty, &q->lock, &ts) == ETIMEDOUT && !q->head)
            goto out;
    }
    item = q->head;
    if (item) {
        q->head = item->next;
        if (!q->head)
            q->tail = NULL;
        item->next = NULL;
        q->items--;
        q->events -= item_events(item);
        q->bytes -= item->bytes;
        /* Several small pushers may fit now. */
        pthread_cond_broadcast(&q->not_full);
    }
out:
    pthread_mutex_unlock(&q->lock);
    return item;
}

void kpid_queue_wake(kpid_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->wakes++;
    pthread_cond_broadcast(&q->not_full);
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

void kpid_queue_close(kpid_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_full);
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

bool kpid_queue_closed(kpid_queue *q)
{
    bool closed;
    pthread_mutex_lock(&q->lock);
    closed = q->closed;
    pthread_mutex_unlock(&q->lock);
    return closed;
}

void kpid_queue_depth(kpid_queue *q, size_t *ret_items, size_t *ret_events, size_t *ret_bytes)
{
    pthread_mutex_lock(&q->lock);
    if (ret_items)
        *ret_items = q->items;
    if (ret_events)
        *ret_events = q->events;
    if (ret_bytes)
        *ret_bytes = q->bytes;
    pthread_mutex_unlock(&q->lock);
}
