/* lib/pull/reader: cycles of pages, the overlap window read again, rows committed late
 * behind the position, the cursor after each page, rejections, a stored cursor of
 * another order, and a query error. The "database" is a table in memory that a page
 * callback reads in (watermark, tiebreaker) order as a driver's statement would; the
 * host records each batch as text lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pull/dedup.h"
#include "pull/position.h"
#include "pull/reader.h"

/* ---- the host: batches as text ---- */

struct kpid_batch {
    char text[8192];
    size_t len;
};

struct kpid_metric {
    uint64_t value;
};

static struct {
    bool stop;
    int submits, aborts, open;
    char *cursor;        /* the last submitted cursor */
    char records[16384]; /* every submitted batch's lines */
    char logs[8192];
    struct kpid_metric metrics[16];
    int n_metrics;
} H;

static void add(kpid_batch *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(kpid_batch *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    b->len += (size_t)vsnprintf(b->text + b->len, sizeof(b->text) - b->len, fmt, ap);
    va_end(ap);
    assert_true(b->len < sizeof(b->text));
}

static void h_log(kpid_source *src, enum kpid_log_level level, const char *fmt, ...)
{
    size_t n = strlen(H.logs);
    va_list ap;

    (void)src;
    (void)level;
    va_start(ap, fmt);
    vsnprintf(H.logs + n, sizeof(H.logs) - n, fmt, ap);
    va_end(ap);
    n = strlen(H.logs);
    snprintf(H.logs + n, sizeof(H.logs) - n, "\n");
}
static bool h_stop(kpid_source *src)
{
    (void)src;
    return H.stop;
}
static int h_begin(kpid_source *src, kpid_batch **ret)
{
    (void)src;
    *ret = calloc(1, sizeof(**ret));
    H.open++;
    return *ret ? 0 : -ENOMEM;
}
static int h_emit(kpid_batch *b, const kpid_event *e, const char *loc)
{
    add(b, "E %s %s %s %lld\n", loc, e->event_key, e->activity, (long long)e->time_us);
    return 0;
}
static int h_retract(kpid_batch *b, const char *key)
{
    add(b, "D %s\n", key);
    return 0;
}
static int h_reject(kpid_batch *b, const char *loc, const char *why, const char *raw, size_t n)
{
    (void)raw;
    (void)n;
    add(b, "R %s %s\n", loc, why);
    return 0;
}
static int h_submit(kpid_batch *b, const char *cursor, uint64_t *ret_id)
{
    (void)ret_id;
    H.submits++;
    H.open--;
    free(H.cursor);
    H.cursor = strdup(cursor);
    strncat(H.records, b->text, sizeof(H.records) - strlen(H.records) - 1);
    free(b);
    return 0;
}
static void h_abort(kpid_batch *b)
{
    H.aborts++;
    H.open--;
    free(b);
}
static int h_metric_register(kpid_source *src, const kpid_metric_def *d, kpid_metric **ret)
{
    (void)src;
    assert_true(strncmp(d->name, "test_", 5) == 0);
    assert_true(H.n_metrics < 16);
    *ret = &H.metrics[H.n_metrics++];
    return 0;
}
static void h_counter_add(kpid_metric *m, uint64_t delta)
{
    if (m)
        m->value += delta;
}

static const kpid_host host = {
    .abi_major = KPID_ABI_MAJOR,
    .abi_minor = KPID_ABI_MINOR,
    .struct_size = sizeof(kpid_host),
    .log = h_log,
    .stop_requested = h_stop,
    .batch_begin = h_begin,
    .emit = h_emit,
    .retract = h_retract,
    .reject = h_reject,
    .batch_submit = h_submit,
    .batch_abort = h_abort,
    .metric_register = h_metric_register,
    .counter_add = h_counter_add,
};

/* ---- the database: one table, read in (updated_at, id) order ---- */

typedef struct his_row {
    char key[16], updated_at[40], id[16], t[40];
    bool null_time;
} his_row;

static his_row table[32];
static size_t n_table;
static int page_size = 2;
static int pages_read;

static kpid_pull_query query = {
    .name = (char *)"results",
    .sql = (char *)"SELECT * FROM his.results",
    .watermark = (char *)"updated_at",
    .tiebreaker = (char *)"id",
    .watermark_type = KPID_PULL_WM_TIMESTAMP,
    .overlap = 60 * 1000000LL,
    .activity = (char *)"LAB_RESULT",
    .event_key = (char *)"key",
    .time = (char *)"t",
};
static kpid_pull_spec spec = {.queries = &query, .n_queries = 1};
static kpid_pull_reader R;
static kpid_pull_cols cols;

/* A row updated at 10:00:SS (s may exceed 59: minutes follow). */
static void insert(const char *key, int s, int id)
{
    his_row *r = &table[n_table++];

    memset(r, 0, sizeof(*r));
    snprintf(r->key, sizeof(r->key), "%s", key);
    snprintf(r->updated_at, sizeof(r->updated_at), "2024-03-01 10:%02d:%02d+00", s / 60, s % 60);
    snprintf(r->id, sizeof(r->id), "%d", id);
    snprintf(r->t, sizeof(r->t), "2024-03-01 09:00:%02d+00", id % 60);
}

/* A watermark's value; what is not one sorts last (the query error of a test). */
static int64_t wm(const char *text)
{
    int64_t v = 0;

    return kpid_pull_wm_parse(KPID_PULL_WM_TIMESTAMP, text, &v, NULL) == 0 ? v : INT64_MAX;
}

static int cmp_rows(const void *a, const void *b)
{
    const his_row *x = a, *y = b;
    int64_t wx = wm(x->updated_at), wy = wm(y->updated_at);

    if (wx != wy)
        return wx < wy ? -1 : 1;
    return atoi(x->id) - atoi(y->id);
}

static int connect_cb(void *ctx)
{
    (void)ctx;
    return 0;
}

/* One page: the rows a paging statement of `from` returns, at most page_size. */
static int page_cb(void *ctx, size_t i)
{
    kpid_pull_track *t = &R.tracks[i];
    enum kpid_pull_from from;
    char start[KPID_PULL_WM_TEXT_MAX];
    const char *w, *tb;
    kpid_pull_page pg;
    int n = 0, r;

    (void)ctx;
    pages_read++;
    if ((r = kpid_pull_reader_start(&R, t, &from, start, sizeof(start), &w, &tb)) < 0)
        return r;
    qsort(table, n_table, sizeof(table[0]), cmp_rows);
    kpid_pull_page_begin(&pg, &R, t);
    for (size_t k = 0; k < n_table && n < page_size && r == 0; k++) {
        const his_row *row = &table[k];
        int64_t rw = wm(row->updated_at);
        if (from == KPID_PULL_FROM_AT && rw < wm(w))
            continue;
        if (from == KPID_PULL_FROM_AFTER &&
            (rw < wm(w) || (rw == wm(w) && atoi(row->id) <= atoi(tb))))
            continue;
        const char *values[4] = {row->key, row->updated_at, row->id,
                                 row->null_time ? NULL : row->t};
        r = kpid_pull_page_row(&pg, &cols, values, NULL);
        n++;
    }
    if ((r = kpid_pull_page_end(&pg, r)) < 0)
        return r;
    return n == page_size ? 1 : 0;
}

/* Polls as the host does, with the last submitted cursor, until IDLE; returns the polls
 * or the negative errno of a failed one. */
static int cycle(void)
{
    for (int polls = 1; polls <= 50; polls++) {
        int r = kpid_pull_reader_poll(&R, H.cursor, connect_cb, page_cb, NULL);
        if (r < 0)
            return r;
        if (r == KPID_POLL_IDLE)
            return polls;
        assert_int_equal(r, KPID_POLL_MORE);
    }
    fail_msg("the cycle did not end");
    return -1;
}

/* The records submitted since the last call, taken. */
static void expect(const char *want)
{
    assert_string_equal(H.records, want);
    H.records[0] = '\0';
}

static void expect_position(const char *w, const char *t)
{
    kpid_pull_cursor c = {0};
    char err[128];

    assert_non_null(H.cursor);
    assert_int_equal(kpid_pull_cursor_decode(H.cursor, strlen(H.cursor), &c, err, sizeof(err)), 0);
    const kpid_pull_position *p = kpid_pull_cursor_find(&c, "results");
    assert_non_null(p);
    assert_string_equal(p->watermark, w);
    assert_string_equal(p->tiebreaker, t);
    kpid_pull_cursor_clear(&c);
}

static int setup(void **state)
{
    static const char *const names[4] = {"key", "updated_at", "id", "t"};
    static const enum kpid_pull_coltype types[4] = {KPID_PULL_COL_TEXT, KPID_PULL_COL_TIMESTAMPTZ,
                                                    KPID_PULL_COL_INTEGER,
                                                    KPID_PULL_COL_TIMESTAMPTZ};
    char *error = NULL;

    (void)state;
    memset(&H, 0, sizeof(H));
    n_table = 0;
    page_size = 2;
    pages_read = 0;
    memset(&R, 0, sizeof(R));
    assert_int_equal(kpid_pull_reader_init(&R, &host, NULL, &spec, 1000, "test"), 0);
    assert_int_equal(H.n_metrics, 4);
    memset(&cols, 0, sizeof(cols));
    assert_int_equal(kpid_pull_resolve(&query, 4, names, types, &cols, &error), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kpid_pull_reader_free(&R);
    kpid_pull_cols_clear(&cols);
    free(H.cursor);
    assert_int_equal(H.open, 0); /* every batch submitted or aborted */
    return 0;
}

/* Pages of a cycle; the overlap window read again unchanged writes nothing; a row
 * committed late behind the position is read in the next cycle and the position does
 * not move back; an updated row moves it on. */
static void test_cycles_and_overlap(void **state)
{
    (void)state;
    for (int i = 1; i <= 5; i++) {
        char key[16];
        snprintf(key, sizeof(key), "r%d", i);
        insert(key, i, i);
    }
    assert_int_equal(cycle(), 3); /* pages of 2, 2 and 1 */
    expect("E query:results key:1 r1 LAB_RESULT 1709283601000000\n"
           "E query:results key:2 r2 LAB_RESULT 1709283602000000\n"
           "E query:results key:3 r3 LAB_RESULT 1709283603000000\n"
           "E query:results key:4 r4 LAB_RESULT 1709283604000000\n"
           "E query:results key:5 r5 LAB_RESULT 1709283605000000\n");
    assert_int_equal(H.submits, 3);
    expect_position("2024-03-01 10:00:05+00", "5");

    /* The window (60 s behind 10:00:05) again: every row known, nothing written. */
    pages_read = 0;
    assert_int_equal(cycle(), 3);
    assert_int_equal(pages_read, 3);
    expect("");
    assert_int_equal(H.submits, 3);
    assert_int_equal(H.metrics[1].value, 5); /* skipped_total */

    /* A row that commits late, behind the position: read, and the position stays. Six
     * rows: three full pages and an empty one. */
    insert("r6", 3, 6);
    assert_int_equal(cycle(), 4);
    expect("E query:results key:6 r6 LAB_RESULT 1709283606000000\n");
    expect_position("2024-03-01 10:00:05+00", "5");

    /* An updated row (its updated_at later): read again, and the position follows it. */
    strcpy(table[1].t, "2024-03-01 09:30:00+00"); /* r2, sorted second */
    assert_string_equal(table[1].key, "r2");
    strcpy(table[1].updated_at, "2024-03-01 10:00:09+00");
    assert_int_equal(cycle(), 4);
    expect("E query:results key:2 r2 LAB_RESULT 1709285400000000\n");
    expect_position("2024-03-01 10:00:09+00", "2");
    assert_int_equal(H.metrics[0].value, 5 + 5 + 6 + 6); /* rows_total */
    assert_int_equal(H.metrics[3].value, 3 + 3 + 4 + 4); /* pages_total */
}

/* A backlog read in one cycle leaves only the keys of the last page's overlap window in
 * the dedup set, not every key read; the next cycle reads that window again and writes
 * nothing. */
static void test_backlog_keeps_a_window(void **state)
{
    (void)state;
    for (int i = 1; i <= 30; i++) {
        char key[16];
        snprintf(key, sizeof(key), "b%d", i);
        insert(key, 10 * i, i); /* 10:00:10 .. 10:05:00, 60 s window: the last 7 rows */
    }
    assert_int_equal(cycle(), 16); /* 15 full pages, and an empty one */
    assert_int_equal(H.submits, 15);
    assert_int_equal(kpid_pull_dedup_size(R.tracks[0].dedup), 7);
    expect_position("2024-03-01 10:05:00+00", "30");

    H.records[0] = '\0';
    pages_read = 0;
    assert_int_equal(cycle(), 4); /* the window: 7 rows in pages of 2 */
    assert_int_equal(pages_read, 4);
    expect("");
    assert_int_equal(H.submits, 15);
    assert_int_equal(kpid_pull_dedup_size(R.tracks[0].dedup), 7);
}

/* Rows beyond the window are not read again; a host cursor that is not the one last
 * submitted (a failure: the host starts from what is durable) is taken, and the dedup
 * set forgotten, so the rows after it are written again. */
static void test_window_and_host_cursor(void **state)
{
    (void)state;
    page_size = 10;
    insert("old", 0, 1);
    insert("new", 200, 2); /* 10:03:20 */
    assert_int_equal(cycle(), 1);
    expect("E query:results key:1 old LAB_RESULT 1709283601000000\n"
           "E query:results key:2 new LAB_RESULT 1709283602000000\n");
    char *durable = strdup(H.cursor);
    insert("later", 300, 3);
    assert_int_equal(cycle(), 1);
    expect("E query:results key:3 later LAB_RESULT 1709283603000000\n");
    /* Back to the older cursor: 10:03:20 and what follows within its window. */
    free(H.cursor);
    H.cursor = durable;
    assert_int_equal(cycle(), 1);
    expect("E query:results key:2 new LAB_RESULT 1709283602000000\n"
           "E query:results key:3 later LAB_RESULT 1709283603000000\n");
    expect_position("2024-03-01 10:05:00+00", "3");
}

/* A row without its time is rejected and the page goes on; a row without a watermark
 * fails the query (logged) and the batch is abandoned; asked to stop: IDLE, no page. */
static void test_reject_error_stop(void **state)
{
    (void)state;
    page_size = 10;
    insert("a", 1, 1);
    insert("b", 2, 2);
    table[0].null_time = true;
    assert_int_equal(cycle(), 1);
    expect("R query:results key:1 time is NULL\n"
           "E query:results key:2 b LAB_RESULT 1709283602000000\n");
    assert_int_equal(H.metrics[2].value, 1); /* rejected_total */

    insert("c", 3, 3);
    strcpy(table[2].updated_at, "not a time");
    int aborts = H.aborts;
    assert_int_equal(cycle(), -EINVAL);
    assert_non_null(strstr(H.logs, "query failed query=results row=\"query:results key:3\""));
    expect("");
    assert_int_equal(H.aborts, aborts + 1);

    H.stop = true;
    pages_read = 0;
    assert_int_equal(kpid_pull_reader_poll(&R, H.cursor, connect_cb, page_cb, NULL),
                     KPID_POLL_IDLE);
    assert_int_equal(pages_read, 0);
}

/* A stored position of another order (the watermark column changed): a warning, and the
 * query is read from its beginning. */
static void test_cursor_of_another_order(void **state)
{
    kpid_pull_query other = query;
    kpid_pull_cursor c = {0};
    kpid_buf text = {0};

    (void)state;
    other.watermark = (char *)"created_at";
    assert_int_equal(kpid_pull_cursor_set(&c, &other, "2024-03-01 11:00:00+00", "9"), 0);
    assert_int_equal(kpid_pull_cursor_encode(&c, &text), 0);
    H.cursor = strdup(text.data);
    kpid_pull_cursor_clear(&c);
    kpid_buf_free(&text);
    page_size = 10;
    insert("a", 1, 1);
    assert_int_equal(cycle(), 1);
    assert_non_null(strstr(H.logs, "the query's order changed since its cursor was stored"));
    expect("E query:results key:1 a LAB_RESULT 1709283601000000\n");
    expect_position("2024-03-01 10:00:01+00", "1");

    /* A cursor that is not one: an error naming the fix, no page. */
    free(H.cursor);
    H.cursor = strdup("{\"v\":7}");
    pages_read = 0;
    assert_int_equal(kpid_pull_reader_poll(&R, H.cursor, connect_cb, page_cb, NULL), -EINVAL);
    assert_int_equal(pages_read, 0);
    assert_non_null(strstr(H.logs, "the stored cursor is invalid"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cycles_and_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_keeps_a_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_and_host_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_error_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_of_another_order, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
