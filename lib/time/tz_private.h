/*
 * What the files of the time zone reader share (tz.c, tz_rule.c, tzif.c): a loaded
 * zone's representation (struct kpid_tz of time/tz.h) and the footer's POSIX TZ rule.
 * Private to lib/time; it includes nothing of lib/time, so that time/tz.h's users do not
 * depend on it.
 */
#ifndef KPID_TIME_TZ_PRIVATE_H
#define KPID_TIME_TZ_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

static inline bool kpid__tz_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline bool kpid__tz_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Parses a footer TZ string ("CET-1CEST,M3.5.0,M10.5.0/3", "<+05>-5", "UTC0") into *r.
 * Returns false if it is not one (then *r is not to be used).
 */
bool kpid__tz_rule_parse(const char *s, tz_rule *r);

/* The local time type the rule gives instant t. */
tz_type kpid__tz_rule_state_at(const tz_rule *r, int64_t t);

/*
 * The rule's first change strictly after t that changes the offset or the DST flag: its
 * instant and the type it changes to. Returns false if the rule has no DST.
 */
bool kpid__tz_rule_next(const tz_rule *r, int64_t t, int64_t *ret_t, tz_type *ret_type);

#endif
