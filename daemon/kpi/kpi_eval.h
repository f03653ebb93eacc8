/*
 * Evaluating KPIs inside the warehouse: the management model is synced into
 * kpid.objective, kpid.process and kpid.kpi (with a hash of each compiled definition),
 * and a KPI's compiled statement is run for one period, its rows replacing the
 * KPI's values of that period in kpid.kpi_value in one transaction, with their status
 * (kpid.kpi_status) and the definition's hash. Every evaluation is logged in
 * kpid.kpi_run with its duration and any error.
 */
#ifndef KPID_KPI_EVAL_H
#define KPID_KPI_EVAL_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "kpi/kpi_compile.h"
#include "kpi/kpi_sql.h"
#include "model/model.h"
#include "time/period.h"

/*
 * Writes the definition hash of a compiled KPI (SHA-256 over its SQL, parameters,
 * period, target, direction and bands) as 64 hex digits.
 */
int kpid_kpi_hash(const kpid_kpi *kpi, const kpid_sql *sql, char out[65]);

/*
 * Upserts every objective, process and KPI of the model; KPIs no longer configured are
 * marked inactive (their values stay). A KPI that is new or whose definition hash
 * changed gets kpid.kpi.recompute_from = now - model->recompute_horizon_ms (see
 * sql/007_recompute.sql). Then, outside that transaction, creates the indexes of
 * kpid.event its KPIs read and drops those none reads (event_index.h): a KPI is never
 * evaluated before its indexes exist. Returns 0 or -EIO (-EACCES when the warehouse
 * refuses kpid's role) with *ret_error freshly allocated.
 */
int kpid_model_sync(PGconn *conn, const kpid_model *model, char **ret_error);

/*
 * Evaluates kpi for the period iv: replaces its values of that period. partial marks
 * an open period; reason is recorded in kpid.kpi_run ("schedule", "late", "backfill",
 * ...). An sql KPI's query runs on sql's connection (kpi_sql.h), opened if need be;
 * everything else on conn. Returns 0 and *ret_written (the rows written), or -EIO with
 * *ret_error freshly allocated (the run is recorded with the error all the same).
 */
int kpid_kpi_evaluate(PGconn *conn, kpid_sql_conn *sql, const kpid_kpi *kpi,
                      const kpid_interval *iv, bool partial, const char *reason, int *ret_written,
                      char **ret_error);

#endif
