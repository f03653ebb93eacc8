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

#endif
