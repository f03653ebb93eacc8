/*
 * The file source: NDJSON files (one event per line, see ndjson.h) named by a path or a
 * glob(3) pattern, followed as they grow. Poll shape; needs a host of ABI 1.1.
 *
 * A file is known by its identity (st_dev, st_ino) and by the fingerprint of its first
 * bytes (fingerprint.h): a renamed file keeps its position; a file that was replaced
 * (a new file got a freed inode) or truncated (copytruncate, even when new data passed
 * the old position before the poll) is read again from the start. Positions are keyed
 * source state, one key per file (state.h), put with the batch that moves them; the
 * cursor is a constant {"v":2}, so it does not grow with the number of files. A version 1
 * cursor (positions in the cursor) is taken over once at start.
 *
 * Each poll scans the pattern (scan.c), unless a full batch stopped the last one: then it
 * goes on where that stopped. It first drains files that left the pattern (renamed or
 * unlinked, read to their end through their open descriptor and released rotate_wait
 * after they stopped growing), then reads the files in the pattern in name order
 * (read.c). One poll submits at most one batch, of at most batch_max_lines lines (and
 * about FILE_BATCH_MAX_BYTES), possibly spanning files, and returns KPID_POLL_MORE when
 * it stopped because the batch was full, KPID_POLL_IDLE otherwise. Positions in memory
 * advance only when batch_submit() accepts the batch.
 *
 * Thread ownership: struct file_source belongs to the source thread (init, poll, fini).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "file_source.h"
#include "path.h"
#include "state.h"

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
    {
        .name = "rotate_wait",
        .type = KPID_CONFIG_DURATION,
        .default_value = "5s",
        .offset = offsetof(struct file_config, rotate_wait_ms),
        .description = "how long a file that left the pattern (renamed or unlinked) is kept "
                       "open and read after it last grew, for a writer that still appends "
                       "to it; then it is released",
        .min = 0,
        .max = 86400000,
    },
    {
        .name = "max_open_files",
        .type = KPID_CONFIG_INT,
        .default_value = "1024",
        .offset = offsetof(struct file_config, max_open_files),
        .description = "most files kept open at once (never more than half of the process's "
                       "RLIMIT_NOFILE); the files idle longest are closed first and opened "
                       "again by name when they change",
        .min = 1,
        .max = 1048576,
    },
    {
        .name = "follow_symlinks",
        .type = KPID_CONFIG_BOOL,
        .default_value = "false",
        .offset = offsetof(struct file_config, follow_symlinks),
        .description = "read the regular files that symbolic links in the pattern point to; "
                       "when false, links are refused with a warning",
    },
    {
        .name = "rejected_raw",
        .type = KPID_CONFIG_STRING,
        .default_value = "pseudonymized",
        .offset = offsetof(struct file_config, rejected_raw),
        .description = "what kpid.rejected.raw keeps of a rejected line: \"pseudonymized\" "
                       "(a JSON line with its subject_id, and case_id where pseudonymized, "
                       "replaced by pseudonyms; other lines not at all), \"full\" (its first "
                       "1024 bytes) or \"none\"",
    },
    {.name = NULL},
};

/* ---- helpers shared by the plugin's files ---- */

int64_t file_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int file_list_push(file_list *l, file_entry *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        file_entry **v = realloc(l->v, cap * sizeof(file_entry *));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = e;
    return 0;
}

void file_list_free(file_list *l)
{
    free(l->v);
    *l = (file_list){0};
}

const char *file_show(struct file_source *s, int slot, const char *path)
{
    file_path_printable_to(path, s->shown[slot], sizeof(s->shown[slot]));
    return s->shown[slot];
}

/* ---- batches ---- */

static void batch_drop(struct file_source *s)
{
    if (s->batch)
        s->host->batch_abort(s->batch);
    s->batch = NULL;
    s->batch_lines = 0;
    s->n_lines = s->n_events = s->n_retractions = s->n_rejected = 0;
}

/* ---- poll ---- */

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* True when nothing can have changed in e since it was read to its end. */
static bool unchanged(const file_entry *e)
{
    return (e->flags & FE_EOF) && e->scan_size == e->size && same_time(&e->scan_mtime, &e->mtime);
}

/* Reads the files that left the pattern; releases those idle for rotate_wait. */
static int drain(struct file_source *s, bool *full)
{
    int64_t now = file_now_ms();
    int r;

    for (size_t i = 0; i < s->draining.n && !*full; i++) {
        file_entry *e = s->draining.v[i];

        if (e->flags & FE_RELEASE)
            continue;
        if ((r = file_read(s, e, /* final= */ false, full)) < 0)
            return r;
        if (*full || !(e->flags & FE_EOF) || now - e->active_ms < s->cfg->rotate_wait_ms)
            continue;
        /* It stopped growing long enough ago: whatever follows its last newline is its
         * last line, and then it goes. */
        if ((r = file_read(s, e, /* final= */ true, full)) < 0 ||
            (r = file_entry_release(s, e)) < 0)
            return r;
    }
    return 0;
}

static int file_poll(void *state, const char *cursor)
{
    struct file_source *s = state;
    bool full = false;
    int r;

    (void)cursor; /* positions were loaded in init; the cursor is always {"v":2} */
    if (s->host->stop_requested(s->src))
        return KPID_POLL_IDLE;

    /* A full batch stopped the last poll: go on where it stopped, without a new scan,
     * so that a long backlog costs one scan per pass, not one per batch. */
    s->starved = false;
    if (s->resume >= s->order.n && (r = file_scan(s)) < 0)
        goto fail;
    if ((r = drain(s, &full)) < 0)
        goto fail;
    while (!full && s->resume < s->order.n) {
        file_entry *e = s->order.v[s->resume];
        if (!unchanged(e) && (r = file_read(s, e, /* final= */ false, &full)) < 0)
            goto fail;
        if (!full || (e->flags & FE_EOF))
            s->resume++;
    }
    /* Files released with this batch free their descriptors: whoever waited for one
     * can be read right away. */
    bool freed = s->starved && s->releasing.n > 0;
    if (freed)
        s->resume = s->order.n; /* and scan again, to find them */
    r = file_submit(s);
    if (r == -ECANCELED) {
        r = KPID_POLL_IDLE; /* asked to stop while waiting for the queue */
        goto fail;
    }
    if (r < 0)
        goto fail;
    return full || freed ? KPID_POLL_MORE : KPID_POLL_IDLE;

fail:
    /* Nothing of this poll was accepted: positions stay where the last batch left them,
     * and the next poll scans again. */
    batch_drop(s);
    file_undo(s);
    s->resume = s->order.n;
    return r;
}

/* ---- life cycle ---- */

static int file_init(const kpid_host *host, kpid_source *src, const void *config,
                     const struct config_setting_t *setting, void **ret_state)
{
    const struct file_config *cfg = config;
    struct file_source *s;
    struct rlimit rl;
    int r;

    (void)setting;
    if (host->abi_major != KPID_ABI_MAJOR)
        return -EPROTO;
    if (!KPID_HOST_HAS(host, event_invalid)) {
        /* Keyed state and the helpers of ABI 1.1 hold this plugin's positions. */
        host->log(src, KPID_LOG_ERR,
                  "the file plugin needs a kpid of plugin ABI 1.1 or later: host_abi=%u.%u",
                  (unsigned)host->abi_major, (unsigned)host->abi_minor);
        return -EPROTO;
    }
    s = calloc(1, sizeof(*s));
    *ret_state = s; /* the host owns it from now on, and calls fini */
    if (!s)
        return -ENOMEM;
    s->host = host;
    s->src = src;
    s->cfg = cfg;

    if (!cfg->path || cfg->path[0] != '/') {
        flog(s, KPID_LOG_ERR, "path must be an absolute path or pattern: path=\"%s\"",
             cfg->path ? file_show(s, 0, cfg->path) : "");
        return -EINVAL;
    }
    if ((r = file_reject_init(s)) < 0)
        return r;
    s->max_open = (size_t)cfg->max_open_files;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        s->max_open > rl.rlim_cur / 2) {
        s->max_open = rl.rlim_cur / 2 > 0 ? (size_t)(rl.rlim_cur / 2) : 1;
        flog(s, KPID_LOG_INFO,
             "max_open_files lowered to half of the descriptor limit: max_open_files=%zu "
             "RLIMIT_NOFILE=%ju",
             s->max_open, (uintmax_t)rl.rlim_cur);
    }
    if (kpid_buf_reserve(&s->buf, FILE_READ_SIZE) < 0)
        return -ENOMEM;
    return file_positions_load(s);
}

static void file_fini(void *state)
{
    struct file_source *s = state;

    if (!s)
        return;
    if (s->batch && s->host)
        s->host->batch_abort(s->batch);
    for (size_t i = s->files.n; i-- > 0;) {
        file_entry *e = (file_entry *)s->files.all[i];
        if (e->fd >= 0)
            close(e->fd);
        free(e->path);
        free(e);
    }
    file_table_clear(&s->files);
    file_list_free(&s->order);
    file_list_free(&s->draining);
    file_list_free(&s->touched);
    file_list_free(&s->releasing);
    for (size_t i = 0; i < s->n_stale; i++)
        free(s->stale_keys[i]);
    free(s->stale_keys);
    ndjson_line_clear(&s->parsed);
    kpid_buf_free(&s->buf);
    kpid_buf_free(&s->locator);
    free(s);
}

static const kpid_plugin_def file_plugin = {
    KPID_PLUGIN_DEF_HEADER,
    .name = "file",
    .version = "2.0.0",
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
