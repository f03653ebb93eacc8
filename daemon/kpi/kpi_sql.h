/*
 * Evaluating an sql KPI: the operator's own query, given $1 = period start and $2 =
 * period end (timestamptz). Its rows are checked and mapped by column name:
 *   value        required; a number (smallint, integer, bigint, real, double precision,
 *                numeric), finite, or NULL;
 *   numerator, denominator  optional numbers, as value;
 *   n            optional integer (smallint, integer, bigint);
 *   stratum      optional json or jsonb object; NULL or absent is the whole population {}.
 * Other columns are ignored. No two rows may have the same stratum. Only when every row
 * passes are the period's values replaced, in a transaction of the caller's connection,
 * with their status (kpid.kpi_status) and the definition's hash from kpid.kpi, as for
 * compiled KPIs.
 *
 * Least privilege. The query runs on a connection of its own (kpid_sql_conn), never on
 * the caller's, in a READ ONLY transaction that is always rolled back, under the KPI's
 * timeout as statement_timeout, as role kpid_sql: through kpid.sql_kpi_rows, a
 * SECURITY DEFINER function owned by kpid_sql (sql/009_sql_kpi_role.sql). PostgreSQL
 * refuses to set role or session_authorization inside a security-definer function, so
 * the query cannot become kpid again (SET LOCAL ROLE alone would let it, with
 * set_config('role', session_user, true)). kpid_sql is a member of no role and may
 * read kpid.event, kpid.kpi_value and the dashboards' views only: no kpid.rejected, no
 * kpid.cursor, no pg_read_file, no pg_terminate_backend of kpid's or anyone's sessions,
 * no dblink without a password of its own. Before anything runs, the role is checked
 * (kpid.sql_kpi_role_problems: it exists, kpid is a member, it is a member of nothing
 * and has no attribute beyond NOLOGIN, it owns the function as SECURITY DEFINER); when
 * it is not in place, the KPI fails with what to run, and never runs with kpid's own
 * privileges. The query is prepared and described under the role first (a prepared
 * statement is not executed): that gives its column names and types and refuses a
 * second statement; the function returns each row as the text of a record, split here.
 * A query that took advisory locks fails ("took advisory locks"). After each query the
 * session is reset (see reset_session in kpi_sql.c): cursors, prepared statements,
 * LISTENs, advisory locks, temporary objects and cached plans go; settings the query
 * changed went with the rollback.
 */
#ifndef KPID_KPI_SQL_H
#define KPID_KPI_SQL_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "model/model.h"
#include "warehouse/pgconn.h"

/*
 * The warehouse connection sql KPIs run on, apart from the caller's: opened at the first
 * sql KPI evaluated with it, closed by kpid_sql_conn_close, and when it breaks (the
 * next sql KPI opens another). One thread uses it at a time. Set warehouse (borrowed)
 * and optionally publish; zero the rest.
 * publish is called with the connection's socket right after it opens, and may refuse
 * it by returning false (the caller is stopping: the evaluation then fails), and with
 * -1 just before it closes; so that a stopping scheduler can shut it down.
 */
typedef struct kpid_sql_conn {
    const kpid_pg_target *warehouse;
    bool (*publish)(void *arg, int fd);
    void *arg;
    PGconn *conn; /* NULL while closed */
} kpid_sql_conn;

/* Closes the connection, if open. Accepts NULL. */
void kpid_sql_conn_close(kpid_sql_conn *sql);

/*
 * Evaluates the sql KPI kpi for the period [start, end) (timestamptz texts), the query
 * on sql's connection (opened if need be), the values written on conn; partial marks an
 * open period. Returns 0 and *ret_written (the rows written), or -EIO with *ret_error
 * freshly allocated ("KPI_ID: what went wrong"; NULL when out of memory): the stored
 * values are then untouched. Does not record the run in kpid.kpi_run.
 */
int kpid_kpi_sql_evaluate(PGconn *conn, kpid_sql_conn *sql, const kpid_kpi *kpi, const char *start,
                          const char *end, bool partial, int *ret_written, char **ret_error);

#endif
