/* The paging statement of a query (wrap.h). */
#include "pull/wrap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct builder {
    kpid_buf out;
    const kpid_pull_wrap_options *opt;
    kpid_pull_stmt *stmt;
    int r; /* the first failure; later appends do nothing */
} builder;

static void put(builder *b, const char *s)
{
    if (b->r == 0)
        b->r = kpid_buf_append(&b->out, s, strlen(s));
}

int kpid_pull_quote_ident(kpid_buf *out, const char *name)
{
    size_t mark = out->len;
    int r = kpid_buf_putc(out, '"');

    for (const char *p = name; r == 0 && *p; p++) {
        if (*p == '"')
            r = kpid_buf_putc(out, '"');
        if (r == 0)
            r = kpid_buf_putc(out, *p);
    }
    if (r == 0)
        r = kpid_buf_putc(out, '"');
    if (r < 0)
        out->len = mark;
    return r;
}

/* q."name" */
static void column(builder *b, const char *name)
{
    put(b, "q.");
    if (b->r == 0)
        b->r = kpid_pull_quote_ident(&b->out, name);
}

/* The placeholder of param: with $n, the number it already has, or the next one. */
static void param(builder *b, enum kpid_pull_param p)
{
    kpid_pull_stmt *s = b->stmt;
    char num[16];
    size_t n = 0;

    if (b->opt->placeholder == KPID_PULL_PLACEHOLDER_DOLLAR)
        while (n < s->n_params && s->params[n] != p)
            n++;
    else
        n = s->n_params;
    if (n == s->n_params) {
        if (n == KPID_PULL_PARAMS_MAX) {
            b->r = b->r ? b->r : -EINVAL;
            return;
        }
        s->params[s->n_params++] = p;
    }
    if (b->opt->placeholder == KPID_PULL_PLACEHOLDER_QMARK) {
        put(b, "?");
        return;
    }
    snprintf(num, sizeof(num), "$%zu", n + 1);
    put(b, num);
}

int kpid_pull_wrap(const kpid_pull_query *q, enum kpid_pull_from from,
                   const kpid_pull_wrap_options *opt, kpid_pull_stmt *ret)
{
    builder b = {.opt = opt, .stmt = ret};

    if ((unsigned)from > KPID_PULL_FROM_AFTER || (unsigned)opt->compare > KPID_PULL_COMPARE_OR ||
        (unsigned)opt->placeholder > KPID_PULL_PLACEHOLDER_QMARK ||
        (unsigned)opt->limit > KPID_PULL_LIMIT_NONE)
        return -EINVAL;
    *ret = (kpid_pull_stmt){0};
    /* Newlines around the query: a "--" comment on its last line ends there. */
    put(&b, "SELECT * FROM (\n");
    put(&b, q->sql);
    put(&b, "\n) AS q WHERE ");
    switch (from) {
    case KPID_PULL_FROM_START:
        column(&b, q->watermark);
        put(&b, " IS NOT NULL AND ");
        column(&b, q->tiebreaker);
        put(&b, " IS NOT NULL");
        break;
    case KPID_PULL_FROM_AT:
        column(&b, q->watermark);
        put(&b, " >= ");
        param(&b, KPID_PULL_PARAM_WATERMARK);
        put(&b, " AND ");
        column(&b, q->tiebreaker);
        put(&b, " IS NOT NULL");
        break;
    case KPID_PULL_FROM_AFTER:
        if (opt->compare == KPID_PULL_COMPARE_ROW) {
            put(&b, "(");
            column(&b, q->watermark);
            put(&b, ", ");
            column(&b, q->tiebreaker);
            put(&b, ") > (");
            param(&b, KPID_PULL_PARAM_WATERMARK);
            put(&b, ", ");
            param(&b, KPID_PULL_PARAM_TIEBREAKER);
            put(&b, ")");
        } else {
            put(&b, "(");
            column(&b, q->watermark);
            put(&b, " > ");
            param(&b, KPID_PULL_PARAM_WATERMARK);
            put(&b, " OR (");
            column(&b, q->watermark);
            put(&b, " = ");
            param(&b, KPID_PULL_PARAM_WATERMARK);
            put(&b, " AND ");
            column(&b, q->tiebreaker);
            put(&b, " > ");
            param(&b, KPID_PULL_PARAM_TIEBREAKER);
            put(&b, "))");
        }
        break;
    }
    if (opt->bound) {
        put(&b, " AND ");
        column(&b, q->watermark);
        put(&b, " < ");
        param(&b, KPID_PULL_PARAM_BOUND);
    }
    put(&b, " ORDER BY ");
    column(&b, q->watermark);
    put(&b, ", ");
    column(&b, q->tiebreaker);
    if (opt->limit == KPID_PULL_LIMIT_CLAUSE) {
        put(&b, " LIMIT ");
        param(&b, KPID_PULL_PARAM_LIMIT);
    } else if (opt->limit == KPID_PULL_LIMIT_FETCH_FIRST) {
        put(&b, " FETCH FIRST ");
        param(&b, KPID_PULL_PARAM_LIMIT);
        put(&b, " ROWS ONLY");
    }
    if (b.r == 0)
        b.r = kpid_buf_putc(&b.out, '\0');
    if (b.r < 0) {
        kpid_buf_free(&b.out);
        *ret = (kpid_pull_stmt){0};
        return b.r;
    }
    ret->sql = b.out.data;
    return 0;
}

void kpid_pull_stmt_clear(kpid_pull_stmt *stmt)
{
    free(stmt->sql);
    *stmt = (kpid_pull_stmt){0};
}
