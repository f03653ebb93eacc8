/* Unit tests of the bounded queue: bounds in events and bytes, FIFO order, blocking
 * push released by pop, cancellation and close. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
