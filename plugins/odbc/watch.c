/*
 * The watchdog (odbc_source.h): one thread per source that cancels the statement the
 * source thread waits for, when the source is asked to stop (request_stop() must only
 * set a flag, and SQLCancel may block on the network) or when it runs past its deadline
 * (statement_timeout and a grace period: a driver may ignore SQL_ATTR_QUERY_TIMEOUT).
 * The statement handle stays valid while it is canceled: the source thread waits in
 * odbc_watch_end until SQLCancel returns before it uses or frees the handle again.
 */
#include <errno.h>
#include <time.h>

#include "odbc_source.h"
#include "time/clock.h"

static void *watch_main(void *arg)
{
    odbc_source *s = arg;
    odbc_watch *w = &s->watch;
    bool sent = false; /* a cancel was sent for the wait of generation seen */
    uint64_t seen = 0;

    pthread_mutex_lock(&w->lock);
    while (!w->quit) {
        if (w->gen != seen) {
            seen = w->gen;
            sent = false;
        }
        int64_t now = kpid_now_us();
        bool late = w->until > 0 && now >= w->until;
        if (w->busy && !sent && (w->stopping || late)) {
            SQLHSTMT stmt = w->busy;
            w->canceling = true;
            w->canceled = !w->stopping;
            sent = true;
            pthread_mutex_unlock(&w->lock);
            (void)SQLCancel(stmt);
            pthread_mutex_lock(&w->lock);
            w->canceling = false;
            pthread_cond_broadcast(&w->cond);
            continue;
        }
        if (w->busy && !sent && w->until > 0) {
            struct timespec at = {
                .tv_sec = (time_t)(w->until / 1000000),
                .tv_nsec = (long)(w->until % 1000000) * 1000,
            };
            (void)pthread_cond_timedwait(&w->cond, &w->lock, &at);
        } else {
            pthread_cond_wait(&w->cond, &w->lock);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int odbc_watch_start(odbc_source *s)
{
    odbc_watch *w = &s->watch;
    pthread_condattr_t attr;
    int r;

    if ((r = pthread_mutex_init(&w->lock, NULL)) != 0)
        return -r;
    if ((r = pthread_condattr_init(&attr)) != 0) {
        pthread_mutex_destroy(&w->lock);
        return -r;
    }
    r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (r == 0)
        r = pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (r != 0) {
        pthread_mutex_destroy(&w->lock);
        return -r;
    }
    if ((r = pthread_create(&w->thread, NULL, watch_main, s)) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        return -r;
    }
    w->started = true;
    return 0;
}

void odbc_watch_stop(odbc_source *s)
{
    odbc_watch *w = &s->watch;

    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->quit = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    w->started = false;
}

void odbc_watch_request_stop(odbc_source *s)
{
    odbc_watch *w = &s->watch;

    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

bool odbc_watch_stopping(odbc_source *s)
{
    odbc_watch *w = &s->watch;
    bool stopping;

    if (!w->started)
        return false;
    pthread_mutex_lock(&w->lock);
    stopping = w->stopping;
    pthread_mutex_unlock(&w->lock);
    return stopping;
}

int odbc_watch_begin(odbc_source *s, SQLHSTMT stmt, int64_t timeout_ms)
{
    odbc_watch *w = &s->watch;

    if (!w->started)
        return 0;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        return -ECANCELED;
    }
    w->busy = stmt;
    w->gen++;
    w->until = timeout_ms > 0 ? kpid_now_us() + timeout_ms * 1000 : 0;
    w->canceled = false;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

void odbc_watch_end(odbc_source *s)
{
    odbc_watch *w = &s->watch;

    s->timed_out = false;
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    while (w->canceling)
        pthread_cond_wait(&w->cond, &w->lock);
    s->timed_out = w->canceled;
    w->busy = NULL;
    w->until = 0;
    w->canceled = false;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}
