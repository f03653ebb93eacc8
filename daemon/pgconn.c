#include "pgconn.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_password(const char *path, char **ret_password, char **ret_error)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    FILE *f = fopen(path, "re");

    if (!f) {
        if (asprintf(ret_error, "cannot read password file \"%s\": %s", path,
                     strerror(errno)) < 0)
            *ret_error = NULL;
        return -errno;
    }
    n = getline(&line, &cap, f);
    fclose(f);
    if (n < 0) {
        free(line);
        line = strdup("");
        if (!line)
            return -ENOMEM;
        n = 0;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    *ret_password = line;
    return 0;
}

/* Server notices ("relation already exists, skipping") go to the debug log, one line. */
static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    kpid_log(KPID_LOG_DEBUG, "warehouse notice: %.*s", (int)strcspn(message, "\n"), message);
}

PGconn *kpid_pg_connect(const char *conninfo, const char *password_file, char **ret_error)
{
    const char *keys[5], *values[5];
    char *password = NULL;
    PGconn *conn;
    int i = 0;

    *ret_error = NULL;
    if (password_file && read_password(password_file, &password, ret_error) < 0)
        return NULL;
    keys[i] = "dbname";
    values[i++] = conninfo;
    keys[i] = "fallback_application_name";
    values[i++] = "kpid";
    if (password) {
        keys[i] = "password";
        values[i++] = password;
    }
    keys[i] = NULL;
    values[i] = NULL;
    conn = PQconnectdbParams(keys, values, /* expand_dbname= */ 1);
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    if (!conn) {
        *ret_error = strdup("out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        *ret_error = strdup(kpid_pg_error_line(conn, NULL));
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, notice_to_log, NULL);
    return conn;
}

bool kpid_pg_transient(PGconn *conn, const char *sqlstate)
{
    if (!conn || PQstatus(conn) != CONNECTION_OK || !sqlstate || strlen(sqlstate) != 5)
        return true;
    return strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "40", 2) == 0 ||
           strncmp(sqlstate, "53", 2) == 0 || strncmp(sqlstate, "57", 2) == 0 ||
           strncmp(sqlstate, "58", 2) == 0;
}

const char *kpid_pg_error_line(PGconn *conn, const PGresult *res)
{
    static _Thread_local char line[512];
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    size_t n;

    if (!msg || !*msg)
        msg = conn ? PQerrorMessage(conn) : "no connection";
    if (!msg || !*msg)
        msg = "unknown error";
    n = strcspn(msg, "\n");
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    memcpy(line, msg, n);
    line[n] = '\0';
    return line;
}

int kpid_pg_exec(PGconn *conn, const char *sql, const char **ret_state, const char **ret_message)
{
    static _Thread_local char state[6];
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int r = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        snprintf(state, sizeof(state), "%s", s ? s : "");
        if (ret_state)
            *ret_state = state[0] ? state : NULL;
        if (ret_message)
            *ret_message = kpid_pg_error_line(conn, res);
        r = -EIO;
    }
    PQclear(res);
    return r;
}

int kpid_pg_fail(char **ret_error, const char *what, const char *msg)
{
    if (asprintf(ret_error, "%s: %s", what, msg) < 0)
        *ret_error = NULL;
    return -EIO;
}

int kpid_pg_query(PGconn *conn, const char *sql, int n, const char *const *params,
                  PGresult **ret_res, const char *what, char **ret_error)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int r = kpid_pg_fail(ret_error, what, kpid_pg_error_line(conn, res));
        PQclear(res);
        return r;
    }
    if (ret_res)
        *ret_res = res;
    else
        PQclear(res);
    return 0;
}
