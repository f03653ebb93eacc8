/* Shared by his_out.c (files, rows), his_schema.c (the tables) and his_rows.c (cases). */
#ifndef HG_HIS_PRIV_H
#define HG_HIS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journey.h"
#include "wbuf.h"

/* The tables, in the order of their COPY blocks in his.sql. */
enum his_table {
    HIS_DEPARTMENTS,
    HIS_WARDS,
    HIS_PATIENTS,
    HIS_STAFF,
    HIS_ED_VISITS,
    HIS_ED_REGISTRATIONS,
    HIS_ENCOUNTERS,
    HIS_TRANSFERS,
    HIS_INFECTIONS,
    HIS_DEATHS,
    HIS_CHARGES,
    HIS_SURVEYS,
    HIS_LAB_ORDERS,
    HIS_LAB_RESULTS,
    HIS_SURGERIES,
    HIS_APPOINTMENTS,
    HIS_TRAINING_SESSIONS,
    HIS_STAFF_TRAINING,
    HIS_STAFF_HEADCOUNT,
    HIS_DELETED_ROWS,
    HIS__COUNT
};

struct his_column {
    const char *name;
    const char *type; /* the rest of the column definition: "text NOT NULL" */
    const char *comment;
};

/*
 * One table: its own columns in COPY order; every table also ends in created_at,
 * updated_at (both written) and row_xid (the default, then the trigger).
 */
struct his_table_def {
    const char *name;
    const char *comment;
    const struct his_column *cols;
    unsigned n_cols;
    const char *const *constraints; /* "UNIQUE (...)", "FOREIGN KEY ...", NULL-terminated */
    const char *index;              /* an extra index's columns, or NULL */
};

extern const struct his_table_def his_tables[HIS__COUNT];

/* The part of his.sql before the data: settings, schema, function, tables, comments. */
void his_schema_head(struct hg_wbuf *out);
/* The line that opens table t's COPY block. */
void his_schema_copy(struct hg_wbuf *out, enum his_table t);
/* The part after the data: keys, constraints, indexes, triggers, ANALYZE, COMMIT. */
void his_schema_tail(struct hg_wbuf *out);

struct hg_his {
    char *dir;
    unsigned share; /* 0, or the percentage of cases only in the HIS */
    int64_t start;  /* the hospital opens: created_at of the reference rows */
    int start_year; /* local year of start: birth dates */
    struct hg_wbuf tmp[HIS__COUNT];
    uint64_t next_id[HIS__COUNT]; /* the last id given to a row of the table */
    uint64_t rows;
    int64_t *patient_since; /* by patient number: created_at, INT64_MAX when not in the HIS */
    size_t n_patient;
    uint8_t *staff_seen; /* by staff number: 1 when in the HIS */
    size_t n_staff;
    int err; /* first failure, sticky */
};

/* A row being written into its table's temporary file. */
struct his_row {
    struct hg_his *h;
    enum his_table t;
    char *start, *p;
    unsigned n; /* fields so far */
};

/* Starts a row of table t (room for one row of any table is reserved). */
void his_row_begin(struct hg_his *h, struct his_row *r, enum his_table t);
/* Appends a field: text (COPY-escaped; NULL writes \N), NULL, a number, a time (UTC
 * microseconds), a fixed-point value v / 10^dec, a date (days since 1970-01-01). */
void his_text(struct his_row *r, const char *s);
void his_null(struct his_row *r);
void his_uint(struct his_row *r, uint64_t v);
void his_bool(struct his_row *r, bool v);
void his_time(struct his_row *r, int64_t t);
void his_value(struct his_row *r, int64_t v, unsigned dec);
void his_date(struct his_row *r, int64_t days);
/* Appends created_at and updated_at and ends the row; a row whose field count is not
 * its table's is a bug and aborts. */
void his_row_end(struct his_row *r, int64_t created, int64_t updated);

/* Notes that patient number p is in the HIS from time t on (the earliest call wins). */
void his_patient(struct hg_his *h, uint32_t p, int64_t t);
/* Notes that staff number s is in the HIS. */
void his_staff(struct hg_his *h, uint32_t s);

/* Writes the rows of journey j's case (his_rows.c). */
void his_case(struct hg_his *h, const struct hg_journey *j);

#endif
