#include "ingest/runner.h"

static void *runner_main(void *arg)
{
    kpid_runner *r = arg;

    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->busy && !r->quit)
            pthread_cond_wait(&r->cond, &r->lock);
        if (!r->busy)
            break;
        pthread_mutex_unlock(&r->lock);
        r->job(r->arg);
        pthread_mutex_lock(&r->lock);
        r->busy = false;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

void kpid_runner_init(kpid_runner *r)
{
    *r = (kpid_runner){.started = false};
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
}

void kpid_runner_start(kpid_runner *r, void (*job)(void *arg), void *arg)
{
    if (!r->started && pthread_create(&r->thread, NULL, runner_main, r) == 0)
        r->started = true;
    if (!r->started) {
        job(arg);
        return;
    }
    pthread_mutex_lock(&r->lock);
    r->job = job;
    r->arg = arg;
    r->busy = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

void kpid_runner_wait(kpid_runner *r)
{
    pthread_mutex_lock(&r->lock);
    while (r->busy)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
}

void kpid_runner_destroy(kpid_runner *r)
{
    if (r->started) {
        kpid_runner_wait(r);
        pthread_mutex_lock(&r->lock);
        r->quit = true;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
        r->started = false;
    }
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
}
