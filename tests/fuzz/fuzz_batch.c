/*
 * Fuzz target of the host side of the plugin ABI: whatever a plugin hands over
 * (arbitrary bytes in every field) is validated, escaped into COPY rows, compacted by
 * the transaction plan and staged; keyed state puts too. Invariants: every row has
 * exactly its columns and one newline, and no row carries a raw tab, newline or NUL
 * inside a field; the state arrays are n elements each, every one NULL or a quoted
 * string whose quotes and backslashes are escaped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/batch.h"
#include "ingest/txnplan.h"

static const kpid_batch_ctx ctx = {.source = "fuzz"};

/* Checks that b is the body of an array literal of exactly n elements. */
static void check_array(const kpid_buf *b, size_t n)
{
    size_t i = 0, count = 0;

    while (i < b->len) {
        if (count && b->data[i++] != ',')
            abort();
        if (b->len - i >= 4 && memcmp(b->data + i, "NULL", 4) == 0) {
            i += 4;
        } else {
            if (i >= b->len || b->data[i++] != '"')
                abort();
            while (i < b->len && b->data[i] != '"') {
                if (b->data[i] == '\\')
                    i++;
                if (i >= b->len || b->data[i] == '\0')
                    abort();
                i++;
            }
            if (i++ >= b->len)
                abort(); /* no closing quote */
        }
        count++;
    }
    if (count != n)
        abort();
}

/* Checks that buf is rows of exactly cols tab-separated fields. */
static void check_rows(const kpid_buf *b, int cols)
{
    int tabs = 0;
    for (size_t i = 0; i < b->len; i++) {
        char c = b->data[i];
        if (c == '\0')
            abort();
        if (c == '\t')
            tabs++;
        if (c == '\n') {
            if (tabs != cols - 1)
                abort();
            tabs = 0;
        }
    }
    if (b->len && (b->data[b->len - 1] != '\n' || tabs != 0))
        abort();
}

/* Splits the input at 0xff bytes into NUL-terminated fields. */
static char *field(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *s = *p;
    while (*p < end && **p != 0xff)
        (*p)++;
    size_t n = (size_t)(*p - s);
    char *f = malloc(n + 1);
    memcpy(f, s, n);
    f[n] = '\0';
    if (*p < end)
        (*p)++;
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    struct kpid_batch *b;
    kpid_plan plan = {0};
    kpid_buf staged = {0}, direct = {0}, staged2 = {0};
    size_t n_staged;

    if (kpid_batch_new(&ctx, NULL, 1, &b) < 0)
        return 0;
    while (p < end) {
        uint8_t op = *p++;
        char *key = field(&p, end), *a = field(&p, end), *c = field(&p, end);
        int64_t t = 0;
        double v = 0;
        if (end - p >= 16) {
            memcpy(&t, p, 8);
            memcpy(&v, p + 8, 8);
            p += 16;
        }
        switch (op % 5) {
        case 0: {
            kpid_event ev = {.event_key = key,
                             .activity = a,
                             .case_id = c,
                             .subject_id = c,
                             .time_us = t,
                             .value = v,
                             .has_value = op & 4,
                             .attrs_json = op & 8 ? c : NULL,
                             .origin = op & 16 ? a : NULL};
            kpid_batch_emit(b, &ev, op & 32 ? c : NULL);
            break;
        }
        case 1: kpid_batch_retract(b, key); break;
        case 2: kpid_batch_replace_origin(b, a); break;
        case 3: kpid_batch_reject(b, key, a, c, strlen(c)); break;
        case 4: kpid_batch_state_put(b, key, op & 8 ? NULL : a); break;
        }
        free(key);
        free(a);
        free(c);
    }
    check_rows(&b->rows, 9);
    check_rows(&b->rejects, 4);
    check_array(&b->state_keys, b->n_state);
    check_array(&b->state_values, b->n_state);
    if (kpid_batch_stage_rows(b, &staged) == 0)
        check_rows(&staged, 11);
    struct kpid_batch *set[] = {b};
    if (kpid_plan_build(&plan, set, 1) == 0 &&
        kpid_plan_write(&plan, &direct, &staged2, &n_staged) == 0) {
        check_rows(&direct, 9);
        check_rows(&staged2, 11);
    }
    kpid_plan_free(&plan);
    kpid_buf_free(&staged);
    kpid_buf_free(&staged2);
    kpid_buf_free(&direct);
    kpid_batch_free(b);
    return 0;
}
