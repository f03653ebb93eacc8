/*
 * Late periods whose evaluation failed, kept in kpid.kpi_retry (sql/014) so that a tick
 * can move its process's watermark on and evaluate them again at the next ticks, instead
 * of reading every change since and evaluating every period they made dirty again.
 *
 * For tick.c: it evaluates; this file keeps, reads and drops the rows. Every function
 * runs one statement in autocommit on the connection it is given and returns 0 or -EIO
 * with *ret_error freshly allocated (NULL when out of memory); the caller tells a broken
 * connection from the rest by PQstatus.
 */
#ifndef KPID_TICK_RETRY_H
#define KPID_TICK_RETRY_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "model/model.h"
#include "time/period.h"

/* The kept periods of process p's active KPIs: kpi_id, period start and end in epoch
 * seconds, in *ret_rows (the caller clears it). */
int kpid__retry_rows(PGconn *conn, const kpid_process *p, PGresult **ret_rows, char **ret_error);

/* True when rows (of kpid__retry_rows, may be NULL) keep the period of kpi starting at
 * start_s. */
bool kpid__retry_has(const PGresult *rows, const char *kpi_id, int64_t start_s);

/* The period iv of kpi at row i of rows, when the row is kpi's; false otherwise. */
bool kpid__retry_row(const PGresult *rows, int i, const char *kpi_id, kpid_interval *iv);

/* Keeps kpi's period iv, whose late evaluation failed (again): a new row, or a new
 * failed_at. */
int kpid__retry_keep(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv, char **ret_error);

/* After kpi's period iv was evaluated: drops its row, and keeps the same period of every
 * active ratio that divides kpi, which read kpi's value while it was missing or stale. */
int kpid__retry_done(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv, char **ret_error);

/* Drops kpi's kept period iv without evaluating it (no longer a period of the KPI). */
int kpid__retry_drop(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv, char **ret_error);

#endif
