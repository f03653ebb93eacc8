#include "ingest/writer_txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/source.h"
#include "ops/log.h"

/* After a COPY met a stored key, transactions probe before they COPY, until a probe
 * finds no stored key or this many have. */
#define PROBE_TXNS 256

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
#define UPSERT_TAIL                                                                    \
    " ON CONFLICT (source, event_key) DO UPDATE SET"                                   \
    " case_id = EXCLUDED.case_id, subject_id = EXCLUDED.subject_id,"                   \
    " activity = EXCLUDED.activity, time = EXCLUDED.time, value = EXCLUDED.value,"     \
    " attrs = EXCLUDED.attrs, origin = EXCLUDED.origin, ingested_at = now()"           \
    " WHERE (e.case_id, e.subject_id, e.activity, e.time, e.value, e.attrs, e.origin)" \
    " IS DISTINCT FROM (EXCLUDED.case_id, EXCLUDED.subject_id, EXCLUDED.activity,"     \
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
/* SQL_STATE is prepared once per connection as KPID_SQL_STATE_NAME
 * (kpid__writer_txn_prepare) and executed in the round trip of COMMIT (writer_tail.c):
 * parsed, planned and sent on its own every time, it cost a feed that commits often
 * (HL7) about 0.5 ms a transaction. */

/* A source's newest cursor, prepared once per connection as KPID_SQL_CURSOR_NAME and
 * executed in the round trip of COMMIT, like the state: a row every transaction of the
 * source updates, so it is locked only at the end, when the transactions before this
 * one have committed (two in flight at once never wait for each other, writer.c). */
static const char SQL_CURSOR[] =
    "INSERT INTO kpid.cursor (source, cursor) VALUES ($1, $2)"
    " ON CONFLICT (source) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()";

static void error_from(kpid__writer_txn *t, PGresult *res, kpid__step_error *err)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

    snprintf(err->state, sizeof(err->state), "%s", s ? s : "");
    if (detail)
        snprintf(err->message, sizeof(err->message), "%s; %s", kpid_pg_error_line(t->conn, res),
                 detail);
    else
        snprintf(err->message, sizeof(err->message), "%s", kpid_pg_error_line(t->conn, res));
    err->transient = kpid_pg_transient(t->conn, s);
}

/* Runs sql as PQexec (params NULL) or PQexecParams would, watched by t->waiter. */
static PGresult *run(kpid__writer_txn *t, const char *sql, int n, const char *const *params)
{
    PGresult *res = kpid_pg_run(t->conn, sql, n, params, &t->waiter);
    t->done(t->waiter.arg);
    return res;
}

static int exec_step(kpid__writer_txn *t, const char *sql, kpid__step_error *err)
{
    PGresult *res = run(t, sql, 0, NULL);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int r = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        error_from(t, res, err);
        r = -EIO;
    }
    PQclear(res);
    return r;
}

/*
 * Runs the transaction's next step sql, with BEGIN in the same round trip when it is
 * its first (sql NULL: only BEGIN, if not sent yet). One round trip less per
 * transaction: a feed that waits for each commit (HL7 ACKs) feels every one.
 */
static int txn_step(kpid__writer_txn *t, const char *sql, kpid__step_error *err)
{
    char both[64];

    if (t->begun)
        return sql ? exec_step(t, sql, err) : 0;
    t->begun = true;
    if (!sql)
        return exec_step(t, "BEGIN", err);
    if ((size_t)snprintf(both, sizeof(both), "BEGIN; %s", sql) >= sizeof(both))
        return exec_step(t, "BEGIN", err) < 0 ? -EIO : exec_step(t, sql, err);
    return exec_step(t, both, err);
}

/* A piece of COPY data: a whole buffer, one row, or a run of a batch's rows. */
typedef kpid_span chunk;

/* Runs COPY table FROM STDIN with the chunks. */
static int copy_chunks(kpid__writer_txn *t, const char *table, const chunk *chunks, size_t n,
                       kpid__step_error *err)
{
    char sql[256];
    PGresult *res;
    int r = 0;

    snprintf(sql, sizeof(sql), "COPY %s FROM STDIN", table);
    res = run(t, sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        error_from(t, res, err);
        PQclear(res);
        return -EIO;
    }
    PQclear(res);
    for (size_t i = 0; i < n && r == 0; i++)
        if (chunks[i].len && PQputCopyData(t->conn, chunks[i].data, (int)chunks[i].len) != 1)
            r = -EIO;
    if (PQputCopyEnd(t->conn, r == 0 ? NULL : "kpid: send failed") != 1)
        r = -EIO;
    /* The COPY's result. */
    res = kpid_pg_await(t->conn, &t->waiter);
    t->done(t->waiter.arg);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && r == 0) {
        error_from(t, res, err);
        r = -EIO;
    } else if (r < 0 && !err->message[0])
        error_from(t, res, err);
    PQclear(res);
    if (r < 0 && !err->message[0]) {
        error_from(t, NULL, err);
        err->transient = true;
    }
    return r;
}

bool kpid__step_refused_row(const kpid__step_error *err)
{
    return !err->transient &&
           (strncmp(err->state, "22", 2) == 0 || strncmp(err->state, "23", 2) == 0 ||
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
static int apply_staged(kpid__writer_txn *t, bool ordered, bool empty, kpid__step_error *err)
{
    if (ordered) {
        if (exec_step(t, SQL_DELETE_ORIGINS, err) < 0 || exec_step(t, SQL_DELETE_KEYS, err) < 0 ||
            exec_step(t, SQL_UPSERT_ORDERED, err) < 0)
            return -EIO;
    } else if (exec_step(t, SQL_UPSERT, err) < 0)
        return -EIO;
    return empty ? exec_step(t, "DELETE FROM kpid_stage", err) : 0;
}

/*
 * Stages rows[lo, hi) and applies them to kpid.event under a savepoint. When
 * PostgreSQL refuses the data (in the COPY or in the upsert: a bad value, a constraint),
 * rolls back to the savepoint and halves the range until each refused row is alone,
 * and records those rows in t->refused. Applying a range after another is the same as
 * applying both at once, because each range keeps the order of its rows. Returns 0 or
 * a transient / non-row error.
 */
static int apply_bisect(kpid__writer_txn *t, const chunk *rows, size_t lo, size_t hi, bool ordered,
                        kpid__step_error *err)
{
    int r;

    if (exec_step(t, "SAVEPOINT kpid_rows", err) < 0)
        return -EIO;
    memset(err, 0, sizeof(*err));
    r = copy_chunks(t, "kpid_stage", rows + lo, hi - lo, err);
    if (r == 0)
        r = apply_staged(t, ordered, /* empty= */ true, err);
    if (r == 0)
        return exec_step(t, "RELEASE SAVEPOINT kpid_rows", err);
    if (!kpid__step_refused_row(err))
        return r;
    kpid__step_error refused = *err;
    if (exec_step(t, "ROLLBACK TO SAVEPOINT kpid_rows", err) < 0 ||
        exec_step(t, "RELEASE SAVEPOINT kpid_rows", err) < 0)
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
        return kpid_reject_row(&t->refused, source, locator, refused.message, rows[lo].data,
                               rows[lo].len - 1);
    }
    size_t mid = lo + (hi - lo) / 2;
    r = apply_bisect(t, rows, lo, mid, ordered, err);
    if (r == 0)
        r = apply_bisect(t, rows, mid, hi, ordered, err);
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
static int probe_stored(kpid__writer_txn *t, kpid__step_error *err)
{
    chunk keys;
    PGresult *res;
    int r;

    t->keys.len = 0;
    if ((r = kpid_plan_keys(&t->plan, &t->keys)) < 0)
        return r;
    if (t->keys.len == 0)
        return 0;
    keys = (chunk){t->keys.data, t->keys.len};
    if ((r = txn_step(t, "DELETE FROM kpid_keys", err)) < 0 ||
        (r = copy_chunks(t, "kpid_keys", &keys, 1, err)) < 0)
        return r;
    res = run(t, SQL_PROBE, 0, NULL);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        error_from(t, res, err);
        PQclear(res);
        return -EIO;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n && r == 0; i++) {
        r = kpid_plan_mark_stored(&t->plan, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        if (r == -ENOENT)
            r = 0; /* cannot be: the keys came from the plan */
    }
    PQclear(res);
    /* Nothing known among these keys: the conflicts are over, COPY optimistically. */
    if (n == 0)
        t->probe_txns = 0;
    return r;
}

/*
 * Writes a planned set: new keys by COPY straight into kpid.event, known keys and
 * retractions through kpid_stage. When the COPY meets a key that is there after all, it
 * rolls back to its savepoint, probes, and for a while probes before each COPY. Returns
 * 0, 1 when PostgreSQL refused a row (stage the whole set to isolate it), or -errno.
 */
static int write_planned(kpid__writer_txn *t, kpid__step_error *err)
{
    size_t n_staged;
    bool probed = false;
    int r;

    if (t->probe_txns > 0) {
        t->probe_txns--;
        if ((r = probe_stored(t, err)) < 0)
            return r;
        probed = true;
    }
    for (int attempt = 0;; attempt++) {
        kpid_spans_clear(&t->direct);
        t->stage.len = 0;
        if ((r = kpid_plan_write_spans(&t->plan, &t->direct, &t->stage, &n_staged)) < 0)
            return r;
        chunk staged = {t->stage.data, t->stage.len};
        if ((r = txn_step(t, "SAVEPOINT kpid_plan", err)) < 0)
            return r;
        memset(err, 0, sizeof(*err));
        r = t->direct.n
                ? copy_chunks(t, "kpid.event (" EVENT_COLUMNS ")", t->direct.v, t->direct.n, err)
                : 0;
        t->staged_in_tail = false;
        if (r == 0 && n_staged) {
            r = copy_chunks(t, "kpid_stage", &staged, 1, err);
            if (r == 0 && t->defer_staged)
                t->staged_in_tail = true;
            else if (r == 0 && (r = exec_step(t, SQL_DELETE_KEYS, err)) == 0)
                r = exec_step(t, SQL_UPSERT, err);
        }
        if (r == 0) /* the savepoint stays: COMMIT releases it, one round trip less */
            return 0;
        bool conflict = strcmp(err->state, "23505") == 0;
        if (!conflict && !kpid__step_refused_row(err))
            return r;
        kpid__step_error failed = *err;
        if (exec_step(t, "ROLLBACK TO SAVEPOINT kpid_plan", err) < 0)
            return -EIO;
        if (!conflict || attempt >= 2) {
            *err = failed;
            return 1;
        }
        /* Known keys: probe now and for the next transactions too. */
        t->probe_txns = PROBE_TXNS;
        if (!probed) {
            if ((r = probe_stored(t, err)) < 0)
                return r;
            probed = true;
        } else
            kpid_plan_mark_all_stored(&t->plan); /* someone else wrote meanwhile */
    }
}

/* Stages the set in kpid_stage and applies it, isolating refused rows. */
static int stage_events(kpid__writer_txn *t, struct kpid_batch **set, size_t n, bool ordered,
                        kpid__step_error *err)
{
    chunk whole, *rows = NULL;
    size_t n_rows;
    int r;

    t->stage.len = 0;
    for (size_t i = 0; i < n; i++)
        if ((r = kpid_batch_stage_rows(set[i], &t->stage)) < 0)
            return r;
    whole = (chunk){t->stage.data, t->stage.len};
    if ((r = txn_step(t, "SAVEPOINT kpid_all", err)) < 0)
        return r;
    r = copy_chunks(t, "kpid_stage", &whole, 1, err);
    if (r == 0)
        r = apply_staged(t, ordered, /* empty= */ false, err);
    if (r == 0)
        return exec_step(t, "RELEASE SAVEPOINT kpid_all", err);
    if (!kpid__step_refused_row(err))
        return r;
    log_notice("warehouse refused a row sqlstate=%s error=\"%s\"; isolating it", err->state,
               kpid_log_value(err->message));
    if ((r = exec_step(t, "ROLLBACK TO SAVEPOINT kpid_all", err)) < 0)
        return r;
    if ((r = split_rows(&t->stage, &rows, &n_rows)) < 0)
        return r;
    r = n_rows ? apply_bisect(t, rows, 0, n_rows, ordered, err) : 0;
    free(rows);
    return r;
}

static int stage_rejects(kpid__writer_txn *t, struct kpid_batch **set, size_t n, bool *ret_any,
                         kpid__step_error *err)
{
    chunk *chunks = malloc((n + 1) * sizeof(*chunks));
    size_t k = 0;
    int r = 0;

    if (!chunks)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (set[i]->rejects.len)
            chunks[k++] = (chunk){set[i]->rejects.data, set[i]->rejects.len};
    if (t->refused.len)
        chunks[k++] = (chunk){t->refused.data, t->refused.len};
    *ret_any = k > 0;
    if (k)
        r = copy_chunks(t, "kpid_stage_rejected", chunks, k, err);
    free(chunks);
    return r;
}

/* Rolls back what the connection has open, if it still works. */
static void roll_back(kpid__writer_txn *t)
{
    if (PQstatus(t->conn) == CONNECTION_OK && PQtransactionStatus(t->conn) != PQTRANS_IDLE)
        PQclear(run(t, "ROLLBACK", 0, NULL));
}

int kpid__writer_txn_plan(kpid__writer_txn *t, struct kpid_batch **set, size_t n)
{
    int r = kpid_plan_build(&t->plan, set, n);

    t->planned = r == 0;
    t->plan_error = r < 0 ? r : 0;
    t->defer_staged = false;
    t->shared = 0;
    /* Keys the writer committed are probably corrections: staged, not COPYed (unless
     * this connection probes anyway, after a COPY that met stored keys). */
    if (r == 0 && t->probe_txns == 0 && t->committed_keys && t->committed_keys->bits)
        kpid_plan_mark_remembered(&t->plan, t->committed_keys);
    return t->plan_error;
}

bool kpid__writer_txn_overlap(const kpid__writer_txn *a, struct kpid_batch *const *set_a,
                              size_t n_a, kpid__writer_txn *b, struct kpid_batch *const *set_b,
                              size_t n_b)
{
    if (!a->planned || !b->planned)
        return false; /* origin replacements: deletes by origin, whatever the keys */
    for (size_t i = 0; i < n_a; i++)
        if (set_a[i]->rejects.len)
            return false;
    for (size_t i = 0; i < n_b; i++)
        if (set_b[i]->rejects.len)
            return false;
    b->shared = kpid_plan_mark_shared(&b->plan, &a->plan);
    b->defer_staged = true;
    return true;
}

int kpid__writer_txn_send(kpid__writer_txn *t, struct kpid_batch **set, size_t n,
                          kpid__step_error *err)
{
    bool ordered = false, any_rejects;
    int r;

    memset(err, 0, sizeof(*err));
    t->refused.len = 0;
    for (size_t i = 0; i < n; i++)
        ordered |= set[i]->n_ops > 0;

    t->begun = false; /* BEGIN goes with the first step */
    t->staged_in_tail = false;
    r = t->plan_error;
    if (r == 0)
        r = t->planned ? write_planned(t, err) : 1;
    /* Origin replacements, or a refused row to isolate: stage every row in order. */
    if (r == 1)
        r = stage_events(t, set, n, ordered, err);
    if (r < 0 || (r = txn_step(t, NULL, err)) < 0)
        goto fail;
    if ((r = stage_rejects(t, set, n, &any_rejects, err)) < 0)
        goto fail;
    if (any_rejects && (r = exec_step(t, SQL_REJECTED, err)) < 0)
        goto fail;
    t->tail.len = 0;
    /* Staged rows of keys a transaction under way writes too (kpid__writer_txn_overlap):
     * applied once that one has committed, before COMMIT. */
    if (t->staged_in_tail &&
        ((r = kpid_buf_append(&t->tail, SQL_DELETE_KEYS, sizeof(SQL_DELETE_KEYS) - 1)) < 0 ||
         (r = kpid_buf_append(&t->tail, "; ", 2)) < 0 ||
         (r = kpid_buf_append(&t->tail, SQL_UPSERT, sizeof(SQL_UPSERT) - 1)) < 0 ||
         (r = kpid_buf_append(&t->tail, "; ", 2)) < 0))
        goto fail;
    if ((r = kpid__writer_tail_cursors(t, set, n, err)) < 0 ||
        (r = kpid__writer_tail_fence(t, set, n, err)) < 0 ||
        (r = kpid__writer_tail_state(t, set, n, err)) < 0 ||
        (r = kpid_buf_append(&t->tail, "COMMIT", sizeof("COMMIT"))) < 0)
        goto fail;
    return 0;
fail:
    if (r == -ENOMEM)
        snprintf(err->message, sizeof(err->message), "out of memory");
    roll_back(t);
    return r;
}

int kpid__writer_txn_commit(kpid__writer_txn *t, kpid__step_error *err)
{
    memset(err, 0, sizeof(*err));
    /* The state and COMMIT in one query: a failing EXECUTE makes the COMMIT a
     * ROLLBACK, and its error is the result. */
    if (!PQsendQuery(t->conn, t->tail.data)) {
        error_from(t, NULL, err);
        err->transient = true;
        roll_back(t);
        return -EIO;
    }
    /* Its keys count as committed from now on: a later transaction that meets one
     * while this one is in flight probes, which is right whatever this one's outcome. */
    if (t->planned && t->committed_keys && t->committed_keys->bits)
        kpid_plan_remember(&t->plan, t->committed_keys);
    return 0;
}

int kpid__writer_txn_finish(kpid__writer_txn *t, kpid__step_error *err)
{
    PGresult *res = kpid_pg_await(t->conn, &t->waiter);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int r = 0;

    t->done(t->waiter.arg);
    memset(err, 0, sizeof(*err));
    if (st != PGRES_COMMAND_OK) {
        error_from(t, res, err);
        r = -EIO;
    }
    PQclear(res);
    if (r < 0)
        roll_back(t);
    return r;
}

void kpid__writer_txn_abort(kpid__writer_txn *t)
{
    roll_back(t);
}

int kpid__writer_txn_write(kpid__writer_txn *t, struct kpid_batch **set, size_t n,
                           kpid__step_error *err)
{
    int r;

    kpid__writer_txn_plan(t, set, n); /* its failure is send's */
    r = kpid__writer_txn_send(t, set, n, err);

    if (r == 0)
        r = kpid__writer_txn_commit(t, err);
    return r == 0 ? kpid__writer_txn_finish(t, err) : r;
}

/* Prepares sql as name on the connection, watched like every step. */
static int prepare(kpid__writer_txn *t, const char *name, const char *sql, int n_params,
                   kpid__step_error *err)
{
    PGresult *res = NULL;
    int r = 0;

    if (PQsendPrepare(t->conn, name, sql, n_params, NULL))
        res = kpid_pg_await(t->conn, &t->waiter);
    t->done(t->waiter.arg);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        error_from(t, res, err);
        r = -EIO;
    }
    PQclear(res);
    return r;
}

int kpid__writer_txn_prepare(kpid__writer_txn *t, kpid__step_error *err)
{
    int r;

    if ((r = exec_step(t, SQL_STAGE, err)) < 0 ||
        (r = prepare(t, KPID_SQL_STATE_NAME, SQL_STATE, 3, err)) < 0)
        return r;
    return prepare(t, KPID_SQL_CURSOR_NAME, SQL_CURSOR, 2, err);
}

void kpid__writer_txn_free(kpid__writer_txn *t)
{
    kpid_buf_free(&t->refused);
    kpid_buf_free(&t->stage);
    kpid_spans_free(&t->direct);
    kpid_buf_free(&t->keys);
    kpid_buf_free(&t->tail);
    kpid_plan_free(&t->plan);
}
