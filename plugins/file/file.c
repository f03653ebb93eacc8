/*
 * The file source: NDJSON files (one event per line, see ndjson.h) named by a path or a
 * glob(3) pattern, followed as they grow. Poll shape.
 *
 * Each poll expands the pattern, sorts the matches by name (bytewise, not by locale)
 * and reads the files in that order from where the cursor says (see cursor.h). A file
 * is identified by (st_dev, st_ino): a renamed file keeps its position; a file that no
 * longer matches is dropped from the cursor; a file smaller than its position was
 * truncated and is read again from the start. Only complete lines count: a last line
 * without '\n' waits for the rest.
 *
 * One poll submits at most one batch, of at most batch_max_lines lines (and about
 * FILE_BATCH_MAX_BYTES), possibly spanning files, and returns KPID_POLL_MORE when it
 * stopped because the batch was full, KPID_POLL_IDLE when every file is at its end.
 * Good lines become events or retractions; bad lines become rejected input
 * ("path:line", reason, the line), in the same transaction as the cursor that moves
 * past them. Positions in memory advance only when batch_submit() accepts the batch.
 *
 * Memory: one read buffer (FILE_READ_SIZE, grown to max_line_bytes + 1 only if a line
 * needs it) and the host's batch. A line longer than max_line_bytes is rejected with
 * its first FILE_RAW_HEAD bytes and skipped without being buffered.
 *
 * Thread ownership: struct file_source belongs to the source thread (init, poll, fini).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpid/plugin.h"

#include "cursor.h"
#include "ndjson.h"

#define FILE_READ_SIZE (1024 * 1024)
#define FILE_RAW_HEAD 1024
#define FILE_BATCH_MAX_BYTES (64 * 1024 * 1024)

/* file_cursor_entry.flags */
#define FILE_OPEN_FAILED 0x1u /* the last attempt to open it failed (and was logged) */

struct file_config {
    char *path;
    int64_t batch_max_lines;
    int64_t max_line_bytes;
};

static const kpid_config_key file_config_keys[] = {
    {
        .name = "path",
        .type = KPID_CONFIG_STRING,
        .required = true,
        .offset = offsetof(struct file_config, path),
        .description = "absolute path or glob(3) pattern of the NDJSON files to read, in "
                       "name order, following each as it grows",
    },
    {
        .name = "batch_max_lines",
        .type = KPID_CONFIG_INT,
        .default_value = "5000",
        .offset = offsetof(struct file_config, batch_max_lines),
        .description = "lines per batch, that is per warehouse transaction",
        .min = 1,
        .max = 1000000,
    },
    {
        .name = "max_line_bytes",
        .type = KPID_CONFIG_INT,
        .default_value = "1048576",
        .offset = offsetof(struct file_config, max_line_bytes),
        .description = "longest line accepted, in bytes without the newline; longer lines "
                       "are rejected and skipped",
        .min = 1024,
        .max = 67108864,
    },
    {.name = NULL},
};

struct file_source {
    const kpid_host *host;
    kpid_source *src;
    const struct file_config *cfg;

    bool started;         /* the host's cursor was decoded */
    bool no_match_logged; /* "no file matches" was said, and still holds */
    file_cursor pos;      /* where every file is: as of the last submitted batch */
    file_cursor next;     /* the same, being advanced by the current poll */
    char **paths;         /* next.files[i] is at paths[i] (pointers into glob) */
    glob_t glob;
    bool glob_valid;

    /* The read buffer: buf[0..have) holds the file bytes from offset buf_base. It is
     * kept between polls (buf_dev, buf_ino) when a full batch left lines in it. */
    char *buf;
    size_t buf_cap;
    size_t have;
    int64_t buf_base;
    uint64_t buf_dev, buf_ino;
    bool buf_valid;

    char head[FILE_RAW_HEAD]; /* the start of a line too long to buffer */
    size_t head_len;

    char *locator; /* "path:" followed by the line number */
    size_t locator_cap, locator_prefix;

    ndjson_line parsed;
    kpid_batch *batch;
    size_t batch_lines;
    bool moved; /* a position in next differs from pos */
    int64_t n_lines, n_events, n_retractions, n_rejected;
};

/* Logs with key=value fields; paths are printable (cursor entries are sanitized). */
#define flog(s, level, ...) (s)->host->log((s)->src, (level), __VA_ARGS__)

static int cmp_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* glob(3) reports directory errors only through a callback without user data: the
 * errno is passed back through this per-thread variable (one thread per source). */
static _Thread_local int glob_error_errno;

static int glob_error(const char *epath, int eerrno)
{
    /* A missing directory means "nothing matches yet"; other errors abort the poll. */
    if (eerrno == ENOENT || eerrno == ENOTDIR)
        return 0;
    glob_error_errno = eerrno;
    return 1;
}

static void glob_release(struct file_source *s)
{
    if (s->glob_valid)
        globfree(&s->glob);
    s->glob_valid = false;
}

/*
 * Expands the pattern into s->next: every matching regular file, in name order, with
 * its position from s->pos or 0. Returns 0, 1 when nothing matches (s->next is then
 * not to be used), or a negative errno.
 */
static int scan(struct file_source *s)
{
    size_t hint = 0;
    int r;

    file_cursor_clear(&s->next);
    glob_release(s);

    glob_error_errno = 0;
    r = glob(s->cfg->path, GLOB_NOSORT, glob_error, &s->glob);
    s->glob_valid = true; /* globfree() is right after any result */
    if (r == GLOB_NOMATCH || (r == 0 && s->glob.gl_pathc == 0)) {
        if (!s->no_match_logged)
            flog(s, KPID_LOG_NOTICE, "no file matches the pattern: pattern=\"%s\"", s->cfg->path);
        s->no_match_logged = true;
        return 1;
    }
    if (r == GLOB_NOSPACE)
        return -ENOMEM;
    if (r != 0) {
        r = glob_error_errno ? -glob_error_errno : -EIO;
        flog(s, KPID_LOG_ERR, "cannot expand the pattern: pattern=\"%s\" error=\"%s\"",
             s->cfg->path, strerror(-r));
        return r;
    }
    if (s->no_match_logged)
        flog(s, KPID_LOG_INFO, "files match the pattern again: pattern=\"%s\" files=%zu",
             s->cfg->path, s->glob.gl_pathc);
    s->no_match_logged = false;
    qsort(s->glob.gl_pathv, s->glob.gl_pathc, sizeof(char *), cmp_paths);

    char **paths = realloc(s->paths, s->glob.gl_pathc * sizeof(char *));
    if (!paths)
        return -ENOMEM;
    s->paths = paths;

    for (size_t i = 0; i < s->glob.gl_pathc; i++) {
        char *path = s->glob.gl_pathv[i];
        struct stat st;

        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue; /* vanished since, or a directory, FIFO, ... */
        /* A second hard link to a file already listed. */
        if (file_cursor_find(&s->next, st.st_dev, st.st_ino, NULL))
            continue;
        file_cursor_entry *old = file_cursor_find(&s->pos, st.st_dev, st.st_ino, &hint);
        r = file_cursor_add(&s->next, st.st_dev, st.st_ino, old ? old->off : 0, old ? old->line : 0,
                            path);
        if (r < 0)
            return r;
        file_cursor_entry *e = &s->next.files[s->next.n_files - 1];
        e->size = st.st_size;
        e->flags = old ? old->flags : 0;
        s->paths[s->next.n_files - 1] = path;
    }
    /* Dropping entries of files that match no more is no reason to submit. */
    return 0;
}

static bool batch_full(const struct file_source *s)
{
    return s->batch_lines >= (size_t)s->cfg->batch_max_lines ||
           (s->batch && s->host->batch_bytes(s->batch) >= FILE_BATCH_MAX_BYTES);
}

static int batch_ensure(struct file_source *s)
{
    return s->batch ? 0 : s->host->batch_begin(s->src, &s->batch);
}

static void batch_drop(struct file_source *s)
{
    if (s->batch)
        s->host->batch_abort(s->batch);
    s->batch = NULL;
    s->batch_lines = 0;
    s->n_lines = s->n_events = s->n_retractions = s->n_rejected = 0;
}

/* Prepares s->locator as "path:" for the lines of e. */
static int locator_start(struct file_source *s, const file_cursor_entry *e)
{
    size_t n = strlen(e->path);

    if (s->locator_cap < n + 24) {
        char *p = realloc(s->locator, n + 24);
        if (!p)
            return -ENOMEM;
        s->locator = p;
        s->locator_cap = n + 24;
    }
    memcpy(s->locator, e->path, n);
    s->locator[n] = ':';
    s->locator_prefix = n + 1;
    return 0;
}

/* Completes s->locator with the line number and returns it. */
static const char *locator_line(struct file_source *s, int64_t line)
{
    char digits[24];
    size_t n = 0;
    uint64_t v = (uint64_t)line;

    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    char *p = s->locator + s->locator_prefix;
    while (n > 0)
        *p++ = digits[--n];
    *p = '\0';
    return s->locator;
}

/* Adds one complete line (without its '\n') to the batch. */
static int handle_line(struct file_source *s, const char *data, size_t len, int64_t line)
{
    const kpid_host *h = s->host;
    ndjson_line *l = &s->parsed;
    int r;

    r = ndjson_parse(l, data, len);
    if (r < 0)
        return r;
    if (l->kind == NDJSON_BLANK)
        return 0;
    r = batch_ensure(s);
    if (r < 0)
        return r;

    switch (l->kind) {
    case NDJSON_EVENT:
        r = h->emit(s->batch, &l->event, locator_line(s, line));
        if (r == -EINVAL) { /* refused by the host, recorded as rejected */
            s->n_rejected++;
            r = 0;
        } else if (r >= 0) {
            s->n_events++;
        }
        break;
    case NDJSON_RETRACT:
        r = h->retract(s->batch, l->event.event_key);
        s->n_retractions++;
        break;
    default:
        r = h->reject(s->batch, locator_line(s, line), l->reason, data, len);
        s->n_rejected++;
        break;
    }
    s->batch_lines++;
    return r < 0 ? r : 0;
}

static int reject_long_line(struct file_source *s, const char *head, size_t head_len, int64_t line)
{
    char reason[64];
    int r;

    r = batch_ensure(s);
    if (r < 0)
        return r;
    snprintf(reason, sizeof(reason), "line longer than %" PRId64 " bytes", s->cfg->max_line_bytes);
    r = s->host->reject(s->batch, locator_line(s, line), reason, head,
                        head_len < FILE_RAW_HEAD ? head_len : FILE_RAW_HEAD);
    s->n_rejected++;
    s->batch_lines++;
    return r < 0 ? r : 0;
}

/* Grows the read buffer so that a line of max_line_bytes and its '\n' fit. */
static int buf_grow(struct file_source *s)
{
    size_t limit = (size_t)s->cfg->max_line_bytes + 1;
    size_t cap = s->buf_cap * 2 < limit ? s->buf_cap * 2 : limit;
    char *p;

    if (cap <= s->buf_cap)
        return -ENOBUFS; /* cannot happen: a longer line is skipped first */
    p = realloc(s->buf, cap);
    if (!p)
        return -ENOMEM;
    s->buf = p;
    s->buf_cap = cap;
    return 0;
}

/*
 * Reads the complete lines of next.files[i] after its position into the batch, until
 * its end or until the batch is full (*ret_full). Returns 0 or a negative errno; a file
 * that cannot be opened is skipped (with a warning when that is news).
 */
static int read_file(struct file_source *s, size_t i, bool *ret_full)
{
    file_cursor_entry *e = &s->next.files[i];
    const size_t max_line = (size_t)s->cfg->max_line_bytes;
    size_t start = 0, scan_from = 0;
    bool too_long = false;
    struct stat st;
    int fd, r = 0;

    fd = open(s->paths[i], O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0; /* gone since the scan: the next poll drops it */
        if (!(e->flags & FILE_OPEN_FAILED))
            flog(s, KPID_LOG_WARNING, "cannot open file, skipping it: path=\"%s\" error=\"%s\"",
                 e->path, strerror(errno));
        e->flags |= FILE_OPEN_FAILED;
        return 0;
    }
    if (e->flags & FILE_OPEN_FAILED)
        flog(s, KPID_LOG_INFO, "file can be opened again: path=\"%s\"", e->path);
    e->flags &= ~FILE_OPEN_FAILED;

    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (st.st_dev != e->dev || st.st_ino != e->ino)
        goto out; /* replaced since the scan: the next poll sees the new one */
    if (st.st_size < e->off) {
        flog(s, KPID_LOG_WARNING,
             "file is shorter than its position, it was truncated: reading it again from "
             "the start: path=\"%s\" size=%jd position=%" PRId64,
             e->path, (intmax_t)st.st_size, e->off);
        e->off = 0;
        e->line = 0;
        s->moved = true;
        s->buf_valid = false;
    }
    if (st.st_size == e->off)
        goto out;

    r = locator_start(s, e);
    if (r < 0)
        goto out;

    /* Lines a full batch left in the buffer are where this file continues. */
    if (s->buf_valid && s->buf_dev == e->dev && s->buf_ino == e->ino && s->buf_base <= e->off &&
        e->off <= s->buf_base + (int64_t)s->have) {
        size_t skip = (size_t)(e->off - s->buf_base);
        memmove(s->buf, s->buf + skip, s->have - skip);
        s->have -= skip;
    } else {
        s->have = 0;
    }
    s->buf_base = e->off;
    s->buf_valid = false;

    for (;;) {
        char *nl;

        /* The complete lines in the buffer. */
        while ((nl = memchr(s->buf + scan_from, '\n', s->have - scan_from))) {
            size_t end = (size_t)(nl - s->buf), len = end - start;
            int64_t line = e->line + 1;

            if (too_long)
                r = reject_long_line(s, s->head, s->head_len, line);
            else if (len > max_line)
                r = reject_long_line(s, s->buf + start, len, line);
            else
                r = handle_line(s, s->buf + start, len, line);
            if (r < 0)
                goto out;
            too_long = false;
            s->n_lines++;
            e->line = line;
            e->off = s->buf_base + (int64_t)end + 1;
            s->moved = true;
            start = scan_from = end + 1;
            if (batch_full(s)) {
                *ret_full = true;
                /* Keep what is left for the next poll. */
                s->buf_valid = true;
                s->buf_dev = e->dev;
                s->buf_ino = e->ino;
                goto out;
            }
        }

        /* What is left, from start, is a line without its end so far. */
        if (too_long) {
            start = s->have;
        } else if (s->have - start > max_line) {
            s->head_len = s->have - start < FILE_RAW_HEAD ? s->have - start : FILE_RAW_HEAD;
            memcpy(s->head, s->buf + start, s->head_len);
            too_long = true;
            start = s->have;
        }
        if (start > 0) {
            memmove(s->buf, s->buf + start, s->have - start);
            s->buf_base += (int64_t)start;
            s->have -= start;
            start = 0;
        }
        scan_from = s->have;
        if (s->have == s->buf_cap) {
            r = buf_grow(s);
            if (r < 0)
                goto out;
        }

        ssize_t n = pread(fd, s->buf + s->have, s->buf_cap - s->have,
                          (off_t)(s->buf_base + (int64_t)s->have));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            flog(s, KPID_LOG_ERR, "cannot read file: path=\"%s\" error=\"%s\"", e->path,
                 strerror(errno));
            goto out;
        }
        if (n == 0)
            break; /* the end for now; a partial last line waits for the rest */
        s->have += (size_t)n;
    }
out:
    close(fd);
    return r;
}

/* Hands the batch and the cursor of s->next to the host; on success next becomes pos. */
static int submit(struct file_source *s)
{
    const kpid_host *h = s->host;
    char *text = NULL;
    int r;

    r = file_cursor_encode(&s->next, &text);
    if (r == -E2BIG)
        flog(s, KPID_LOG_ERR,
             "cursor too large: files=%zu limit=%d bytes; too many files match the "
             "pattern; move processed files out of it or narrow it",
             s->next.n_files, FILE_CURSOR_MAX);
    if (r < 0)
        return r;
    r = batch_ensure(s);
    if (r < 0)
        goto out;

    h->metric_add(s->src, "lines", s->n_lines);
    h->metric_add(s->src, "events", s->n_events);
    h->metric_add(s->src, "retractions", s->n_retractions);
    h->metric_add(s->src, "rejected", s->n_rejected);

    r = h->batch_submit(s->batch, text, NULL);
    s->batch = NULL; /* consumed in every case */
    s->batch_lines = 0;
    s->n_lines = s->n_events = s->n_retractions = s->n_rejected = 0;
    if (r < 0)
        goto out;
    file_cursor_swap(&s->pos, &s->next);
    s->moved = false;
out:
    free(text);
    return r;
}

static int file_poll(void *state, const char *cursor)
{
    struct file_source *s = state;
    bool full = false;
    int r;

    if (!s->started) {
        char err[256];
        if (cursor) {
            r = file_cursor_decode(cursor, &s->pos, err, sizeof(err));
            if (r < 0) {
                flog(s, KPID_LOG_ERR,
                     "corrupt cursor: %s; the source cannot resume; delete its row from "
                     "kpid.cursor to read all files again (events are upserted by key)",
                     err);
                return r;
            }
        }
        s->started = true;
    }
    if (s->host->stop_requested(s->src))
        return KPID_POLL_IDLE;

    r = scan(s);
    if (r == 1) {
        r = KPID_POLL_IDLE;
        goto fail; /* not a failure, but the same clean-up: nothing was read */
    }
    if (r < 0)
        goto fail;

    s->moved = false;
    for (size_t i = 0; i < s->next.n_files && !full; i++) {
        if (s->next.files[i].size == s->next.files[i].off)
            continue; /* nothing new, as of the scan */
        r = read_file(s, i, &full);
        if (r < 0)
            goto fail;
    }
    if (s->batch || s->moved) {
        r = submit(s);
        if (r == -ECANCELED) {
            r = KPID_POLL_IDLE;
            goto fail;
        }
        if (r < 0)
            goto fail;
    } else {
        /* Nothing moved, so pos and next differ only in what the scan learned: files
         * that appeared (at 0), files that match no more, paths and warnings given. */
        file_cursor_swap(&s->pos, &s->next);
    }
    file_cursor_clear(&s->next);
    glob_release(s);
    return full ? KPID_POLL_MORE : KPID_POLL_IDLE;

fail:
    /* Nothing of this poll was accepted: positions stay where the last batch left them. */
    batch_drop(s);
    s->buf_valid = false;
    s->moved = false;
    file_cursor_clear(&s->next);
    glob_release(s);
    return r;
}

static int file_init(const kpid_host *host, kpid_source *src, const void *config,
                     const struct config_setting_t *setting, void **ret_state)
{
    const struct file_config *cfg = config;
    struct file_source *s;

    if (host->abi_major != KPID_ABI_MAJOR || host->struct_size < offsetof(kpid_host, reserved))
        return -EPROTO;
    s = calloc(1, sizeof(*s));
    *ret_state = s; /* the host owns it from now on, and calls fini */
    if (!s)
        return -ENOMEM;
    s->host = host;
    s->src = src;
    s->cfg = cfg;

    if (!cfg->path || cfg->path[0] != '/') {
        flog(s, KPID_LOG_ERR, "path must be an absolute path or pattern: path=\"%s\"",
             cfg->path ? cfg->path : "");
        return -EINVAL;
    }
    s->buf = malloc(FILE_READ_SIZE);
    if (!s->buf)
        return -ENOMEM;
    s->buf_cap = FILE_READ_SIZE;
    return 0;
}

static void file_fini(void *state)
{
    struct file_source *s = state;

    if (!s)
        return;
    if (s->batch && s->host)
        s->host->batch_abort(s->batch);
    glob_release(s);
    file_cursor_clear(&s->pos);
    file_cursor_clear(&s->next);
    ndjson_line_clear(&s->parsed);
    free(s->paths);
    free(s->buf);
    free(s->locator);
    free(s);
}

static const kpid_plugin_def file_plugin = {
    KPID_PLUGIN_DEF_HEADER,
    .name = "file",
    .version = "1.0.0",
    .description = "NDJSON event files, by path or glob pattern, followed as they grow",
    .shape = KPID_SOURCE_POLL,
    .config_keys = file_config_keys,
    .config_size = sizeof(struct file_config),
    .init = file_init,
    .poll = file_poll,
    .run = NULL,
    .committed = NULL,
    .request_stop = NULL,
    .fini = file_fini,
};

KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void)
{
    return &file_plugin;
}
