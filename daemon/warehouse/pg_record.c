#include "warehouse/pg_record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Reads one field at *p (just after "(" or ","), up to the "," or ")" that ends it,
 * which *p is left at. *ret_field is NULL for a NULL field. */
static int read_field(const char **p, char **ret_field)
{
    const char *s = *p;
    size_t cap = strlen(s) + 1, n = 0;
    bool quoted = false, any = false;
    char *out = malloc(cap);

    if (!out)
        return -ENOMEM;
    while (*s && (quoted || (*s != ',' && *s != ')'))) {
        if (*s == '"') {
            any = true;
            if (quoted && s[1] == '"') { /* "" within quotes: one quote */
                out[n++] = '"';
                s += 2;
                continue;
            }
            quoted = !quoted;
            s++;
        } else if (*s == '\\' && s[1]) {
            out[n++] = s[1];
            s += 2;
            any = true;
        } else {
            out[n++] = *s++;
            any = true;
        }
    }
    if (quoted || !*s) {
        free(out);
        return -EINVAL;
    }
    out[n] = '\0';
    *p = s;
    if (!any) {
        free(out);
        out = NULL;
    }
    *ret_field = out;
    return 0;
}

int kpid_pg_record_split(const char *text, int n_fields, char **ret_fields)
{
    const char *p = text;
    char **fields;
    int n = 0, r = 0;

    if (!text || n_fields < 0 || *p++ != '(')
        return -EINVAL;
    fields = calloc((size_t)n_fields + 1, sizeof(*fields));
    if (!fields)
        return -ENOMEM;
    /* n fields are n-1 commas apart; "()" is both the record of no field and that of
     * one NULL field. */
    while (n < n_fields) {
        char *f = NULL;
        if ((r = read_field(&p, &f)) < 0)
            break;
        fields[n++] = f;
        if (*p == ')')
            break;
        p++; /* the comma */
    }
    if (r == 0 && (n != n_fields || *p != ')' || p[1] != '\0'))
        r = -EINVAL;
    if (r < 0) {
        for (int i = 0; i < n; i++)
            free(fields[i]);
        free(fields);
        return r;
    }
    memcpy(ret_fields, fields, (size_t)n_fields * sizeof(*fields));
    free(fields);
    return 0;
}
