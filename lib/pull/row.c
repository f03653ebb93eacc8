/* One result row as an event, a retraction or a rejection (row.h). */
#include "pull/row.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pull/cursor.h"
#include "pull/position.h"
#include "text/ident.h"
#include "text/utf8.h"

#define EVENT_KEY_MAX 512 /* the host's limit of event_key */
#define LOCATOR_KEY_MAX 128

void kpid_pull_rowbuf_free(kpid_pull_rowbuf *buf)
{
    kpid_buf_free(&buf->attrs);
    kpid_json_clear(&buf->json);
}

/* Writes why (why_size bytes) and returns r: 1 (the row is rejected) or -EINVAL. */
__attribute__((format(printf, 4, 5))) static int say(int r, char *why, size_t why_size,
                                                     const char *fmt, ...)
{
    va_list ap;

    if (why_size > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return r;
}

#define reject(why, why_size, ...) say(1, why, why_size, __VA_ARGS__)

static bool printable(const char *s)
{
    size_t n = strlen(s);
    unsigned cp;

    return kpid_utf8_valid(s, n) && kpid_utf8_find_control(s, n, &cp) < 0;
}

/*
 * Whether the text is a decimal number: [+-]digits[.digits][(e|E)[+-]digits], also
 * ".5" and "5." (as some databases print them). JSON numbers are a subset.
 */
static bool decimal_text(const char *s)
{
    size_t digits = 0;

    if (*s == '+' || *s == '-')
        s++;
    for (; *s >= '0' && *s <= '9'; s++)
        digits++;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            digits++;
    if (digits == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* Whether the text is a JSON number as written (RFC 8259's grammar). */
static bool json_number_text(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        if (*++s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* A boolean as databases print them: 1 true, 0 false, -1 neither. */
static int boolean_text(const char *s)
{
    static const char *const yes[] = {"t", "true", "1", "y", "yes", "on"};
    static const char *const no[] = {"f", "false", "0", "n", "no", "off"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return 1;
        if (strcasecmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* Appends "name": and the value of an attribute column of type t. Returns 0, 1 (the
 * value is rejected: why) or -ENOMEM. */
static int put_attr(kpid_pull_rowbuf *buf, const char *name, const char *v,
                    enum kpid_pull_coltype t, char *why, size_t why_size)
{
    kpid_buf *out = &buf->attrs;
    size_t len = strlen(v);
    int r, b;

    if (out->len > 1 && (r = kpid_buf_putc(out, ',')) < 0)
        return r;
    if ((r = kpid_json_put_string(out, name, strlen(name))) < 0 ||
        (r = kpid_buf_putc(out, ':')) < 0)
        return r;
    switch (t) {
    case KPID_PULL_COL_INTEGER:
    case KPID_PULL_COL_DECIMAL:
        if (json_number_text(v))
            return kpid_buf_append(out, v, len);
        break; /* NaN, Infinity: as a string */
    case KPID_PULL_COL_BOOLEAN:
        if ((b = boolean_text(v)) >= 0)
            return b ? kpid_buf_append(out, "true", 4) : kpid_buf_append(out, "false", 5);
        break;
    case KPID_PULL_COL_JSON:
        kpid_json_begin(&buf->json, v, len, 32);
        r = kpid_json_value(&buf->json, out, NULL);
        if (r == 0)
            r = kpid_json_end(&buf->json);
        if (r == -ENOMEM)
            return r;
        if (r < 0)
            return reject(why, why_size, "attribute %s is not valid JSON (%s)", name,
                          kpid_json_error_text(buf->json.error));
        return 0;
    default: break;
    }
    if (!kpid_utf8_valid(v, len))
        return reject(why, why_size, "attribute %s is not valid UTF-8", name);
    return kpid_json_put_string(out, v, len);
}

static int convert_attrs(const kpid_pull_query *q, const kpid_pull_cols *c,
                         const char *const *values, kpid_pull_rowbuf *buf, char *why,
                         size_t why_size)
{
    int r;

    buf->attrs.len = 0;
    if (q->n_attrs == 0)
        return 0;
    if ((r = kpid_buf_putc(&buf->attrs, '{')) < 0)
        return r;
    for (size_t i = 0; i < c->n_attrs; i++) {
        const char *v = values[c->attrs[i]];
        if (v && (r = put_attr(buf, q->attrs[i].name, v, c->attr_types[i], why, why_size)) != 0)
            return r;
    }
    if ((r = kpid_buf_putc(&buf->attrs, '}')) < 0 || (r = kpid_buf_putc(&buf->attrs, '\0')) < 0)
        return r;
    return 0;
}

/* The event key: 0, or 1 with why. */
static int check_key(const char *key, char *why, size_t why_size)
{
    if (!key)
        return reject(why, why_size, "event_key is NULL");
    if (key[0] == '\0')
        return reject(why, why_size, "event_key is empty");
    if (strlen(key) > EVENT_KEY_MAX)
        return reject(why, why_size, "event_key is longer than %d bytes", EVENT_KEY_MAX);
    if (!printable(key))
        return reject(why, why_size, "event_key is not valid UTF-8 or has control characters");
    return 0;
}

int kpid_pull_row_convert(const kpid_pull_query *q, const kpid_pull_cols *c,
                          const char *const *values, kpid_pull_rowbuf *buf, kpid_pull_row *ret,
                          char *why, size_t why_size)
{
    kpid_pull_row row = {0};
    const char *v, *phrase = NULL;
    int r;

    if (why_size > 0)
        why[0] = '\0';
    row.ev.event_key = values[c->event_key];
    if ((r = check_key(row.ev.event_key, why, why_size)) != 0)
        return r;
    if (q->kind == KPID_PULL_RETRACTIONS) {
        row.retract = true;
        *ret = row;
        return 0;
    }
    if (c->retract_when >= 0 && (v = values[c->retract_when])) {
        int b = boolean_text(v);
        if (b < 0 || (c->retract_type == KPID_PULL_COL_INTEGER && b != 1 && b != 0))
            return reject(why, why_size, "retract_when is not a boolean");
        if (b == 1) {
            row.retract = true;
            *ret = row;
            return 0;
        }
    }
    if (!(v = values[c->time]))
        return reject(why, why_size, "time is NULL");
    if (kpid_pull_time_parse(v, strlen(v), &row.ev.time_us, &phrase) < 0)
        return reject(why, why_size, "time is not a timestamp with a time zone: %s",
                      phrase ? phrase : "invalid");
    if (q->activity)
        row.ev.activity = q->activity;
    else if (!(row.ev.activity = values[c->activity]))
        return reject(why, why_size, "activity is NULL");
    else if (!kpid_ident_activity_valid(row.ev.activity))
        return reject(why, why_size, "activity is not %s", KPID_IDENT_ACTIVITY_PATTERN);
    row.ev.case_id = c->case_id >= 0 ? values[c->case_id] : NULL;
    row.ev.subject_id = c->subject_id >= 0 ? values[c->subject_id] : NULL;
    if (c->value >= 0 && (v = values[c->value])) {
        if (!decimal_text(v) || kpid_json_number_to_double(v, strlen(v), &row.ev.value) < 0)
            return reject(why, why_size, "value is not a number");
        if (!isfinite(row.ev.value))
            return reject(why, why_size, "value is not a finite number");
        row.ev.has_value = true;
    }
    if ((r = convert_attrs(q, c, values, buf, why, why_size)) != 0)
        return r;
    row.ev.attrs_json = q->n_attrs > 0 ? buf->attrs.data : NULL;
    *ret = row;
    return 0;
}

int kpid_pull_row_position(const kpid_pull_query *q, const kpid_pull_cols *c,
                           const char *const *values, const char **ret_watermark,
                           const char **ret_tiebreaker, char *why, size_t why_size)
{
    const char *w = values[c->watermark], *t = values[c->tiebreaker], *phrase = NULL;
    int64_t v;

    if (!w || !t)
        return say(-EINVAL, why, why_size, "%s is NULL", !w ? "the watermark" : "the tiebreaker");
    if (kpid_pull_wm_parse(q->watermark_type, w, &v, &phrase) < 0)
        return say(-EINVAL, why, why_size, "the watermark is not a %s: %s",
                   kpid_pull_wm_type_name(q->watermark_type), phrase ? phrase : "invalid");
    if (strlen(w) > KPID_PULL_VALUE_MAX || strlen(t) > KPID_PULL_VALUE_MAX)
        return say(-EINVAL, why, why_size, "the %s is longer than %d bytes",
                   strlen(w) > KPID_PULL_VALUE_MAX ? "watermark" : "tiebreaker",
                   KPID_PULL_VALUE_MAX);
    if (!kpid_utf8_valid(t, strlen(t)))
        return say(-EINVAL, why, why_size, "the tiebreaker is not valid UTF-8");
    *ret_watermark = w;
    *ret_tiebreaker = t;
    return 0;
}

void kpid_pull_row_locator(const kpid_pull_query *q, const char *tiebreaker, char *out,
                           size_t out_size)
{
    char key[LOCATOR_KEY_MAX + 1];
    size_t n = 0, len = tiebreaker ? strlen(tiebreaker) : 0;

    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = kpid_utf8_decode(tiebreaker + i, len - i, &cp);
        if (k == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            k = k ? k : 1;
            if (n + 1 > LOCATOR_KEY_MAX)
                break;
            key[n++] = '?';
        } else {
            if (n + k > LOCATOR_KEY_MAX)
                break;
            memcpy(key + n, tiebreaker + i, k);
            n += k;
        }
        i += k;
    }
    key[n] = '\0';
    snprintf(out, out_size, "query:%s key:%s", q->name, tiebreaker ? key : "(null)");
}
