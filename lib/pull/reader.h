/*
 * The reading of a pull source's queries, whatever the driver: where each query's next
 * page starts (its position in the cursor, or the overlap window behind it), the poll
 * cycle of pages, the rows of a page as one batch, and the cursor after it. The plugins
 * pgsql and odbc add their driver: a connection and one page's statement and rows.
 *
 * A poll cycle starts when kpid_pull_reader_poll is called after it returned IDLE: every
 * query then has pages to read, the first one from its position, or, with an overlap,
 * from the overlap window behind it. Each poll reads at most one page of each query that
 * still has pages in the cycle and returns MORE while a page came back full.
 *
 * A page: kpid_pull_page_begin, kpid_pull_page_row for each row the driver read (in the
 * query's order), kpid_pull_page_end. The page's rows go into one batch with the cursor
 * after its last row; a page of the overlap window that has not read past the query's
 * position leaves the position where it is, and rows it reads again unchanged are
 * skipped (the query's dedup set).
 *
 * Thread ownership: everything here belongs to the source thread.
 */
#ifndef KPID_PULL_READER_H
#define KPID_PULL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kpid/plugin.h>

#include "buf/buf.h"
#include "pull/cursor.h"
#include "pull/dedup.h"
#include "pull/row.h"
#include "pull/spec.h"
#include "pull/wrap.h"

/* One query as the reader follows it. */
typedef struct kpid_pull_track {
    const kpid_pull_query *q;
    kpid_pull_dedup *dedup; /* with an overlap: rows emitted within its window */
    bool pending;           /* it has pages to read in this cycle */
    char *scan_w, *scan_t;  /* where the cycle's next page starts; NULL: its first page */
    bool passed;            /* the cycle has read past the position: the position follows */
    kpid_metric *m_rows, *m_skipped, *m_rejected, *m_pages;
} kpid_pull_track;

typedef struct kpid_pull_reader {
    const kpid_host *host;
    kpid_source *src;
    kpid_pull_track *tracks; /* one per query of the spec, in its order */
    size_t n_tracks;
    bool cycle; /* a cycle is under way (the last poll returned MORE) */

    kpid_pull_cursor cursor; /* the positions as of the last submitted batch */
    char *cursor_text;       /* its text, what poll() is given back; NULL: none yet */
    bool cursor_loaded;
    kpid_buf text; /* the cursor being encoded */
    kpid_pull_rowbuf rowbuf;
} kpid_pull_reader;

/*
 * Sets up r (zero-initialized by the caller) for spec's queries (spec must outlive r):
 * a dedup set of at most overlap_max_keys keys for each query with an overlap, and the
 * counters PREFIX_rows_total, PREFIX_skipped_total, PREFIX_rejected_total and
 * PREFIX_pages_total labelled by query (prefix: "pgsql", "odbc"). Returns 0 or -ENOMEM;
 * free with kpid_pull_reader_free in either case.
 */
int kpid_pull_reader_init(kpid_pull_reader *r, const kpid_host *host, kpid_source *src,
                          const kpid_pull_spec *spec, size_t overlap_max_keys, const char *prefix);

void kpid_pull_reader_free(kpid_pull_reader *r);

/*
 * Reads one page of track i. Returns 1 when the page was full (the query has more pages
 * in this cycle), 0 when it was not, or a negative errno (logged): -ECANCELED when the
 * source is asked to stop.
 */
typedef int (*kpid_pull_page_fn)(void *ctx, size_t i);

/*
 * One poll of the source (the plugin's poll()): takes the host's cursor when it is not
 * the one last submitted (after a failure the host starts again from what is durable),
 * connects (connect(ctx): 0 or a negative errno, -ECANCELED when asked to stop), starts
 * a cycle if none is under way, and reads a page of each query that has pages in it.
 * Returns KPID_POLL_MORE, KPID_POLL_IDLE (also when the source is asked to stop), or a
 * negative errno (logged), after which the next poll starts a new cycle.
 */
int kpid_pull_reader_poll(kpid_pull_reader *r, const char *cursor, int (*connect)(void *ctx),
                          kpid_pull_page_fn page, void *ctx);

/* The position of track t in the cursor, when it is in t's order; else NULL. */
const kpid_pull_position *kpid_pull_reader_position(const kpid_pull_reader *r,
                                                    const kpid_pull_track *t);

/*
 * Where track t's next page starts: *ret_from, and the watermark and tiebreaker texts
 * its statement takes (*ret_w, *ret_t; NULL when it takes none; they point into t, the
 * cursor or start, a buffer of start_size >= KPID_PULL_WM_TEXT_MAX bytes). Returns 0,
 * or -EINVAL (logged) when the cursor's watermark is not of the query's type.
 */
int kpid_pull_reader_start(const kpid_pull_reader *r, const kpid_pull_track *t,
                           enum kpid_pull_from *ret_from, char *start, size_t start_size,
                           const char **ret_w, const char **ret_t);

/* One page of one query while its rows are added. */
typedef struct kpid_pull_page {
    kpid_pull_reader *r;
    kpid_pull_track *t;
    kpid_batch *batch;             /* begun at its first row */
    const kpid_pull_position *pos; /* the query's position as the page began, or NULL */
    int64_t pos_wm;                /* and its watermark's value */
    kpid_buf w, t_text;            /* the position of its last row */
    int64_t rows;                  /* rows added */
    uint64_t emitted, skipped, rejected;
} kpid_pull_page;

/* Begins a page of track t (before its statement runs). */
void kpid_pull_page_begin(kpid_pull_page *pg, kpid_pull_reader *r, kpid_pull_track *t);

/*
 * Adds a row of the page: values[] as the driver read them (text, NULL for SQL NULL),
 * one per result column, cols where the query's columns are. The row becomes an event, a
 * retraction, a rejection (kpid.rejected, locator "query:NAME key:TIEBREAKER", the
 * reason naming columns only; reject, if not NULL, is a reason the driver found), or
 * nothing when the overlap window reads it again unchanged. Returns 0, or -EINVAL
 * (logged: a query error) when the row has no valid watermark or tiebreaker, or another
 * negative errno.
 */
int kpid_pull_page_row(kpid_pull_page *pg, const kpid_pull_cols *cols, const char *const *values,
                       const char *reject);

/*
 * Ends the page. With err == 0 (its statement and rows were read): the query's next page
 * starts after its last row, the position follows once the cycle has read past it, and
 * the rows go as one batch with the cursor after them (none when every row was read
 * again unchanged and the cursor did not move). With err < 0 the batch is abandoned.
 * Adds the page to the counters and frees what it held. Returns err, or 0, or a negative
 * errno from the submission.
 */
int kpid_pull_page_end(kpid_pull_page *pg, int err);

#endif
