#include "ingest/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/batch.h"
#include "ops/liveness.h"
#include "ops/log.h"
#include "warehouse/pgconn.h"
#include "ingest/source.h"
#include "ingest/txnplan.h"

#define BACKOFF_MIN_US 100000
#define BACKOFF_MAX_US 5000000
/* When the warehouse refuses kpid's role, only an operator helps: retry slowly. */
#define REFUSED_BACKOFF_MIN_US 5000000
#define REFUSED_BACKOFF_MAX_US 60000000
/* When stopping, a statement in progress may go on this long before it is canceled. */
#define STOP_GRACE_US 1000000
/* STATUS= says "waiting" once a statement has waited this long. */
#define WAITING_STATUS_US 2000000
/* After a COPY met a stored key, transactions probe before they COPY, until a probe
 * finds no stored key or this many have. */
#define PROBE_TXNS 256
/* The filter of committed keys: two generations of 4 MiB, 2.8M keys each. */
#define BLOOM_BYTES (8u << 20)

/* Staging tables live in the writer's session and empty themselves at each COMMIT. */
static const char SQL_STAGE[] =
    "CREATE TEMP TABLE IF NOT EXISTS kpid_stage ("
    " op \"char\" NOT NULL, seq bigint NOT NULL, source text NOT NULL, event_key text,"
    " case_id text, subject_id text, activity text, time timestamptz,"
    " value double precision, attrs jsonb, origin text) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS kpid_stage_rejected ("
    " source text NOT NULL, locator text NOT NULL, reason text NOT NULL, raw text)"
    " ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS kpid_keys (source text, event_key text)"
    " ON COMMIT DELETE ROWS;"
    /* Every join the writer makes is a small set against kpid.event by its key: index
     * lookups are right, and the temporary tables have no statistics to tell. */
    "SET enable_hashjoin = off; SET enable_mergejoin = off";

#define EVENT_COLUMNS "source, event_key, case_id, subject_id, activity, time, value, attrs, origin"

/* The upsert: the last 'U' per key wins inside the transaction; an unchanged event is
 * not rewritten, so a replay costs reads only and keeps ingested_at. */
#define UPSERT_TAIL                                                                           \
    " ON CONFLICT (source, event_key) DO UPDATE SET"                                          \
    " case_id = EXCLUDED.case_id, subject_id = EXCLUDED.subject_id,"                          \
    " activity = EXCLUDED.activity, time = EXCLUDED.time, value = EXCLUDED.value,"            \
    " attrs = EXCLUDED.attrs, origin = EXCLUDED.origin, ingested_at = now()"                  \
    " WHERE (e.case_id, e.subject_id, e.activity, e.time, e.value, e.attrs, e.origin)"        \
    " IS DISTINCT FROM (EXCLUDED.case_id, EXCLUDED.subject_id, EXCLUDED.activity,"            \
    " EXCLUDED.time, EXCLUDED.value, EXCLUDED.attrs, EXCLUDED.origin)"

static const char SQL_UPSERT[] =
    "INSERT INTO kpid.event AS e (" EVENT_COLUMNS ")"
    " SELECT DISTINCT ON (source, event_key) " EVENT_COLUMNS
    " FROM kpid_stage WHERE op = 'U' ORDER BY source, event_key, seq DESC" UPSERT_TAIL;

/* With retractions or origin replacements in the transaction, the last operation per
 * key decides, and an origin replacement removes the events of that origin emitted
 * before it. */
static const char SQL_DELETE_ORIGINS[] =
    "DELETE FROM kpid.event e USING (SELECT DISTINCT source, origin FROM kpid_stage"
    " WHERE op = 'O') o WHERE e.source = o.source AND e.origin = o.origin";
static const char SQL_DELETE_KEYS[] =
    "DELETE FROM kpid.event e USING kpid_stage s"
    " WHERE s.op = 'D' AND e.source = s.source AND e.event_key = s.event_key";
static const char SQL_UPSERT_ORDERED[] =
    "INSERT INTO kpid.event AS e (" EVENT_COLUMNS ")"
    " SELECT l.source, l.event_key, l.case_id, l.subject_id, l.activity, l.time, l.value,"
    " l.attrs, l.origin FROM (SELECT DISTINCT ON (source, event_key) *"
    " FROM kpid_stage WHERE op IN ('U', 'D') ORDER BY source, event_key, seq DESC) l"
    " LEFT JOIN (SELECT source, origin, max(seq) AS seq FROM kpid_stage WHERE op = 'O'"
    " GROUP BY source, origin) o ON o.source = l.source AND o.origin = l.origin"
    " WHERE l.op = 'U' AND (o.seq IS NULL OR o.seq < l.seq)" UPSERT_TAIL;

/* In key order, the lookups walk the primary key's leaf pages once, in order. */
static const char SQL_PROBE[] =
    "SELECT k.source, k.event_key FROM (SELECT * FROM kpid_keys ORDER BY source, event_key) k"
    " JOIN kpid.event e ON e.source = k.source AND e.event_key = k.event_key";

static const char SQL_REJECTED[] =
    "INSERT INTO kpid.rejected (source, locator, reason, raw)"
    " SELECT DISTINCT ON (source, locator) source, locator, reason, raw"
    " FROM kpid_stage_rejected ORDER BY source, locator"
    " ON CONFLICT (source, locator) DO UPDATE SET reason = EXCLUDED.reason,"
    " raw = EXCLUDED.raw, rejected_at = now()";

/* Keyed source state, $1 sources, $2 keys, $3 values (NULL: a delete), in put order:
 * the last put per (source, key) decides. Parameters, not a temporary table: a
 * transaction that touches none keeps COMMIT from truncating the staging tables. */
static const char SQL_STATE[] =
    "WITH l AS (SELECT DISTINCT ON (s, k) s, k, v FROM unnest($1::text[], $2::text[],"
    " $3::text[]) WITH ORDINALITY AS t (s, k, v, i) ORDER BY s, k, i DESC),"
    " put AS (INSERT INTO kpid.source_state AS st (source, key, value)"
    " SELECT s, k, v FROM l WHERE v IS NOT NULL"
    " ON CONFLICT (source, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
    " WHERE st.value IS DISTINCT FROM EXCLUDED.value)"
    " DELETE FROM kpid.source_state st USING l"
    " WHERE l.v IS NULL AND st.source = l.s AND st.key = l.k";

static const char SQL_CURSOR[] =
    "INSERT INTO kpid.cursor (source, cursor) VALUES ($1, $2)"
    " ON CONFLICT (source) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()";

struct kpid_writer {
    const kpid_pg_target *warehouse;
    size_t max_rows;
    int64_t flush_us;
    int64_t wait_notice_us;
    bool once;
    kpid_queue *q;
    pthread_t thread;

    _Atomic bool stopping;        /* set by kpid_writer_stop: drain, then exit */
    _Atomic int64_t deadline_us;  /* after stopping: give up on the warehouse then */
    _Atomic bool healthy;
    _Atomic bool role_refused;    /* the warehouse refuses kpid's role (pgconn.h) */
    _Atomic bool gave_up_refused; /* --once gave up on that */
    kpid_beat beat;               /* watched (liveness.h): each turn, each wait slice */
    _Atomic int64_t waiting_since_us; /* a statement in progress since; 0 = none */

    /* Writer thread only. */
    PGconn *conn;
    kpid_pg_waiter waiter;        /* watches every statement (statement_waiting) */
    bool wait_logged;             /* the statement in progress was logged as blocked */
    bool canceled;                /* a stop canceled a statement: stop writing */
    bool down;                    /* the warehouse is failing; logged once */
    int64_t down_since_us;
    unsigned failures;
    kpid_buf refused;             /* rows PostgreSQL refused, as kpid_stage_rejected rows */
    kpid_buf stage;               /* rows for kpid_stage */
    kpid_spans direct;            /* rows for kpid.event: the batches' own bytes */
    kpid_buf keys;                /* keys for kpid_keys, the probe */
    kpid_plan plan;
    kpid_bloom committed_keys;    /* keys this writer committed, to predict corrections */
    unsigned probe_txns;          /* transactions that probe before their COPY */
    struct kpid_batch **set;      /* the transaction's batches; a batch weighs at least one
                                     row, so max_rows + 1 places suffice */
};

/* A failed step: what the warehouse said. */
typedef struct step_error {
    char state[6];
    char message[512];
    bool transient;
} step_error;

static void error_from(kpid_writer *w, PGresult *res, step_error *err)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

    snprintf(err->state, sizeof(err->state), "%s", s ? s : "");
    if (detail)
        snprintf(err->message, sizeof(err->message), "%s; %s",
                 kpid_pg_error_line(w->conn, res), detail);
    else
        snprintf(err->message, sizeof(err->message), "%s", kpid_pg_error_line(w->conn, res));
    err->transient = kpid_pg_transient(w->conn, s);
}

/*
 * The writer's waiter (pgconn.h): beats the heartbeat while a statement waits, logs a
 * long wait once with what blocks it, and cancels the statement when a stop has given it
 * its grace.
 */
static bool statement_waiting(void *arg, PGconn *conn, int64_t waited_us)
{
    kpid_writer *w = arg;
    int64_t now = kpid_now_us();

    kpid_beat_now(&w->beat);
    if (atomic_load(&w->waiting_since_us) == 0)
        atomic_store(&w->waiting_since_us, now - waited_us);
    if (!w->wait_logged && waited_us >= w->wait_notice_us) {
        char why[1024];
        kpid_beat_wait(&w->beat, true); /* asking the warehouse is a wait on it too */
        kpid_pg_describe_wait(w->warehouse, PQbackendPID(conn), why, sizeof(why));
        kpid_beat_wait(&w->beat, false);
        log_notice("warehouse statement waiting waited=%llds %s",
                   (long long)(waited_us / 1000000), why);
        w->wait_logged = true;
    }
    if (atomic_load(&w->stopping) &&
        (waited_us >= STOP_GRACE_US || now >= atomic_load(&w->deadline_us))) {
        if (!w->canceled)
            log_notice("stopping: canceling the warehouse statement in progress waited=%.1fs; "
                       "its batches are read again at the next start",
                       (double)waited_us / 1e6);
        w->canceled = true;
        return true;
    }
    return false;
}

/* A statement watched by statement_waiting has its answer. */
static void statement_done(kpid_writer *w)
{
    int64_t since = atomic_exchange(&w->waiting_since_us, 0);

    if (w->wait_logged)
        log_notice("warehouse statement done waited=%.1fs",
                   (double)(kpid_now_us() - since) / 1e6);
    w->wait_logged = false;
    kpid_beat_now(&w->beat);
}

/* Runs sql as PQexec (params NULL) or PQexecParams would, watched by statement_waiting. */
static PGresult *run(kpid_writer *w, const char *sql, int n, const char *const *params)
{
    PGresult *res = kpid_pg_run(w->conn, sql, n, params, &w->waiter);
    statement_done(w);
    return res;
}

static int exec_step(kpid_writer *w, const char *sql, step_error *err)
{
    PGresult *res = run(w, sql, 0, NULL);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int r = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        error_from(w, res, err);
        r = -EIO;
    }
    PQclear(res);
    return r;
}

/* A piece of COPY data: a whole buffer, one row, or a run of a batch's rows. */
typedef kpid_span chunk;

/* Runs COPY table FROM STDIN with the chunks. */
static int copy_chunks(kpid_writer *w, const char *table, const chunk *chunks, size_t n,
                       step_error *err)
{
    char sql[256];
    PGresult *res;
    int r = 0;

    snprintf(sql, sizeof(sql), "COPY %s FROM STDIN", table);
    res = run(w, sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        error_from(w, res, err);
        PQclear(res);
        return -EIO;
    }
    PQclear(res);
    for (size_t i = 0; i < n && r == 0; i++)
        if (chunks[i].len && PQputCopyData(w->conn, chunks[i].data, (int)chunks[i].len) != 1)
            r = -EIO;
    if (PQputCopyEnd(w->conn, r == 0 ? NULL : "kpid: send failed") != 1)
        r = -EIO;
    /* The COPY's result. */
    res = kpid_pg_await(w->conn, &w->waiter);
    statement_done(w);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && r == 0) {
        error_from(w, res, err);
        r = -EIO;
    } else if (r < 0 && !err->message[0])
        error_from(w, res, err);
    PQclear(res);
    if (r < 0 && !err->message[0]) {
        error_from(w, NULL, err);
        err->transient = true;
    }
    return r;
}

/* A row is refused for good when its data is: data exceptions, integrity, limits. */
static bool refused_row_error(const step_error *err)
{
    return !err->transient && (strncmp(err->state, "22", 2) == 0 ||
                               strncmp(err->state, "23", 2) == 0 ||
                               strncmp(err->state, "54", 2) == 0);
}

/* The value of the field'th tab-separated field of a COPY row, for locators. */
static void row_field(const chunk *row, int field, char *out, size_t cap)
{
    const char *p = row->data, *end = row->data + row->len;
    size_t n = 0;

    for (int f = 0; f < field && p < end; p++)
        if (*p == '\t')
            f++;
    while (p < end && *p != '\t' && *p != '\n' && n + 1 < cap)
        out[n++] = *p++;
    out[n] = '\0';
}

/* Applies what kpid_stage holds to kpid.event; empties it when asked (COMMIT does). */
static int apply_staged(kpid_writer *w, bool ordered, bool empty, step_error *err)
{
    if (ordered) {
        if (exec_step(w, SQL_DELETE_ORIGINS, err) < 0 || exec_step(w, SQL_DELETE_KEYS, err) < 0 ||
            exec_step(w, SQL_UPSERT_ORDERED, err) < 0)
            return -EIO;
    } else if (exec_step(w, SQL_UPSERT, err) < 0)
        return -EIO;
    return empty ? exec_step(w, "DELETE FROM kpid_stage", err) : 0;
}

/*
 * Stages rows[lo, hi) and applies them to kpid.event under a savepoint. When
 * PostgreSQL refuses the data (in the COPY or in the upsert: a bad value, a constraint),
 * rolls back to the savepoint and halves the range until each refused row is alone,
 * and records those rows in w->refused. Applying a range after another is the same as
 * applying both at once, because each range keeps the order of its rows. Returns 0 or
 * a transient / non-row error.
 */
static int apply_bisect(kpid_writer *w, const chunk *rows, size_t lo, size_t hi, bool ordered,
                        step_error *err)
{
    int r;

    if (exec_step(w, "SAVEPOINT kpid_rows", err) < 0)
        return -EIO;
    memset(err, 0, sizeof(*err));
    r = copy_chunks(w, "kpid_stage", rows + lo, hi - lo, err);
    if (r == 0)
        r = apply_staged(w, ordered, /* empty= */ true, err);
    if (r == 0)
        return exec_step(w, "RELEASE SAVEPOINT kpid_rows", err);
    if (!refused_row_error(err))
        return r;
    step_error refused = *err;
    if (exec_step(w, "ROLLBACK TO SAVEPOINT kpid_rows", err) < 0 ||
        exec_step(w, "RELEASE SAVEPOINT kpid_rows", err) < 0)
        return -EIO;
    if (hi - lo == 1) {
        char source[KPID_SOURCE_NAME_MAX + 1], key[KPID_EVENT_KEY_MAX + 1];
        char locator[KPID_EVENT_KEY_MAX + 8];

        /* A staging row: op, seq, source, event_key, ... */
        row_field(&rows[lo], 2, source, sizeof(source));
        row_field(&rows[lo], 3, key, sizeof(key));
        snprintf(locator, sizeof(locator), "key:%s", key);
        log_warning("row refused source=%s sqlstate=%s reason=\"%s\"", source, refused.state,
                    kpid_log_value(refused.message));
        return kpid_reject_row(&w->refused, source, locator, refused.message, rows[lo].data,
                               rows[lo].len - 1);
    }
    size_t mid = lo + (hi - lo) / 2;
    r = apply_bisect(w, rows, lo, mid, ordered, err);
    if (r == 0)
        r = apply_bisect(w, rows, mid, hi, ordered, err);
    return r;
}

/* Splits COPY data into single rows, for bisection. The result points into buf. */
static int split_rows(const kpid_buf *buf, chunk **ret_rows, size_t *ret_n)
{
    const char *p = buf->data, *end = buf->data + buf->len;
    size_t total = 0, k = 0;
    chunk *rows;

    for (const char *q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))); q++)
        total++;
    rows = malloc((total ? total : 1) * sizeof(*rows));
    if (!rows)
        return -ENOMEM;
    while (p < end && k < total) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        rows[k].data = p;
        rows[k].len = (size_t)(nl - p) + 1;
        k++;
        p = nl + 1;
    }
    *ret_rows = rows;
    *ret_n = k;
    return 0;
}

/*
 * Asks the warehouse which of the plan's keys it holds already, and marks them, so that
 * their events are staged and upserted while the others are COPYed directly.
 */
static int probe_stored(kpid_writer *w, step_error *err)
{
    chunk keys;
    PGresult *res;
    int r;

    w->keys.len = 0;
    if ((r = kpid_plan_keys(&w->plan, &w->keys)) < 0)
        return r;
    if (w->keys.len == 0)
        return 0;
    keys = (chunk){w->keys.data, w->keys.len};
    if ((r = exec_step(w, "DELETE FROM kpid_keys", err)) < 0 ||
        (r = copy_chunks(w, "kpid_keys", &keys, 1, err)) < 0)
        return r;
    res = run(w, SQL_PROBE, 0, NULL);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        error_from(w, res, err);
        PQclear(res);
        return -EIO;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n && r == 0; i++) {
        r = kpid_plan_mark_stored(&w->plan, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        if (r == -ENOENT)
            r = 0; /* cannot be: the keys came from the plan */
    }
    PQclear(res);
    /* Nothing known among these keys: the conflicts are over, COPY optimistically. */
    if (n == 0)
        w->probe_txns = 0;
    return r;
}

/*
 * Writes a planned set: new keys by COPY straight into kpid.event, known keys and
 * retractions through kpid_stage. When the COPY meets a key that is there after all, it
 * rolls back to its savepoint, probes, and for a while probes before each COPY. Returns
 * 0, 1 when PostgreSQL refused a row (stage the whole set to isolate it), or -errno.
 */
static int write_planned(kpid_writer *w, step_error *err)
{
    size_t n_staged;
    bool probed = false;
    int r;

    if (w->probe_txns > 0) {
        w->probe_txns--;
        if ((r = probe_stored(w, err)) < 0)
            return r;
        probed = true;
    } else if (w->committed_keys.bits)
        kpid_plan_mark_remembered(&w->plan, &w->committed_keys);
    for (int attempt = 0;; attempt++) {
        kpid_spans_clear(&w->direct);
        w->stage.len = 0;
        if ((r = kpid_plan_write_spans(&w->plan, &w->direct, &w->stage, &n_staged)) < 0)
            return r;
        chunk staged = {w->stage.data, w->stage.len};
        if ((r = exec_step(w, "SAVEPOINT kpid_plan", err)) < 0)
            return r;
        memset(err, 0, sizeof(*err));
        r = w->direct.n ? copy_chunks(w, "kpid.event (" EVENT_COLUMNS ")", w->direct.v,
                                      w->direct.n, err)
                        : 0;
        if (r == 0 && n_staged) {
            if ((r = copy_chunks(w, "kpid_stage", &staged, 1, err)) == 0 &&
                (r = exec_step(w, SQL_DELETE_KEYS, err)) == 0)
                r = exec_step(w, SQL_UPSERT, err);
        }
        if (r == 0)
            return exec_step(w, "RELEASE SAVEPOINT kpid_plan", err);
        bool conflict = strcmp(err->state, "23505") == 0;
        if (!conflict && !refused_row_error(err))
            return r;
        step_error failed = *err;
        if (exec_step(w, "ROLLBACK TO SAVEPOINT kpid_plan", err) < 0)
            return -EIO;
        if (!conflict || attempt >= 2) {
            *err = failed;
            return 1;
        }
        /* Known keys: probe now and for the next transactions too. */
        w->probe_txns = PROBE_TXNS;
        if (!probed) {
            if ((r = probe_stored(w, err)) < 0)
                return r;
            probed = true;
        } else
            kpid_plan_mark_all_stored(&w->plan); /* someone else wrote meanwhile */
    }
}

/* Stages the set in kpid_stage and applies it, isolating refused rows. */
static int stage_events(kpid_writer *w, struct kpid_batch **set, size_t n, bool ordered,
                        step_error *err)
{
    chunk whole, *rows = NULL;
    size_t n_rows;
    int r;

    w->stage.len = 0;
    for (size_t i = 0; i < n; i++)
        if ((r = kpid_batch_stage_rows(set[i], &w->stage)) < 0)
            return r;
    whole = (chunk){w->stage.data, w->stage.len};
    if ((r = exec_step(w, "SAVEPOINT kpid_all", err)) < 0)
        return r;
    r = copy_chunks(w, "kpid_stage", &whole, 1, err);
    if (r == 0)
        r = apply_staged(w, ordered, /* empty= */ false, err);
    if (r == 0)
        return exec_step(w, "RELEASE SAVEPOINT kpid_all", err);
    if (!refused_row_error(err))
        return r;
    log_notice("warehouse refused a row sqlstate=%s error=\"%s\"; isolating it", err->state,
               kpid_log_value(err->message));
    if ((r = exec_step(w, "ROLLBACK TO SAVEPOINT kpid_all", err)) < 0)
        return r;
    if ((r = split_rows(&w->stage, &rows, &n_rows)) < 0)
        return r;
    r = n_rows ? apply_bisect(w, rows, 0, n_rows, ordered, err) : 0;
    free(rows);
    return r;
}

static int stage_rejects(kpid_writer *w, struct kpid_batch **set, size_t n, bool *ret_any,
                         step_error *err)
{
    chunk *chunks = malloc((n + 1) * sizeof(*chunks));
    size_t k = 0;
    int r = 0;

    if (!chunks)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (set[i]->rejects.len)
            chunks[k++] = (chunk){set[i]->rejects.data, set[i]->rejects.len};
    if (w->refused.len)
        chunks[k++] = (chunk){w->refused.data, w->refused.len};
    *ret_any = k > 0;
    if (k)
        r = copy_chunks(w, "kpid_stage_rejected", chunks, k, err);
    free(chunks);
    return r;
}

/* Appends a batch's array elements to an array literal's body, after a comma if need be. */
static int append_elements(kpid_buf *body, const kpid_buf *elements)
{
    int r;

    if (body->len && (r = kpid_buf_putc(body, ',')) < 0)
        return r;
    return kpid_buf_append(body, elements->data, elements->len);
}

/* Makes "{body}" of body, NUL-terminated, in place. */
static int close_array(kpid_buf *body)
{
    size_t len = body->len;
    int r;

    if ((r = kpid_buf_reserve(body, 3)) < 0)
        return r;
    memmove(body->data + 1, body->data, len);
    body->data[0] = '{';
    body->data[len + 1] = '}';
    body->data[len + 2] = '\0';
    body->len = len + 3;
    return 0;
}

/* Writes the state puts of the set's batches, in set order, into kpid.source_state. */
static int store_state(kpid_writer *w, struct kpid_batch **set, size_t n, step_error *err)
{
    kpid_buf body[3] = {{0}}; /* sources, keys, values */
    bool any = false;
    int r = 0;

    for (size_t i = 0; i < n && r == 0; i++) {
        if (!set[i]->n_state)
            continue;
        any = true;
        for (size_t j = 0; j < set[i]->n_state && r == 0; j++)
            r = kpid_array_element(&body[0], set[i]->ctx->source);
        if (r == 0)
            r = append_elements(&body[1], &set[i]->state_keys);
        if (r == 0)
            r = append_elements(&body[2], &set[i]->state_values);
    }
    for (int a = 0; a < 3 && r == 0 && any; a++)
        r = close_array(&body[a]);
    if (r == 0 && any) {
        const char *params[3] = {body[0].data, body[1].data, body[2].data};
        PGresult *res = run(w, SQL_STATE, 3, params);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            error_from(w, res, err);
            r = -EIO;
        }
        PQclear(res);
    }
    for (int a = 0; a < 3; a++)
        kpid_buf_free(&body[a]);
    return r;
}

/* Stores the newest cursor of each source in the set. */
static int store_cursors(kpid_writer *w, struct kpid_batch **set, size_t n, step_error *err)
{
    for (size_t i = n; i-- > 0;) {
        const char *params[2];
        bool newer_seen = false;
        PGresult *res;

        if (!set[i]->cursor)
            continue;
        for (size_t j = i + 1; j < n && !newer_seen; j++)
            newer_seen = set[j]->cursor && strcmp(set[j]->ctx->source, set[i]->ctx->source) == 0;
        if (newer_seen)
            continue;
        params[0] = set[i]->ctx->source;
        params[1] = set[i]->cursor;
        res = run(w, SQL_CURSOR, 2, params);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            error_from(w, res, err);
            PQclear(res);
            return -EIO;
        }
        PQclear(res);
    }
    return 0;
}

/* One transaction for the whole set. Returns 0 or -errno with err filled. */
static int write_txn(kpid_writer *w, struct kpid_batch **set, size_t n, step_error *err)
{
    bool ordered = false, planned, any_rejects;
    int r;

    memset(err, 0, sizeof(*err));
    w->refused.len = 0;
    for (size_t i = 0; i < n; i++)
        ordered |= set[i]->n_ops > 0;

    if ((r = exec_step(w, "BEGIN", err)) < 0)
        return r;
    r = kpid_plan_build(&w->plan, set, n);
    planned = r == 0;
    if (r == 0)
        r = write_planned(w, err);
    /* Origin replacements, or a refused row to isolate: stage every row in order. */
    if (r == 1)
        r = stage_events(w, set, n, ordered, err);
    if (r < 0)
        goto fail;
    if ((r = stage_rejects(w, set, n, &any_rejects, err)) < 0)
        goto fail;
    if (any_rejects && (r = exec_step(w, SQL_REJECTED, err)) < 0)
        goto fail;
    if ((r = store_state(w, set, n, err)) < 0)
        goto fail;
    if ((r = store_cursors(w, set, n, err)) < 0)
        goto fail;
    if ((r = exec_step(w, "COMMIT", err)) == 0 && planned && w->committed_keys.bits)
        kpid_plan_remember(&w->plan, &w->committed_keys);
    return r;
fail:
    if (r == -ENOMEM)
        snprintf(err->message, sizeof(err->message), "out of memory");
    if (PQstatus(w->conn) == CONNECTION_OK && PQtransactionStatus(w->conn) != PQTRANS_IDLE)
        PQclear(run(w, "ROLLBACK", 0, NULL));
    return r;
}

static bool give_up(kpid_writer *w)
{
    return atomic_load(&w->stopping) &&
           (w->canceled || kpid_now_us() >= atomic_load(&w->deadline_us));
}

/* Sleeps up to us, returning early when the writer must give up. */
static void backoff_sleep(kpid_writer *w, int64_t us)
{
    int64_t end = kpid_now_us() + us;
    while (!give_up(w) && kpid_now_us() < end) {
        kpid_beat_now(&w->beat);
        usleep(20000);
    }
}

/*
 * The warehouse failed: says so once per state change, as what it is. A statement ended
 * by kpid's own statement_timeout (or by an administrator) or lock_timeout is not an
 * outage; a refusal of kpid's role is an error an operator must fix.
 */
static void set_down(kpid_writer *w, const char *what, const step_error *err, const char *msg,
                     bool refused)
{
    const char *state = err && err->state[0] ? err->state : "-";

    atomic_store(&w->healthy, false);
    w->failures++;
    if (w->down && refused == atomic_load(&w->role_refused))
        return;
    if (!w->down)
        w->down_since_us = kpid_now_us();
    w->down = true;
    atomic_store(&w->role_refused, refused);
    if (refused)
        log_err("warehouse refuses kpid's role step=%s sqlstate=%s error=\"%s\" hint=\"%s\"; "
                "retrying every minute at most",
                what, state, kpid_log_value(msg), KPID_PG_REFUSED_HINT);
    else if (strcmp(state, "57014") == 0)
        log_warning("warehouse statement canceled step=%s sqlstate=%s error=\"%s\" "
                    "statement_timeout=%lldms hint=\"raise warehouse.statement_timeout if the "
                    "warehouse is merely slow\"; retrying with backoff",
                    what, state, kpid_log_value(msg), (long long)w->warehouse->statement_timeout_ms);
    else if (strcmp(state, "55P03") == 0)
        log_warning("warehouse lock wait timed out step=%s sqlstate=%s error=\"%s\" "
                    "lock_timeout=%lldms; retrying with backoff",
                    what, state, kpid_log_value(msg), (long long)w->warehouse->lock_timeout_ms);
    else
        log_warning("warehouse unavailable step=%s sqlstate=%s error=\"%s\"; retrying with "
                    "backoff",
                    what, state, kpid_log_value(msg));
}

static void set_up(kpid_writer *w)
{
    atomic_store(&w->healthy, true);
    atomic_store(&w->role_refused, false);
    if (w->down)
        log_notice("warehouse available again after=%.1fs attempts=%u",
                   (double)(kpid_now_us() - w->down_since_us) / 1e6, w->failures);
    w->down = false;
    w->failures = 0;
}

static int connect_warehouse(kpid_writer *w, step_error *err)
{
    char *msg = NULL;
    int r;

    memset(err, 0, sizeof(*err));
    r = kpid_pg_open(w->warehouse, &w->conn, &msg);
    if (r < 0) {
        set_down(w, "connect", NULL, msg ? msg : "out of memory", r == -EACCES);
        free(msg);
        w->conn = NULL;
        return -EIO;
    }
    if (exec_step(w, SQL_STAGE, err) < 0) {
        set_down(w, "staging", err, err->message, kpid_pg_refused(err->state));
        PQfinish(w->conn);
        w->conn = NULL;
        return -EIO;
    }
    return 0;
}

/* The next backoff: doubling, within the bounds of the kind of failure. */
static int64_t next_backoff(kpid_writer *w, int64_t backoff)
{
    int64_t lo = BACKOFF_MIN_US, hi = BACKOFF_MAX_US;

    if (atomic_load(&w->role_refused)) {
        lo = REFUSED_BACKOFF_MIN_US;
        hi = REFUSED_BACKOFF_MAX_US;
    }
    backoff *= 2;
    return backoff < lo ? lo : backoff > hi ? hi : backoff;
}

/*
 * Writes the set, retrying until it is durable or the writer gives up: -ECANCELED when
 * stopping, -EACCES with --once when the warehouse refuses kpid's role.
 */
static int write_with_retry(kpid_writer *w, struct kpid_batch **set, size_t n)
{
    int64_t backoff = BACKOFF_MIN_US / 2;
    step_error err;

    for (;;) {
        if (give_up(w))
            return -ECANCELED;
        if (!w->conn && connect_warehouse(w, &err) < 0) {
            if (w->once && atomic_load(&w->role_refused))
                return -EACCES;
            backoff = next_backoff(w, backoff);
            backoff_sleep(w, backoff);
            continue;
        }
        if (write_txn(w, set, n, &err) == 0) {
            set_up(w);
            return 0;
        }
        if (w->once && kpid_pg_refused(err.state)) {
            set_down(w, "write", &err, err.message, kpid_pg_refused(err.state));
            return -EACCES;
        }
        if (err.transient || PQstatus(w->conn) != CONNECTION_OK) {
            set_down(w, "write", &err, err.message, kpid_pg_refused(err.state));
            PQfinish(w->conn);
            w->conn = NULL;
        } else {
            /* Not the data, not the connection: a schema or permission problem an
             * operator must fix. Keep the data and keep trying. */
            if (!w->down && !kpid_pg_refused(err.state)) {
                log_err("warehouse write failed sqlstate=%s error=\"%s\"; the batches are "
                        "kept and retried",
                        err.state, kpid_log_value(err.message));
                w->down = true;
                w->down_since_us = kpid_now_us();
            }
            set_down(w, "write", &err, err.message, kpid_pg_refused(err.state));
        }
        backoff = next_backoff(w, backoff);
        backoff_sleep(w, backoff);
    }
}

static void *writer_main(void *arg)
{
    kpid_writer *w = arg;
    struct kpid_batch **set = w->set;

    for (;;) {
        size_t n = 0, rows = 0;
        int64_t first_us;
        kpid_queue_item *item;

        kpid_beat_now(&w->beat);
        item = kpid_queue_pop(w->q, atomic_load(&w->stopping) ? 0 : kpid_now_us() + 500000);
        if (!item) {
            if (atomic_load(&w->stopping))
                break;
            continue;
        }
        first_us = kpid_now_us();
        /* Group commit: gather more batches up to the row limit or the interval. */
        while (item) {
            struct kpid_batch *b = (struct kpid_batch *)item;
            set[n++] = b;
            rows += kpid_batch_weight(b);
            if (rows >= w->max_rows || n > w->max_rows)
                break;
            item = kpid_queue_pop(w->q, atomic_load(&w->stopping) ? 0 : first_us + w->flush_us);
        }

        int r = write_with_retry(w, set, n);
        for (size_t i = 0; i < n; i++)
            kpid_source_batch_done(set[i], r == 0);
        if (r < 0) {
            size_t dropped = n;
            if (r == -EACCES)
                atomic_store(&w->gave_up_refused, true);
            while ((item = kpid_queue_pop(w->q, 0))) {
                kpid_source_batch_done((struct kpid_batch *)item, false);
                dropped++;
            }
            log_warning("writer stopped %s; batches=%zu were not committed and will be read "
                        "again at the next start",
                        r == -EACCES ? "because the warehouse refuses kpid's role"
                                     : "before the warehouse came back",
                        dropped);
            break;
        }
    }
    if (w->conn)
        PQfinish(w->conn);
    w->conn = NULL;
    return NULL;
}

int kpid_writer_start(const kpid_writer_options *opt, kpid_queue *q, kpid_writer **ret_writer)
{
    kpid_writer *w = calloc(1, sizeof(*w));
    int r;

    if (!w)
        return -ENOMEM;
    w->warehouse = opt->warehouse;
    w->wait_notice_us = opt->wait_notice_ms * 1000;
    w->once = opt->once;
    w->waiter = (kpid_pg_waiter){.waiting = statement_waiting, .arg = w};
    w->max_rows = (size_t)opt->batch_max_rows;
    w->set = calloc(w->max_rows + 1, sizeof(*w->set));
    if (!w->set) {
        r = -ENOMEM;
        goto fail;
    }
    w->flush_us = opt->flush_interval_ms * 1000;
    w->q = q;
    /* Without it every correction costs a probe; a daemon short of 4 MiB does without. */
    if (kpid_bloom_init(&w->committed_keys, BLOOM_BYTES) < 0)
        log_warning("writer runs without its filter of committed keys: out of memory");
    w->beat.name = "writer";
    kpid_liveness_add(&w->beat);
    atomic_store(&w->healthy, true); /* the warehouse was there at start */
    r = -pthread_create(&w->thread, NULL, writer_main, w);
    if (r < 0) {
        kpid_liveness_remove(&w->beat);
        goto fail;
    }
    *ret_writer = w;
    return 0;
fail:
    free(w->set);
    free(w);
    return r;
}

kpid_writer *kpid_writer_stop(kpid_writer *w, int64_t deadline_us)
{
    if (!w)
        return NULL;
    atomic_store(&w->deadline_us, deadline_us);
    atomic_store(&w->stopping, true);
    kpid_queue_wake(w->q);
    pthread_join(w->thread, NULL);
    kpid_liveness_remove(&w->beat);
    kpid_buf_free(&w->refused);
    kpid_buf_free(&w->stage);
    kpid_spans_free(&w->direct);
    kpid_buf_free(&w->keys);
    kpid_plan_free(&w->plan);
    kpid_bloom_free(&w->committed_keys);
    free(w->set);
    free(w);
    return NULL;
}

bool kpid_writer_healthy(kpid_writer *w)
{
    return atomic_load(&w->healthy);
}

const char *kpid_writer_state(kpid_writer *w, int64_t *ret_waited_s)
{
    int64_t since = atomic_load(&w->waiting_since_us), now = kpid_now_us();

    if (since && now - since >= WAITING_STATUS_US) {
        *ret_waited_s = (now - since) / 1000000;
        return "waiting";
    }
    if (atomic_load(&w->healthy))
        return "ok";
    return atomic_load(&w->role_refused) ? "refused" : "unavailable";
}

bool kpid_writer_refused(kpid_writer *w)
{
    return atomic_load(&w->gave_up_refused);
}

