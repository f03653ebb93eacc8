/*
 * Late and corrected events: which KPI periods the events written since a process's
 * last tick affect, so that its next tick re-evaluates exactly those ("dirty" periods).
 *
 * The changes between two snapshots of the warehouse (pg_current_snapshot()) are the
 * event versions written by transactions that committed after the first and before
 * the second: new rows of kpid.event (by their ingest_xid) and the old and new versions
 * of updated or deleted rows (kpid.event_change, written by triggers; sql/006). They are
 * loaded into the session's temporary table kpid_changed (case_id, subject_id,
 * activity, time), and each KPI has one parameterized statement that turns them into
 * the instants or ranges whose periods are dirty (kpi_dirty.c states each rule). The
 * rules are conservative: they may name a period whose values do not change, never
 * miss one that does. Filters are not looked at; a census case's range runs up to now
 * when no closing event is the same in every version of it.
 *
 * New rows are found by the BRIN index on ingest_xid, whose new block ranges the tick
 * summarizes first (kpid_changes_summarize).
 *
 * The caller (the scheduler) owns the connection; everything here runs in autocommit.
 */
#ifndef KPID_KPI_DIRTY_H
#define KPID_KPI_DIRTY_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "time/period.h"

/*
 * Summarizes the block ranges of kpid.event that the BRIN index on ingest_xid has no
 * summary for yet (rows written since the last vacuum), so that kpid_changes_load reads
 * only the ranges that hold changes. Returns 0; 1 when a VACUUM, CREATE INDEX
 * CONCURRENTLY or another summarization holds the table's lock (nothing waited for,
 * nothing done); or -EIO with *ret_error freshly allocated (NULL when out of memory),
 * e.g. when the session's role does not own the index. Leaves no transaction open.
 */
int kpid_changes_summarize(PGconn *conn, char **ret_error);

/*
 * Loads into kpid_changed (created on first use, emptied first) the changes committed
 * after snapshot prev and visible in snapshot now (both as pg_snapshot text). Returns
 * 0 and the number of changed versions in *ret_n, or -EIO with *ret_error freshly
 * allocated.
 */
int kpid_changes_load(PGconn *conn, const char *prev, const char *now, int64_t *ret_n,
                      char **ret_error);

/*
 * The periods of kpi that the loaded changes make dirty, started at or before now_s
 * (epoch seconds), sorted and distinct, in *ret_periods (freshly allocated; the caller
 * frees it; NULL when there is none) and their number in *ret_n. A rolling window has
 * none (only the window ending now is ever evaluated); a ratio's are its numerator's
 * and its denominator's. Returns 0, or -EIO with *ret_error freshly allocated, or
 * -ENOMEM.
 */
int kpid_kpi_dirty(PGconn *conn, const kpid_kpi *kpi, int64_t now_s, kpid_interval **ret_periods,
                   size_t *ret_n, char **ret_error);

#endif
