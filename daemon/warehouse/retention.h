/*
 * The retention of rejected input: kpid.rejected.raw holds what a source could not use,
 * which may be patient data, so it is kept for a bounded time only. Each source's
 * rejected_retention (source_config.h; default KPID_RETENTION_DEFAULT_MS) says how long:
 * after it, raw is set to NULL. The row stays with its locator, reason and rejected_at,
 * so that the number of rejections and their reasons remain for data-quality reporting.
 *
 * A purge records the retention of every source the configuration has in
 * kpid.rejected_retention (sql/012_rejected_retention.sql), then purges every source
 * that has rows with raw: a configured source with its own retention, a source no
 * longer configured here (removed, or another kpid instance's) with the retention last
 * recorded for it, or KPID_RETENTION_DEFAULT_MS when none was ever recorded. Rows go in
 * batches of KPID_RETENTION_BATCH, each its own short transaction that skips rows the
 * writer holds locked, so that ingestion never waits for a purge longer than one batch.
 * Every purge that cleared something logs one line per source: "rejected raw purged
 * source=X rows=N".
 *
 * The daemon purges on a thread of its own (kpid_retention_start): at start, then every
 * KPID_RETENTION_INTERVAL_S, each time on a connection it opens for the purge and closes
 * after it; --once purges once (kpid_retention_run_once).
 */
#ifndef KPID_WAREHOUSE_RETENTION_H
#define KPID_WAREHOUSE_RETENTION_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warehouse/pgconn.h"

/* The retention of a source that has none recorded; sources.c's default says the same. */
#define KPID_RETENTION_DEFAULT_MS (INT64_C(14) * 86400000)
/* Rows whose raw one transaction clears, at most. */
#define KPID_RETENTION_BATCH 10000
/* Between two purges of the daemon. */
#define KPID_RETENTION_INTERVAL_S 3600

/* How long the rejected input of one source is kept. */
typedef struct kpid_retention_rule {
    const char *source; /* borrowed */
    int64_t keep_ms;    /* > 0 */
} kpid_retention_rule;

/*
 * Records the rules in kpid.rejected_retention and purges kpid.rejected.raw, as said
 * above, on conn. Stops between batches when *stopping (may be NULL) is set. Returns 0
 * and *ret_rows, the rows whose raw it cleared; or -EIO (-EACCES when the warehouse
 * refuses kpid's role, kpid_pg_refused) with *ret_error freshly allocated (one line;
 * NULL when out of memory): what was purged before the failure stays purged.
 */
int kpid_retention_purge(PGconn *conn, const kpid_retention_rule *rules, size_t n_rules,
                         const _Atomic bool *stopping, int64_t *ret_rows, char **ret_error);

typedef struct kpid_retention_options {
    const kpid_pg_target *warehouse;  /* must outlive the purger */
    const kpid_retention_rule *rules; /* copied; the strings must outlive the purger */
    size_t n_rules;
    uint32_t reserved[4];
} kpid_retention_options;

typedef struct kpid_retention kpid_retention;

/*
 * Starts the thread that purges at once and then every KPID_RETENTION_INTERVAL_S. A
 * warehouse that cannot be reached is retried with capped backoff and jitter, logged once
 * per change of state; any other failure is logged once per change of state and tried
 * again at the next purge. Returns 0 and *ret, or -errno.
 */
int kpid_retention_start(const kpid_retention_options *opt, kpid_retention **ret);

/* Asks the thread to stop (a sleeping one wakes at once); returns at once. Any thread;
 * accepts NULL. */
void kpid_retention_request_stop(kpid_retention *r);

/*
 * Stops the thread (requesting it, if not yet done) and waits for it until deadline_us
 * (monotonic); one second before, a purge still running has its connection shut down,
 * which ends its batch (rolled back). Returns 0 when the thread ended: r is freed. Returns
 * -EBUSY when it did not (blocked in connecting): r is then left allocated for it, and
 * the options' strings must stay alive until exit. Accepts NULL (returns 0).
 */
int kpid_retention_stop(kpid_retention *r, int64_t deadline_us);

/*
 * For --once: one purge on a connection of its own. Returns 0, -ENOTCONN when the
 * warehouse cannot be reached, -EACCES when it refuses kpid's role, -EIO when the purge
 * failed; each failure is logged.
 */
int kpid_retention_run_once(const kpid_retention_options *opt);

#endif
