/*
 * Positions as keyed source state: loading them at start (from the committed state, or
 * taking over a version 1 cursor) and putting the state of the files a batch moves, or
 * releases, into that batch (state.h for the format).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "file_source.h"
#include "state.h"

static int take_over_v1(struct file_source *s, const char *cursor)
{
    file_cursor c = {0};
    char err[256];
    int r;

    r = file_cursor_decode(cursor, &c, err, sizeof(err));
    if (r < 0) {
        if (r == -EINVAL)
            flog(s, KPID_LOG_ERR,
                 "corrupt cursor: %s; the source cannot resume; delete its row from "
                 "kpid.cursor to read all files again (events are upserted by key)",
                 err);
        return r;
    }
    for (size_t i = 0; i < c.n_files && r == 0; i++) {
        const file_cursor_entry *f = &c.files[i];
        file_entry *e = file_entry_new(s, f->dev, f->ino, f->path);
        if (!e) {
            r = -ENOMEM;
            break;
        }
        /* No fingerprint yet: it is taken at the first look. Not stored: the next batch
         * puts its state. */
        e->off = e->c_off = f->off;
        e->line = e->c_line = f->line;
        r = file_entry_touch(s, e);
    }
    if (r == 0) {
        flog(s, KPID_LOG_INFO,
             "taking over the positions of a version 1 cursor: files=%zu; they move to "
             "kpid.source_state with the next batch",
             c.n_files);
        s->put_cursor = true;
    }
    file_cursor_clear(&c);
    return r;
}

static int load_entry(void *arg, const char *key, const char *value)
{
    struct file_source *s = arg;
    file_state st;
    char err[256];
    file_entry *e;
    int r;

    r = file_state_decode(key, value, &st, err, sizeof(err));
    if (r < 0) {
        if (r == -EINVAL)
            flog(s, KPID_LOG_ERR,
                 "corrupt state: key=\"%s\" error=\"%s\"; the source cannot resume; delete "
                 "that row from kpid.source_state to read its file again from the start",
                 file_show(s, 0, key), err);
        return r;
    }
    e = file_entry_new(s, st.dev, st.ino, st.path);
    free(st.path);
    if (!e)
        return -ENOMEM;
    e->off = e->c_off = st.off;
    e->line = e->c_line = st.line;
    e->fp = e->c_fp = st.fp;
    e->fp_len = e->c_fp_len = st.fp_len;
    e->stored = true;
    return 0;
}

static int load_stale(void *arg, const char *key, const char *value)
{
    struct file_source *s = arg;
    char *copy = strdup(key);

    (void)value;
    if (!copy)
        return -ENOMEM;
    if (s->n_stale % 256 == 0) {
        char **v = realloc(s->stale_keys, (s->n_stale + 256) * sizeof(*v));
        if (!v) {
            free(copy);
            return -ENOMEM;
        }
        s->stale_keys = v;
    }
    s->stale_keys[s->n_stale++] = copy;
    return 0;
}

/*
 * Where every file is: a version 2 cursor means the positions are the committed state;
 * a version 1 cursor holds them itself; no cursor means from the start, and whatever
 * state is left (the cursor row was deleted to read everything again) goes.
 */
int file_positions_load(struct file_source *s)
{
    char *cursor = NULL, err[256];
    int r;

    if ((r = s->host->cursor_load(s->src, &cursor)) < 0)
        return r;
    if (!cursor) {
        r = s->host->state_load(s->src, load_stale, s);
        if (r == 0 && s->n_stale > 0)
            flog(s, KPID_LOG_INFO,
                 "no cursor: reading every file from the start and forgetting the "
                 "positions of files=%zu",
                 s->n_stale);
        return r;
    }
    r = file_cursor_version(cursor, err, sizeof(err));
    if (r == 1)
        r = take_over_v1(s, cursor);
    else if (r == 2)
        r = s->host->state_load(s->src, load_entry, s);
    else if (r == -EINVAL)
        flog(s, KPID_LOG_ERR,
             "corrupt cursor: %s; the source cannot resume; delete its row from kpid.cursor "
             "to read all files again (events are upserted by key)",
             err);
    free(cursor);
    return r < 0 ? r : 0;
}

/* ---- batches ---- */

/* True when the batch must carry e's state. */
static bool needs_put(const file_entry *e)
{
    if (!e->stored)
        return e->off > 0;
    return e->off != e->c_off || e->line != e->c_line || e->fp != e->c_fp ||
           e->fp_len != e->c_fp_len || (e->flags & FE_PATH_MOVED);
}

static int put_state(struct file_source *s, const file_entry *e)
{
    file_state st = {.dev = e->item.dev,
                     .ino = e->item.ino,
                     .off = e->off,
                     .line = e->line,
                     .fp = e->fp,
                     .fp_len = e->fp_len,
                     .path = e->path};
    char key[FILE_STATE_KEY_SIZE], *value = NULL;
    int r;

    file_state_key(e->item.dev, e->item.ino, key);
    if ((r = file_state_encode(&st, &value)) < 0)
        return r;
    r = s->host->state_put(s->batch, key, value);
    free(value);
    return r;
}

/* What this poll changed goes back to where the last submitted batch left it. */
void file_undo(struct file_source *s)
{
    for (size_t i = 0; i < s->touched.n; i++) {
        file_entry *e = s->touched.v[i];
        e->off = e->c_off;
        e->line = e->c_line;
        e->fp = e->c_fp;
        e->fp_len = e->c_fp_len;
        e->size = -1; /* look again */
        e->flags &= ~(FE_TOUCHED | FE_EOF);
    }
    s->touched.n = 0;
    for (size_t i = 0; i < s->releasing.n; i++)
        s->releasing.v[i]->flags &= ~FE_RELEASE;
    s->releasing.n = 0;
    s->buf_entry = NULL;
}

/* The batch was accepted (or there was nothing to submit): what it moved is now where
 * the last submitted batch left it. */
static void accept(struct file_source *s)
{
    for (size_t i = 0; i < s->touched.n; i++) {
        file_entry *e = s->touched.v[i];
        if (needs_put(e))
            e->stored = true;
        e->c_off = e->off;
        e->c_line = e->line;
        e->c_fp = e->fp;
        e->c_fp_len = e->fp_len;
        e->flags &= ~(FE_TOUCHED | FE_PATH_MOVED);
    }
    s->touched.n = 0;
    for (size_t i = 0; i < s->releasing.n; i++)
        file_entry_forget(s, s->releasing.v[i]);
    s->releasing.n = 0;
    for (size_t i = 0; i < s->n_stale; i++)
        free(s->stale_keys[i]);
    s->n_stale = 0;
    s->put_cursor = false;
}

/*
 * Hands the batch to the host with the state it changes: first the deletes of stale
 * keys and of released files, then the positions that moved (the last put of a key
 * wins, so a file read again after its stale key was deleted keeps its new position).
 * Returns 0 (also when there was nothing to submit) or a negative errno.
 */
int file_submit(struct file_source *s)
{
    const kpid_host *h = s->host;
    bool any = s->batch || s->releasing.n || s->n_stale || s->put_cursor;
    char key[FILE_STATE_KEY_SIZE];
    int r;

    for (size_t i = 0; i < s->touched.n && !any; i++)
        any = needs_put(s->touched.v[i]);
    if (!any) {
        accept(s);
        return 0;
    }
    if ((r = file_batch_ensure(s)) < 0)
        return r;
    for (size_t i = 0; i < s->n_stale; i++)
        if ((r = h->state_put(s->batch, s->stale_keys[i], NULL)) < 0)
            return r;
    for (size_t i = 0; i < s->releasing.n; i++) {
        file_entry *e = s->releasing.v[i];
        if (!e->stored)
            continue;
        file_state_key(e->item.dev, e->item.ino, key);
        if ((r = h->state_put(s->batch, key, NULL)) < 0)
            return r;
    }
    for (size_t i = 0; i < s->touched.n; i++) {
        file_entry *e = s->touched.v[i];
        if (!(e->flags & FE_RELEASE) && needs_put(e) && (r = put_state(s, e)) < 0)
            return r;
    }

    h->metric_add(s->src, "lines", s->n_lines);
    h->metric_add(s->src, "events", s->n_events);
    h->metric_add(s->src, "retractions", s->n_retractions);
    h->metric_add(s->src, "rejected", s->n_rejected);
    r = h->batch_submit(s->batch, FILE_CURSOR_V2_TEXT, NULL);
    s->batch = NULL; /* consumed in every case */
    s->batch_lines = 0;
    s->n_lines = s->n_events = s->n_retractions = s->n_rejected = 0;
    if (r < 0)
        return r;
    accept(s);
    return 0;
}
