/* Unit tests of the bounded queue: bounds in events and bytes, FIFO order, blocking
 * push released by pop, cancellation and close; the push that never blocks
 * (kpid_queue_try_push) and the wait for room (kpid_queue_wait_room) that a stream
 * source pauses with. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "ingest/queue.h"

static kpid_queue_item item(size_t events, size_t bytes)
{
    return (kpid_queue_item){.events = events, .bytes = bytes};
}

static void fifo_order(void **unused)
{
    kpid_queue *q;
    kpid_queue_item a = item(1, 10), b = item(2, 10), c = item(3, 10);

    assert_int_equal(kpid_queue_new(100, 1000, &q), 0);
    assert_int_equal(kpid_queue_push(q, &a, NULL), 0);
    assert_int_equal(kpid_queue_push(q, &b, NULL), 0);
    assert_int_equal(kpid_queue_push(q, &c, NULL), 0);
    size_t items, events, bytes;
    kpid_queue_depth(q, &items, &events, &bytes);
    assert_int_equal(items, 3);
    assert_int_equal(events, 6);
    assert_int_equal(bytes, 30);
    assert_ptr_equal(kpid_queue_pop(q, 0), &a);
    assert_ptr_equal(kpid_queue_pop(q, 0), &b);
    assert_ptr_equal(kpid_queue_pop(q, 0), &c);
    assert_null(kpid_queue_pop(q, 0));
    kpid_queue_depth(q, &items, &events, &bytes);
    assert_int_equal(items + events + bytes, 0);
    kpid_queue_free(q);
}

static void zero_bounds_refused(void **unused)
{
    kpid_queue *q = NULL;
    assert_int_equal(kpid_queue_new(0, 10, &q), -EINVAL);
    assert_int_equal(kpid_queue_new(10, 0, &q), -EINVAL);
    assert_null(q);
}

/* Bounds above the limits would not bound memory: refused; the limits themselves pass. */
static void bounds_above_limits_refused(void **unused)
{
    kpid_queue *q = NULL;
    /* 10 million events, 4 GiB (KPID_QUEUE_MAX_*_LIMIT). */
    assert_int_equal(kpid_queue_new(10000001, 1000, &q), -EINVAL);
    assert_int_equal(kpid_queue_new(10, (size_t)4294967297, &q), -EINVAL);
    assert_int_equal(kpid_queue_new(SIZE_MAX, SIZE_MAX, &q), -EINVAL);
    assert_null(q);
    assert_int_equal(kpid_queue_new(10000000, (size_t)4294967296, &q), 0);
    kpid_queue_free(q);
}

typedef struct pusher {
    kpid_queue *q;
    kpid_queue_item *it;
    _Atomic bool cancel;
    _Atomic int result;
    _Atomic bool done;
} pusher;

static void *push_thread(void *arg)
{
    pusher *p = arg;
    atomic_store(&p->result, kpid_queue_push(p->q, p->it, &p->cancel));
    atomic_store(&p->done, true);
    return NULL;
}

/* Waits (bounded) for a pusher to finish; returns whether it did. */
static bool wait_done(pusher *p, int ms)
{
    for (int i = 0; i < ms && !atomic_load(&p->done); i++)
        usleep(1000);
    return atomic_load(&p->done);
}

static void full_by_events_blocks_until_pop(void **unused)
{
    kpid_queue *q;
    kpid_queue_item a = item(6, 1), b = item(5, 1);
    pusher p = {.it = &b};
    pthread_t t;

    assert_int_equal(kpid_queue_new(10, 1 << 20, &q), 0);
    p.q = q;
    assert_int_equal(kpid_queue_push(q, &a, NULL), 0);
    pthread_create(&t, NULL, push_thread, &p);
    assert_false(wait_done(&p, 100)); /* 6 + 5 > 10: waits */
    assert_ptr_equal(kpid_queue_pop(q, 0), &a);
    assert_true(wait_done(&p, 2000));
    assert_int_equal(atomic_load(&p.result), 0);
    pthread_join(t, NULL);
    assert_ptr_equal(kpid_queue_pop(q, 0), &b);
    kpid_queue_free(q);
}

static void full_by_bytes_blocks(void **unused)
{
    kpid_queue *q;
    kpid_queue_item a = item(1, 700), b = item(1, 400);
    pusher p = {.it = &b};
    pthread_t t;

    assert_int_equal(kpid_queue_new(1000, 1000, &q), 0);
    p.q = q;
    assert_int_equal(kpid_queue_push(q, &a, NULL), 0);
    pthread_create(&t, NULL, push_thread, &p);
    assert_false(wait_done(&p, 100));
    size_t bytes;
    kpid_queue_depth(q, NULL, NULL, &bytes);
    assert_int_equal(bytes, 700); /* never above the bound */
    assert_non_null(kpid_queue_pop(q, 0));
    assert_true(wait_done(&p, 2000));
    pthread_join(t, NULL);
    kpid_queue_free(q);
}

static void oversized_item_admitted_when_empty(void **unused)
{
    kpid_queue *q;
    kpid_queue_item big = item(50, 5000);

    assert_int_equal(kpid_queue_new(10, 1000, &q), 0);
    assert_int_equal(kpid_queue_push(q, &big, NULL), 0);
    assert_ptr_equal(kpid_queue_pop(q, 0), &big);
    kpid_queue_free(q);
}

/* An item beyond the bounds is admitted only into an empty queue, and then stays alone:
 * neither a small item nor a second big one joins it before it is popped. The bound is
 * exceeded by one item at most and a big item never waits forever. */
static void oversized_item_stays_alone(void **unused)
{
    kpid_queue *q;
    kpid_queue_item big = item(50, 5000), small = item(1, 1), big2 = item(1, 5000);
    pusher ps = {.it = &small}, pb = {.it = &big2};
    pthread_t ts, tb;
    size_t items, bytes;

    assert_int_equal(kpid_queue_new(10, 1000, &q), 0);
    ps.q = pb.q = q;
    assert_int_equal(kpid_queue_push(q, &big, NULL), 0);
    pthread_create(&ts, NULL, push_thread, &ps);
    assert_false(wait_done(&ps, 100));
    kpid_queue_depth(q, &items, NULL, &bytes);
    assert_int_equal(items, 1);
    assert_int_equal(bytes, 5000);
    /* Popping the big item lets the small one in; a second big one then waits for the
     * queue to empty again, and gets in once it has. */
    assert_ptr_equal(kpid_queue_pop(q, 0), &big);
    assert_true(wait_done(&ps, 2000));
    pthread_join(ts, NULL);
    pthread_create(&tb, NULL, push_thread, &pb);
    assert_false(wait_done(&pb, 100));
    assert_ptr_equal(kpid_queue_pop(q, 0), &small);
    assert_true(wait_done(&pb, 2000));
    assert_int_equal(atomic_load(&pb.result), 0);
    pthread_join(tb, NULL);
    kpid_queue_depth(q, &items, NULL, &bytes);
    assert_int_equal(items, 1);
    assert_ptr_equal(kpid_queue_pop(q, 0), &big2);
    kpid_queue_free(q);
}

static void cancel_releases_waiting_push(void **unused)
{
    kpid_queue *q;
    kpid_queue_item a = item(10, 1), b = item(1, 1);
    pusher p = {.it = &b};
    pthread_t t;

    assert_int_equal(kpid_queue_new(10, 1000, &q), 0);
    p.q = q;
    assert_int_equal(kpid_queue_push(q, &a, NULL), 0);
    pthread_create(&t, NULL, push_thread, &p);
    assert_false(wait_done(&p, 50));
    atomic_store(&p.cancel, true);
    kpid_queue_wake(q);
    assert_true(wait_done(&p, 2000));
    assert_int_equal(atomic_load(&p.result), -ECANCELED);
    pthread_join(t, NULL);
    size_t items;
    kpid_queue_depth(q, &items, NULL, NULL);
    assert_int_equal(items, 1); /* the cancelled item was not queued */
    kpid_queue_free(q);
}

static void close_fails_push_and_drains(void **unused)
{
    kpid_queue *q;
    kpid_queue_item a = item(1, 1), b = item(1, 1);

    assert_int_equal(kpid_queue_new(10, 1000, &q), 0);
    assert_int_equal(kpid_queue_push(q, &a, NULL), 0);
    kpid_queue_close(q);
    assert_true(kpid_queue_closed(q));
    assert_int_equal(kpid_queue_push(q, &b, NULL), -EPIPE);
    assert_ptr_equal(kpid_queue_pop(q, kpid_now_us() + 1000000), &a);
    int64_t t0 = kpid_now_us();
    assert_null(kpid_queue_pop(q, kpid_now_us() + 1000000)); /* closed: no wait */
    assert_true(kpid_now_us() - t0 < 500000);
    kpid_queue_free(q);
}

static void pop_times_out(void **unused)
{
    kpid_queue *q;
    assert_int_equal(kpid_queue_new(10, 1000, &q), 0);
    int64_t t0 = kpid_now_us();
    assert_null(kpid_queue_pop(q, t0 + 50000));
    int64_t waited = kpid_now_us() - t0;
    assert_true(waited >= 45000 && waited < 2000000);
    kpid_queue_free(q);
}

/* A waiting pop returns NULL at a wake, long before its deadline (a stopping writer). */
typedef struct popper {
    kpid_queue *q;
    kpid_queue_item *got;
    int64_t waited_us;
} popper;

static void *pop_thread(void *arg)
{
    popper *p = arg;
    int64_t t0 = kpid_now_us();
    p->got = kpid_queue_pop(p->q, t0 + 10000000);
    p->waited_us = kpid_now_us() - t0;
    return NULL;
}

static void wake_releases_waiting_pop(void **unused)
{
    popper p = {0};
    pthread_t t;

    (void)unused;
    assert_int_equal(kpid_queue_new(10, 1000, &p.q), 0);
    assert_int_equal(pthread_create(&t, NULL, pop_thread, &p), 0);
    usleep(100000);
    kpid_queue_wake(p.q);
    pthread_join(t, NULL);
    assert_null(p.got);
    assert_true(p.waited_us >= 50000 && p.waited_us < 5000000);
    kpid_queue_free(p.q);
}

/* Many producers, one consumer: everything arrives once, bounds always hold. */
typedef struct producer {
    kpid_queue *q;
    kpid_queue_item items[500];
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    for (int i = 0; i < 500; i++) {
        p->items[i] = item((size_t)(i % 7) + 1, 100);
        if (kpid_queue_push(p->q, &p->items[i], NULL) != 0)
            return (void *)1;
    }
    return NULL;
}

static void concurrent_producers(void **unused)
{
    enum { N = 4 };
    static producer prod[N];
    pthread_t t[N];
    kpid_queue *q;
    size_t got = 0;

    assert_int_equal(kpid_queue_new(20, 1000, &q), 0);
    for (int i = 0; i < N; i++) {
        prod[i].q = q;
        pthread_create(&t[i], NULL, produce, &prod[i]);
    }
    int64_t end = kpid_now_us() + 20000000;
    while (got < N * 500 && kpid_now_us() < end) {
        size_t events, bytes;
        kpid_queue_depth(q, NULL, &events, &bytes);
        assert_true(events <= 20);
        assert_true(bytes <= 1000);
        if (kpid_queue_pop(q, kpid_now_us() + 100000))
            got++;
    }
    assert_int_equal(got, N * 500);
    for (int i = 0; i < N; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        assert_null(rv);
    }
    kpid_queue_free(q);
}

/* A full queue refuses a try_push with -EAGAIN and leaves everything as it was; after a
 * pop the same item gets in. A closed queue says -EPIPE. */
static void try_push_full_returns_eagain(void **unused)
{
    kpid_queue *q;
    kpid_queue_item a = item(6, 100), b = item(5, 100);
    size_t items, events, bytes;

    (void)unused;
    assert_int_equal(kpid_queue_new(10, 1000, &q), 0);
    assert_int_equal(kpid_queue_try_push(q, &a), 0);
    assert_int_equal(kpid_queue_try_push(q, &b), -EAGAIN); /* 6 + 5 > 10 */
    kpid_queue_depth(q, &items, &events, &bytes);
    assert_int_equal(items, 1);
    assert_int_equal(events, 6);
    assert_int_equal(bytes, 100);
    assert_null(b.next);
    assert_ptr_equal(kpid_queue_pop(q, 0), &a);
    assert_null(kpid_queue_pop(q, 0)); /* b was never queued */
    assert_int_equal(kpid_queue_try_push(q, &b), 0);
    kpid_queue_close(q);
    assert_int_equal(kpid_queue_try_push(q, &a), -EPIPE);
    assert_ptr_equal(kpid_queue_pop(q, 0), &b);
    assert_null(kpid_queue_pop(q, 0));
    kpid_queue_free(q);
}

/* By bytes too; an item beyond the bounds gets in only into an empty queue. */
static void try_push_bytes_and_oversized(void **unused)
{
    kpid_queue *q;
    kpid_queue_item a = item(1, 700), b = item(1, 400), big = item(1, 5000);

    (void)unused;
    assert_int_equal(kpid_queue_new(100, 1000, &q), 0);
    assert_int_equal(kpid_queue_try_push(q, &a), 0);
    assert_int_equal(kpid_queue_try_push(q, &b), -EAGAIN);
    assert_int_equal(kpid_queue_try_push(q, &big), -EAGAIN);
    assert_ptr_equal(kpid_queue_pop(q, 0), &a);
    assert_int_equal(kpid_queue_try_push(q, &big), 0);
    assert_int_equal(kpid_queue_try_push(q, &b), -EAGAIN); /* big stays alone */
    assert_ptr_equal(kpid_queue_pop(q, 0), &big);
    kpid_queue_free(q);
}

/* Room that is there is reported at once, whatever the deadline; room that is not
 * there makes the wait end at its deadline, or at once with a past one. */
static void wait_room_now_or_timeout(void **unused)
{
    kpid_queue *q;
    kpid_queue_item a = item(8, 10);
    int64_t t0;

    (void)unused;
    assert_int_equal(kpid_queue_new(10, 1000, &q), 0);
    assert_int_equal(kpid_queue_wait_room(q, 50, 5000, 0, NULL), 0); /* empty: fits */
    assert_int_equal(kpid_queue_push(q, &a, NULL), 0);
    assert_int_equal(kpid_queue_wait_room(q, 2, 10, 0, NULL), 0);
    assert_int_equal(kpid_queue_wait_room(q, 0, 0, 0, NULL), 0); /* 0 events weigh 1 */
    t0 = kpid_now_us();
    assert_int_equal(kpid_queue_wait_room(q, 3, 10, 0, NULL), -ETIMEDOUT);
    assert_int_equal(kpid_queue_wait_room(q, 3, 10, t0 - 1, NULL), -ETIMEDOUT);
    assert_true(kpid_now_us() - t0 < 500000);
    t0 = kpid_now_us();
    assert_int_equal(kpid_queue_wait_room(q, 3, 10, t0 + 50000, NULL), -ETIMEDOUT);
    int64_t waited = kpid_now_us() - t0;
    assert_true(waited >= 45000 && waited < 2000000);
    assert_ptr_equal(kpid_queue_pop(q, 0), &a);
    kpid_queue_free(q);
}

typedef struct room_waiter {
    kpid_queue *q;
    size_t events;
    int64_t deadline_us;
    _Atomic bool cancel;
    _Atomic int result;
    _Atomic bool done;
} room_waiter;

static void *wait_room_thread(void *arg)
{
    room_waiter *w = arg;
    atomic_store(&w->result, kpid_queue_wait_room(w->q, w->events, 1, w->deadline_us, &w->cancel));
    atomic_store(&w->done, true);
    return NULL;
}

static bool waiter_done(room_waiter *w, int ms)
{
    for (int i = 0; i < ms && !atomic_load(&w->done); i++)
        usleep(1000);
    return atomic_load(&w->done);
}

/* A pop that makes room ends the wait with 0, long before its deadline; the room is
 * then there for a try_push. */
static void wait_room_released_by_pop(void **unused)
{
    kpid_queue *q;
    kpid_queue_item a = item(6, 1), b = item(5, 1);
    room_waiter w = {.events = 5};
    pthread_t t;

    (void)unused;
    assert_int_equal(kpid_queue_new(10, 1000, &q), 0);
    w.q = q;
    w.deadline_us = kpid_now_us() + 10000000;
    assert_int_equal(kpid_queue_push(q, &a, NULL), 0);
    assert_int_equal(pthread_create(&t, NULL, wait_room_thread, &w), 0);
    assert_false(waiter_done(&w, 100));
    assert_ptr_equal(kpid_queue_pop(q, 0), &a);
    assert_true(waiter_done(&w, 2000));
    assert_int_equal(atomic_load(&w.result), 0);
    pthread_join(t, NULL);
    assert_int_equal(kpid_queue_try_push(q, &b), 0);
    assert_ptr_equal(kpid_queue_pop(q, 0), &b);
    kpid_queue_free(q);
}

/* A wait without a limit ends with -ECANCELED when its flag is set and the queue woken,
 * and with -EPIPE when the queue is closed. */
static void wait_room_cancelled_or_closed(void **unused)
{
    kpid_queue *q;
    kpid_queue_item a = item(10, 1);
    room_waiter w1 = {.events = 1, .deadline_us = INT64_MAX};
    room_waiter w2 = {.events = 1, .deadline_us = INT64_MAX};
    pthread_t t1, t2;

    (void)unused;
    assert_int_equal(kpid_queue_new(10, 1000, &q), 0);
    w1.q = w2.q = q;
    assert_int_equal(kpid_queue_push(q, &a, NULL), 0);
    assert_int_equal(pthread_create(&t1, NULL, wait_room_thread, &w1), 0);
    assert_int_equal(pthread_create(&t2, NULL, wait_room_thread, &w2), 0);
    assert_false(waiter_done(&w1, 100));
    atomic_store(&w1.cancel, true);
    kpid_queue_wake(q);
    assert_true(waiter_done(&w1, 2000));
    assert_int_equal(atomic_load(&w1.result), -ECANCELED);
    assert_false(waiter_done(&w2, 50)); /* a wake alone does not end the other wait */
    kpid_queue_close(q);
    assert_true(waiter_done(&w2, 2000));
    assert_int_equal(atomic_load(&w2.result), -EPIPE);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    /* A set flag wins over room that is there. */
    atomic_store(&w1.cancel, true);
    assert_int_equal(kpid_queue_wait_room(q, 1, 1, 0, &w1.cancel), -ECANCELED);
    assert_ptr_equal(kpid_queue_pop(q, 0), &a);
    kpid_queue_free(q);
}

/*
 * The full path of a producer that never blocks in a push: try_push, and on -EAGAIN wait
 * for room with a short timeout (where a stream source serves its upstream), then try
 * again. Against a slow consumer every item arrives once and in order, the producer saw
 * the queue full, and the bounds held throughout.
 */
enum { PAUSING_ITEMS = 300 };

typedef struct pausing_producer {
    kpid_queue *q;
    kpid_queue_item items[PAUSING_ITEMS];
    unsigned again, rooms, timeouts;
    int error;
} pausing_producer;

static void *produce_pausing(void *arg)
{
    pausing_producer *p = arg;

    for (int i = 0; i < PAUSING_ITEMS; i++) {
        p->items[i] = item((size_t)(i % 5) + 1, 100);
        for (;;) {
            int r = kpid_queue_try_push(p->q, &p->items[i]);
            if (r == 0)
                break;
            if (r != -EAGAIN) {
                p->error = r;
                return NULL;
            }
            p->again++;
            r = kpid_queue_wait_room(p->q, p->items[i].events, p->items[i].bytes,
                                     kpid_now_us() + 2000, NULL);
            if (r == 0)
                p->rooms++;
            else if (r == -ETIMEDOUT)
                p->timeouts++;
            else {
                p->error = r;
                return NULL;
            }
        }
    }
    return NULL;
}

static void try_push_and_wait_room_full_path(void **unused)
{
    static pausing_producer p;
    pthread_t t;
    size_t got = 0;

    (void)unused;
    assert_int_equal(kpid_queue_new(12, 1000, &p.q), 0);
    assert_int_equal(pthread_create(&t, NULL, produce_pausing, &p), 0);
    int64_t end = kpid_now_us() + 20000000;
    while (got < PAUSING_ITEMS && kpid_now_us() < end) {
        size_t events, bytes;
        kpid_queue_depth(p.q, NULL, &events, &bytes);
        assert_true(events <= 12);
        assert_true(bytes <= 1000);
        kpid_queue_item *it = kpid_queue_pop(p.q, kpid_now_us() + 100000);
        if (!it)
            continue;
        assert_ptr_equal(it, &p.items[got]); /* once each, in order */
        got++;
        if (got % 10 == 0)
            usleep(5000); /* a slow consumer: the producer runs into a full queue */
    }
    pthread_join(t, NULL);
    assert_int_equal(p.error, 0);
    assert_int_equal(got, PAUSING_ITEMS);
    assert_true(p.again > 0);
    assert_true(p.rooms > 0);
    assert_int_equal(p.again, p.rooms + p.timeouts);
    assert_null(kpid_queue_pop(p.q, 0));
    kpid_queue_free(p.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fifo_order),
        cmocka_unit_test(zero_bounds_refused),
        cmocka_unit_test(bounds_above_limits_refused),
        cmocka_unit_test(full_by_events_blocks_until_pop),
        cmocka_unit_test(full_by_bytes_blocks),
        cmocka_unit_test(oversized_item_admitted_when_empty),
        cmocka_unit_test(oversized_item_stays_alone),
        cmocka_unit_test(cancel_releases_waiting_push),
        cmocka_unit_test(wake_releases_waiting_pop),
        cmocka_unit_test(close_fails_push_and_drains),
        cmocka_unit_test(pop_times_out),
        cmocka_unit_test(concurrent_producers),
        cmocka_unit_test(try_push_full_returns_eagain),
        cmocka_unit_test(try_push_bytes_and_oversized),
        cmocka_unit_test(wait_room_now_or_timeout),
        cmocka_unit_test(wait_room_released_by_pop),
        cmocka_unit_test(wait_room_cancelled_or_closed),
        cmocka_unit_test(try_push_and_wait_room_full_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
