/* The connection to the HIS: the connection string, connecting, what the DBMS is,
 * diagnostics (conn.c). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "odbc_source.h"
#include "time/clock.h"
#include "wide.h"

int odbc_conninfo_has_password(const char *cs)
{
    const char *p = cs;

    while (*p) {
        while (*p == ';' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *key = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        if (*p != '=')
            return -EINVAL;
        size_t klen = (size_t)(p - key);
        while (klen > 0 && isspace((unsigned char)key[klen - 1]))
            klen--;
        if ((klen == 3 && strncasecmp(key, "PWD", 3) == 0) ||
            (klen == 8 && strncasecmp(key, "PASSWORD", 8) == 0))
            return 1;
        p++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '{') { /* a braced value: "}}" is a '}' within it */
            for (p++;; p++) {
                if (!*p)
                    return -EINVAL;
                if (*p == '}' && p[1] == '}')
                    p++;
                else if (*p == '}')
                    break;
            }
            p++;
        }
        while (*p && *p != ';')
            p++;
    }
    return 0;
}

/* Zeroes what b holds (a password went through it) and frees it. */
static void wipe(kpid_buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->cap);
    kpid_buf_free(b);
}

/* The connection string with PWD={password} added (a '}' doubled), as UTF-16 in *ret. */
static int connection_string(odbc_source *s, kpid_buf *ret)
{
    kpid_buf cs = {0};
    const char *ci = s->cfg->conninfo;
    size_t len = strlen(ci);
    char *password = NULL;
    int r;

    if (s->cfg->password_file &&
        !(password =
              kpid_pull_password_read(s->host, s->src, s->cfg->password_file, &s->password_warned)))
        return -EACCES;
    r = kpid_buf_append(&cs, ci, len);
    if (r == 0 && password) {
        if (len > 0 && ci[len - 1] != ';')
            r = kpid_buf_putc(&cs, ';');
        if (r == 0)
            r = kpid_buf_append(&cs, "PWD={", 5);
        for (const char *p = password; r == 0 && *p; p++)
            r = *p == '}' ? kpid_buf_append(&cs, "}}", 2) : kpid_buf_putc(&cs, *p);
        if (r == 0)
            r = kpid_buf_putc(&cs, '}');
    }
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    if (r == 0) {
        long n = odbc_wide_from_utf8(ret, cs.data ? cs.data : "", cs.len);
        r = n < 0 ? (int)n : 0;
        if (r == -EINVAL)
            plog(s, KPID_LOG_ERR, "conninfo or the password is not valid UTF-8");
    }
    wipe(&cs);
    return r;
}

int odbc_run(odbc_source *s, const kpid_pull_query *q, const char *sql, const char *what,
             const char *param)
{
    SQLLEN ind = SQL_NTS;
    SQLRETURN rc;
    long n;
    int r;

    s->wide.len = 0;
    if ((n = odbc_wide_from_utf8(&s->wide, sql, strlen(sql))) < 0)
        return (int)n;
    if (param && !SQL_SUCCEEDED(SQLBindParameter(s->misc, 1, SQL_PARAM_INPUT, SQL_C_CHAR,
                                                 SQL_VARCHAR, strlen(param), 0, (SQLPOINTER)param,
                                                 (SQLLEN)strlen(param) + 1, &ind))) {
        r = odbc_failed(s, q, what, SQL_HANDLE_STMT, s->misc);
    } else if ((r = odbc_watch_begin(s, s->misc, s->cfg->statement_timeout_ms + ODBC_GRACE_MS)) ==
               0) {
        rc = SQLExecDirectW(s->misc, (SQLWCHAR *)s->wide.data, SQL_NTS);
        odbc_watch_end(s);
        if (!SQL_SUCCEEDED(rc) && rc != SQL_NO_DATA)
            r = odbc_failed(s, q, what, SQL_HANDLE_STMT, s->misc);
    }
    if (s->misc) { /* still connected: param is not to stay bound */
        (void)SQLFreeStmt(s->misc, SQL_CLOSE);
        (void)SQLFreeStmt(s->misc, SQL_RESET_PARAMS);
    }
    return r;
}

/* MySQL reads the paging statement's "quoted" column names as names only with
 * ANSI_QUOTES; its TIMESTAMP columns are printed in the session's time zone; every later
 * transaction of the session is READ ONLY. */
static const char SQL_MYSQL_MODE[] =
    "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',ANSI_QUOTES'), time_zone = '+00:00'";
static const char SQL_MYSQL_READ_ONLY[] = "SET SESSION TRANSACTION READ ONLY";

static int mysql_session(odbc_source *s)
{
    int r;

    if ((r = odbc_run(s, NULL, SQL_MYSQL_MODE, "session settings", NULL)) < 0 ||
        (r = odbc_run(s, NULL, SQL_MYSQL_READ_ONLY, "session settings", NULL)) < 0)
        return r;
    if (s->transactions && !SQL_SUCCEEDED(SQLEndTran(SQL_HANDLE_DBC, s->dbc, SQL_ROLLBACK)))
        return odbc_failed(s, NULL, "session settings", SQL_HANDLE_DBC, s->dbc);
    return 0;
}

/* An SQLGetInfoW string as UTF-8 into out. */
static void info_text(SQLHDBC dbc, SQLUSMALLINT what, char *out, size_t out_size)
{
    SQLWCHAR w[128];
    SQLSMALLINT len = 0;
    kpid_buf b = {0};

    out[0] = '\0';
    if (!SQL_SUCCEEDED(SQLGetInfoW(dbc, what, w, sizeof(w), &len)))
        return;
    size_t units = sizeof(w) / sizeof(w[0]) - 1;
    if (len >= 0 && (size_t)len / sizeof(SQLWCHAR) < units)
        units = (size_t)len / sizeof(SQLWCHAR); /* bytes, without the terminator */
    if (odbc_utf8_from_wide(&b, w, odbc_wide_len(w, units)) == 0 && b.data)
        snprintf(out, out_size, "%.*s", (int)b.len, b.data);
    kpid_buf_free(&b);
}

/* The paging clause the DBMS understands: LIMIT (PostgreSQL, MySQL, MariaDB, SQLite),
 * FETCH FIRST (Oracle 12c and later), or none (SQL Server and the rest: then the
 * statement's SQL_ATTR_MAX_ROWS and the fetch loop end the page). */
static enum kpid_pull_limit paging_for(const char *dbms, const char *version)
{
    static const char *const limit[] = {"PostgreSQL", "MySQL", "MariaDB", "SQLite"};

    for (size_t i = 0; i < sizeof(limit) / sizeof(limit[0]); i++)
        if (strncasecmp(dbms, limit[i], strlen(limit[i])) == 0)
            return KPID_PULL_LIMIT_CLAUSE;
    if (strncasecmp(dbms, "Oracle", 6) == 0 && strtol(version, NULL, 10) >= 12)
        return KPID_PULL_LIMIT_FETCH_FIRST;
    return KPID_PULL_LIMIT_NONE;
}

static const char *limit_name(enum kpid_pull_limit l)
{
    switch (l) {
    case KPID_PULL_LIMIT_CLAUSE: return "limit";
    case KPID_PULL_LIMIT_FETCH_FIRST: return "fetch_first";
    default: return "max_rows";
    }
}

/* Learns what the DBMS and the driver can do; sets the connection's attributes. */
static int configure(odbc_source *s, bool *ret_access_mode)
{
    char dbms[128], version[64];
    SQLUSMALLINT txn = SQL_TC_NONE, rollback = SQL_CB_PRESERVE;

    info_text(s->dbc, SQL_DBMS_NAME, dbms, sizeof(dbms));
    info_text(s->dbc, SQL_DBMS_VER, version, sizeof(version));
    s->postgres = strcmp(dbms, "PostgreSQL") == 0;
    s->mysql = strncasecmp(dbms, "MySQL", 5) == 0 || strncasecmp(dbms, "MariaDB", 7) == 0;
    s->limit = paging_for(dbms, version);
    if (!SQL_SUCCEEDED(SQLGetInfoW(s->dbc, SQL_TXN_CAPABLE, &txn, sizeof(txn), NULL)))
        txn = SQL_TC_NONE;
    if (!SQL_SUCCEEDED(
            SQLGetInfoW(s->dbc, SQL_CURSOR_ROLLBACK_BEHAVIOR, &rollback, sizeof(rollback), NULL)))
        rollback = SQL_CB_DELETE; /* not known: prepare again after each page */
    s->reprepare = rollback == SQL_CB_DELETE;
    s->transactions = txn != SQL_TC_NONE;
    /* A hint to the driver; psqlODBC accepts it and does nothing, hence SET TRANSACTION. */
    *ret_access_mode = SQL_SUCCEEDED(
        SQLSetConnectAttrW(s->dbc, SQL_ATTR_ACCESS_MODE, odbc_attr(SQL_MODE_READ_ONLY), 0));
    if (s->transactions && !SQL_SUCCEEDED(SQLSetConnectAttrW(s->dbc, SQL_ATTR_AUTOCOMMIT,
                                                             odbc_attr(SQL_AUTOCOMMIT_OFF), 0)))
        return odbc_failed(s, NULL, "autocommit off", SQL_HANDLE_DBC, s->dbc);
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, s->dbc, &s->misc))) {
        s->misc = NULL;
        return odbc_failed(s, NULL, "statement handle", SQL_HANDLE_DBC, s->dbc);
    }
    int r;
    if (s->mysql && (r = mysql_session(s)) < 0)
        return r;
    for (size_t i = 0; i < s->n_queries; i++) {
        odbc_query *pq = &s->queries[i];
        kpid_pull_wrap_options opt = {
            .compare = KPID_PULL_COMPARE_OR,
            .placeholder = KPID_PULL_PLACEHOLDER_QMARK,
            .limit = s->limit,
        };
        for (int from = KPID_PULL_FROM_START; from <= KPID_PULL_FROM_AFTER; from++) {
            kpid_pull_stmt_clear(&pq->stmt[from]);
            r = kpid_pull_wrap(pq->q, (enum kpid_pull_from)from, &opt, &pq->stmt[from]);
            if (r < 0)
                return r;
        }
    }
    char driver[128], driver_version[64], shown[4][160];
    info_text(s->dbc, SQL_DRIVER_NAME, driver, sizeof(driver));
    info_text(s->dbc, SQL_DRIVER_VER, driver_version, sizeof(driver_version));
    plog(s, KPID_LOG_INFO,
         "connected to the HIS dbms=\"%s\" dbms_version=\"%s\" driver=\"%s\" "
         "driver_version=\"%s\" read_only=%s transactions=%s paging=%s",
         kpid_log_text(dbms, shown[0], sizeof(shown[0])),
         kpid_log_text(version, shown[1], sizeof(shown[1])),
         kpid_log_text(driver, shown[2], sizeof(shown[2])),
         kpid_log_text(driver_version, shown[3], sizeof(shown[3])),
         s->postgres || s->mysql ? "set_transaction"
         : *ret_access_mode      ? "access_mode"
                                 : "none",
         s->transactions ? "yes" : "no", limit_name(s->limit));
    return 0;
}

/*
 * One connect at a time in the process. psqlODBC's connect calls setlocale(LC_CTYPE, "")
 * and reads the name it returns, which a setlocale in another thread frees: sources
 * connecting together read freed memory (caught by the sanitizer build, a dozen sources
 * reconnecting at once). ODBC does not promise that drivers connect safely in parallel.
 * A connect holds the lock for at most its login_timeout; a source waiting for its turn
 * still stops at once when asked to.
 */
static pthread_mutex_t connect_lock = PTHREAD_MUTEX_INITIALIZER;

static int lock_connect(odbc_source *s)
{
    for (;;) {
        /* The monotonic clock: a step of the wall clock must not defer the stop check. */
        struct timespec until = kpid_deadline_in(100000); /* 100 ms */
        int e = pthread_mutex_clocklock(&connect_lock, CLOCK_MONOTONIC, &until);
        if (e == 0)
            return 0;
        if (e != ETIMEDOUT)
            return -e;
        if (odbc_watch_stopping(s))
            return -ECANCELED;
    }
}

int odbc_connect(odbc_source *s)
{
    kpid_buf cs = {0};
    bool access_mode = false;
    int r;

    if (s->dbc)
        return 0;
    if ((r = connection_string(s, &cs)) < 0)
        return r;
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, s->env, &s->dbc))) {
        s->dbc = NULL;
        wipe(&cs);
        plog(s, KPID_LOG_ERR, "cannot allocate an ODBC connection handle");
        return -ENOMEM;
    }
    SQLULEN secs = (SQLULEN)((s->cfg->login_timeout_ms + 999) / 1000);
    (void)SQLSetConnectAttrW(s->dbc, SQL_ATTR_LOGIN_TIMEOUT, odbc_attr(secs), 0);
    if ((r = lock_connect(s)) < 0) {
        SQLFreeHandle(SQL_HANDLE_DBC, s->dbc);
        s->dbc = NULL;
        wipe(&cs);
        return r;
    }
    SQLRETURN rc = SQLDriverConnectW(s->dbc, NULL, (SQLWCHAR *)cs.data, SQL_NTS, NULL, 0, NULL,
                                     SQL_DRIVER_NOPROMPT);
    pthread_mutex_unlock(&connect_lock);
    wipe(&cs);
    if (!SQL_SUCCEEDED(rc)) {
        r = odbc_failed(s, NULL, "connect", SQL_HANDLE_DBC, s->dbc);
        SQLFreeHandle(SQL_HANDLE_DBC, s->dbc);
        s->dbc = NULL;
        return r == -EACCES || r == -ECANCELED ? r : -EIO;
    }
    if ((r = configure(s, &access_mode)) < 0) {
        odbc_disconnect(s);
        return r == -EINVAL ? -EIO : r;
    }
    return 0;
}

void odbc_disconnect(odbc_source *s)
{
    for (size_t i = 0; i < s->n_queries; i++)
        for (size_t k = 0; k < 3; k++)
            if (s->queries[i].hstmt[k]) {
                SQLFreeHandle(SQL_HANDLE_STMT, s->queries[i].hstmt[k]);
                s->queries[i].hstmt[k] = NULL;
            }
    if (s->misc)
        SQLFreeHandle(SQL_HANDLE_STMT, s->misc);
    s->misc = NULL;
    if (s->dbc) {
        if (s->transactions)
            (void)SQLEndTran(SQL_HANDLE_DBC, s->dbc, SQL_ROLLBACK);
        (void)SQLDisconnect(s->dbc);
        SQLFreeHandle(SQL_HANDLE_DBC, s->dbc);
    }
    s->dbc = NULL;
}

/* The message without what it quotes ("..." and '...'): data exceptions (class 22) and
 * integrity violations (23) may quote values, which may be patient data. */
static void redact(const char *state, const char *msg, char *out, size_t size)
{
    char quote = 0;
    size_t n = 0;

    if (strncmp(state, "22", 2) != 0 && strncmp(state, "23", 2) != 0) {
        snprintf(out, size, "%s", msg);
        return;
    }
    for (const char *p = msg; *p && n + 5 < size; p++) {
        if (!quote && (*p == '"' || *p == '\'')) {
            quote = *p;
            out[n++] = *p;
            memcpy(out + n, "...", 3);
            n += 3;
        } else if (quote && *p == quote) {
            out[n++] = *p;
            quote = 0;
        } else if (!quote) {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

/* The first diagnostic record: state (6 bytes) and message (UTF-8, its first line). */
static void first_record(SQLSMALLINT type, SQLHANDLE h, char state[6], char *msg, size_t size)
{
    SQLWCHAR wstate[6] = {0}, wmsg[1024];
    SQLINTEGER native = 0;
    SQLSMALLINT len = 0;
    kpid_buf b = {0};

    snprintf(state, 6, "%s", "");
    snprintf(msg, size, "%s", "unknown error (no diagnostic record)");
    if (!h || !SQL_SUCCEEDED(SQLGetDiagRecW(type, h, 1, wstate, &native, wmsg,
                                            (SQLSMALLINT)(sizeof(wmsg) / sizeof(wmsg[0])), &len)))
        return;
    for (int i = 0; i < 5; i++)
        state[i] = wstate[i] < 0x80 && wstate[i] > 0x20 ? (char)wstate[i] : '?';
    state[5] = '\0';
    size_t units = sizeof(wmsg) / sizeof(wmsg[0]) - 1;
    if (len >= 0 && (size_t)len < units)
        units = (size_t)len; /* the driver's count: not every one ends the text with 0 */
    if (odbc_utf8_from_wide(&b, wmsg, odbc_wide_len(wmsg, units)) == 0 &&
        kpid_buf_putc(&b, '\0') == 0) {
        static const char *const severity[] = {"ERROR:", "FATAL:", "PANIC:"};
        const char *m = b.data;
        /* psqlODBC writes the server's line as "ERROR:  message;": the message alone. */
        for (size_t k = 0; k < sizeof(severity) / sizeof(severity[0]); k++)
            if (strncmp(m, severity[k], strlen(severity[k])) == 0)
                for (m += strlen(severity[k]); *m == ' ';)
                    m++;
        size_t n = strcspn(m, "\r\n");
        while (n > 0 && (m[n - 1] == ';' || m[n - 1] == ' '))
            n--;
        snprintf(msg, size, "%.*s", (int)n, m);
    }
    kpid_buf_free(&b);
}

static bool connection_dead(odbc_source *s)
{
    SQLUINTEGER dead = SQL_CD_FALSE;

    if (!s->dbc)
        return true;
    return SQL_SUCCEEDED(SQLGetConnectAttrW(s->dbc, SQL_ATTR_CONNECTION_DEAD, &dead, 0, NULL)) &&
           dead == SQL_CD_TRUE;
}

int odbc_failed(odbc_source *s, const kpid_pull_query *q, const char *what, SQLSMALLINT type,
                SQLHANDLE h)
{
    char state[6], msg[512], clean[512], text[600];
    const char *qname = q ? q->name : "-";
    bool timed_out = s->timed_out;

    s->timed_out = false;
    if (odbc_watch_stopping(s) || s->host->stop_requested(s->src))
        return -ECANCELED;
    first_record(type, h, state, msg, sizeof(msg));
    redact(state, msg, clean, sizeof(clean));
    kpid_log_text(clean, text, sizeof(text));
    if (strcmp(what, "connect") == 0) {
        plog(s, KPID_LOG_ERR, "cannot connect to the HIS sqlstate=%s error=\"%s\"",
             *state ? state : "-", text);
        return strncmp(state, "28", 2) == 0 ? -EACCES : -EIO;
    }
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0 || connection_dead(s)) {
        plog(s, KPID_LOG_WARNING,
             "HIS connection lost query=%s during=\"%s\" sqlstate=%s error=\"%s\"", qname, what,
             *state ? state : "-", text);
        odbc_disconnect(s);
        return -EIO;
    }
    if (timed_out) {
        plog(s, KPID_LOG_ERR,
             "query failed query=%s during=\"%s\" error=\"canceled past statement_timeout\" "
             "sqlstate=%s driver_error=\"%s\"",
             qname, what, *state ? state : "-", text);
        return -ETIMEDOUT;
    }
    plog(s, KPID_LOG_ERR, "query failed query=%s during=\"%s\" sqlstate=%s error=\"%s\"", qname,
         what, *state ? state : "-", text);
    return -EINVAL;
}
