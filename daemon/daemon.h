/*
 * The running pipeline of one configuration: the queue, the writer, one source per
 * configured source, the KPI scheduler and the purge of rejected input
 * (warehouse/retention.h). main.c builds one at start and a new one at
 * each reload.
 */
#ifndef KPID_DAEMON_H
#define KPID_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct kpid_daemon kpid_daemon;

/* Committed cursors read from the warehouse at start. */
typedef struct kpid_cursor_set {
    char **sources;
    char **cursors;
    size_t n;
} kpid_cursor_set;

void kpid_cursor_set_clear(kpid_cursor_set *set);
const char *kpid_cursor_set_get(const kpid_cursor_set *set, const char *source);

/*
 * Connects to the warehouse, applies migrations and the roles' grants (migrate.h) and
 * reads the committed cursors.
 * Returns 0; -EPROTO when the warehouse schema is newer than this binary (not worth
 * retrying); -EACCES when the warehouse refused kpid's role (pgconn.h: worth retrying
 * only slowly, after an operator's fix); or -EIO when the warehouse cannot be reached or
 * migrated (worth retrying).
 * On failure *ret_error is freshly allocated.
 */
int kpid_warehouse_prepare(const kpid_config *cfg, bool migrate_only, kpid_cursor_set *ret_cursors,
                           char **ret_error);

/*
 * Starts the writer, the sources of cfg (which must outlive the daemon), the KPI
 * scheduler (scheduler.h) and the purge of rejected input (retention.h). With once, only
 * poll sources start, and each ends when it has nothing new and all it submitted is
 * committed; neither the scheduler nor the purge starts (see kpid_daemon_evaluate_once).
 * Returns 0 or -errno.
 */
int kpid_daemon_start(const kpid_config *cfg, const kpid_cursor_set *cursors, bool once,
                      kpid_daemon **ret_daemon);

/* True when every source has ended (with --once: done). */
bool kpid_daemon_sources_finished(kpid_daemon *d);
/* True when a source gave up (--once). */
bool kpid_daemon_failed(kpid_daemon *d);
/* True when the writer gave up because the warehouse refused kpid's role (--once). */
bool kpid_daemon_refused(kpid_daemon *d);
/*
 * For --once, when the sources have finished: purges rejected input past its retention
 * (kpid_retention_run_once), then evaluates every process's KPIs once, now
 * (kpid_scheduler_run_once). Returns 0, -ENOTCONN (warehouse unreachable), -EACCES (the
 * warehouse refuses kpid's role), -EIO (an evaluation or the purge failed) or -ETIMEDOUT
 * (another instance kept a process's lock).
 */
int kpid_daemon_evaluate_once(kpid_daemon *d);
/*
 * A one-line status for systemd's STATUS=: events/s, queue depth, warehouse=ok,
 * unavailable, refused, or waiting waited=Ns (a statement in progress for that long), and
 * kpi_runs=N (evaluations done).
 */
void kpid_daemon_status(kpid_daemon *d, double events_per_s, char *out, size_t cap);

/*
 * Stops the sources and the scheduler (which gets at most 3 s of the time: an evaluation
 * in progress may finish, or is ended), writes what is queued until deadline_us
 * (monotonic), stops the writer and frees everything. A source whose plugin has not
 * returned by the deadline (stuck in a callback that ignores request_stop), or a
 * scheduler thread still connecting to the warehouse, is abandoned: its thread goes on,
 * so the pipeline and the configuration it uses are kept alive until exit, and -EBUSY is
 * returned: the caller must then not free the configuration. Accepts NULL (returns 0).
 */
int kpid_daemon_stop(kpid_daemon *d, int64_t deadline_us);

#endif
