/*
 * Connecting to the warehouse, the session settings kpid relies on, waiting on the
 * warehouse without losing control of the thread, and classifying its errors.
 */
#ifndef KPID_PGCONN_H
#define KPID_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The warehouse and the session settings of every kpid connection to it. The strings
 * belong to whoever filled the struct (the configuration); users borrow them.
 *
 * The settings travel in the connection's start-up packet (libpq's "options"), so they
 * override what ALTER ROLE / ALTER DATABASE set for kpid's role (a role-wide
 * statement_timeout of 5 ms must not stall ingestion) and survive RESET ALL and DISCARD
 * ALL. Options in conninfo come after them, so an operator can still override one there.
 */
typedef struct kpid_pg_target {
    char *conninfo;                 /* a libpq connection string or URI */
    char *password_file;            /* NULL, or the password on its first line */
    int64_t statement_timeout_ms;   /* 0 = none */
    int64_t lock_timeout_ms;        /* 0 = none */
    int64_t idle_in_transaction_ms; /* idle_in_transaction_session_timeout; 0 = none */
    int64_t connect_timeout_ms;     /* a connection attempt gives up after this */
} kpid_pg_target;

/* Exit status of --once, --migrate and the CLI verbs when the warehouse refuses kpid's
 * role for good (kpid_pg_refused): fix the role, the password or a grant. */
#define KPID_EX_REFUSED 77

/* One line telling the operator what to check when kpid_pg_refused() holds. */
#define KPID_PG_REFUSED_HINT                                                                \
    "kpid's warehouse role must be able to log in (warehouse.password_file, pg_hba.conf), " \
    "connect to the database and own schema kpid: see kpid.conf(5), THE WAREHOUSE ROLE"

/*
 * Connects to the target, with kpid's session settings, search_path pg_catalog, pg_temp
 * (kpid names every object it uses with its schema), jit off (the KPI statements'
 * correlated subqueries have estimated costs that would have every statement compiled,
 * which costs more than the evaluation of an indexed period) and application_name kpid
 * unless conninfo names one.
 *
 * Returns 0 and *ret_conn (the caller PQfinish'es it). On failure returns -EACCES when
 * the warehouse refused the role for good (kpid_pg_refused: authentication, no such
 * database, no CONNECT privilege), -EIO otherwise (unreachable, starting up, too many
 * connections, a timeout: worth retrying), or -ENOMEM; *ret_error is then freshly
 * allocated (one line, never the password; NULL when out of memory).
 */
int kpid_pg_open(const kpid_pg_target *target, PGconn **ret_conn, char **ret_error);

/*
 * True for errors worth retrying as they are: connection loss and SQLSTATE classes 08
 * (connection), 40 (rollback: serialization, deadlock), 53 (insufficient resources),
 * 55P03 (lock_timeout), 57 (operator intervention: shutdown, cancel, statement_timeout),
 * 58 (system error). sqlstate may be NULL (no server answer), which is transient too.
 */
bool kpid_pg_transient(PGconn *conn, const char *sqlstate);

/*
 * True for errors that only an operator fixes: class 28 (authentication), 3D000 (no
 * such database), 42501 (insufficient privilege). kpid reports them as errors with
 * KPID_PG_REFUSED_HINT; the daemon retries them slowly, --once and the CLI verbs stop.
 */
bool kpid_pg_refused(const char *sqlstate);

/*
 * Watching a statement in progress. kpid_pg_run calls waiting() about every 200 ms
 * while the warehouse has not answered, with the time the statement has waited; the
 * thread can beat its heartbeat there, report a long wait, and return true to cancel
 * the statement (PQcancel). A warehouse that does not answer a cancel within 2 s has its
 * connection shut down, so the call returns in any case.
 */
typedef struct kpid_pg_waiter {
    bool (*waiting)(void *arg, PGconn *conn, int64_t waited_us);
    void *arg;
} kpid_pg_waiter;

/*
 * Runs sql as PQexec (params NULL: sql may hold several statements) or PQexecParams
 * (n text parameters) would, keeping the thread in control while it waits (waiter may be
 * NULL). Returns what PQexec would: the first error result, or the last result, or a
 * COPY_IN/COPY_OUT result; NULL when the connection broke before any result. The caller
 * PQclear's it.
 */
PGresult *kpid_pg_run(PGconn *conn, const char *sql, int n, const char *const *params,
                      const kpid_pg_waiter *waiter);

/*
 * Waits, as kpid_pg_run does, for the results of what was sent on conn (the end of a
 * COPY, say). Same return value.
 */
PGresult *kpid_pg_await(PGconn *conn, const kpid_pg_waiter *waiter);

/*
 * Describes why the session with backend pid waits, asking the warehouse on a
 * connection of its own (a short statement_timeout): its wait event, the relation it
 * waits for, and each session that blocks it (pg_blocking_pids: pid, user, application,
 * state, transaction age). Writes one line of key=value fields into buf (size bytes),
 * or what went wrong asking. Never names patient data: no query texts.
 */
void kpid_pg_describe_wait(const kpid_pg_target *target, int pid, char *buf, size_t size);

/* Runs a command without parameters; returns 0 or -EIO with *ret_state / *ret_message
 * pointing into a static-per-thread buffer (valid until the next call). */
int kpid_pg_exec(PGconn *conn, const char *sql, const char **ret_state, const char **ret_message);

/* The first line of a result's or connection's error, for logs; thread-local buffer. */
const char *kpid_pg_error_line(PGconn *conn, const PGresult *res);

/* Sets *ret_error to "what: msg", freshly allocated (NULL when out of memory); returns
 * -EIO, for `return kpid_pg_fail(...)`. */
int kpid_pg_fail(char **ret_error, const char *what, const char *msg);

/*
 * Runs sql with n text parameters. Returns 0 and, when ret_res is not NULL, the result
 * (the caller PQclear's it); or -EIO (-EACCES when kpid_pg_refused) with *ret_error =
 * "what: the error's first line", or the line alone when what is NULL, freshly
 * allocated (NULL when out of memory).
 */
int kpid_pg_query(PGconn *conn, const char *sql, int n, const char *const *params,
                  PGresult **ret_res, const char *what, char **ret_error);

/*
 * Parses a decimal integer the warehouse returned as text (a bigint or integer column).
 * Returns 0 and *ret, -EINVAL when text is not one (empty, or with anything after the
 * digits) or -ERANGE.
 */
int kpid_pg_int64(const char *text, int64_t *ret);

/* The number of rows a command touched (PQcmdTuples of res), 0 when it reports none. */
int64_t kpid_pg_cmd_rows(PGresult *res);

#endif
