/*
 * One tick of a process, for the scheduler (scheduler.h says what a tick evaluates and
 * why): the process's advisory lock, which KPIs and periods to evaluate, the firing's
 * runs by other instances, the watermark and the periods late or corrected events made
 * dirty (those whose evaluation failed kept for the next ticks: tick_retry.h), and the
 * recompute of history after a definition changed.
 *
 * A tick runs on the connection it is given, in the calling thread; it keeps no state
 * between ticks but what it stores in the warehouse.
 */
#ifndef KPID_TICK_H
#define KPID_TICK_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "kpi/kpi_sql.h"
#include "model/model.h"
#include "ops/log.h"

/* How far before a firing another instance's run still counts as that firing's. */
#define KPID_TICK_SKEW_S 5

/* The reasons of a tick's evaluations (kpid.kpi_run.reason); compared by address. */
extern const char kpid__tick_reason_schedule[];   /* a firing */
extern const char kpid__tick_reason_catchup[];    /* firings were missed */
extern const char kpid__tick_reason_late[];       /* late or corrected events */
extern const char kpid__tick_reason_definition[]; /* a recompute: the definition changed */

typedef struct kpid__tick_options {
    const _Atomic bool *stopping;   /* stop between KPIs when it is set; may be NULL */
    bool dedupe;                    /* skip KPIs another instance evaluated for the firing */
    int64_t lock_wait_us;           /* 0: skip the tick when the lock is taken */
    enum kpid_log_level fail_level; /* for each failed evaluation */
    kpid_sql_conn *sql;             /* the connection for sql KPIs (the thread's) */
} kpid__tick_options;

typedef struct kpid__tick_result {
    int evaluated, skipped, failed;
    int late;        /* evaluations of periods made dirty by late or corrected events */
    int recomputed;  /* evaluations of history after a definition changed */
    int64_t changes; /* event versions written since the watermark */
    int64_t values;
    char *error;           /* the first evaluation error, or what broke the connection */
    const char *error_kpi; /* the KPI of error, when an evaluation failed */
} kpid__tick_result;

/*
 * One tick of process p for the firing fire_s (for a catch-up, the time it was decided),
 * with reason kpid__tick_reason_schedule or _catchup: under the process's advisory
 * lock, evaluates every KPI (non-ratio ones first). Returns 0 when every KPI was
 * evaluated or skipped (failed evaluations are counted in res), -EAGAIN when the lock was
 * taken, -ENOTCONN when the connection failed (res->error says why) or -ECANCELED when
 * *opt->stopping was set. The caller frees res->error.
 */
int kpid__tick_run(PGconn *conn, const kpid_process *p, const char *reason, int64_t fire_s,
                   const kpid__tick_options *opt, kpid__tick_result *res);

/* KPI evaluations that succeeded since the start of kpid, by every tick. Any thread. */
uint64_t kpid__tick_runs(void);

/* The wall clock in seconds, from the clock the waits for firings read: time() may be a
 * coarser clock that lags behind it across a second's boundary. */
int64_t kpid__tick_now_s(void);

#endif
