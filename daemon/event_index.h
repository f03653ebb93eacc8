/*
 * The indexes of kpid.event that follow the management model (sql/011_model_indexes.sql
 * says which KPI shape reads which): for each activity that some KPI looks up inside a
 * case, ev_case_<activity> (case_id, time) WHERE activity = <activity> AND case_id IS
 * NOT NULL; for each it looks up across one subject's cases, ev_subject_<activity>
 * (subject_id, time) WHERE activity = <activity> AND subject_id IS NOT NULL. Events of other activities are not in them, so that an event
 * log is as cheap to write as the KPIs allow.
 */
#ifndef KPID_EVENT_INDEX_H
#define KPID_EVENT_INDEX_H

#include <libpq-fe.h>
#include <stddef.h>

#include "model.h"

typedef enum kpid_index_kind {
    KPID_INDEX_CASE,    /* ev_case_*: (case_id, time) */
    KPID_INDEX_SUBJECT, /* ev_subject_*: (subject_id, time) */
} kpid_index_kind;

/* The longest index name PostgreSQL keeps (NAMEDATALEN - 1), plus the NUL. */
#define KPID_INDEX_NAME_SIZE 64

/*
 * Calls fn for each (kind, activity) index the KPI's statements read, the anchor's
 * (activity, time) index aside (it holds every event). A pair may come more than once.
 * count, value, ratio and sql KPIs read none.
 */
void kpid_kpi_indexes(const kpid_kpi *kpi,
                      void (*fn)(void *arg, kpid_index_kind kind, const char *activity),
                      void *arg);

/*
 * The index's name: "ev_case_" or "ev_subject_" and the activity in lower case; an
 * activity too long for that is cut and followed by "_" and 8 hex digits of its hash.
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
