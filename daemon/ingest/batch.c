#include "ingest/batch.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ingest/pseudonym.h"
#include "text/ident.h"
#include "text/utf8.h"
#include "time/timestamp.h"

int kpid_batch_new(const kpid_batch_ctx *ctx, struct kpid_source *src, uint64_t seq,
                   struct kpid_batch **ret_batch)
{
    struct kpid_batch *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->ctx = ctx;
    b->src = src;
    b->seq = seq;
    *ret_batch = b;
    return 0;
}

struct kpid_batch *kpid_batch_free(struct kpid_batch *b)
{
    if (!b)
        return NULL;
    kpid_buf_free(&b->rows);
    kpid_buf_free(&b->rejects);
    kpid_buf_free(&b->ops_text);
    kpid_buf_free(&b->state_keys);
    kpid_buf_free(&b->state_values);
    free(b->ops);
    free(b->cursor);
    free(b);
    return NULL;
}

int kpid_copy_field(kpid_buf *b, const char *s, size_t len)
{
    int r;

    if (!s)
        return kpid_buf_append(b, "\\N", 2);
    /* Worst case every byte doubles. */
    r = kpid_buf_reserve(b, 2 * len);
    if (r < 0)
        return r;
    char *o = b->data + b->len;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (c) {
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        default: *o++ = c;
        }
    }
    b->len = (size_t)(o - b->data);
    return 0;
}

static int put_str(kpid_buf *b, const char *s)
{
    return kpid_copy_field(b, s, s ? strlen(s) : 0);
}

static int put_sep(kpid_buf *b, char c)
{
    return kpid_buf_putc(b, c);
}

/*
 * Checks a text field; returns NULL or a reason. An identity (event_key, origin) must be
 * free of control characters too: a key with a newline or an escape is one nobody can
 * type, see or match.
 */
static const char *check_text(const char *what, const char *s, size_t max, bool required,
                              bool identity)
{
    static _Thread_local char reason[96];
    size_t n;

    if (!s) {
        if (!required)
            return NULL;
        snprintf(reason, sizeof(reason), "missing %s", what);
        return reason;
    }
    n = strlen(s);
    if (required && n == 0) {
        snprintf(reason, sizeof(reason), "empty %s", what);
        return reason;
    }
    if (n > max) {
        snprintf(reason, sizeof(reason), "%s longer than %zu bytes", what, max);
        return reason;
    }
    if (!kpid_utf8_valid(s, n)) {
        snprintf(reason, sizeof(reason), "%s is not valid UTF-8", what);
        return reason;
    }
    if (identity) {
        unsigned cp;
        ssize_t at = kpid_utf8_find_control(s, n, &cp);
        if (at >= 0) {
            snprintf(reason, sizeof(reason), "%s contains a control character (U+%04X at byte %zd)",
                     what, cp, at + 1);
            return reason;
        }
    }
    return NULL;
}

/* Whether an event key can name the event in a locator: valid and printable. */
static bool key_printable(const char *key)
{
    unsigned cp;
    size_t n = strlen(key);
    return kpid_utf8_valid(key, n) && kpid_utf8_find_control(key, n, &cp) < 0;
}

static const char *check_event(const kpid_event *ev)
{
    const char *why;

    if ((why = check_text("event_key", ev->event_key, KPID_EVENT_KEY_MAX, true, true)))
        return why;
    if (!ev->activity)
        return "missing activity";
    if (!kpid_ident_activity_valid(ev->activity))
        return "activity must match " KPID_IDENT_ACTIVITY_PATTERN;
    if ((why = check_text("case_id", ev->case_id, KPID_ID_MAX, false, false)))
        return why;
    if ((why = check_text("subject_id", ev->subject_id, KPID_ID_MAX, false, false)))
        return why;
    if ((why = check_text("origin", ev->origin, KPID_EVENT_KEY_MAX, false, true)))
        return why;
    if ((why = check_text("attrs", ev->attrs_json, KPID_ATTRS_MAX, false, false)))
        return why;
    if (ev->attrs_json) {
        const char *p = ev->attrs_json;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (*p != '{')
            return "attrs must be a JSON object";
    }
    if (ev->time_us < KPID_TIME_MIN_US || ev->time_us > KPID_TIME_MAX_US)
        return "time outside years 0001-9999";
    if (ev->has_value && !isfinite(ev->value))
        return "value is not a finite number";
    return NULL;
}

/* Pseudonymizes s into out when a key is set; returns the text to store. */
static const char *pseudo(const struct kpid_batch *b, const char *s,
                          char out[KPID_PSEUDONYM_HEX_LEN + 1], int *ret)
{
    *ret = 0;
    if (!s || !b->ctx->key)
        return s;
    *ret = kpid_pseudonymize(b->ctx->key, b->ctx->key_len, s, strlen(s), out);
    return out;
}

int kpid_batch_emit(struct kpid_batch *b, const kpid_event *ev, const char *locator)
{
    char subj[KPID_PSEUDONYM_HEX_LEN + 1], cas[KPID_PSEUDONYM_HEX_LEN + 1];
    char tbuf[40], vbuf[40];
    const char *why, *subject, *case_id;
    size_t mark = b->rows.len;
    int r, tlen;

    why = check_event(ev);
    if (why) {
        char loc[KPID_EVENT_KEY_MAX + 8];
        if (!locator) {
            snprintf(loc, sizeof(loc), "key:%s",
                     ev->event_key && key_printable(ev->event_key) ? ev->event_key : "?");
            locator = loc;
        }
        r = kpid_batch_reject(b, locator, why, NULL, 0);
        return r < 0 ? r : -EINVAL;
    }
    subject = pseudo(b, ev->subject_id, subj, &r);
    if (r < 0)
        return r;
    case_id = b->ctx->pseudonymize_case_id ? pseudo(b, ev->case_id, cas, &r) : ev->case_id;
    if (r < 0)
        return r;
    tlen = kpid_format_time(ev->time_us, tbuf);

    if ((r = put_str(&b->rows, b->ctx->source)) < 0 || (r = put_sep(&b->rows, '\t')) < 0 ||
        (r = put_str(&b->rows, ev->event_key)) < 0 || (r = put_sep(&b->rows, '\t')) < 0 ||
        (r = put_str(&b->rows, case_id)) < 0 || (r = put_sep(&b->rows, '\t')) < 0 ||
        (r = put_str(&b->rows, subject)) < 0 || (r = put_sep(&b->rows, '\t')) < 0 ||
        (r = put_str(&b->rows, ev->activity)) < 0 || (r = put_sep(&b->rows, '\t')) < 0 ||
        (r = kpid_buf_append(&b->rows, tbuf, (size_t)tlen)) < 0 ||
        (r = put_sep(&b->rows, '\t')) < 0)
        goto fail;
    if (ev->has_value) {
        int n = snprintf(vbuf, sizeof(vbuf), "%.17g", ev->value);
        r = kpid_buf_append(&b->rows, vbuf, (size_t)n);
    } else
        r = kpid_buf_append(&b->rows, "\\N", 2);
    if (r < 0 || (r = put_sep(&b->rows, '\t')) < 0 ||
        (r = put_str(&b->rows, ev->attrs_json ? ev->attrs_json : "{}")) < 0 ||
        (r = put_sep(&b->rows, '\t')) < 0 || (r = put_str(&b->rows, ev->origin)) < 0 ||
        (r = put_sep(&b->rows, '\n')) < 0)
        goto fail;
    b->n_events++;
    return 0;
fail:
    /* Keep the buffer at a row boundary. */
    b->rows.len = mark;
    return r;
}

/* Records an operation that names a key or an origin only. */
static int put_op(struct kpid_batch *b, char op, const char *key, const char *origin)
{
    kpid_buf *t = &b->ops_text;
    size_t mark = t->len;
    int r;

    if (b->n_ops == b->ops_cap) {
        kpid_batch_op *grown = kpid_array_grow(b->ops, &b->ops_cap, sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        b->ops = grown;
    }
    if ((r = put_str(t, b->ctx->source)) < 0 || (r = put_sep(t, '\t')) < 0 ||
        (r = put_str(t, key)) < 0 ||
        (r = kpid_buf_append(t, "\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t", 19)) < 0 ||
        (r = put_str(t, origin)) < 0 || (r = put_sep(t, '\n')) < 0) {
        t->len = mark;
        return r;
    }
    b->ops[b->n_ops++] = (kpid_batch_op){.op = op,
                                         .pos = (uint32_t)b->n_events,
                                         .off = (uint32_t)mark,
                                         .len = (uint32_t)(t->len - mark)};
    return 0;
}

int kpid_batch_retract(struct kpid_batch *b, const char *event_key)
{
    const char *why = check_text("event_key", event_key, KPID_EVENT_KEY_MAX, true, true);
    int r;

    if (why) {
        r = kpid_batch_reject(b, "retraction", why, NULL, 0);
        return r < 0 ? r : -EINVAL;
    }
    return put_op(b, 'D', event_key, NULL);
}

int kpid_batch_replace_origin(struct kpid_batch *b, const char *origin)
{
    const char *why = check_text("origin", origin, KPID_EVENT_KEY_MAX, true, true);
    int r;

    if (why) {
        r = kpid_batch_reject(b, "origin", why, NULL, 0);
        return r < 0 ? r : -EINVAL;
    }
    return put_op(b, 'O', NULL, origin);
}

/* Appends text, cut to max bytes at a character boundary, with invalid UTF-8 bytes
 * replaced by U+FFFD, as one COPY field. */
static int put_sanitized(kpid_buf *out, const char *s, size_t len, size_t max)
{
    kpid_buf tmp = {0};
    size_t i = 0;
    int r = 0;

    if (!s)
        return kpid_copy_field(out, NULL, 0);
    while (i < len && tmp.len < max && r == 0) {
        size_t n = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (i + n > len || !kpid_utf8_valid(s + i, n)) {
                r = kpid_buf_append(&tmp, "\xef\xbf\xbd", 3);
                i++;
                continue;
            }
        } else if (c == 0) {
            r = kpid_buf_append(&tmp, "\xef\xbf\xbd", 3);
            i++;
            continue;
        }
        if (tmp.len + n > max)
            break;
        r = kpid_buf_append(&tmp, s + i, n);
        i += n;
    }
    if (r == 0)
        r = kpid_copy_field(out, tmp.data ? tmp.data : "", tmp.len);
    kpid_buf_free(&tmp);
    return r;
}

int kpid_reject_row(kpid_buf *out, const char *source, const char *locator, const char *reason,
                    const char *raw, size_t raw_len)
{
    size_t mark = out->len;
    int r;

    if (!locator)
        locator = "?";
    if (!reason)
        reason = "rejected";
    if ((r = put_str(out, source)) < 0 || (r = put_sep(out, '\t')) < 0 ||
        (r = put_sanitized(out, locator, strlen(locator), 1024)) < 0 ||
        (r = put_sep(out, '\t')) < 0 ||
        (r = put_sanitized(out, reason, strlen(reason), 1024)) < 0 ||
        (r = put_sep(out, '\t')) < 0 ||
        (r = put_sanitized(out, raw, raw_len, KPID_REJECT_RAW_MAX)) < 0 ||
        (r = put_sep(out, '\n')) < 0) {
        out->len = mark;
        return r;
    }
    return 0;
}

int kpid_batch_reject(struct kpid_batch *b, const char *locator, const char *reason,
                      const char *raw, size_t raw_len)
{
    int r = kpid_reject_row(&b->rejects, b->ctx->source, locator, reason, raw, raw_len);
    if (r == 0)
        b->n_rejects++;
    return r;
}

const char *kpid_event_invalid(const kpid_event *ev)
{
    return check_event(ev);
}

/* A state key: 1..KPID_STATE_KEY_MAX bytes of valid UTF-8 without C0, DEL or C1. */
static bool state_key_valid(const char *key)
{
    size_t n = strlen(key);
    unsigned cp;

    return n > 0 && n <= KPID_STATE_KEY_MAX && kpid_utf8_valid(key, n) &&
           kpid_utf8_find_control(key, n, &cp) < 0;
}

int kpid_array_element(kpid_buf *b, const char *s)
{
    size_t len;
    int r;

    if (b->len && (r = kpid_buf_putc(b, ',')) < 0)
        return r;
    if (!s)
        return kpid_buf_append(b, "NULL", 4);
    len = strlen(s);
    /* Worst case every byte doubles, plus the quotes. */
    if ((r = kpid_buf_reserve(b, 2 * len + 2)) < 0)
        return r;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            *o++ = '\\';
        *o++ = s[i];
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

int kpid_batch_state_put(struct kpid_batch *b, const char *key, const char *value)
{
    size_t kmark = b->state_keys.len, vmark = b->state_values.len;
    int r;

    if (!key || !state_key_valid(key))
        return -EINVAL;
    if (value && (strlen(value) > KPID_STATE_VALUE_MAX || !kpid_utf8_valid(value, strlen(value))))
        return -EINVAL;
    if ((r = kpid_array_element(&b->state_keys, key)) < 0 ||
        (r = kpid_array_element(&b->state_values, value)) < 0) {
        b->state_keys.len = kmark;
        b->state_values.len = vmark;
        return r;
    }
    b->n_state++;
    return 0;
}

int kpid_batch_set_cursor(struct kpid_batch *b, const char *cursor)
{
    char *c;

    if (!cursor)
        return 0;
    if (strlen(cursor) > KPID_CURSOR_MAX || !kpid_utf8_valid(cursor, strlen(cursor)))
        return -EINVAL;
    c = strdup(cursor);
    if (!c)
        return -ENOMEM;
    free(b->cursor);
    b->cursor = c;
    return 0;
}

void kpid_batch_seal(struct kpid_batch *b)
{
    b->item.events = kpid_batch_weight(b);
    b->item.bytes = b->rows.cap + b->rejects.cap + b->ops_text.cap + b->state_keys.cap +
                    b->state_values.cap + b->ops_cap * sizeof(*b->ops) + sizeof(*b);
}

bool kpid_batch_next(const struct kpid_batch *b, kpid_batch_iter *it, char *ret_op,
                     const char **ret_row, size_t *ret_len)
{
    bool events_left = it->off < b->rows.len;

    if (it->op < b->n_ops && (b->ops[it->op].pos <= it->ev || !events_left)) {
        const kpid_batch_op *o = &b->ops[it->op++];
        *ret_op = o->op;
        *ret_row = b->ops_text.data + o->off;
        *ret_len = o->len;
        return true;
    }
    if (!events_left)
        return false;
    const char *p = b->rows.data + it->off;
    const char *nl = memchr(p, '\n', b->rows.len - it->off);
    size_t len = nl ? (size_t)(nl - p) + 1 : b->rows.len - it->off;
    *ret_op = 'U';
    *ret_row = p;
    *ret_len = len;
    it->off += len;
    it->ev++;
    return true;
}

static int put_stage_head(kpid_buf *out, char op, uint64_t seq)
{
    char head[32];
    int n = snprintf(head, sizeof(head), "%c\t%llu\t", op, (unsigned long long)seq);
    return kpid_buf_append(out, head, (size_t)n);
}

int kpid_batch_stage_rows(const struct kpid_batch *b, kpid_buf *out)
{
    kpid_batch_iter it = {0};
    const char *row;
    size_t len;
    uint64_t k = 0;
    char op;
    int r;

    while (kpid_batch_next(b, &it, &op, &row, &len))
        if ((r = put_stage_head(out, op, (b->seq << 32) | k++)) < 0 ||
            (r = kpid_buf_append(out, row, len)) < 0)
            return r;
    return 0;
}
