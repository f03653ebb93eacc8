#include "time/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_FILE_MAX (1024 * 1024)  /* real files are a few kB */
#define TZ_OFFSET_MIN (-89999)     /* RFC 8536: more than -25 h ... */
#define TZ_OFFSET_MAX 93599        /* ... and less than 26 h */
#define TZ_WINDOW (2 * 86400)      /* wider than any offset: solutions of from_local */
#define TZ_SEGMENTS_MAX 64

typedef struct tz_type {
    int32_t off; /* seconds east of UTC */
    bool dst;
} tz_type;

/* One date of a POSIX TZ rule: Jn (kind 'J'), n ('N') or Mm.w.d ('M'), at secs. */
typedef struct tz_rdate {
    char kind;
    int n, m, w, d;
    int32_t secs; /* local time of day of the change, -167 h .. 167 h */
} tz_rdate;

/* The footer's POSIX TZ string, which governs instants after the last transition. */
typedef struct tz_rule {
    bool present;
    bool has_dst;
    int32_t std_off, dst_off; /* seconds east of UTC */
    tz_rdate start, end;      /* start: std -> dst, in std time; end: dst -> std, in dst */
} tz_rule;

struct kpid_tz {
    char *name;
    size_t n_trans;
    int64_t *trans; /* ascending */
    uint8_t *idx;   /* type after each transition */
    size_t n_types;
    tz_type *types; /* types[0] also applies before the first transition */
    tz_rule rule;
};

static const tz_type utc_type = {0, false};

/* ---- calendar ---------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t kpid_days_from_civil(int64_t year, int month, int day)
{
    int64_t y = year - (month <= 2);
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void kpid_civil_from_days(int64_t days, int64_t *ret_year, int *ret_month, int *ret_day)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int month = (int)(mp < 10 ? mp + 3 : mp - 9);

    *ret_year = yoe + era * 400 + (month <= 2);
    *ret_month = month;
    *ret_day = (int)(doy - (153 * mp + 2) / 5 + 1);
}

int kpid_weekday_from_days(int64_t days)
{
    int64_t w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

bool kpid_leap_year(int64_t year)
{
    return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

int kpid_days_in_month(int64_t year, int month)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return dim[month - 1] + (month == 2 && kpid_leap_year(year));
}

/* ---- the footer's POSIX TZ rule ---------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Reads 1 to max_digits digits into *ret, which must not exceed max. */
static bool posix_num(const char **s, int max_digits, int max, int *ret)
{
    int v = 0, n = 0;
    while (is_digit(**s) && n < max_digits) {
        v = v * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    if (n == 0 || is_digit(**s) || v > max)
        return false;
    *ret = v;
    return true;
}

/* A zone abbreviation: 3+ letters, or <...> of 3+ letters, digits, '+' and '-'. */
static bool posix_name(const char **s)
{
    const char *p = *s, *b;
    if (*p == '<') {
        b = ++p;
        while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-')
            p++;
        if (*p != '>' || p - b < 3)
            return false;
        *s = p + 1;
        return true;
    }
    for (b = p; is_alpha(*p); p++)
        ;
    if (p - b < 3)
        return false;
    *s = p;
    return true;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h, in seconds. */
static bool posix_hms(const char **s, int max_h, int32_t *ret)
{
    int sign = 1, h, m = 0, sec = 0;
    if (**s == '+' || **s == '-')
        sign = *(*s)++ == '-' ? -1 : 1;
    if (!posix_num(s, 3, max_h, &h))
        return false;
    if (**s == ':') {
        (*s)++;
        if (!posix_num(s, 2, 59, &m))
            return false;
        if (**s == ':') {
            (*s)++;
            if (!posix_num(s, 2, 59, &sec))
                return false;
        }
    }
    *ret = sign * (h * 3600 + m * 60 + sec);
    return true;
}

/* Jn, n or Mm.w.d, then an optional /time (default 02:00:00). */
static bool posix_date(const char **s, tz_rdate *d)
{
    memset(d, 0, sizeof(*d));
    if (**s == 'J') {
        (*s)++;
        d->kind = 'J';
        if (!posix_num(s, 3, 365, &d->n) || d->n < 1)
            return false;
    } else if (**s == 'M') {
        (*s)++;
        d->kind = 'M';
        if (!posix_num(s, 2, 12, &d->m) || d->m < 1 || *(*s)++ != '.' ||
            !posix_num(s, 1, 5, &d->w) || d->w < 1 || *(*s)++ != '.' ||
            !posix_num(s, 1, 6, &d->d))
            return false;
    } else {
        d->kind = 'N';
        if (!posix_num(s, 3, 365, &d->n))
            return false;
    }
    d->secs = 2 * 3600;
    if (**s == '/') {
        (*s)++;
        return posix_hms(s, 167, &d->secs);
    }
    return true;
}

/* Parses a footer TZ string ("CET-1CEST,M3.5.0,M10.5.0/3", "<+05>-5", "UTC0"). */
static bool posix_parse(const char *s, tz_rule *r)
{
    int32_t off;
    memset(r, 0, sizeof(*r));
    if (!posix_name(&s) || !posix_hms(&s, 24, &off))
        return false;
    r->present = true;
    r->std_off = r->dst_off = -off; /* POSIX offsets count west */
    if (*s == '\0')
        return true;
    if (!posix_name(&s))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!posix_hms(&s, 24, &off))
            return false;
        r->dst_off = -off;
    }
    /* zic always writes the rule; POSIX leaves its absence to the implementation. */
    if (*s++ != ',' || !posix_date(&s, &r->start) || *s++ != ',' ||
        !posix_date(&s, &r->end) || *s != '\0')
        return false;
    return true;
}

/* The day (since the epoch) on which a rule date falls in year. */
static int64_t rule_day(const tz_rdate *d, int64_t year)
{
    int64_t jan1 = kpid_days_from_civil(year, 1, 1), first;
    int day, dim;

    switch (d->kind) {
    case 'J': /* 1-365, February 29th never counted */
        return jan1 + d->n - 1 + (kpid_leap_year(year) && d->n >= 60);
    case 'N': /* 0-365, February 29th counted */
        return jan1 + d->n;
    default: /* day d of week w (5 = last) of month m */
        first = kpid_days_from_civil(year, d->m, 1);
        dim = kpid_days_in_month(year, d->m);
        day = (d->d - kpid_weekday_from_days(first) + 7) % 7 + (d->w - 1) * 7;
        while (day >= dim)
            day -= 7;
        return first + day;
    }
}

typedef struct rule_change {
    int64_t t;
    bool dst; /* the state it changes to */
} rule_change;

/* The rule's changes in years first .. first+n_years-1, sorted by time (stable). */
static size_t rule_changes(const tz_rule *r, int64_t first, int n_years, rule_change *out)
{
    size_t n = 0;
    for (int i = 0; i < n_years; i++) {
        int64_t y = first + i;
        out[n++] = (rule_change){rule_day(&r->start, y) * 86400 + r->start.secs - r->std_off,
                                 true};
        out[n++] = (rule_change){rule_day(&r->end, y) * 86400 + r->end.secs - r->dst_off,
                                 false};
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j - 1].t > out[j].t; j--) {
            rule_change c = out[j];
            out[j] = out[j - 1];
            out[j - 1] = c;
        }
    return n;
}

static int64_t rule_year(const tz_rule *r, int64_t t)
{
    int64_t y;
    int m, d;
    kpid_civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
    return y;
}

static tz_type rule_state_at(const tz_rule *r, int64_t t)
{
    rule_change c[8];
    size_t n;
    bool dst;

    if (!r->has_dst)
        return (tz_type){r->std_off, false};
    n = rule_changes(r, rule_year(r, t) - 2, 4, c);
    dst = !c[0].dst;
    for (size_t i = 0; i < n && c[i].t <= t; i++)
        dst = c[i].dst; /* equal times: the later year's change wins (all-year DST) */
    return (tz_type){dst ? r->dst_off : r->std_off, dst};
}

/* ---- lookups ----------------------------------------------------------------------- */

/* The local time type in effect at instant t. */
static tz_type state_at(const kpid_tz *tz, int64_t t)
{
    size_t lo, hi;

    if (!tz)
        return utc_type;
    if (tz->n_trans == 0)
        return tz->rule.present ? rule_state_at(&tz->rule, t) : tz->types[0];
    if (t < tz->trans[0])
        return tz->types[0];
    if (t > tz->trans[tz->n_trans - 1] && tz->rule.present)
        return rule_state_at(&tz->rule, t);
    lo = 0; /* last i with trans[i] <= t */
    hi = tz->n_trans;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->types[tz->idx[lo]];
}

/* The first transition strictly after t: its instant and the type it changes to. */
static bool next_transition(const kpid_tz *tz, int64_t t, int64_t *ret_t, tz_type *ret_type)
{
    rule_change c[8];
    size_t n, lo, hi;

    if (!tz)
        return false;
    if (tz->n_trans > 0 && t < tz->trans[tz->n_trans - 1]) {
        lo = 0; /* first i with trans[i] > t */
        hi = tz->n_trans - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (tz->trans[mid] > t)
                hi = mid;
            else
                lo = mid + 1;
        }
        *ret_t = tz->trans[lo];
        *ret_type = tz->types[tz->idx[lo]];
        return true;
    }
    if (!tz->rule.present || !tz->rule.has_dst)
        return false;
    n = rule_changes(&tz->rule, rule_year(&tz->rule, t) - 1, 4, c);
    for (size_t i = 0; i < n; i++) {
        tz_type before, after;
        if (c[i].t <= t)
            continue;
        before = rule_state_at(&tz->rule, c[i].t - 1);
        after = rule_state_at(&tz->rule, c[i].t);
        if (before.off != after.off || before.dst != after.dst) {
            *ret_t = c[i].t;
            *ret_type = after;
            return true;
        }
    }
    return false;
}

int kpid_tz_to_local(const kpid_tz *tz, int64_t utc_s, kpid_civil *ret)
{
    tz_type st;
    int64_t local, days, secs, year;
    int month, day;

    if (utc_s < KPID_TZ_MIN_S || utc_s > KPID_TZ_MAX_S)
        return -ERANGE;
    st = state_at(tz, utc_s);
    local = utc_s + st.off;
    days = floor_div(local, 86400);
    secs = local - days * 86400;
    kpid_civil_from_days(days, &year, &month, &day);
    *ret = (kpid_civil){
        .year = (int)year,
        .month = month,
        .day = day,
        .hour = (int)(secs / 3600),
        .minute = (int)(secs / 60 % 60),
        .second = (int)(secs % 60),
        .wday = kpid_weekday_from_days(days),
        .yday = (int)(days - kpid_days_from_civil(year, 1, 1)),
        .utc_offset = st.off,
        .is_dst = st.dst,
    };
    return 0;
}

int kpid_tz_from_local(const kpid_tz *tz, const kpid_civil *local, unsigned flags,
                       int64_t *ret_utc_s, int *ret_kind)
{
    struct {
        int64_t start;
        int32_t off;
    } seg[TZ_SEGMENTS_MAX];
    int64_t wall, lo, hi, t, found[2];
    size_t n = 1, n_found = 0;
    tz_type type;

    if (local->year < 1 || local->year > 9999)
        return -ERANGE;
    if (local->month < 1 || local->month > 12 || local->day < 1 ||
        local->day > kpid_days_in_month(local->year, local->month) || local->hour < 0 ||
        local->hour > 23 || local->minute < 0 || local->minute > 59 || local->second < 0 ||
        local->second > 59)
        return -EINVAL;
    wall = kpid_days_from_civil(local->year, local->month, local->day) * 86400 +
           local->hour * 3600 + local->minute * 60 + local->second;

    /* The instants whose wall time is `wall` lie within a day of it: split that window
     * into segments of constant offset and solve t + off = wall in each. */
    lo = wall - TZ_WINDOW;
    hi = wall + TZ_WINDOW;
    seg[0].start = lo;
    seg[0].off = state_at(tz, lo).off;
    for (t = lo; next_transition(tz, t, &t, &type) && t <= hi; n++) {
        if (n == TZ_SEGMENTS_MAX)
            return -ERANGE;
        seg[n].start = t;
        seg[n].off = type.off;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t cand = wall - seg[i].off, end = i + 1 < n ? seg[i + 1].start : hi + 1;
        if (cand >= seg[i].start && cand < end) {
            found[n_found ? 1 : 0] = cand;
            n_found++;
        }
    }
    if (n_found > 0) {
        *ret_utc_s = n_found > 1 && (flags & KPID_TZ_LATER) ? found[1] : found[0];
        if (ret_kind)
            *ret_kind = n_found > 1 ? KPID_TZ_OVERLAP : KPID_TZ_UNIQUE;
        return 0;
    }
    for (size_t i = 1; i < n; i++)
        if (seg[i].start + seg[i - 1].off <= wall && wall < seg[i].start + seg[i].off) {
            *ret_utc_s = seg[i].start;
            if (ret_kind)
                *ret_kind = KPID_TZ_GAP;
            return 0;
        }
    return -ERANGE; /* unreachable for a consistent zone */
}

/* ---- loading ----------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static bool rd_skip(reader *r, uint64_t n)
{
    if (n > r->left)
        return false;
    r->p += n;
    r->left -= n;
    return true;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

typedef struct tzif_header {
    int version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_header;

static const char *tzif_header_read(reader *r, tzif_header *h)
{
    const uint8_t *p = r->p;
    if (!rd_skip(r, 44))
        return "truncated header";
    if (memcmp(p, "TZif", 4) != 0)
        return "bad magic";
    if (p[4] == 0)
        h->version = 1;
    else if (p[4] >= '2' && p[4] <= '4')
        h->version = p[4] - '0';
    else
        return "unsupported version";
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 ||
        (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
        return "inconsistent counts";
    return NULL;
}

static uint64_t tzif_block_size(const tzif_header *h, unsigned tsize)
{
    return (uint64_t)h->timecnt * (tsize + 1) + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* Reads a data block with tsize-byte times into tz. */
static const char *tzif_block_read(reader *r, const tzif_header *h, unsigned tsize,
                                   kpid_tz *tz)
{
    const uint8_t *p = r->p, *idx, *types;

    if (!rd_skip(r, tzif_block_size(h, tsize)))
        return "truncated data";
    tz->n_trans = h->timecnt;
    tz->n_types = h->typecnt;
    tz->trans = malloc(sizeof(*tz->trans) * (h->timecnt ? h->timecnt : 1));
    tz->idx = malloc(h->timecnt ? h->timecnt : 1);
    tz->types = malloc(sizeof(*tz->types) * h->typecnt);
    if (!tz->trans || !tz->idx || !tz->types)
        return NULL; /* the caller sees the NULL pointers: -ENOMEM */
    idx = p + (size_t)h->timecnt * tsize;
    types = idx + h->timecnt;
    for (size_t i = 0; i < h->timecnt; i++) {
        tz->trans[i] = tsize == 8 ? (int64_t)be64(p + i * 8) : (int32_t)be32(p + i * 4);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return "transitions out of order";
        if (idx[i] >= h->typecnt)
            return "transition to an undefined type";
        tz->idx[i] = idx[i];
    }
    for (size_t i = 0; i < h->typecnt; i++) {
        const uint8_t *t = types + i * 6;
        int32_t off = (int32_t)be32(t);
        if (off < TZ_OFFSET_MIN || off > TZ_OFFSET_MAX || t[4] > 1 || t[5] >= h->charcnt)
            return "invalid local time type";
        tz->types[i] = (tz_type){off, t[4] == 1};
    }
    return NULL;
}

/* Parses a whole TZif file into tz; returns NULL or why it is invalid. */
static const char *tzif_parse(const uint8_t *data, size_t size, kpid_tz *tz, bool *ret_leap)
{
    reader r = {data, size};
    tzif_header h;
    const char *why, *nl;
    char footer[256];

    *ret_leap = false;
    if ((why = tzif_header_read(&r, &h)))
        return why;
    if (h.leapcnt) {
        *ret_leap = true;
        return "leap seconds";
    }
    if (h.version == 1)
        return tzif_block_read(&r, &h, 4, tz);
    if (!rd_skip(&r, tzif_block_size(&h, 4)))
        return "truncated data";
    if ((why = tzif_header_read(&r, &h)))
        return why;
    if (h.leapcnt) {
        *ret_leap = true;
        return "leap seconds";
    }
    if ((why = tzif_block_read(&r, &h, 8, tz)) || !tz->types)
        return why;
    if (r.left < 2 || r.p[0] != '\n')
        return "missing footer";
    nl = memchr(r.p + 1, '\n', r.left - 1);
    if (!nl || (size_t)(nl - (const char *)r.p) > sizeof(footer))
        return "unterminated footer";
    if (memchr(r.p + 1, '\0', (size_t)(nl - (const char *)r.p) - 1))
        return "invalid footer TZ string";
    memcpy(footer, r.p + 1, (size_t)(nl - (const char *)r.p) - 1);
    footer[nl - (const char *)r.p - 1] = '\0';
    if (footer[0] && !posix_parse(footer, &tz->rule))
        return "invalid footer TZ string";
    return NULL;
}

static bool name_valid(const char *name, size_t len)
{
    if (len == 0 || len > KPID_TZ_NAME_MAX || name[0] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '+' && c != '-' && c != '/')
            return false; /* no '.' at all, hence no ".." */
    }
    return true;
}

/* A printable, bounded copy of an untrusted name for messages. */
static void name_quote(const char *name, char out[72])
{
    size_t i;
    for (i = 0; i < 64 && name[i]; i++)
        out[i] = name[i] >= 0x20 && name[i] < 0x7f && name[i] != '"' ? name[i] : '?';
    strcpy(out + i, name[i] ? "..." : "");
}

static int fail(char **ret_error, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char **ret_error, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(ret_error, fmt, ap) < 0)
        *ret_error = NULL;
    va_end(ap);
    return r;
}

/* Reads the regular file at path (at most TZ_FILE_MAX bytes). Returns 0 or -errno. */
static int read_file(const char *path, uint8_t **ret_data, size_t *ret_size)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t size = 0;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = S_ISDIR(st.st_mode) ? -EISDIR : -ENOENT;
        goto out;
    }
    if (st.st_size > TZ_FILE_MAX) {
        r = -EFBIG;
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t k = read(fd, data + size, (size_t)st.st_size + 1 - size);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = -errno;
            goto out;
        }
        if (k == 0)
            break;
        size += (size_t)k;
        if (size > (size_t)st.st_size) { /* grew while we read it */
            r = -EFBIG;
            goto out;
        }
    }
    *ret_data = data;
    *ret_size = size;
    data = NULL;
out:
    free(data);
    close(fd);
    return r;
}

int kpid_tz_load(const char *name, kpid_tz **ret_tz, char **ret_error)
{
    const char *dir = getenv("TZDIR");
    char quoted[72], *path = NULL;
    uint8_t *data = NULL;
    size_t size = 0, len = strnlen(name, KPID_TZ_NAME_MAX + 1);
    kpid_tz *tz = NULL;
    const char *why;
    bool leap;
    int r;

    name_quote(name, quoted);
    if (len > KPID_TZ_NAME_MAX)
        return fail(ret_error, -EINVAL, "invalid time zone name \"%s\": longer than %d bytes",
                    quoted, KPID_TZ_NAME_MAX);
    if (!name_valid(name, len))
        return fail(ret_error, -EINVAL,
                    "invalid time zone name \"%s\": a zone name like \"Europe/Berlin\" is "
                    "letters, digits, '_', '+', '-' and '/', without '.' and not starting "
                    "with '/'",
                    quoted);
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return fail(ret_error, -ENOMEM, "out of memory loading time zone \"%s\"", quoted);
    r = read_file(path, &data, &size);
    if (r == -ENOENT || r == -ENOTDIR || r == -EISDIR) {
        r = fail(ret_error, -ENOENT, "unknown time zone \"%s\" (no such zone in %s)", quoted,
                 dir);
        goto out;
    }
    if (r == -EFBIG) {
        r = fail(ret_error, -EBADMSG, "time zone \"%s\": %s is not a TZif file (too large)",
                 quoted, path);
        goto out;
    }
    if (r < 0) {
        r = fail(ret_error, r, "cannot read time zone \"%s\" from %s: %s", quoted, path,
                 strerror(-r));
        goto out;
    }
    tz = calloc(1, sizeof(*tz));
    if (!tz || !(tz->name = strdup(name))) {
        r = fail(ret_error, -ENOMEM, "out of memory loading time zone \"%s\"", quoted);
        goto out;
    }
    why = tzif_parse(data, size, tz, &leap);
    if (leap) {
        r = fail(ret_error, -ENOTSUP,
                 "time zone \"%s\": %s counts leap seconds, which kpid does not support "
                 "(use the zone without the \"right/\" prefix)",
                 quoted, path);
        goto out;
    }
    if (why) {
        r = fail(ret_error, -EBADMSG, "time zone \"%s\": %s is not a valid TZif file: %s",
                 quoted, path, why);
        goto out;
    }
    if (!tz->trans || !tz->idx || !tz->types) {
        r = fail(ret_error, -ENOMEM, "out of memory loading time zone \"%s\"", quoted);
        goto out;
    }
    *ret_tz = tz;
    tz = NULL;
    r = 0;
out:
    kpid_tz_free(tz);
    free(data);
    free(path);
    return r;
}

kpid_tz *kpid_tz_free(kpid_tz *tz)
{
    if (tz) {
        free(tz->name);
        free(tz->trans);
        free(tz->idx);
        free(tz->types);
        free(tz);
    }
    return NULL;
}

const char *kpid_tz_name(const kpid_tz *tz)
{
    return tz ? tz->name : "UTC";
}
