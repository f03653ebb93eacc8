/*
 * The KPI scheduler: one thread per process of the management model, each on its own
 * warehouse connection (and one more for its sql KPIs, opened at the first: kpi_sql.h),
 * evaluating the process's KPIs at the firings of its cron schedule (in the process's
 * time zone).
 *
 * A tick of a process evaluates every KPI of it, non-ratio KPIs first (ratios read their
 * values): the open period, the one containing now (partial); the period before it when
 * it has just closed (no values yet, or partial ones) and at every catch-up; and every
 * period that late or corrected events made dirty since the process's last tick, with
 * reason "late" (kpi_dirty.h). For a rolling window only the window ending now. Each
 * evaluation replaces the period's values in kpid.kpi_value and is logged in
 * kpid.kpi_run (kpi_eval.h).
 *
 * Which events are new to a tick: its process's watermark, the snapshot
 * (pg_current_snapshot()) taken at the start of its last complete tick, in
 * kpid.process_watermark. A tick takes a snapshot first, evaluates, and stores it as the
 * watermark only when every dirty period was evaluated: after a failure or a stop the
 * next tick finds the same changes again. The first tick of a process (no watermark)
 * stores one and finds nothing dirty: history is kpid backfill's job.
 *
 * Several kpid instances on one warehouse: a tick runs under a session-level advisory
 * lock of its process (pg_try_advisory_lock(hashtextextended('kpid.process:' || id, 0)));
 * an instance that finds it taken skips the tick. Under the lock a tick also skips each
 * KPI whose open period another instance already evaluated for the same firing (a
 * successful scheduled run of that period, started at most KPID_TICK_SKEW_S (tick.h; less
 * than half the time to the next firing, for schedules of seconds) before
 * the firing: a rolling window ending at or after the firing, or the same calendar
 * period), so a firing is evaluated once even when the instances' clocks and wake-ups
 * differ by a few seconds.
 *
 * At start each thread reads the process's last successful schedule or catch-up run
 * from kpid.kpi_run; when a firing was missed since (or the process never ran) it runs
 * one tick at once, with reason "catchup": one, not one per missed firing. So does a
 * thread whose warehouse comes back after firings passed. A catch-up that finds the
 * process's lock taken is tried again every 10 s. The first thread to get there syncs
 * the model into the warehouse (kpid_model_sync) before any tick.
 *
 * A lost warehouse is retried with capped backoff and jitter; failures are logged once
 * per change of state, per process. An evaluation error is recorded in kpid.kpi_run by
 * the evaluation, and the tick goes on with the next KPI. Nothing here stops the daemon.
 *
 * Threads: each process thread owns its connection and its state; the scheduler's
 * shared state is guarded by the locks named beside it in scheduler.c. One tick is
 * tick.c's (tick.h); the threads, their sleep, connections and the model sync are
 * scheduler.c's.
 */
#ifndef KPID_SCHEDULER_H
#define KPID_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"
#include "warehouse/pgconn.h"

typedef struct kpid_scheduler kpid_scheduler;

typedef struct kpid_scheduler_options {
    const kpid_pg_target *warehouse; /* must outlive the scheduler */
    const kpid_model *model;         /* must outlive the scheduler */
    uint32_t reserved[4];
} kpid_scheduler_options;

/*
 * Starts one thread per process of opt->model that has KPIs. Returns 0 and
 * the scheduler in *ret_scheduler, or -errno (no thread is left running then).
 */
int kpid_scheduler_start(const kpid_scheduler_options *opt, kpid_scheduler **ret_scheduler);

/* Asks every thread to stop: a sleeping thread wakes at once, a ticking one stops
 * after the evaluation in progress. Returns at once. Any thread; accepts NULL. */
void kpid_scheduler_request_stop(kpid_scheduler *s);

/*
 * Stops the threads (requesting it, if not yet done) and waits for them until
 * deadline_us (monotonic). One second before the deadline, the warehouse connections
 * of threads still busy are shut down, which ends their queries. Returns 0 when every
 * thread ended: the scheduler is freed. Returns -EBUSY when a thread has not ended by
 * the deadline (blocked in connecting to the warehouse): the scheduler is then left
 * allocated for that thread, which ends on its own later, and the caller must keep the
 * model and the strings of the options alive until exit. Accepts NULL (returns 0).
 */
int kpid_scheduler_stop(kpid_scheduler *s, int64_t deadline_us);

/*
 * For --once: on a connection of its own, syncs the model and runs one tick of every
 * process, with reason "schedule", waiting (up to a minute) for the process's advisory
 * lock where another instance holds it. Returns 0; -EACCES when the warehouse refuses
 * kpid's role; -ENOTCONN when the warehouse cannot
 * be reached or the model not synced; -EIO when an evaluation failed (each failure is
 * logged and recorded in kpid.kpi_run); -ETIMEDOUT when a lock stayed taken.
 */
int kpid_scheduler_run_once(const kpid_scheduler_options *opt);

/* KPI evaluations that succeeded since the start of kpid, by every scheduler. */
uint64_t kpid_scheduler_runs(void);

#endif
