#include "kpi/kpi_stmt.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kpid_sql_params_as_array(const kpid_sql *sql, kpid_buf *out)
{
    bool quoted = false;
    int r = 0;

    for (const char *p = sql->text.data; *p && r == 0; p++) {
        if (*p == '\'')
            quoted = !quoted; /* '' inside a literal toggles twice: still right */
        if (*p != '$') {
            r = kpid_buf_putc(out, *p);
            continue;
        }
        /* Only $N outside literals is a parameter; anything else would be rewritten
         * wrongly, so it is refused rather than guessed at. */
        if (quoted || p[1] < '0' || p[1] > '9')
            return -EINVAL;
        char *end;
        unsigned long k = strtoul(p + 1, &end, 10);
        char tmp[48];
        if (k < 1 || k > sql->n_params + 2)
            return -EINVAL;
        int n = k <= 2 ? snprintf(tmp, sizeof(tmp), "$%lu", k)
                       : snprintf(tmp, sizeof(tmp), "($3::text[])[%lu]", k - 2);
        r = kpid_buf_append(out, tmp, (size_t)n);
        p = end - 1;
    }
    if (r == 0 && quoted)
        return -EINVAL;
    if (r == 0)
        r = kpid_buf_append(out, "", 1);
    if (r == 0)
        out->len--;
    return r;
}

void kpid_sql_clear(kpid_sql *sql)
{
    kpid_buf_free(&sql->text);
    for (size_t i = 0; i < sql->n_params; i++)
        free(sql->params[i]);
    memset(sql, 0, sizeof(*sql));
}
