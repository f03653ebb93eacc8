/*
 * The tail of a writer transaction: what travels with its COMMIT in one round trip (the
 * sources' cursors, the lease check of exclusive sources and the keyed state upsert),
 * written as text into t->tail (writer_txn.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ingest/batch.h"
#include "ingest/writer_txn.h"

/* Appends a batch's array elements to an array literal's body, after a comma if need be. */
static int append_elements(kpid_buf *body, const kpid_buf *elements)
{
    int r;

    if (body->len && (r = kpid_buf_putc(body, ',')) < 0)
        return r;
    return kpid_buf_append(body, elements->data, elements->len);
}

/* Makes "{body}" of body, NUL-terminated, in place. */
static int close_array(kpid_buf *body)
{
    size_t len = body->len;
    int r;

    if ((r = kpid_buf_reserve(body, 3)) < 0)
        return r;
    memmove(body->data + 1, body->data, len);
    body->data[0] = '{';
    body->data[len + 1] = '}';
    body->data[len + 2] = '\0';
    body->len = len + 3;
    return 0;
}

/* Appends "lit" (PQescapeLiteral of s) and then after to t->tail. */
static int append_literal(kpid__writer_txn *t, const char *s, const char *after,
                          kpid__step_error *err)
{
    char *lit = PQescapeLiteral(t->conn, s, strlen(s));
    int r;

    if (!lit) {
        snprintf(err->message, sizeof(err->message), "%s", PQerrorMessage(t->conn));
        return -EIO;
    }
    r = kpid_buf_append(&t->tail, lit, strlen(lit));
    PQfreemem(lit);
    return r < 0 ? r : kpid_buf_append(&t->tail, after, strlen(after));
}

/*
 * Appends to t->tail the execution of the state upsert for the puts of the set's
 * batches, in set order: "EXECUTE kpid_state(...); ", the arrays as literals, so that
 * it travels with COMMIT in one round trip. Nothing when no batch has puts.
 */
int kpid__writer_tail_state(kpid__writer_txn *t, struct kpid_batch **set, size_t n,
                            kpid__step_error *err)
{
    kpid_buf body[3] = {{0}}; /* sources, keys, values */
    bool any = false;
    int r = 0;

    for (size_t i = 0; i < n && r == 0; i++) {
        if (!set[i]->n_state)
            continue;
        any = true;
        for (size_t j = 0; j < set[i]->n_state && r == 0; j++)
            r = kpid_array_element(&body[0], set[i]->ctx->source);
        if (r == 0)
            r = append_elements(&body[1], &set[i]->state_keys);
        if (r == 0)
            r = append_elements(&body[2], &set[i]->state_values);
    }
    for (int a = 0; a < 3 && r == 0 && any; a++)
        r = close_array(&body[a]);
    if (r == 0 && any)
        r = kpid_buf_append(&t->tail, "EXECUTE " KPID_SQL_STATE_NAME "(",
                            sizeof("EXECUTE " KPID_SQL_STATE_NAME "(") - 1);
    for (int a = 0; a < 3 && r == 0 && any; a++)
        r = append_literal(t, body[a].data, a < 2 ? ", " : "); ", err);
    for (int a = 0; a < 3; a++)
        kpid_buf_free(&body[a]);
    return r;
}

/*
 * Appends to t->tail the check that every exclusive source of the set is still held
 * under the epoch its batches were read under (kpid.lease_check, which raises
 * KPID_FENCED_STATE otherwise): "SELECT kpid.lease_check(...); ". Nothing when the set
 * has no batch of an exclusive source.
 */
int kpid__writer_tail_fence(kpid__writer_txn *t, struct kpid_batch **set, size_t n,
                            kpid__step_error *err)
{
    kpid_buf body[2] = {{0}}; /* sources, epochs */
    int r = 0;

    for (size_t i = 0; i < n && r == 0; i++) {
        bool seen = false;
        char epoch[24];
        if (!set[i]->epoch)
            continue;
        for (size_t j = 0; j < i && !seen; j++)
            seen = set[j]->epoch && strcmp(set[j]->ctx->source, set[i]->ctx->source) == 0;
        if (seen)
            continue;
        snprintf(epoch, sizeof(epoch), "%lld", (long long)set[i]->epoch);
        if ((r = kpid_array_element(&body[0], set[i]->ctx->source)) == 0)
            r = kpid_array_element(&body[1], epoch);
    }
    if (r == 0 && body[0].len) {
        static const char call[] = "SELECT kpid.lease_check(";
        if ((r = close_array(&body[0])) == 0 && (r = close_array(&body[1])) == 0 &&
            (r = kpid_buf_append(&t->tail, call, sizeof(call) - 1)) == 0 &&
            (r = append_literal(t, body[0].data, ", '", err)) == 0 &&
            (r = kpid_buf_append(&t->tail, body[1].data, strlen(body[1].data))) == 0)
            r = kpid_buf_append(&t->tail, "'); ", 4); /* the epochs: digits only */
    }
    kpid_buf_free(&body[0]);
    kpid_buf_free(&body[1]);
    return r;
}

/*
 * Appends to t->tail the storing of each source's newest cursor in the set:
 * "EXECUTE kpid_cursor('source', 'cursor'); " per source. Nothing when no batch has one.
 */
int kpid__writer_tail_cursors(kpid__writer_txn *t, struct kpid_batch **set, size_t n,
                              kpid__step_error *err)
{
    static const char exec[] = "EXECUTE " KPID_SQL_CURSOR_NAME "(";
    int r = 0;

    for (size_t i = n; i-- > 0 && r == 0;) {
        bool newer_seen = false;

        if (!set[i]->cursor)
            continue;
        for (size_t j = i + 1; j < n && !newer_seen; j++)
            newer_seen = set[j]->cursor && strcmp(set[j]->ctx->source, set[i]->ctx->source) == 0;
        if (newer_seen)
            continue;
        if ((r = kpid_buf_append(&t->tail, exec, sizeof(exec) - 1)) == 0 &&
            (r = append_literal(t, set[i]->ctx->source, ", ", err)) == 0)
            r = append_literal(t, set[i]->cursor, "); ", err);
    }
    return r;
}
