/* The cursor of a HIS database source, encoded and decoded (cursor.h). */
#include "pull/cursor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "pull/position.h"
#include "text/utf8.h"

#define FIELDS 5

/* The fields of a position, in the order they are written. */
static const char *const field_names[FIELDS] = {"type", "watermark_column", "tiebreaker_column",
                                                "watermark", "tiebreaker"};

static void position_free(kpid_pull_position *p)
{
    free(p->name);
    free(p->watermark_column);
    free(p->tiebreaker_column);
    free(p->watermark);
    free(p->tiebreaker);
    *p = (kpid_pull_position){0};
}

void kpid_pull_cursor_clear(kpid_pull_cursor *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        position_free(&c->v[i]);
    free(c->v);
    *c = (kpid_pull_cursor){0};
}

const kpid_pull_position *kpid_pull_cursor_find(const kpid_pull_cursor *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return &c->v[i];
    return NULL;
}

void kpid_pull_cursor_remove(kpid_pull_cursor *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0) {
            position_free(&c->v[i]);
            memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof(c->v[0]));
            c->n--;
            return;
        }
}

bool kpid_pull_position_matches(const kpid_pull_position *p, const kpid_pull_query *q)
{
    return p->type == q->watermark_type && strcmp(p->watermark_column, q->watermark) == 0 &&
           strcmp(p->tiebreaker_column, q->tiebreaker) == 0;
}

static int value_check(const char *s)
{
    size_t n = strlen(s);

    if (n > KPID_PULL_VALUE_MAX)
        return -E2BIG;
    return kpid_utf8_valid(s, n) ? 0 : -EINVAL;
}

/* Appends p to c, taking its strings. */
static int append(kpid_pull_cursor *c, kpid_pull_position *p)
{
    if (c->n == c->cap) {
        size_t cap = c->cap;
        kpid_pull_position *v = kpid_array_grow(c->v, &cap, sizeof(*v));
        if (!v)
            return -ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = *p;
    *p = (kpid_pull_position){0};
    return 0;
}

int kpid_pull_cursor_set(kpid_pull_cursor *c, const kpid_pull_query *q, const char *watermark,
                         const char *tiebreaker)
{
    kpid_pull_position p = {.type = q->watermark_type};
    int64_t v;
    int r;

    if ((r = value_check(watermark)) < 0 || (r = value_check(tiebreaker)) < 0)
        return r;
    if (kpid_pull_wm_parse(q->watermark_type, watermark, &v, NULL) < 0)
        return -EINVAL;
    if (!(p.name = strdup(q->name)) || !(p.watermark_column = strdup(q->watermark)) ||
        !(p.tiebreaker_column = strdup(q->tiebreaker)) || !(p.watermark = strdup(watermark)) ||
        !(p.tiebreaker = strdup(tiebreaker))) {
        position_free(&p);
        return -ENOMEM;
    }
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, q->name) == 0) {
            position_free(&c->v[i]);
            c->v[i] = p;
            return 0;
        }
    if ((r = append(c, &p)) < 0)
        position_free(&p);
    return r;
}

int kpid_pull_cursor_encode(const kpid_pull_cursor *c, kpid_buf *out)
{
    static const char head[] = "{\"v\":1,\"queries\":{";
    size_t mark = out->len;
    int r = kpid_buf_append(out, head, sizeof(head) - 1);

    for (size_t i = 0; r == 0 && i < c->n; i++) {
        const kpid_pull_position *p = &c->v[i];
        const char *values[FIELDS] = {kpid_pull_wm_type_name(p->type), p->watermark_column,
                                      p->tiebreaker_column, p->watermark, p->tiebreaker};
        if (i > 0)
            r = kpid_buf_putc(out, ',');
        if (r == 0)
            r = kpid_json_put_string(out, p->name, strlen(p->name));
        if (r == 0)
            r = kpid_buf_append(out, ":{", 2);
        for (size_t f = 0; r == 0 && f < FIELDS; f++) {
            if (f > 0)
                r = kpid_buf_putc(out, ',');
            if (r == 0)
                r = kpid_json_put_string(out, field_names[f], strlen(field_names[f]));
            if (r == 0)
                r = kpid_buf_putc(out, ':');
            if (r == 0)
                r = kpid_json_put_string(out, values[f], strlen(values[f]));
        }
        if (r == 0)
            r = kpid_buf_putc(out, '}');
    }
    if (r == 0)
        r = kpid_buf_append(out, "}}", 3); /* with the NUL, taken back below */
    if (r == 0 && out->len - 1 - mark > KPID_PULL_CURSOR_MAX)
        r = -E2BIG;
    if (r < 0) {
        out->len = mark;
        return r;
    }
    out->len--;
    return 0;
}

/* ---- decoding ---- */

typedef struct decoder {
    kpid_json js;
    kpid_buf str;
    char *err;
    size_t err_size;
} decoder;

__attribute__((format(printf, 2, 3))) static int invalid(decoder *d, const char *fmt, ...)
{
    va_list ap;

    if (d->err_size > 0) {
        va_start(ap, fmt);
        vsnprintf(d->err, d->err_size, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* After a scanner failure r: the message, or r itself for -ENOMEM. */
static int scan_failed(decoder *d, int r)
{
    if (r == -ENOMEM)
        return r;
    return invalid(d, "not valid JSON: %s at byte %zu", kpid_json_error_text(d->js.error),
                   d->js.error_pos);
}

/* Reads a string value into a fresh copy. */
static int read_string(decoder *d, const char *what, char **ret)
{
    int r;

    if (kpid_json_peek(&d->js) != KPID_JSON_STRING)
        return invalid(d, "%s must be a string", what);
    d->str.len = 0;
    if ((r = kpid_json_string(&d->js, &d->str)) < 0)
        return scan_failed(d, r);
    if (!(*ret = strdup(d->str.data)))
        return -ENOMEM;
    return 0;
}

static bool column_ok(const char *s)
{
    size_t n = strlen(s);
    unsigned cp;

    return n >= 1 && n <= KPID_PULL_COLUMN_MAX && kpid_utf8_find_control(s, n, &cp) < 0;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > KPID_PULL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* Checks the fields of p once all are set. */
static int check_position(decoder *d, const kpid_pull_position *p)
{
    const char *name = p->name, *why = NULL;
    int64_t v;

    if (!column_ok(p->watermark_column) || !column_ok(p->tiebreaker_column))
        return invalid(d,
                       "queries.%s names a column that is empty, too long or has control "
                       "characters",
                       name);
    if (strlen(p->watermark) > KPID_PULL_VALUE_MAX || strlen(p->tiebreaker) > KPID_PULL_VALUE_MAX)
        return invalid(d, "queries.%s has a value longer than %d bytes", name, KPID_PULL_VALUE_MAX);
    if (kpid_pull_wm_parse(p->type, p->watermark, &v, &why) < 0)
        return invalid(d, "queries.%s.watermark is not a %s: %s", name,
                       kpid_pull_wm_type_name(p->type), why ? why : "invalid");
    return 0;
}

/* Reads the fields of the object at the scanner into fields[] (each at most once: the
 * scanner refuses duplicate keys). */
static int read_fields(decoder *d, const char *name, char **fields)
{
    kpid_json_iter it;
    const char *key;
    int r;

    if (kpid_json_peek(&d->js) != KPID_JSON_OBJECT)
        return invalid(d, "queries.%s must be an object", name);
    if ((r = kpid_json_enter(&d->js, &it)) < 0)
        return scan_failed(d, r);
    while ((r = kpid_json_next(&d->js, &it, &key, NULL)) > 0) {
        size_t f = 0;
        while (f < FIELDS && strcmp(key, field_names[f]) != 0)
            f++;
        if (f == FIELDS)
            return invalid(d, "queries.%s has an unknown key", name);
        if ((r = read_string(d, field_names[f], &fields[f])) < 0)
            return r;
    }
    if (r < 0)
        return scan_failed(d, r);
    for (size_t f = 0; f < FIELDS; f++)
        if (!fields[f])
            return invalid(d, "queries.%s has no %s", name, field_names[f]);
    if (strcmp(fields[0], "timestamp") != 0 && strcmp(fields[0], "integer") != 0)
        return invalid(d, "queries.%s.type must be \"timestamp\" or \"integer\"", name);
    return 0;
}

static int decode_position(decoder *d, kpid_pull_position *p)
{
    char *fields[FIELDS] = {0};
    int r = read_fields(d, p->name, fields);

    if (r == 0 && fields[0]) {
        p->type = strcmp(fields[0], "integer") == 0 ? KPID_PULL_WM_INTEGER : KPID_PULL_WM_TIMESTAMP;
        p->watermark_column = fields[1];
        p->tiebreaker_column = fields[2];
        p->watermark = fields[3];
        p->tiebreaker = fields[4];
        free(fields[0]);
        return check_position(d, p);
    }
    for (size_t f = 0; f < FIELDS; f++)
        free(fields[f]);
    return r < 0 ? r : -EINVAL;
}

static int decode_queries(decoder *d, kpid_pull_cursor *c)
{
    kpid_json_iter it;
    const char *key;
    int r;

    if (kpid_json_peek(&d->js) != KPID_JSON_OBJECT)
        return invalid(d, "\"queries\" must be an object");
    if ((r = kpid_json_enter(&d->js, &it)) < 0)
        return scan_failed(d, r);
    while ((r = kpid_json_next(&d->js, &it, &key, NULL)) > 0) {
        kpid_pull_position p = {0};
        if (!name_ok(key))
            return invalid(d, "a query name in \"queries\" is not [a-z0-9_]{1,%d}",
                           KPID_PULL_NAME_MAX);
        if (c->n >= KPID_PULL_QUERIES_MAX)
            return invalid(d, "more than %d queries", KPID_PULL_QUERIES_MAX);
        if (!(p.name = strdup(key)))
            return -ENOMEM;
        if ((r = decode_position(d, &p)) < 0 || (r = append(c, &p)) < 0) {
            position_free(&p);
            return r;
        }
    }
    return r < 0 ? scan_failed(d, r) : 0;
}

static int decode_top(decoder *d, kpid_pull_cursor *c)
{
    kpid_json_iter it;
    const char *key, *num;
    size_t num_len;
    bool has_v = false, has_queries = false;
    int r;

    if (kpid_json_peek(&d->js) != KPID_JSON_OBJECT)
        return invalid(d, "not a JSON object");
    if ((r = kpid_json_enter(&d->js, &it)) < 0)
        return scan_failed(d, r);
    while ((r = kpid_json_next(&d->js, &it, &key, NULL)) > 0) {
        if (strcmp(key, "v") == 0) {
            if (kpid_json_peek(&d->js) != KPID_JSON_NUMBER)
                return invalid(d, "\"v\" must be a number");
            if ((r = kpid_json_number(&d->js, &num, &num_len)) < 0)
                return scan_failed(d, r);
            if (num_len != 1 || num[0] != '0' + KPID_PULL_CURSOR_VERSION)
                return invalid(d, "version %.*s is not supported; this plugin reads version %d",
                               (int)(num_len > 20 ? 20 : num_len), num, KPID_PULL_CURSOR_VERSION);
            has_v = true;
        } else if (strcmp(key, "queries") == 0) {
            if ((r = decode_queries(d, c)) < 0)
                return r;
            has_queries = true;
        } else {
            return invalid(d, "unknown top-level key");
        }
    }
    if (r < 0)
        return scan_failed(d, r);
    if (!has_v)
        return invalid(d, "no version (\"v\")");
    if (!has_queries)
        return invalid(d, "no \"queries\"");
    if ((r = kpid_json_end(&d->js)) < 0)
        return scan_failed(d, r);
    return 0;
}

int kpid_pull_cursor_decode(const char *text, size_t len, kpid_pull_cursor *ret, char *err,
                            size_t err_size)
{
    decoder d = {.err = err, .err_size = err_size};
    kpid_pull_cursor c = {0};
    int r;

    if (err_size > 0)
        err[0] = '\0';
    if (len > KPID_PULL_CURSOR_MAX)
        return invalid(&d, "longer than %d bytes", KPID_PULL_CURSOR_MAX);
    kpid_json_begin(&d.js, text, len, 3);
    r = decode_top(&d, &c);
    if (r == -ENOMEM && err_size > 0)
        snprintf(err, err_size, "out of memory");
    if (r == 0) {
        *ret = c;
        c = (kpid_pull_cursor){0};
    }
    kpid_pull_cursor_clear(&c);
    kpid_json_clear(&d.js);
    kpid_buf_free(&d.str);
    return r;
}
