#include "ops/watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "ops/liveness.h"
#include "ops/log.h"
#include "time/clock.h"

struct kpid_watchdog {
    int64_t interval_us; /* WatchdogSec */
    pthread_t thread;
    pthread_mutex_t lock; /* guards stopping; cond waits on it */
    pthread_cond_t cond;  /* CLOCK_MONOTONIC */
    bool stopping;
};

static void *watchdog_main(void *arg)
{
    kpid_watchdog *wd = arg;
    bool withheld = false;

    pthread_mutex_lock(&wd->lock);
    while (!wd->stopping) {
        int64_t now = kpid_now_us(), silent_us = 0;
        const char *stalled = kpid_liveness_stalled(now - wd->interval_us / 2, &silent_us);

        if (!stalled) {
            sd_notify(0, "WATCHDOG=1");
            if (withheld)
                log_notice("watchdog pings resumed: every watched thread makes progress");
            withheld = false;
        } else if (!withheld) {
            log_err("thread=%s made no progress for %.1fs: withholding the watchdog ping, "
                    "systemd restarts kpid",
                    stalled, (double)silent_us / 1e6);
            withheld = true;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (wd->interval_us / 3) * 1000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        while (!wd->stopping && pthread_cond_timedwait(&wd->cond, &wd->lock, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&wd->lock);
    return NULL;
}

int kpid_watchdog_start(kpid_watchdog **ret_watchdog)
{
    uint64_t usec = 0;
    pthread_condattr_t attr;
    kpid_watchdog *wd;
    int r;

    *ret_watchdog = NULL;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    wd = calloc(1, sizeof(*wd));
    if (!wd)
        return -ENOMEM;
    wd->interval_us = (int64_t)usec;
    pthread_mutex_init(&wd->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wd->cond, &attr);
    pthread_condattr_destroy(&attr);
    r = -pthread_create(&wd->thread, NULL, watchdog_main, wd);
    if (r < 0) {
        pthread_cond_destroy(&wd->cond);
        pthread_mutex_destroy(&wd->lock);
        free(wd);
        return r;
    }
    *ret_watchdog = wd;
    return 0;
}

kpid_watchdog *kpid_watchdog_stop(kpid_watchdog *wd)
{
    if (!wd)
        return NULL;
    pthread_mutex_lock(&wd->lock);
    wd->stopping = true;
    pthread_cond_broadcast(&wd->cond);
    pthread_mutex_unlock(&wd->lock);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cond);
    pthread_mutex_destroy(&wd->lock);
    free(wd);
    return NULL;
}
