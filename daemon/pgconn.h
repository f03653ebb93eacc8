/*
 * Connecting to the warehouse and classifying its errors.
 */
#ifndef KPID_PGCONN_H
#define KPID_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>

/*
 * Connects with conninfo (a libpq connection string or URI) and, when password_file is
 * set, the password on its first line. Returns the connection (the caller PQfinish'es
 * it) or NULL with *ret_error freshly allocated (one line; never contains the password).
 */
PGconn *kpid_pg_connect(const char *conninfo, const char *password_file, char **ret_error);

/*
 * True for errors worth retrying as they are: connection loss and SQLSTATE classes 08
 * (connection), 40 (rollback: serialization, deadlock), 53 (insufficient resources),
 * 57 (operator intervention: shutdown, cancel), 58 (system error). sqlstate may be NULL
 * (no server answer), which is transient too.
 */
bool kpid_pg_transient(PGconn *conn, const char *sqlstate);

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
 * (the caller PQclear's it); or -EIO with *ret_error = "what: the error's first line",
 * freshly allocated.
 */
int kpid_pg_query(PGconn *conn, const char *sql, int n, const char *const *params,
                  PGresult **ret_res, const char *what, char **ret_error);

#endif
