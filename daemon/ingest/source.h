/*
 * Source instances: one thread per configured source, running its plugin. The thread
 * calls init, then poll on the source's interval (or run, for streams), and restarts the
 * plugin with capped exponential backoff and jitter when a callback fails. A failing or
 * slow source never stops the others or the daemon.
 *
 * A source hands batches to the queue; the writer reports each batch back through
 * kpid_source_batch_done(), which calls the plugin's committed() after COMMIT. Before
 * fini (restart or stop) a source waits until none of its batches is in flight, so
 * committed() is never called on freed state.
 *
 * An exclusive source (lease.h) runs its plugin only while it holds the source's lease:
 * it waits for it, reads the committed cursor again each time it takes it (another
 * instance may have moved it), and ends the plugin when it loses it.
 *
 * The host functions a plugin calls (the SDK's kpid_host table) are in host.c; the
 * plugin's typed metrics live in a registry (metrics.h) from the first registration
 * until the source is freed, and are logged at debug level when its thread ends.
 */
#ifndef KPID_SOURCE_H
#define KPID_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "warehouse/pgconn.h"
#include "ingest/metrics.h"
#include "ingest/queue.h"

struct kpid_batch;
typedef struct kpid_source kpid_source;

typedef struct kpid_source_options {
    kpid_queue *queue;  /* where batches go; outlives the source */
    const uint8_t *key; /* pseudonym key or NULL; outlives the source */
    size_t key_len;
    const char *initial_cursor;      /* last committed cursor, copied; NULL = none */
    const kpid_pg_target *warehouse; /* for state_load; outlives the source; NULL = none */
    kpid_metrics *metrics;           /* where the plugin's typed metrics go; outlives the source;
                                    NULL = the process-wide registry (kpid_metrics_default) */
    bool once;                       /* --once: poll until idle, then end the thread */
    struct kpid_lease *lease;        /* exclusive sources: the lease keeper (lease.h), which
                                 outlives the source; NULL = not exclusive */
    int64_t takeover_ms;             /* --once: how long an exclusive source waits for its lease */
} kpid_source_options;

/* Starts the source's thread. cfg must outlive the source. Returns 0 or -errno. */
int kpid_source_start(const kpid_source_config *cfg, const kpid_source_options *opt,
                      kpid_source **ret_source);

/* Asks the source to stop (sets its flag, calls request_stop, wakes it). Any thread. */
void kpid_source_request_stop(kpid_source *src);

/* True once the source's thread has ended. */
bool kpid_source_finished(kpid_source *src);

/* True when the source ended because its plugin failed in --once mode. */
bool kpid_source_failed(kpid_source *src);

/* Joins the thread and frees the source; accepts NULL; returns NULL. Call after
 * kpid_source_request_stop, or after kpid_source_finished turned true. */
kpid_source *kpid_source_free(kpid_source *src);

/* Called by the writer for each batch it is done with: committed or dropped (at
 * shutdown). Takes ownership of the batch and frees it. */
void kpid_source_batch_done(struct kpid_batch *b, bool committed);

/*
 * True when b was read under a lease its source no longer holds (an exclusive source
 * whose lease was lost): the writer drops it rather than commit it. Writer thread.
 */
bool kpid_source_batch_stale(const struct kpid_batch *b);

/* Events committed by all sources since start (for the status line). */
uint64_t kpid_sources_committed_events(void);

#endif
