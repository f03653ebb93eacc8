/*
 * JSON numbers: the grammar, the ranges jansson allows (integers within int64, reals
 * within a double), and their value.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_private.h"

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

int kpid_json_number_to_double(const char *text, size_t len, double *ret)
{
    char small[64], *copy = small;

    if (len >= sizeof(small)) {
        copy = malloc(len + 1);
        if (!copy)
            return -ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    /* A JSON number's decimal point is '.', whatever the process's locale says. */
    *ret = c_locale ? strtod_l(copy, NULL, c_locale) : strtod(copy, NULL);
    if (copy != small)
        free(copy);
    return 0;
}

static inline bool is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* The end of the run of digits at p: p itself when there is none. */
static inline const unsigned char *skip_digits(const unsigned char *p, const unsigned char *end)
{
    while (is_digit(p, end))
        p++;
    return p;
}

int kpid__json_number(kpid_json *js, const char **ret_text, size_t *ret_len)
{
    const unsigned char *s = js->p, *p = s, *end = js->end;
    bool neg = false, is_int = true, has_exp = false;
    size_t int_digits;

    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p < end && *p == '0') {
        p++;
    } else if (is_digit(p, end) && *p != '0') {
        p = skip_digits(p, end);
    } else {
        return kpid__json_fail(js, p,
                               p >= end ? KPID_JSON_E_END
                               : neg    ? KPID_JSON_E_NUMBER
                                        : KPID_JSON_E_TOKEN);
    }
    int_digits = (size_t)(p - s) - neg;
    if (p < end && *p == '.') {
        const unsigned char *digits = ++p;
        if ((p = skip_digits(p, end)) == digits)
            return kpid__json_fail(js, p, KPID_JSON_E_NUMBER);
        is_int = false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const unsigned char *digits = p;
        if ((p = skip_digits(p, end)) == digits)
            return kpid__json_fail(js, p, KPID_JSON_E_NUMBER);
        is_int = false;
        has_exp = true;
    }

    if (is_int) {
        if (int_digits > 19 ||
            (int_digits == 19 &&
             memcmp(s + neg, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0))
            return kpid__json_fail(js, s, KPID_JSON_E_INTEGER);
    } else if (has_exp || int_digits > 300) {
        double d;
        if (kpid_json_number_to_double((const char *)s, (size_t)(p - s), &d) < 0)
            return kpid__json_fail(js, s, KPID_JSON_E_NOMEM);
        if (isinf(d))
            return kpid__json_fail(js, s, KPID_JSON_E_REAL);
    }
    *ret_text = (const char *)s;
    *ret_len = (size_t)(p - s);
    js->p = p;
    return 0;
}
