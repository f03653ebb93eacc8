/* The reading of a pull source's queries: cycles, pages, the cursor (see reader.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pull/position.h"
#include "pull/reader.h"

#define rlog(r, level, ...) (r)->host->log((r)->src, (level), __VA_ARGS__)

static void register_metrics(kpid_pull_reader *r, kpid_pull_track *t, const char *prefix)
{
    static const struct {
        const char *name, *help;
        size_t offset;
    } defs[] = {
        {"rows_total", "rows read from the HIS", offsetof(kpid_pull_track, m_rows)},
        {"skipped_total", "rows read again within the overlap window, unchanged",
         offsetof(kpid_pull_track, m_skipped)},
        {"rejected_total", "rows rejected into kpid.rejected",
         offsetof(kpid_pull_track, m_rejected)},
        {"pages_total", "pages read (each one HIS transaction)",
         offsetof(kpid_pull_track, m_pages)},
    };
    kpid_metric_label label = {.name = "query", .value = t->q->name};
    char name[96];

    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        kpid_metric **slot = (kpid_metric **)((char *)t + defs[i].offset);
        snprintf(name, sizeof(name), "%s_%s", prefix, defs[i].name);
        kpid_metric_def d = {
            .type = KPID_METRIC_COUNTER,
            .name = name,
            .help = defs[i].help,
            .labels = &label,
            .n_labels = 1,
        };
        if (r->host->metric_register(r->src, &d, slot) < 0)
            *slot = NULL; /* counted nowhere: counter_add takes NULL */
    }
}

int kpid_pull_reader_init(kpid_pull_reader *r, const kpid_host *host, kpid_source *src,
                          const kpid_pull_spec *spec, size_t overlap_max_keys, const char *prefix)
{
    int e;

    r->host = host;
    r->src = src;
    if (!(r->tracks = calloc(spec->n_queries, sizeof(*r->tracks))))
        return -ENOMEM;
    for (size_t i = 0; i < spec->n_queries; i++) {
        kpid_pull_track *t = &r->tracks[i];
        t->q = &spec->queries[i];
        r->n_tracks++;
        if (t->q->overlap > 0 && (e = kpid_pull_dedup_new(overlap_max_keys, &t->dedup)) < 0)
            return e;
        register_metrics(r, t, prefix);
    }
    return 0;
}

void kpid_pull_reader_free(kpid_pull_reader *r)
{
    for (size_t i = 0; i < r->n_tracks; i++) {
        kpid_pull_dedup_free(r->tracks[i].dedup);
        free(r->tracks[i].scan_w);
        free(r->tracks[i].scan_t);
    }
    free(r->tracks);
    kpid_pull_cursor_clear(&r->cursor);
    free(r->cursor_text);
    kpid_buf_free(&r->text);
    kpid_pull_rowbuf_free(&r->rowbuf);
    memset(r, 0, sizeof(*r));
}

const kpid_pull_position *kpid_pull_reader_position(const kpid_pull_reader *r,
                                                    const kpid_pull_track *t)
{
    const kpid_pull_position *p = kpid_pull_cursor_find(&r->cursor, t->q->name);

    return p && kpid_pull_position_matches(p, t->q) ? p : NULL;
}

/* Takes the positions of the cursor the host gives; a query whose order changed since
 * its position was stored is read from its beginning. */
static int load_cursor(kpid_pull_reader *r, const char *text)
{
    kpid_pull_cursor c = {0};
    char err[256];
    int e;

    if (text && (e = kpid_pull_cursor_decode(text, strlen(text), &c, err, sizeof(err))) < 0) {
        rlog(r, KPID_LOG_ERR,
             "the stored cursor is invalid error=\"%s\" hint=\"delete the source's row in "
             "kpid.cursor to read every query from its beginning\"",
             err);
        return e;
    }
    for (size_t i = 0; i < r->n_tracks; i++) {
        const kpid_pull_query *q = r->tracks[i].q;
        const kpid_pull_position *p = kpid_pull_cursor_find(&c, q->name);
        if (p && !kpid_pull_position_matches(p, q)) {
            rlog(r, KPID_LOG_WARNING,
                 "the query's order changed since its cursor was stored: reading it from its "
                 "beginning query=%s was=\"%s %s %s\"",
                 q->name, kpid_pull_wm_type_name(p->type), p->watermark_column,
                 p->tiebreaker_column);
            kpid_pull_cursor_remove(&c, q->name);
        }
    }
    kpid_pull_cursor_clear(&r->cursor);
    r->cursor = c;
    free(r->cursor_text);
    r->cursor_text = text ? strdup(text) : NULL;
    if (text && !r->cursor_text)
        return -ENOMEM;
    r->cursor_loaded = true;
    r->cycle = false;
    for (size_t i = 0; i < r->n_tracks; i++)
        if (r->tracks[i].dedup)
            kpid_pull_dedup_reset(r->tracks[i].dedup);
    return 0;
}

/* The dedup set of t forgets the keys behind the overlap window of watermark w (text):
 * no page reads them again once the query's next page starts at or after w. */
static void forget_behind_window(kpid_pull_track *t, const char *w)
{
    char start[KPID_PULL_WM_TEXT_MAX];
    int64_t from;

    if (t->dedup && kpid_pull_overlap_start(t->q, w, start, sizeof(start), &from) == 1)
        kpid_pull_dedup_expire(t->dedup, from);
}

/* A new cycle: every query has pages to read, from its position or its overlap window;
 * the dedup sets forget what no page of it reads again. */
static void cycle_start(kpid_pull_reader *r)
{
    for (size_t i = 0; i < r->n_tracks; i++) {
        kpid_pull_track *t = &r->tracks[i];
        const kpid_pull_position *pos = kpid_pull_reader_position(r, t);
        t->pending = true;
        free(t->scan_w);
        free(t->scan_t);
        t->scan_w = t->scan_t = NULL;
        /* Without an overlap every page starts after the position. */
        t->passed = !pos || t->q->overlap == 0;
        if (pos)
            forget_behind_window(t, pos->watermark);
    }
    r->cycle = true;
}

int kpid_pull_reader_poll(kpid_pull_reader *r, const char *cursor, int (*connect)(void *ctx),
                          kpid_pull_page_fn page, void *ctx)
{
    bool pending = false;
    int e;

    if (r->host->stop_requested(r->src))
        return KPID_POLL_IDLE;
    if (!r->cursor_loaded || (cursor == NULL) != (r->cursor_text == NULL) ||
        (cursor && strcmp(cursor, r->cursor_text) != 0))
        if ((e = load_cursor(r, cursor)) < 0)
            return e;
    if ((e = connect(ctx)) < 0)
        return e == -ECANCELED ? KPID_POLL_IDLE : e;
    if (!r->cycle)
        cycle_start(r);
    for (size_t i = 0; i < r->n_tracks; i++) {
        kpid_pull_track *t = &r->tracks[i];
        if (!t->pending)
            continue;
        if ((e = page(ctx, i)) < 0) {
            r->cycle = false;
            return e == -ECANCELED ? KPID_POLL_IDLE : e;
        }
        t->pending = e == 1;
        pending = pending || t->pending;
        if (r->host->stop_requested(r->src))
            return KPID_POLL_IDLE;
    }
    if (!pending)
        r->cycle = false;
    return pending ? KPID_POLL_MORE : KPID_POLL_IDLE;
}

int kpid_pull_reader_start(const kpid_pull_reader *r, const kpid_pull_track *t,
                           enum kpid_pull_from *ret_from, char *start, size_t start_size,
                           const char **ret_w, const char **ret_t)
{
    const kpid_pull_position *pos = kpid_pull_reader_position(r, t);
    int e;

    *ret_w = *ret_t = NULL;
    if (t->scan_w) { /* the cycle goes on after its last page */
        *ret_from = KPID_PULL_FROM_AFTER;
        *ret_w = t->scan_w;
        *ret_t = t->scan_t;
        return 0;
    }
    if (!pos) {
        *ret_from = KPID_PULL_FROM_START;
        return 0;
    }
    if (t->q->overlap == 0) {
        *ret_from = KPID_PULL_FROM_AFTER;
        *ret_w = pos->watermark;
        *ret_t = pos->tiebreaker;
        return 0;
    }
    if ((e = kpid_pull_overlap_start(t->q, pos->watermark, start, start_size, NULL)) < 0) {
        rlog(r, KPID_LOG_ERR, "the cursor's watermark is not of the query's type query=%s",
             t->q->name);
        return e;
    }
    *ret_from = e == 1 ? KPID_PULL_FROM_AT : KPID_PULL_FROM_START;
    *ret_w = e == 1 ? start : NULL;
    return 0;
}

void kpid_pull_page_begin(kpid_pull_page *pg, kpid_pull_reader *r, kpid_pull_track *t)
{
    memset(pg, 0, sizeof(*pg));
    pg->r = r;
    pg->t = t;
    pg->pos = kpid_pull_reader_position(r, t);
    if (pg->pos &&
        kpid_pull_wm_parse(t->q->watermark_type, pg->pos->watermark, &pg->pos_wm, NULL) < 0)
        pg->pos = NULL; /* cannot be: the cursor was checked when it was decoded */
}

/* Adds the converted row to the batch: an event, a retraction, a rejection, or nothing
 * (a row read again unchanged). Returns 0 or a negative errno. */
static int add_row(kpid_pull_page *pg, const kpid_pull_cols *cols, const char *const *values,
                   const char *w, const char *t, const char *reject)
{
    const kpid_host *host = pg->r->host;
    kpid_pull_track *tr = pg->t;
    char why[256], locator[256];
    kpid_pull_row row;
    uint64_t hash = 0;
    int64_t wm = 0;
    int e;

    if (!pg->batch && (e = host->batch_begin(pg->r->src, &pg->batch)) < 0)
        return e;
    kpid_pull_row_locator(tr->q, t, locator, sizeof(locator));
    if (reject) {
        pg->rejected++;
        return host->reject(pg->batch, locator, reject, NULL, 0);
    }
    e = kpid_pull_row_convert(tr->q, cols, values, &pg->r->rowbuf, &row, why, sizeof(why));
    if (e < 0)
        return e;
    if (e == 1) {
        pg->rejected++;
        return host->reject(pg->batch, locator, why, NULL, 0);
    }
    if (tr->dedup) {
        if ((e = kpid_pull_dedup_hash(tr->dedup, &row, &hash)) < 0)
            return e;
        if (kpid_pull_dedup_seen(tr->dedup, row.ev.event_key, hash)) {
            pg->skipped++;
            return 0;
        }
    }
    if (row.retract)
        e = host->retract(pg->batch, row.ev.event_key);
    else
        e = host->emit(pg->batch, &row.ev, locator);
    if (e == -EINVAL && !row.retract) {
        pg->rejected++; /* refused by the host: it recorded the row with this locator */
        return 0;
    }
    if (e < 0)
        return e;
    pg->emitted++;
    if (tr->dedup && kpid_pull_wm_parse(tr->q->watermark_type, w, &wm, NULL) == 0 &&
        (e = kpid_pull_dedup_put(tr->dedup, row.ev.event_key, hash, wm)) < 0)
        return e;
    return 0;
}

/*
 * Notes when a row at (w, t) of an overlap window's page is past the query's position:
 * once a row has a later watermark, or is the position's row itself, every row after it
 * is. Rows that only tie with the position's watermark may sort before its tiebreaker
 * (the order of tiebreakers is the database's to know: numbers, a collation), so they
 * do not count.
 */
static void note_passed(kpid_pull_page *pg, const char *w, const char *t)
{
    int64_t now;

    if (pg->t->passed || !pg->pos ||
        kpid_pull_wm_parse(pg->t->q->watermark_type, w, &now, NULL) < 0)
        return;
    pg->t->passed = now > pg->pos_wm || (now == pg->pos_wm && strcmp(t, pg->pos->tiebreaker) == 0);
}

static int set_text(kpid_buf *b, const char *text)
{
    b->len = 0;
    return kpid_buf_append(b, text, strlen(text) + 1);
}

int kpid_pull_page_row(kpid_pull_page *pg, const kpid_pull_cols *cols, const char *const *values,
                       const char *reject)
{
    const char *w, *t;
    char why[256];
    int e;

    if (kpid_pull_row_position(pg->t->q, cols, values, &w, &t, why, sizeof(why)) < 0) {
        char locator[256];
        kpid_pull_row_locator(pg->t->q, cols->tiebreaker >= 0 ? values[cols->tiebreaker] : NULL,
                              locator, sizeof(locator));
        rlog(pg->r, KPID_LOG_ERR, "query failed query=%s row=\"%s\" error=\"%s\"", pg->t->q->name,
             locator, why);
        return -EINVAL;
    }
    note_passed(pg, w, t);
    if ((e = add_row(pg, cols, values, w, t, reject)) < 0 || (e = set_text(&pg->w, w)) < 0 ||
        (e = set_text(&pg->t_text, t)) < 0)
        return e;
    pg->rows++;
    return 0;
}

/* The cursor after the page's last row at (w, t): the query's next page starts there,
 * and its position moves there once the cycle has read past it (a page of an overlap
 * window behind it leaves it be: a position never moves back). */
static int advance(kpid_pull_reader *r, kpid_pull_track *t, const char *w, const char *tb)
{
    char *sw = strdup(w), *st = strdup(tb);

    if (!sw || !st) {
        free(sw);
        free(st);
        return -ENOMEM;
    }
    free(t->scan_w);
    free(t->scan_t);
    t->scan_w = sw;
    t->scan_t = st;
    if (!t->passed)
        return 0;
    return kpid_pull_cursor_set(&r->cursor, t->q, w, tb);
}

/* Submits the page's batch with the cursor after it, unless it holds nothing to write. */
static int submit(kpid_pull_page *pg)
{
    kpid_pull_reader *r = pg->r;
    char *before = strdup(r->cursor_text ? r->cursor_text : "");
    int e;

    if (!before)
        return -ENOMEM;
    if ((e = advance(r, pg->t, pg->w.data, pg->t_text.data)) < 0)
        goto out;
    r->text.len = 0;
    if ((e = kpid_pull_cursor_encode(&r->cursor, &r->text)) < 0) {
        rlog(r, KPID_LOG_ERR, "cannot encode the cursor error=\"%s\"", strerror(-e));
        goto out;
    }
    if (pg->emitted + pg->rejected == 0 && strcmp(r->text.data, before) == 0)
        goto out; /* read again, all of it unchanged: nothing to write */
    e = r->host->batch_submit(pg->batch, r->text.data, NULL);
    pg->batch = NULL; /* consumed in every case */
    if (e < 0)
        goto out;
    free(r->cursor_text);
    if (!(r->cursor_text = strdup(r->text.data)))
        e = -ENOMEM;
out:
    free(before);
    return e;
}

int kpid_pull_page_end(kpid_pull_page *pg, int err)
{
    const kpid_host *host = pg->r->host;
    kpid_pull_track *t = pg->t;

    if (err == 0) {
        host->counter_add(t->m_pages, 1);
        if (pg->rows > 0) /* else nothing new: the cursor stays */
            err = submit(pg);
        /* Past the position, the cursor moved to the page's last row: forget now what
         * the next cycle would, so that a backlog read in one cycle leaves a window's
         * keys in memory, not the whole backlog's. */
        if (err == 0 && t->passed && pg->rows > 0)
            forget_behind_window(t, pg->w.data);
    }
    if (pg->batch)
        host->batch_abort(pg->batch);
    pg->batch = NULL;
    host->counter_add(t->m_rows, (uint64_t)pg->rows);
    host->counter_add(t->m_skipped, pg->skipped);
    host->counter_add(t->m_rejected, pg->rejected);
    kpid_buf_free(&pg->w);
    kpid_buf_free(&pg->t_text);
    return err;
}
