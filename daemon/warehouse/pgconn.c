#include "warehouse/pgconn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ops/log.h"
#include "time/clock.h"

/* How often a waiting thread gets control back. */
#define WAIT_SLICE_MS 200
/* After a cancel, how long the warehouse may take to answer before the socket is shut. */
#define CANCEL_GRACE_US 2000000

static int read_password(const char *path, char **ret_password, char **ret_error)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    FILE *f = fopen(path, "re");

    if (!f) {
        int e = errno;
        if (asprintf(ret_error, "cannot read password file \"%s\": %s", path, strerror(e)) < 0)
            *ret_error = NULL;
        return -e;
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

/*
 * The start-up options: kpid's settings, then the options conninfo gives (which win).
 * Returns a freshly allocated string or NULL when out of memory; *ret_has_app tells
 * whether conninfo names an application_name.
 */
static char *session_options(const kpid_pg_target *t, bool *ret_has_app)
{
    PQconninfoOption *given = PQconninfoParse(t->conninfo, NULL);
    const char *extra = NULL;
    char *out = NULL;

    *ret_has_app = false;
    for (PQconninfoOption *o = given; o && o->keyword; o++) {
        if (strcmp(o->keyword, "options") == 0 && o->val && *o->val)
            extra = o->val;
        if (strcmp(o->keyword, "application_name") == 0 && o->val && *o->val)
            *ret_has_app = true;
    }
    if (asprintf(&out,
                 "-c statement_timeout=%lld -c lock_timeout=%lld"
                 " -c idle_in_transaction_session_timeout=%lld"
                 " -c search_path=pg_catalog,pg_temp -c jit=off%s%s",
                 (long long)t->statement_timeout_ms, (long long)t->lock_timeout_ms,
                 (long long)t->idle_in_transaction_ms, extra ? " " : "", extra ? extra : "") < 0)
        out = NULL;
    PQconninfoFree(given);
    return out;
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
        int n = poll(&pfd, 1, left_ms > WAIT_SLICE_MS ? WAIT_SLICE_MS : (int)left_ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/*
 * The SQLSTATE of a failed connection. libpq has no field for it, so the connection is
 * made with verbose errors, whose first line is "SEVERITY:  SQLSTATE: message".
 */
static void connect_sqlstate(const char *msg, char state[6])
{
    const char *p = strstr(msg ? msg : "", ":  ");

    state[0] = '\0';
    if (!p)
        return;
    p += 3;
    for (int i = 0; i < 5; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z')))
            return;
    if (p[5] != ':')
        return;
    memcpy(state, p, 5);
    state[5] = '\0';
}

/* The first line of a verbose connection error, without its "SQLSTATE: ". */
static char *connect_error(PGconn *conn, const char *state)
{
    const char *msg = PQerrorMessage(conn);
    char *out = NULL;
    size_t n;

    if (!msg || !*msg)
        msg = "cannot connect";
    n = strcspn(msg, "\n");
    if (state[0]) {
        const char *p = strstr(msg, state);
        if (p && (size_t)(p - msg) < n) {
            size_t head = (size_t)(p - msg);
            if (asprintf(&out, "%.*s%.*s", (int)head, msg, (int)(n - head - 7), p + 7) < 0)
                out = NULL;
            return out;
        }
    }
    return strndup(msg, n);
}

int kpid_pg_open(const kpid_pg_target *t, PGconn **ret_conn, char **ret_error)
{
    const char *keys[6], *values[6];
    char *password = NULL, *options;
    char state[6] = "";
    bool has_app;
    PGconn *conn;
    int i = 0, r;

    *ret_error = NULL;
    if (t->password_file && (r = read_password(t->password_file, &password, ret_error)) < 0)
        return r == -ENOMEM ? r : -EIO;
    options = session_options(t, &has_app);
    if (!options) {
        free(password);
        return -ENOMEM;
    }
    keys[i] = "dbname";
    values[i++] = t->conninfo;
    keys[i] = "options";
    values[i++] = options;
    keys[i] = has_app ? "fallback_application_name" : "application_name";
    values[i++] = "kpid";
    if (password) {
        keys[i] = "password";
        values[i++] = password;
    }
    keys[i] = NULL;
    values[i] = NULL;
    conn = PQconnectStartParams(keys, values, /* expand_dbname= */ 1);
    free(options);
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    if (!conn)
        return -ENOMEM;
    PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);

    int64_t deadline = kpid_now_us() + t->connect_timeout_ms * 1000;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    r = PQstatus(conn) == CONNECTION_BAD ? -EIO : 0;
    while (r == 0 && st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            r = -EIO;
            break;
        }
        if (st == PGRES_POLLING_READING || st == PGRES_POLLING_WRITING) {
            int w = wait_socket(conn, st, deadline);
            if (w < 0) {
                *ret_error = strdup(w == -ETIMEDOUT ? "connection attempt timed out"
                                                    : "cannot wait for the warehouse's socket");
                r = -EIO;
                break;
            }
        }
        st = PQconnectPoll(conn);
    }
    if (r < 0) {
        if (!*ret_error) {
            connect_sqlstate(PQerrorMessage(conn), state);
            *ret_error = connect_error(conn, state);
            if (kpid_pg_refused(state))
                r = -EACCES;
        }
        PQfinish(conn);
        return r;
    }
    PQsetErrorVerbosity(conn, PQERRORS_DEFAULT);
    PQsetNoticeProcessor(conn, notice_to_log, NULL);
    *ret_conn = conn;
    return 0;
}

bool kpid_pg_transient(PGconn *conn, const char *sqlstate)
{
    if (!conn || PQstatus(conn) != CONNECTION_OK || !sqlstate || strlen(sqlstate) != 5)
        return true;
    return strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "40", 2) == 0 ||
           strncmp(sqlstate, "53", 2) == 0 || strcmp(sqlstate, "55P03") == 0 ||
           strncmp(sqlstate, "57", 2) == 0 || strncmp(sqlstate, "58", 2) == 0;
}

bool kpid_pg_refused(const char *sqlstate)
{
    return sqlstate && strlen(sqlstate) == 5 &&
           (strncmp(sqlstate, "28", 2) == 0 || strcmp(sqlstate, "3D000") == 0 ||
            strcmp(sqlstate, "42501") == 0);
}

/* Asks the warehouse to cancel conn's statement; best effort. */
static void cancel(PGconn *conn)
{
    PGcancel *c = PQgetCancel(conn);
    char err[256];

    if (!c)
        return;
    if (!PQcancel(c, err, sizeof(err)))
        log_debug("cannot send a cancel request error=\"%s\"", kpid_log_value(err));
    PQfreeCancel(c);
}

PGresult *kpid_pg_await(PGconn *conn, const kpid_pg_waiter *waiter)
{
    int64_t start = kpid_now_us(), canceled_at = 0;
    PGresult *keep = NULL, *res;

    for (;;) {
        while (PQisBusy(conn)) {
            struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
            if (pfd.fd < 0)
                break;
            int n = poll(&pfd, 1, WAIT_SLICE_MS);
            if (n < 0 && errno != EINTR)
                break;
            if (n > 0 && !PQconsumeInput(conn))
                break; /* the connection broke: PQgetResult says so */
            int64_t now = kpid_now_us();
            if (n > 0 && !PQisBusy(conn))
                break;
            if (!canceled_at && waiter && waiter->waiting &&
                waiter->waiting(waiter->arg, conn, now - start)) {
                cancel(conn);
                canceled_at = now;
            } else if (canceled_at && now - canceled_at > CANCEL_GRACE_US) {
                /* No answer to the cancel either: end the connection. */
                shutdown(pfd.fd, SHUT_RDWR);
                canceled_at = INT64_MAX / 2;
            }
        }
        res = PQgetResult(conn);
        if (!res)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            PQclear(keep);
            return res;
        }
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(res);
            continue;
        }
        PQclear(keep);
        keep = res;
        if (PQstatus(conn) == CONNECTION_BAD)
            break;
    }
    return keep;
}

PGresult *kpid_pg_run(PGconn *conn, const char *sql, int n, const char *const *params,
                      const kpid_pg_waiter *waiter)
{
    int sent = params ? PQsendQueryParams(conn, sql, n, NULL, params, NULL, NULL, 0)
                      : PQsendQuery(conn, sql);
    if (!sent)
        return NULL;
    return kpid_pg_await(conn, waiter);
}

static const char SQL_DESCRIBE_WAIT[] =
    "SELECT coalesce(a.wait_event_type || ':' || a.wait_event, '-'),"
    " coalesce((SELECT string_agg(DISTINCT l.relation::regclass::text, ',') FROM pg_locks l"
    "  WHERE l.pid = a.pid AND NOT l.granted AND l.relation IS NOT NULL), '-'),"
    " coalesce((SELECT string_agg(format('pid=%s user=%s application=%s state=%s"
    " xact_age=%ss', b.pid, coalesce(b.usename::text, '?'),"
    " coalesce(nullif(b.application_name, ''), '?'), coalesce(b.state, '?'),"
    " coalesce(floor(extract(epoch FROM now() - b.xact_start))::text, '?')), '; '"
    " ORDER BY b.pid) FROM pg_stat_activity b"
    "  WHERE b.pid = ANY (pg_blocking_pids(a.pid))), '-')"
    " FROM pg_stat_activity a WHERE a.pid = $1";

void kpid_pg_describe_wait(const kpid_pg_target *target, int pid, char *buf, size_t size)
{
    kpid_pg_target t = *target;
    PGconn *conn = NULL;
    PGresult *res = NULL;
    char *error = NULL, pidtext[16];
    const char *params[1] = {pidtext};

    t.statement_timeout_ms = 5000;
    t.lock_timeout_ms = 5000;
    if (t.connect_timeout_ms > 5000)
        t.connect_timeout_ms = 5000;
    snprintf(pidtext, sizeof(pidtext), "%d", pid);
    if (kpid_pg_open(&t, &conn, &error) < 0) {
        snprintf(buf, size, "blocked_by=? error=\"%s\"",
                 kpid_log_value(error ? error : "out of memory"));
        free(error);
        return;
    }
    if (kpid_pg_query(conn, SQL_DESCRIBE_WAIT, 1, params, &res, "cannot ask what blocks kpid",
                      &error) < 0)
        snprintf(buf, size, "blocked_by=? error=\"%s\"", kpid_log_value(error));
    else if (PQntuples(res) != 1)
        snprintf(buf, size, "blocked_by=? error=\"the session has ended\"");
    else
        snprintf(buf, size, "wait_event=%s relation=\"%s\" blocked_by=\"%s\"",
                 PQgetvalue(res, 0, 0), kpid_log_value(PQgetvalue(res, 0, 1)),
                 kpid_log_value(PQgetvalue(res, 0, 2)));
    free(error);
    PQclear(res);
    PQfinish(conn);
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
        bool refused = res && kpid_pg_refused(PQresultErrorField(res, PG_DIAG_SQLSTATE));
        const char *line = kpid_pg_error_line(conn, res);

        if (what)
            kpid_pg_fail(ret_error, what, line);
        else
            *ret_error = strdup(line);
        PQclear(res);
        return refused ? -EACCES : -EIO;
    }
    if (ret_res)
        *ret_res = res;
    else
        PQclear(res);
    return 0;
}

int kpid_pg_int64(const char *text, int64_t *ret)
{
    char *end;
    long long v;

    if (!text || !*text)
        return -EINVAL;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno != 0 || *end != '\0')
        return -EINVAL;
    *ret = (int64_t)v;
    return 0;
}

int64_t kpid_pg_cmd_rows(PGresult *res)
{
    int64_t n;

    if (kpid_pg_int64(PQcmdTuples(res), &n) < 0 || n < 0)
        return 0;
    return n;
}
