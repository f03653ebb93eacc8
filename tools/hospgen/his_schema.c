/*
 * The HIS schema as data: one entry per table (columns, comments, keys), from which
 * his.sql's DDL, COPY headers and post-data part are written. README.md shows the same
 * tables; etc/his-pgsql.conf reads them.
 */
#include <stdio.h>
#include <string.h>

#include "his_priv.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define TABLE(n) .cols = n##_cols, .n_cols = N_OF(n##_cols), .constraints = n##_cons

#define TS "timestamptz"
#define FK_PATIENT "FOREIGN KEY (patient_id) REFERENCES his.patients"
#define FK_ENCOUNTER "FOREIGN KEY (encounter_id) REFERENCES his.encounters"
#define FK_WARD "FOREIGN KEY (ward_id) REFERENCES his.wards"
#define FK_DEPARTMENT "FOREIGN KEY (department_id) REFERENCES his.departments"

static const struct his_column departments_cols[] = {
    {"department_id", "smallint NOT NULL", NULL},
    {"code", "text NOT NULL", "cost centre code: the subject of STAFF_HEADCOUNT"},
    {"name", "text NOT NULL", NULL},
};
static const char *const departments_cons[] = {"UNIQUE (code)", NULL};

static const struct his_column wards_cols[] = {
    {"ward_id", "smallint NOT NULL", NULL},
    {"name", "text NOT NULL", NULL},
    {"department_id", "smallint NOT NULL", NULL},
    {"beds", "smallint NOT NULL", NULL},
};
static const char *const wards_cons[] = {"UNIQUE (name)", FK_DEPARTMENT, NULL};

static const struct his_column patients_cols[] = {
    {"patient_id", "bigint NOT NULL", NULL},
    {"mrn", "text NOT NULL", "medical record number: the subject_id of events"},
    {"national_id", "text", "demographic (IIN), never to leave the HIS"},
    {"family_name", "text NOT NULL", "demographic"},
    {"given_name", "text NOT NULL", "demographic"},
    {"birth_date", "date NOT NULL", "demographic"},
    {"sex", "char(1) NOT NULL CHECK (sex IN ('F', 'M'))", NULL},
    {"street", "text NOT NULL", "demographic"},
    {"city", "text NOT NULL", "demographic"},
    {"postcode", "text NOT NULL", "demographic"},
    {"phone", "text NOT NULL", "demographic"},
};
static const char *const patients_cons[] = {"UNIQUE (mrn)", NULL};

static const struct his_column staff_cols[] = {
    {"staff_id", "integer NOT NULL", NULL},
    {"employee_no", "text NOT NULL", "the subject_id of TRAINING_HOURS"},
    {"family_name", "text NOT NULL", "personal data"},
    {"given_name", "text NOT NULL", "personal data"},
    {"role", "text NOT NULL", NULL},
};
static const char *const staff_cons[] = {"UNIQUE (employee_no)", NULL};

static const struct his_column ed_visits_cols[] = {
    {"visit_id", "bigint NOT NULL", NULL},
    {"visit_no", "text NOT NULL", "the visit number: case_id"},
    {"patient_id", "bigint NOT NULL", NULL},
    {"age_group", "text NOT NULL", "age band at arrival"},
    {"status",
     "text NOT NULL CHECK (status IN ('registered', 'triaged', 'seen', 'left', "
     "'departed'))",
     "the furthest step recorded"},
    {"triaged_at", TS, "TRIAGE; NULL: not recorded"},
    {"triage_level", "smallint CHECK (triage_level BETWEEN 1 AND 5)", NULL},
    {"seen_at", TS, "PHYSICIAN_SEEN"},
    {"left_unseen_at", TS, "ED_LEFT_WITHOUT_BEING_SEEN"},
    {"departed_at", TS, "ED_DEPARTURE"},
    {"disposition", "text", NULL},
};
static const char *const ed_visits_cons[] = {"UNIQUE (visit_no)", FK_PATIENT, NULL};

static const struct his_column ed_registrations_cols[] = {
    {"registration_id", "bigint NOT NULL", NULL},
    {"visit_id", "bigint NOT NULL", NULL},
    {"registration_no", "smallint NOT NULL", "n-th registration of the visit"},
    {"visit_no", "text",
     "the visit number the registration carries; NULL: registered "
     "before the visit had one"},
    {"registered_at", TS " NOT NULL", "ED_ARRIVAL"},
    {"arrival_mode", "text NOT NULL", NULL},
};
static const char *const ed_registrations_cons[] = {
    "UNIQUE (visit_id, registration_no)", "FOREIGN KEY (visit_id) REFERENCES his.ed_visits", NULL};

static const struct his_column encounters_cols[] = {
    {"encounter_id", "bigint NOT NULL", NULL},
    {"visit_no", "text NOT NULL", "the stay's visit number: case_id"},
    {"patient_id", "bigint NOT NULL", NULL},
    {"age_group", "text NOT NULL", "age band at admission"},
    {"status", "text NOT NULL CHECK (status IN ('admitted', 'discharged', 'cancelled'))",
     "cancelled: the admission was entered in error (its ADMISSION is retracted)"},
    {"admit_visit_no", "text",
     "the visit number on the admission record; NULL: admitted "
     "before the stay had one"},
    {"admitted_at", TS, "ADMISSION; NULL: not recorded"},
    {"admit_ward_id", "smallint", NULL},
    {"admit_department_id", "smallint", NULL},
    {"patient_class", "text", NULL},
    {"admission_type", "text", "administrative, or NULL"},
    {"discharged_at", TS, "DISCHARGE; NULL: not recorded"},
    {"discharge_disposition", "text", NULL},
    {"discharge_ward_id", "smallint", NULL},
    {"discharge_department_id", "smallint", NULL},
    {"discharge_patient_id", "bigint",
     "the patient the discharge was recorded under; NULL: "
     "none (a registration error)"},
    {"discharge_cancelled", "boolean NOT NULL",
     "the discharge recorded was cancelled (its DISCHARGE is retracted)"},
};
static const char *const encounters_cons[] = {
    "UNIQUE (visit_no)",
    FK_PATIENT,
    "FOREIGN KEY (admit_ward_id) REFERENCES his.wards",
    "FOREIGN KEY (admit_department_id) REFERENCES his.departments",
    "FOREIGN KEY (discharge_ward_id) REFERENCES his.wards",
    "FOREIGN KEY (discharge_department_id) REFERENCES his.departments",
    "FOREIGN KEY (discharge_patient_id) REFERENCES his.patients",
    NULL};

static const struct his_column transfers_cols[] = {
    {"transfer_id", "bigint NOT NULL", NULL},
    {"encounter_id", "bigint NOT NULL", NULL},
    {"transfer_no", "smallint NOT NULL", "n-th transfer of the stay"},
    {"transferred_at", TS " NOT NULL", "TRANSFER"},
    {"from_ward_id", "smallint NOT NULL", NULL},
    {"to_ward_id", "smallint NOT NULL", NULL},
};
static const char *const transfers_cons[] = {"UNIQUE (encounter_id, transfer_no)", FK_ENCOUNTER,
                                             "FOREIGN KEY (from_ward_id) REFERENCES his.wards",
                                             "FOREIGN KEY (to_ward_id) REFERENCES his.wards", NULL};

static const struct his_column infections_cols[] = {
    {"infection_id", "bigint NOT NULL", NULL},
    {"encounter_id", "bigint NOT NULL", NULL},
    {"onset_at", TS " NOT NULL", "HOSPITAL_ACQUIRED_INFECTION"},
    {"site", "text NOT NULL", NULL},
    {"ward_id", "smallint NOT NULL", NULL},
    {"status", "text NOT NULL CHECK (status IN ('confirmed', 'ruled_out'))",
     "ruled_out: retracted after review"},
};
static const char *const infections_cons[] = {"UNIQUE (encounter_id)", FK_ENCOUNTER, FK_WARD, NULL};

static const struct his_column deaths_cols[] = {
    {"death_id", "bigint NOT NULL", NULL},        {"encounter_id", "bigint NOT NULL", NULL},
    {"died_at", TS " NOT NULL", "DEATH"},         {"ward_id", "smallint NOT NULL", NULL},
    {"department_id", "smallint NOT NULL", NULL},
};
static const char *const deaths_cons[] = {"UNIQUE (encounter_id)", FK_ENCOUNTER, FK_WARD,
                                          FK_DEPARTMENT, NULL};

static const struct his_column charges_cols[] = {
    {"charge_id", "bigint NOT NULL", NULL},
    {"encounter_id", "bigint NOT NULL", NULL},
    {"posted_at", TS " NOT NULL", "COST"},
    {"amount", "numeric(12,2) NOT NULL", NULL},
    {"department_id", "smallint NOT NULL", NULL},
    {"patient_class", "text NOT NULL", NULL},
    {"status", "text NOT NULL CHECK (status IN ('posted', 'adjusted', 'reversed'))",
     "reversed: entered in error (its COST is retracted)"},
};
static const char *const charges_cons[] = {"UNIQUE (encounter_id)", FK_ENCOUNTER, FK_DEPARTMENT,
                                           NULL};

static const struct his_column surveys_cols[] = {
    {"survey_id", "bigint NOT NULL", NULL},
    {"visit_no", "text NOT NULL", "the ED visit, stay or appointment it is about: case_id"},
    {"patient_id", "bigint NOT NULL", NULL},
    {"responded_at", TS " NOT NULL", "SATISFACTION_SURVEY"},
    {"response", "text NOT NULL CHECK (response IN ('answered', 'declined'))", NULL},
    {"score", "smallint CHECK (score BETWEEN 0 AND 10)", "NULL when declined"},
    {"department_id", "smallint", "ED and inpatient surveys"},
    {"specialty", "text", "outpatient surveys"},
    {"status", "text NOT NULL CHECK (status IN ('valid', 'entered_in_error'))",
     "entered_in_error: its SATISFACTION_SURVEY is retracted"},
};
static const char *const surveys_cons[] = {"UNIQUE (visit_no)", FK_PATIENT, FK_DEPARTMENT, NULL};

static const struct his_column lab_orders_cols[] = {
    {"order_id", "bigint NOT NULL", NULL},
    {"order_no", "text NOT NULL", "placer order number: case_id"},
    {"patient_id", "bigint NOT NULL", NULL},
    {"test_code", "text NOT NULL", NULL},
    {"status", "text NOT NULL CHECK (status IN ('ordered', 'resulted'))", NULL},
    {"ordered_at", TS, "LAB_ORDER; NULL: the order entry has not arrived (a result came first)"},
    {"priority", "text", NULL},
    {"ward_id", "smallint", "the ordering ward; NULL: outpatient"},
};
static const char *const lab_orders_cons[] = {"UNIQUE (order_no)", FK_PATIENT, FK_WARD, NULL};

static const struct his_column lab_results_cols[] = {
    {"result_id", "bigint NOT NULL", NULL},
    {"order_id", "bigint NOT NULL", NULL},
    {"resulted_at", TS " NOT NULL", "LAB_RESULT"},
    {"test_code", "text NOT NULL", NULL},
    {"value", "numeric NOT NULL", NULL},
    {"unit", "text NOT NULL", NULL},
    {"status", "text NOT NULL CHECK (status IN ('final', 'corrected'))", NULL},
};
static const char *const lab_results_cons[] = {
    "UNIQUE (order_id)", "FOREIGN KEY (order_id) REFERENCES his.lab_orders", NULL};

static const struct his_column surgeries_cols[] = {
    {"surgery_id", "bigint NOT NULL", NULL},
    {"surgery_no", "text NOT NULL", "case_id"},
    {"patient_id", "bigint NOT NULL", NULL},
    {"specialty", "text NOT NULL", NULL},
    {"age_group", "text NOT NULL", NULL},
    {"status", "text NOT NULL CHECK (status IN ('scheduled', 'cancelled', 'performed'))",
     "cancelled is an event (SURGERY_CANCELLED), not a retraction"},
    {"booked_at", TS, "SURGERY_SCHEDULED"},
    {"cancelled_at", TS, "SURGERY_CANCELLED"},
    {"cancel_reason", "text", NULL},
    {"performed_at", TS, "SURGERY_PERFORMED"},
    {"theatre", "text", NULL},
};
static const char *const surgeries_cons[] = {"UNIQUE (surgery_no)", FK_PATIENT, NULL};

static const struct his_column appointments_cols[] = {
    {"appointment_id", "bigint NOT NULL", NULL},
    {"appointment_no", "text NOT NULL", "case_id"},
    {"patient_id", "bigint NOT NULL", NULL},
    {"specialty", "text NOT NULL", NULL},
    {"age_group", "text NOT NULL", NULL},
    {"status", "text NOT NULL CHECK (status IN ('booked', 'cancelled', 'attended'))",
     "cancelled: the booking is withdrawn (its APPOINTMENT_BOOKED is retracted)"},
    {"booked_at", TS, "APPOINTMENT_BOOKED"},
    {"seen_at", TS, "APPOINTMENT_SEEN"},
};
static const char *const appointments_cons[] = {"UNIQUE (appointment_no)", FK_PATIENT, NULL};

static const struct his_column training_sessions_cols[] = {
    {"session_id", "bigint NOT NULL", NULL},
    {"session_no", "text NOT NULL", "case_id"},
    {"course", "text NOT NULL", NULL},
};
static const char *const training_sessions_cons[] = {"UNIQUE (session_no)", NULL};

static const struct his_column staff_training_cols[] = {
    {"attendance_id", "bigint NOT NULL", NULL},
    {"session_id", "bigint NOT NULL", NULL},
    {"line_no", "smallint NOT NULL", "n-th sign-off of the session"},
    {"staff_id", "integer NOT NULL", NULL},
    {"signed_off_at", TS " NOT NULL", "TRAINING_HOURS"},
    {"hours", "numeric(4,1) NOT NULL", NULL},
};
static const char *const staff_training_cons[] = {
    "UNIQUE (session_id, line_no)", "FOREIGN KEY (session_id) REFERENCES his.training_sessions",
    "FOREIGN KEY (staff_id) REFERENCES his.staff", NULL};

static const struct his_column staff_headcount_cols[] = {
    {"headcount_id", "bigint NOT NULL", NULL},
    {"month", "date NOT NULL", "the first of the month counted"},
    {"line_no", "smallint NOT NULL", "n-th line of the month's report"},
    {"department_id", "smallint NOT NULL", NULL},
    {"counted_at", TS " NOT NULL", "STAFF_HEADCOUNT"},
    {"headcount", "integer NOT NULL", NULL},
};
static const char *const staff_headcount_cons[] = {
    "UNIQUE (month, line_no)", "UNIQUE (month, department_id)", FK_DEPARTMENT, NULL};

static const struct his_column deleted_rows_cols[] = {
    {"deletion_id", "bigint NOT NULL", NULL},
    {"table_name", "text NOT NULL", NULL},
    {"row_key", "jsonb NOT NULL", "the deleted row's primary and natural key columns"},
    {"deleted_at", TS " NOT NULL", NULL},
    {"reason", "text NOT NULL", NULL},
};
static const char *const deleted_rows_cons[] = {NULL};

const struct his_table_def his_tables[HIS__COUNT] = {
    [HIS_DEPARTMENTS] = {"departments", "departments (cost centres)", TABLE(departments)},
    [HIS_WARDS] = {"wards", "wards and units", TABLE(wards)},
    [HIS_PATIENTS] = {"patients", "the master patient index: demographics stay here",
                      TABLE(patients)},
    [HIS_STAFF] = {"staff", "employees", TABLE(staff)},
    [HIS_ED_VISITS] = {"ed_visits", "emergency department visits", TABLE(ed_visits)},
    [HIS_ED_REGISTRATIONS] = {"ed_registrations",
                              "registrations of ED visits (a visit may be registered again)",
                              TABLE(ed_registrations)},
    [HIS_ENCOUNTERS] = {"encounters", "inpatient stays: admission and discharge",
                        TABLE(encounters)},
    [HIS_TRANSFERS] = {"transfers", "ward transfers during stays", TABLE(transfers)},
    [HIS_INFECTIONS] = {"infections", "hospital-acquired infections (infection control)",
                        TABLE(infections)},
    [HIS_DEATHS] = {"deaths", "deaths in hospital", TABLE(deaths)},
    [HIS_CHARGES] = {"charges", "the billed cost of each stay", TABLE(charges)},
    [HIS_SURVEYS] = {"surveys", "patient satisfaction survey responses", TABLE(surveys)},
    [HIS_LAB_ORDERS] = {"lab_orders", "laboratory orders", TABLE(lab_orders)},
    [HIS_LAB_RESULTS] = {"lab_results",
                         "laboratory results; results entered in error are deleted "
                         "(his.deleted_rows)",
                         TABLE(lab_results)},
    [HIS_SURGERIES] = {"surgeries", "elective surgery: booking, cancellation, operation",
                       TABLE(surgeries)},
    [HIS_APPOINTMENTS] = {"appointments", "outpatient appointments", TABLE(appointments)},
    [HIS_TRAINING_SESSIONS] = {"training_sessions", "staff training sessions",
                               TABLE(training_sessions)},
    [HIS_STAFF_TRAINING] = {"staff_training",
                            "attendance of training sessions; records entered in error are "
                            "deleted (his.deleted_rows)",
                            TABLE(staff_training)},
    [HIS_STAFF_HEADCOUNT] = {"staff_headcount", "monthly headcount by department",
                             TABLE(staff_headcount)},
    [HIS_DELETED_ROWS] = {"deleted_rows", "tombstones: rows deleted from the tables above",
                          TABLE(deleted_rows), .index = "table_name, updated_at, deletion_id"},
};

/* Appends a NUL-terminated string. */
static void put(struct hg_wbuf *out, const char *s)
{
    hg_wbuf_put(out, s, strlen(s));
}

/* Appends s as an SQL string literal. */
static void put_literal(struct hg_wbuf *out, const char *s)
{
    hg_wbuf_put(out, "'", 1);
    for (const char *q; (q = strchr(s, '\'')); s = q + 1) {
        hg_wbuf_put(out, s, (size_t)(q - s));
        hg_wbuf_put(out, "''", 2);
    }
    put(out, s);
    hg_wbuf_put(out, "'", 1);
}

/* Appends "his.<table>". */
static void put_table(struct hg_wbuf *out, const struct his_table_def *t)
{
    put(out, "his.");
    put(out, t->name);
}

static const char head[] =
    "-- The hospital information system of hospgen's hospital: schema his, its data, keys,\n"
    "-- indexes and triggers (tools/hospgen/README.md). Load it into an empty database:\n"
    "--   psql -v ON_ERROR_STOP=1 -d his -f his.sql\n"
    "-- PostgreSQL 13 or later (xid8). One transaction: all of it or nothing.\n"
    "SET client_encoding = 'UTF8';\n"
    "SET standard_conforming_strings = on;\n"
    "SET client_min_messages = warning;\n"
    "BEGIN;\n"
    "CREATE SCHEMA his;\n"
    "\n"
    "-- row_xid: the transaction that wrote the row last (pg_current_xact_id()), for readers\n"
    "-- that page by transaction id (kpid's snapshot_xmin): the default on insert, this\n"
    "-- trigger on update.\n"
    "CREATE FUNCTION his.set_row_xid() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "    NEW.row_xid := pg_current_xact_id();\n"
    "    RETURN NEW;\n"
    "END\n"
    "$$;\n";

void his_schema_head(struct hg_wbuf *out)
{
    put(out, head);
    for (unsigned i = 0; i < HIS__COUNT; i++) {
        const struct his_table_def *t = &his_tables[i];
        put(out, "\nCREATE TABLE ");
        put_table(out, t);
        put(out, " (\n");
        for (unsigned c = 0; c < t->n_cols; c++) {
            put(out, "    ");
            put(out, t->cols[c].name);
            put(out, " ");
            put(out, t->cols[c].type);
            put(out, ",\n");
        }
        put(out, "    created_at timestamptz NOT NULL,\n"
                 "    updated_at timestamptz NOT NULL,\n"
                 "    row_xid xid8 DEFAULT pg_current_xact_id() NOT NULL\n);\n");
        put(out, "COMMENT ON TABLE ");
        put_table(out, t);
        put(out, " IS ");
        put_literal(out, t->comment);
        put(out, ";\n");
        for (unsigned c = 0; c < t->n_cols; c++) {
            if (!t->cols[c].comment)
                continue;
            put(out, "COMMENT ON COLUMN ");
            put_table(out, t);
            put(out, ".");
            put(out, t->cols[c].name);
            put(out, " IS ");
            put_literal(out, t->cols[c].comment);
            put(out, ";\n");
        }
    }
}

void his_schema_copy(struct hg_wbuf *out, enum his_table t)
{
    const struct his_table_def *d = &his_tables[t];

    put(out, "\nCOPY ");
    put_table(out, d);
    put(out, " (");
    for (unsigned c = 0; c < d->n_cols; c++) {
        put(out, d->cols[c].name);
        put(out, ", ");
    }
    put(out, "created_at, updated_at) FROM stdin;\n");
}

/* Appends "ALTER TABLE ONLY his.<t> ADD <what>;". */
static void alter_add(struct hg_wbuf *out, const struct his_table_def *t, const char *what)
{
    put(out, "ALTER TABLE ONLY ");
    put_table(out, t);
    put(out, " ADD ");
    put(out, what);
    put(out, ";\n");
}

/* Appends "CREATE INDEX <t>_<suffix> ON his.<t> (<cols>);". */
static void index_on(struct hg_wbuf *out, const struct his_table_def *t, const char *suffix,
                     const char *cols)
{
    put(out, "CREATE INDEX ");
    put(out, t->name);
    put(out, suffix);
    put(out, " ON ");
    put_table(out, t);
    put(out, " (");
    put(out, cols);
    put(out, ");\n");
}

void his_schema_tail(struct hg_wbuf *out)
{
    put(out, "\n-- Keys after the data, as pg_dump orders them; foreign keys last.\n");
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < HIS__COUNT; i++) {
            const struct his_table_def *t = &his_tables[i];
            if (pass == 0) {
                put(out, "ALTER TABLE ONLY ");
                put_table(out, t);
                put(out, " ADD PRIMARY KEY (");
                put(out, t->cols[0].name);
                put(out, ");\n");
            }
            for (const char *const *c = t->constraints; *c; c++)
                if ((strncmp(*c, "FOREIGN KEY", 11) == 0) == (pass == 1))
                    alter_add(out, t, *c);
        }
    }
    put(out, "\n-- What readers page by: (updated_at, key) and (row_xid, key) on every table.\n");
    for (unsigned i = 0; i < HIS__COUNT; i++) {
        const struct his_table_def *t = &his_tables[i];
        char cols[64];

        snprintf(cols, sizeof(cols), "updated_at, %s", t->cols[0].name);
        index_on(out, t, "_updated_at", cols);
        snprintf(cols, sizeof(cols), "row_xid, %s", t->cols[0].name);
        index_on(out, t, "_row_xid", cols);
        if (t->index)
            index_on(out, t, "_by_table", t->index);
        put(out, "CREATE TRIGGER ");
        put(out, t->name);
        put(out, "_row_xid BEFORE UPDATE ON ");
        put_table(out, t);
        put(out, " FOR EACH ROW EXECUTE FUNCTION his.set_row_xid();\n");
    }
    put(out, "COMMIT;\nANALYZE");
    for (unsigned i = 0; i < HIS__COUNT; i++) {
        put(out, i ? ", " : " ");
        put_table(out, &his_tables[i]);
    }
    put(out, ";\n");
}
