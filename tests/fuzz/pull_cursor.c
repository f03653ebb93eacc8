/*
 * Fuzz target for lib/pull's parsers of text that comes from outside: the cursor as
 * kpid.cursor hands it back (pull/cursor.h), watermarks and event times as a database
 * prints them (pull/position.h), and a query's SQL as the configuration holds it
 * (kpid_pull_sql_check). What comes out is held to the headers' promises: a decoded
 * cursor has valid names, columns and watermarks of its types, encodes within
 * KPID_PULL_CURSOR_MAX and decodes back to the same text; a time is within years 0001
 * to 9999; an accepted SQL text is trimmed, never longer than the input. A broken promise
 * aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pull/cursor.h"
#include "pull/position.h"
#include "pull/spec.h"
#include "time/timestamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

static void check_cursor(const char *text, size_t size)
{
    kpid_pull_cursor c = {0}, d = {0};
    kpid_buf out = {0};
    char err[256];
    int64_t v;

    int r = kpid_pull_cursor_decode(text, size, &c, err, sizeof(err));
    CHECK(r == 0 || r == -ENOMEM || (r == -EINVAL && err[0] && strlen(err) < sizeof(err)));
    if (r != 0)
        return;
    CHECK(c.n <= KPID_PULL_QUERIES_MAX);
    for (size_t i = 0; i < c.n; i++) {
        const kpid_pull_position *p = &c.v[i];
        CHECK(p->name[0] && strlen(p->name) <= KPID_PULL_NAME_MAX);
        CHECK(p->watermark_column[0] && p->tiebreaker_column[0]);
        CHECK(strlen(p->watermark) <= KPID_PULL_VALUE_MAX);
        CHECK(strlen(p->tiebreaker) <= KPID_PULL_VALUE_MAX);
        CHECK(kpid_pull_wm_parse(p->type, p->watermark, &v, NULL) == 0);
        CHECK(kpid_pull_cursor_find(&c, p->name) == p);
    }
    r = kpid_pull_cursor_encode(&c, &out);
    CHECK(r == 0 || r == -ENOMEM);
    if (r == 0) {
        CHECK(out.len <= KPID_PULL_CURSOR_MAX && strlen(out.data) == out.len);
        r = kpid_pull_cursor_decode(out.data, out.len, &d, err, sizeof(err));
        CHECK(r == 0 || r == -ENOMEM);
        if (r == 0) {
            kpid_buf again = {0};
            CHECK(d.n == c.n);
            if (kpid_pull_cursor_encode(&d, &again) == 0)
                CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
            kpid_buf_free(&again);
        }
    }
    kpid_buf_free(&out);
    kpid_pull_cursor_clear(&c);
    kpid_pull_cursor_clear(&d);
}

static void check_positions(const char *text, size_t size)
{
    kpid_pull_query q = {.name = (char *)"q", .watermark = (char *)"w", .tiebreaker = (char *)"t"};
    char start[KPID_PULL_WM_TEXT_MAX];
    int64_t us, v, s;

    if (kpid_pull_time_parse(text, size, &us, NULL) == 0)
        CHECK(us >= KPID_TIME_MIN_US && us <= KPID_TIME_MAX_US);
    if (memchr(text, '\0', size))
        return;
    for (int type = KPID_PULL_WM_TIMESTAMP; type <= KPID_PULL_WM_INTEGER; type++) {
        q.watermark_type = (enum kpid_pull_wm_type)type;
        q.overlap = size > 0 ? (int64_t)(unsigned char)text[0] * 1000003 : 0;
        if (kpid_pull_wm_parse(q.watermark_type, text, &v, NULL) < 0) {
            CHECK(kpid_pull_overlap_start(&q, text, start, sizeof(start), NULL) == -EINVAL);
            continue;
        }
        int r = kpid_pull_overlap_start(&q, text, start, sizeof(start), &s);
        CHECK(r == 0 || r == 1);
        if (r == 1) {
            int64_t back;
            CHECK(s == v - q.overlap);
            CHECK(kpid_pull_wm_parse(q.watermark_type, start, &back, NULL) == 0 && back == s);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), why[256];

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    check_cursor(text, size);
    check_positions(text, size);
    long n = kpid_pull_sql_check(text, size, why, sizeof(why));
    CHECK(n == -EINVAL || (n > 0 && (size_t)n <= size));
    if (n > 0) /* what it trimmed to is accepted as it is */
        CHECK(kpid_pull_sql_check(text, (size_t)n, why, sizeof(why)) == n);
    free(text);
    return 0;
}
