/* Unit tests of the runner (the writer's sender threads): a job runs on another thread
 * while its owner goes on, the owner's wait returns once it has returned and sees what it
 * wrote, one job after another on the same thread, and a runner ends whether it ran
 * anything or not. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "ingest/runner.h"

typedef struct job {
    _Atomic bool go;      /* the owner lets the job end */
    _Atomic bool started; /* the job runs */
    pthread_t thread;     /* where it ran */
    int result;           /* what it wrote, read after the wait */
} job;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits for go (at most 10 s), then writes its result. */
static void blocking_job(void *arg)
{
    job *j = arg;

    j->thread = pthread_self();
    atomic_store(&j->started, true);
    for (int i = 0; i < 10000 && !atomic_load(&j->go); i++)
        sleep_ms(1);
    j->result = 42;
}

static void counting_job(void *arg)
{
    job *j = arg;

    j->thread = pthread_self();
    j->result++;
}

/* The owner goes on while the job runs elsewhere; the wait returns after it. */
static void runs_meanwhile(void **unused)
{
    kpid_runner r;
    job j = {0};

    kpid_runner_init(&r);
    kpid_runner_start(&r, blocking_job, &j);
    for (int i = 0; i < 10000 && !atomic_load(&j.started); i++)
        sleep_ms(1);
    assert_true(atomic_load(&j.started)); /* started, and blocked: not on this thread */
    assert_false(pthread_equal(j.thread, pthread_self()));
    atomic_store(&j.go, true);
    kpid_runner_wait(&r);
    assert_int_equal(j.result, 42);
    kpid_runner_destroy(&r);
}

/* Jobs run one after another on the runner's one thread; a wait without a job returns. */
static void one_after_another(void **unused)
{
    kpid_runner r;
    job j = {0};
    pthread_t first;

    kpid_runner_init(&r);
    kpid_runner_wait(&r);
    for (int i = 0; i < 1000; i++) {
        kpid_runner_start(&r, counting_job, &j);
        kpid_runner_wait(&r);
        assert_int_equal(j.result, i + 1);
        if (i == 0)
            first = j.thread;
        assert_true(pthread_equal(j.thread, first));
    }
    assert_false(pthread_equal(first, pthread_self()));
    kpid_runner_destroy(&r);
}

/* Destroying waits for the job under way; a runner that never ran ends too. */
static void ends(void **unused)
{
    kpid_runner r, idle;
    job j = {.go = true};

    kpid_runner_init(&r);
    kpid_runner_start(&r, blocking_job, &j);
    kpid_runner_destroy(&r);
    assert_int_equal(j.result, 42);
    kpid_runner_init(&idle);
    kpid_runner_destroy(&idle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_meanwhile),
        cmocka_unit_test(one_after_another),
        cmocka_unit_test(ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
