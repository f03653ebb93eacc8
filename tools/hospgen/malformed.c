#include "malformed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

#define OVERLONG_BYTES (1100u * 1024u) /* over 1 MiB */

static const char *const kind_names[HG_BAD__COUNT] = {
    "not_json",     "truncated",    "missing_event_key", "missing_activity",
    "bad_time",     "bad_activity", "json_array",        "time_not_string",
    "invalid_utf8", "empty_object", "overlong",
};

const char *hg_bad_kind_name(enum hg_bad_kind k)
{
    return kind_names[k];
}

/* qsort comparison of two uint64_t. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int hg_bad_plan_init(struct hg_bad_plan *p, uint64_t seed, uint64_t stream, uint64_t m,
                     uint64_t n_events)
{
    uint8_t order[HG_BAD_OVERLONG];

    memset(p, 0, sizeof(*p));
    hg_rng_seed(&p->rng, seed, stream);
    if (m == 0)
        return 0;
    p->pos = malloc(m * sizeof(*p->pos));
    p->kind = malloc(m);
    if (!p->pos || !p->kind) {
        hg_bad_plan_fini(p);
        return -ENOMEM;
    }
    p->n = m;
    for (uint64_t i = 0; i < m; i++)
        p->pos[i] = n_events ? hg_rng_below(&p->rng, n_events) : 0;
    qsort(p->pos, m, sizeof(*p->pos), cmp_u64);

    /* Every regular kind once per round, in a shuffled order. */
    for (unsigned k = 0; k < HG_BAD_OVERLONG; k++)
        order[k] = (uint8_t)k;
    for (unsigned k = HG_BAD_OVERLONG - 1; k > 0; k--) {
        unsigned x = (unsigned)hg_rng_below(&p->rng, k + 1);
        uint8_t t = order[k];
        order[k] = order[x];
        order[x] = t;
    }
    uint64_t overlong = m >= 8 ? hg_rng_below(&p->rng, m) : m;
    for (uint64_t i = 0, c = 0; i < m; i++)
        p->kind[i] = i == overlong ? HG_BAD_OVERLONG : order[c++ % HG_BAD_OVERLONG];
    return 0;
}

void hg_bad_plan_fini(struct hg_bad_plan *p)
{
    free(p->pos);
    free(p->kind);
    p->pos = NULL;
    p->kind = NULL;
    p->n = 0;
}

/* Appends a NUL-terminated string. */
static void put(struct hg_wbuf *wb, const char *s)
{
    hg_wbuf_put(wb, s, strlen(s));
}

/*
 * Formats a plausible event object into out (NUL-terminated, no newline) with pieces
 * left out or replaced: key/activity NULL = member omitted; time_json is the raw JSON
 * token for "time"; ward goes between quotes as it is. Returns the length.
 */
static size_t fake_event(char *out, size_t cap, uint64_t serial, const char *key_act,
                         const char *activity, const char *time_json, const char *ward)
{
    char key[64], tail[128];
    size_t n;

    memcpy(out, "{", 2);
    snprintf(key, sizeof(key), "X%08llu", (unsigned long long)serial);
    if (key_act) {
        n = strlen(out);
        snprintf(out + n, cap - n, "\"event_key\":\"%s/%s/1\",", key, key_act);
    }
    n = strlen(out);
    snprintf(out + n, cap - n, "\"case_id\":\"%s\",\"subject_id\":\"P%07llu\",", key,
             (unsigned long long)(serial * 7919 % 9999999));
    if (activity) {
        n = strlen(out);
        snprintf(out + n, cap - n, "\"activity\":\"%s\",", activity);
    }
    snprintf(tail, sizeof(tail), "\"time\":%s,\"attrs\":{\"ward\":\"%s\"}}", time_json, ward);
    n = strlen(out);
    snprintf(out + n, cap - n, "%s", tail);
    return strlen(out);
}

enum hg_bad_kind hg_bad_write_next(struct hg_bad_plan *p, struct hg_wbuf *wb, int64_t t)
{
    static const char *const not_json[] = {
        "MSH|^~\\&|ADT|HOSP|KPID|HOSP|202503010815||ADT^A01|1|P|2.5",
        "this is not JSON",
        "event_key=X1 activity=ED_ARRIVAL",
        "<event><activity>TRIAGE</activity></event>",
    };
    static const char *const bad_acts[] = {"ed arrival", "Lab Result", "TRIAGE LEVEL", "discharge"};
    struct hg_rng *r = &p->rng;
    enum hg_bad_kind k = (enum hg_bad_kind)p->kind[p->next];
    uint64_t serial = ++p->next;
    char line[1024], tj[64];
    size_t n;

    tj[0] = '"';
    n = 1 + hg_fmt_rfc3339(tj + 1, hg_time_trunc(t, 0), 0, true, 0, "+00:00");
    memcpy(tj + n, "\"", 2);

    switch (k) {
    case HG_BAD_NOT_JSON: put(wb, not_json[hg_rng_below(r, 4)]); break;
    case HG_BAD_TRUNCATED:
        n = fake_event(line, sizeof(line), serial, "ED_ARRIVAL", "ED_ARRIVAL", tj, "W2");
        hg_wbuf_put(wb, line, (size_t)hg_rng_range(r, 5, (int64_t)n - 2));
        break;
    case HG_BAD_NO_EVENT_KEY:
        fake_event(line, sizeof(line), serial, NULL, "TRIAGE", tj, "W2");
        put(wb, line);
        break;
    case HG_BAD_NO_ACTIVITY:
        fake_event(line, sizeof(line), serial, "TRIAGE", NULL, tj, "W2");
        put(wb, line);
        break;
    case HG_BAD_TIME:
        fake_event(line, sizeof(line), serial, "ADMISSION", "ADMISSION", "\"2025-13-45T99:00:00Z\"",
                   "W2");
        put(wb, line);
        break;
    case HG_BAD_ACTIVITY: {
        const char *a = bad_acts[hg_rng_below(r, 4)];
        fake_event(line, sizeof(line), serial, a, a, tj, "W2");
        put(wb, line);
        break;
    }
    case HG_BAD_ARRAY:
        fake_event(line, sizeof(line), serial, "LAB_ORDER", "LAB_ORDER", tj, "W2");
        put(wb, "[");
        put(wb, line);
        put(wb, "]");
        break;
    case HG_BAD_TIME_TYPE:
        snprintf(tj, sizeof(tj), "%lld", (long long)(t / HG_SEC));
        fake_event(line, sizeof(line), serial, "DISCHARGE", "DISCHARGE", tj, "W2");
        put(wb, line);
        break;
    case HG_BAD_UTF8:
        /* A lone lead byte, then bytes that are never UTF-8. */
        fake_event(line, sizeof(line), serial, "TRANSFER", "TRANSFER", tj, "W\xc3\x28\xff\xfe");
        put(wb, line);
        break;
    case HG_BAD_EMPTY_OBJECT: put(wb, "{}"); break;
    default: /* HG_BAD_OVERLONG: valid JSON, but far over any sane line limit */
        fake_event(line, sizeof(line), serial, "COST", "COST", tj, "@@");
        n = (size_t)(strstr(line, "@@") - line);
        hg_wbuf_put(wb, line, n);
        for (unsigned i = 0; i < OVERLONG_BYTES; i += 64)
            put(wb, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        put(wb, line + n + 2);
        break;
    }
    put(wb, "\n");
    return k;
}
