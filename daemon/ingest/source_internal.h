/*
 * One source instance as its two halves share it: the source thread (source.c: polling,
 * the stream run, restarts, stop) and the host functions a plugin calls (host.c). Nothing
 * else includes this header; everyone else sees kpid_source through source.h only.
 */
#ifndef KPID_SOURCE_INTERNAL_H
#define KPID_SOURCE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "ingest/batch.h"
#include "ingest/metrics.h"
#include "ingest/queue.h"
#include "warehouse/pgconn.h"

struct kpid_source {
    const kpid_source_config *cfg;
    const kpid_plugin_def *def;
    kpid_queue *queue;
    kpid_batch_ctx ctx;
    const kpid_pg_target *warehouse; /* for state_load; NULL = none */
    kpid_metrics *metrics;           /* where the plugin's typed metrics are registered */
    bool once;
    pthread_t thread;

    struct kpid_lease *lease; /* the keeper of an exclusive source's lease, or NULL */
    int claim;                /* the source's claim there */
    int64_t takeover_ms;      /* --once: how long to wait for the lease */

    _Atomic bool stop;     /* set by kpid_source_request_stop */
    _Atomic bool halt;     /* the plugin must end: a stop, or the lease lost */
    _Atomic int64_t epoch; /* the lease epoch the plugin reads under; 0 = not exclusive */
    _Atomic bool finished; /* the thread has ended */
    _Atomic bool failed;   /* --once: the plugin kept failing */

    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t cond;  /* signalled on batch done and on stop */
    void *state;          /* the plugin's state while it lives */
    size_t inflight;      /* batches queued or being written */
    char *committed;      /* last committed cursor, NULL = none */

    /* Source thread only. */
    char *submitted; /* cursor of the last queued batch */
    uint64_t batch_seq;
};

#endif
