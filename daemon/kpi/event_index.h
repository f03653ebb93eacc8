/*
 * The indexes of kpid.event that follow the management model (sql/011_model_indexes.sql
 * says which KPI shape reads which). For each activity a KPI anchors on (its events in a
 * period), ev_time_<activity> (time) WHERE activity = <activity>; for each a census
 * opens its cases with, ev_open_<activity> (time) INCLUDE (case_id) WHERE activity =
 * <activity> AND case_id IS NOT NULL (a year of openings read without the heap); for
 * each it looks up
 * inside a case, ev_case_<activity> (case_id, time) WHERE activity = <activity> AND
 * case_id IS NOT NULL; for each it looks up across one subject's cases,
 * ev_subject_<activity> (subject_id, time) WHERE ... AND subject_id IS NOT NULL. sql
 * KPIs may read anything: while the model has one, ev_activity_time (activity, time)
 * holds every event. An event of an activity no KPI reads costs its primary key entry
 * and a BRIN summary, nothing more.
 */
#ifndef KPID_EVENT_INDEX_H
#define KPID_EVENT_INDEX_H

#include <libpq-fe.h>
#include <stddef.h>

#include "model/model.h"

typedef enum kpid_index_kind {
    KPID_INDEX_TIME,    /* ev_time_*: (time), the anchor's period */
    KPID_INDEX_OPEN,    /* ev_open_*: (time) INCLUDE (case_id), a census's openings */
    KPID_INDEX_CASE,    /* ev_case_*: (case_id, time) */
    KPID_INDEX_SUBJECT, /* ev_subject_*: (subject_id, time) */
    KPID_INDEX_ALL,     /* ev_activity_time: (activity, time) of every event; activity NULL */
} kpid_index_kind;

/* The longest index name PostgreSQL keeps (NAMEDATALEN - 1), plus the NUL. */
#define KPID_INDEX_NAME_SIZE 64

/*
 * Calls fn for each (kind, activity) index the KPI's statements read, the anchor's
 * first. A pair may come more than once. A ratio reads none (it reads other KPIs'
 * values); an sql KPI reads KPID_INDEX_ALL (activity NULL).
 */
void kpid_kpi_indexes(const kpid_kpi *kpi,
                      void (*fn)(void *arg, kpid_index_kind kind, const char *activity), void *arg);

/*
 * The index's name: "ev_time_", "ev_open_", "ev_case_" or "ev_subject_" and the activity in lower
 * case; an activity too long for that is cut and followed by "_" and 8 hex digits of its
 * hash; "ev_activity_time" for KPID_INDEX_ALL.
 * Writes it into name (KPID_INDEX_NAME_SIZE bytes).
 */
void kpid_index_name(kpid_index_kind kind, const char *activity, char name[KPID_INDEX_NAME_SIZE]);

/*
 * Brings the model's indexes into the warehouse, on conn outside any transaction, under
 * a session advisory lock that makes concurrent instances take turns: creates each
 * missing one with CREATE INDEX CONCURRENTLY (an invalid one, left by a build that
 * failed, is dropped and built again), then drops with DROP INDEX CONCURRENTLY those no
 * KPI of the model reads any more. Neither blocks ingestion; a KPI is evaluated only
 * after this returned 0, so no statement scans the log for want of its index.
 * Returns 0, or -EIO (-EACCES when the warehouse refused kpid's role) with *ret_error
 * freshly allocated; -ENOMEM.
 */
int kpid_event_indexes_sync(PGconn *conn, const kpid_model *model, char **ret_error);

#endif
