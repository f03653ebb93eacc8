/* The connection to the HIS: connecting, statements with a deadline, errors (conn.c). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pgsql_source.h"
#include "time/clock.h"

#define SLICE_MS 200        /* how often a wait looks at the stop flag */
#define GRACE_US 10000000LL /* past the statement timeout: then the statement is canceled */
#define CANCEL_US 5000000LL /* after a cancel: then the connection is dropped */

/* Whether conninfo names an application_name (then it is kept). */
static bool names_application(const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    bool found = false;

    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "application_name") == 0 && o->val && *o->val)
            found = true;
    PQconninfoFree(opts);
    return found;
}

/* Waits until the socket is ready as PQconnectPoll asks, or the deadline passes. */
static int wait_socket(PGconn *conn, PostgresPollingStatusType want, int64_t deadline_us)
{
    struct pollfd pfd = {
        .fd = PQsocket(conn),
        .events = want == PGRES_POLLING_READING ? POLLIN : POLLOUT,
    };

    for (;;) {
        int64_t left_ms = (deadline_us - kpid_now_us()) / 1000;
        if (left_ms <= 0)
            return -ETIMEDOUT;
        int n = poll(&pfd, 1, left_ms > SLICE_MS ? SLICE_MS : (int)left_ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

int pgsql_connect(pgsql_source *s)
{
    const char *keys[6], *values[6];
    char *password = NULL, msg[512];
    int i = 0, r = 0;
    PGconn *conn;

    if (s->conn)
        return 0;
    PQconninfoOption *parsed = PQconninfoParse(s->cfg->conninfo, NULL);
    if (!parsed) {
        plog(s, KPID_LOG_ERR, "conninfo is not a libpq connection string or URI");
        return -EINVAL;
    }
    PQconninfoFree(parsed);
    if (s->cfg->password_file &&
        !(password =
              kpid_pull_password_read(s->host, s->src, s->cfg->password_file, &s->password_warned)))
        return -EACCES;
    keys[i] = "dbname";
    values[i++] = s->cfg->conninfo;
    keys[i] =
        names_application(s->cfg->conninfo) ? "fallback_application_name" : "application_name";
    values[i++] = "kpid";
    keys[i] = "client_encoding";
    values[i++] = "UTF8";
    if (password) {
        keys[i] = "password";
        values[i++] = password;
    }
    keys[i] = NULL;
    values[i] = NULL;
    conn = PQconnectStartParams(keys, values, /* expand_dbname= */ 1);
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    if (!conn)
        return -ENOMEM;

    int64_t deadline = kpid_now_us() + s->cfg->connect_timeout_ms * 1000;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    const char *why = NULL;
    if (PQstatus(conn) == CONNECTION_BAD)
        r = -EIO;
    while (r == 0 && st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            r = -EIO;
            break;
        }
        if (s->host->stop_requested(s->src)) {
            r = -ECANCELED;
            break;
        }
        if ((r = wait_socket(conn, st, deadline)) < 0) {
            why = r == -ETIMEDOUT ? "the connection attempt timed out (connect_timeout)"
                                  : "cannot wait for the HIS server's socket";
            break;
        }
        st = PQconnectPoll(conn);
    }
    if (r < 0) {
        if (r != -ECANCELED) {
            const char *m = why ? why : PQerrorMessage(conn);
            plog(s, KPID_LOG_ERR, "cannot connect to the HIS error=\"%s\"",
                 kpid_log_text(m && *m ? m : "unknown error", msg, sizeof(msg)));
            /* A refused login is for an operator to fix: say so apart from an outage. */
            if (!why && m &&
                (strstr(m, "authentication") || strstr(m, "does not exist") ||
                 strstr(m, "no password") || strstr(m, "permission denied")))
                r = -EACCES;
        }
        PQfinish(conn);
        return r;
    }
    s->conn = conn;
    plog(s, KPID_LOG_INFO, "connected to the HIS server_version=%d user=%s database=%s",
         PQserverVersion(conn), PQuser(conn), PQdb(conn));
    return 0;
}

void pgsql_disconnect(pgsql_source *s)
{
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
}

static void cancel(PGconn *conn)
{
    PGcancel *c = PQgetCancel(conn);
    char err[256];

    if (c) {
        PQcancel(c, err, sizeof(err));
        PQfreeCancel(c);
    }
}

/* Waits for the statement's results; keeps the first error, else the last result. */
static PGresult *await(pgsql_source *s, int *ret_err)
{
    PGconn *conn = s->conn;
    int64_t deadline = kpid_now_us() + s->cfg->statement_timeout_ms * 1000 + GRACE_US;
    bool canceled = false;
    PGresult *keep = NULL;

    for (;;) {
        while (!PQisBusy(conn)) {
            PGresult *res = PQgetResult(conn);
            if (!res)
                return keep;
            if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
                PQclear(res);
                continue;
            }
            PQclear(keep);
            keep = res;
        }
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
        int n = pfd.fd < 0 ? -1 : poll(&pfd, 1, SLICE_MS);
        if (n < 0 && pfd.fd >= 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && !PQconsumeInput(conn))) {
            if (PQstatus(conn) == CONNECTION_BAD)
                continue; /* PQgetResult reports the broken connection */
            break;
        }
        int64_t now = kpid_now_us();
        bool stop = s->host->stop_requested(s->src);
        if (!canceled && (stop || now > deadline)) {
            cancel(conn);
            canceled = true;
            deadline = now + CANCEL_US;
        } else if (canceled && now > deadline) {
            break; /* no answer to the cancel either */
        }
    }
    PQclear(keep);
    *ret_err = s->host->stop_requested(s->src) ? -ECANCELED : -ETIMEDOUT;
    pgsql_disconnect(s);
    return NULL;
}

PGresult *pgsql_run(pgsql_source *s, const char *sql, int n, const char *const *params,
                    int *ret_err)
{
    PGresult *res;

    *ret_err = 0;
    if (!s->conn) {
        *ret_err = -EIO;
        return NULL;
    }
    if (!PQsendQueryParams(s->conn, sql, n, NULL, params, NULL, NULL, 0)) {
        char msg[512];
        plog(s, KPID_LOG_WARNING, "cannot send a statement to the HIS error=\"%s\"",
             kpid_log_text(PQerrorMessage(s->conn), msg, sizeof(msg)));
        pgsql_disconnect(s);
        *ret_err = -EIO;
        return NULL;
    }
    res = await(s, ret_err);
    if (!res && *ret_err == 0) {
        /* No result at all: only when the connection broke without saying so. */
        *ret_err = -EIO;
        pgsql_disconnect(s);
    }
    return res;
}

/* The server's message without what it quotes: data exceptions (class 22) and
 * integrity violations (23) may quote values, which may be patient data. */
static void redact(const char *state, const char *msg, char *out, size_t size)
{
    bool quoted = false;
    size_t n = 0;

    if (strncmp(state, "22", 2) != 0 && strncmp(state, "23", 2) != 0) {
        snprintf(out, size, "%s", msg);
        return;
    }
    for (const char *p = msg; *p && n + 4 < size; p++) {
        if (*p == '"') {
            if (!quoted)
                memcpy(out + n, "\"...", 4), n += 4;
            else
                out[n++] = '"';
            quoted = !quoted;
        } else if (!quoted) {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

int pgsql_statement_failed(pgsql_source *s, const kpid_pull_query *q, const char *what,
                           PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char msg[512], text[600], qname[64];
    bool lost = !s->conn || PQstatus(s->conn) == CONNECTION_BAD ||
                (state && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
                           strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0));

    if (!primary || !*primary)
        primary = s->conn ? PQerrorMessage(s->conn) : "no connection";
    if (!state)
        state = "";
    redact(state, primary && *primary ? primary : "unknown error", msg, sizeof(msg));
    kpid_log_text(msg, text, sizeof(text));
    snprintf(qname, sizeof(qname), "%s", q ? q->name : "-");
    if (lost) {
        plog(s, KPID_LOG_WARNING,
             "HIS connection lost query=%s during=\"%s\" sqlstate=%s "
             "error=\"%s\"",
             qname, what, *state ? state : "-", text);
        pgsql_disconnect(s);
        return -EIO;
    }
    plog(s, KPID_LOG_ERR, "query failed query=%s during=\"%s\" sqlstate=%s error=\"%s\"", qname,
         what, *state ? state : "-", text);
    return -EINVAL;
}
