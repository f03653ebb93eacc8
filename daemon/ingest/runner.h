/*
 * A runner: a thread that runs one job at a time for its owner, who goes on meanwhile
 * and waits for the job's end when it needs its result. The writer has one per
 * connection, to send a transaction while it commits another (writer.c).
 *
 * The owner starts a job only when the runner is idle, and reads what the job wrote
 * only after kpid_runner_wait.
 */
#ifndef KPID_RUNNER_H
#define KPID_RUNNER_H

#include <pthread.h>
#include <stdbool.h>

typedef struct kpid_runner {
    pthread_t thread;
    bool started; /* the thread runs */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool busy; /* a job asked for or running */
    bool quit; /* the thread is to end */
    void (*job)(void *arg);
    void *arg;
} kpid_runner;

void kpid_runner_init(kpid_runner *r);

/* Runs job(arg) on the runner's thread, which it starts the first time; when no thread
 * can be started, runs it here before returning. */
void kpid_runner_start(kpid_runner *r, void (*job)(void *arg), void *arg);

/* Waits until the job started last has returned (at once when there is none). */
void kpid_runner_wait(kpid_runner *r);

/* Waits for the job, ends the thread and frees what the runner holds. */
void kpid_runner_destroy(kpid_runner *r);

#endif
