/*
 * Reading a file's lines into the batch. Only complete lines count: a last line without
 * '\n' waits for the rest, unless the file is being released (final). Good lines become
 * events or retractions; an event the host would refuse and a malformed line become
 * rejected input (reject.c). Memory: one read buffer (FILE_READ_SIZE, grown to
 * max_line_bytes + 1 only if a line needs it); a line longer than max_line_bytes is
 * rejected with its head and skipped without being buffered.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_source.h"
#include "path.h"

bool file_batch_full(const struct file_source *s)
{
    return s->batch_lines >= (size_t)s->cfg->batch_max_lines ||
           (s->batch && s->host->batch_bytes(s->batch) >= FILE_BATCH_MAX_BYTES);
}

int file_batch_ensure(struct file_source *s)
{
    return s->batch ? 0 : s->host->batch_begin(s->src, &s->batch);
}

int file_locator_start(struct file_source *s, const file_entry *e)
{
    size_t n = strlen(e->path);

    s->locator.len = 0;
    if (kpid_buf_reserve(&s->locator, n + 24) < 0)
        return -ENOMEM;
    n = file_path_printable_to(e->path, s->locator.data, n + 1);
    s->locator.data[n] = ':';
    s->locator_prefix = n + 1;
    return 0;
}

const char *file_locator_line(struct file_source *s, int64_t line)
{
    char digits[24];
    size_t n = 0;
    uint64_t v = (uint64_t)line;

    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    char *p = s->locator.data + s->locator_prefix;
    while (n > 0)
        *p++ = digits[--n];
    *p = '\0';
    return s->locator.data;
}

/* Adds one complete line (without its '\n') to the batch. */
static int handle_line(struct file_source *s, const char *data, size_t len, int64_t line)
{
    const kpid_host *h = s->host;
    ndjson_line *l = &s->parsed;
    const char *why;
    int r;

    r = ndjson_parse(l, data, len);
    if (r < 0)
        return r;
    if (l->kind == NDJSON_BLANK)
        return 0;
    r = file_batch_ensure(s);
    if (r < 0)
        return r;

    switch (l->kind) {
    case NDJSON_EVENT:
        /* What the host would refuse is rejected here, with the line. */
        why = h->event_invalid(s->src, &l->event);
        if (why) {
            r = file_reject(s, file_locator_line(s, line), why, data, len, /* complete= */ true);
            s->n_rejected++;
            break;
        }
        r = h->emit(s->batch, &l->event, file_locator_line(s, line));
        if (r == -EINVAL) { /* refused all the same, and recorded as rejected */
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
        r = file_reject(s, file_locator_line(s, line), l->reason, data, len, /* complete= */ true);
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

    r = file_batch_ensure(s);
    if (r < 0)
        return r;
    snprintf(reason, sizeof(reason), "line longer than %" PRId64 " bytes", s->cfg->max_line_bytes);
    r = file_reject(s, file_locator_line(s, line), reason, head,
                    head_len < FILE_RAW_HEAD ? head_len : FILE_RAW_HEAD, /* complete= */ false);
    s->n_rejected++;
    s->batch_lines++;
    return r < 0 ? r : 0;
}

/* One line ends at s->buf.data[end] (exclusive), starting at start: hands it on. */
static int take_line(struct file_source *s, file_entry *e, size_t start, size_t end, bool *too_long,
                     int64_t next_off)
{
    const size_t max_line = (size_t)s->cfg->max_line_bytes;
    size_t len = end - start;
    int64_t line = e->line + 1;
    int r;

    if (*too_long)
        r = reject_long_line(s, s->head, s->head_len, line);
    else if (len > max_line)
        r = reject_long_line(s, s->buf.data + start, len, line);
    else
        r = handle_line(s, s->buf.data + start, len, line);
    if (r < 0)
        return r;
    *too_long = false;
    s->n_lines++;
    e->line = line;
    e->off = next_off;
    return 0;
}

int file_read(struct file_source *s, file_entry *e, bool final, bool *ret_full)
{
    const size_t max_line = (size_t)s->cfg->max_line_bytes;
    size_t start = 0, scan_from = 0;
    bool too_long = false;
    struct stat st;
    int r;

    r = file_open(s, e, &st);
    if (r != 0)
        return r < 0 ? r : 0;
    if ((r = file_identify(s, e, &st)) < 0)
        return r;
    if ((int64_t)st.st_size == e->off) {
        e->flags |= FE_EOF;
        return 0;
    }
    if ((r = file_entry_touch(s, e)) < 0 || (r = file_locator_start(s, e)) < 0)
        return r;

    /* Lines a full batch left in the buffer are where this file continues. */
    if (s->buf_entry == e && s->buf_base <= e->off && e->off <= s->buf_base + (int64_t)s->buf.len) {
        size_t skip = (size_t)(e->off - s->buf_base);
        memmove(s->buf.data, s->buf.data + skip, s->buf.len - skip);
        s->buf.len -= skip;
    } else {
        s->buf.len = 0;
    }
    s->buf_base = e->off;
    s->buf_entry = NULL;

    for (;;) {
        char *nl;

        /* The complete lines in the buffer. */
        while ((nl = memchr(s->buf.data + scan_from, '\n', s->buf.len - scan_from))) {
            size_t end = (size_t)(nl - s->buf.data);
            r = take_line(s, e, start, end, &too_long, s->buf_base + (int64_t)end + 1);
            if (r < 0)
                return r;
            start = scan_from = end + 1;
            if (file_batch_full(s)) {
                *ret_full = true;
                e->flags &= ~FE_EOF;
                /* Keep what is left for the next poll. */
                s->buf_entry = e;
                return 0;
            }
        }

        /* What is left, from start, is a line without its end so far. */
        if (too_long) {
            start = s->buf.len;
        } else if (s->buf.len - start > max_line) {
            size_t left = s->buf.len - start;
            s->head_len = left < FILE_RAW_HEAD ? left : FILE_RAW_HEAD;
            memcpy(s->head, s->buf.data + start, s->head_len);
            too_long = true;
            start = s->buf.len;
        }
        if (start > 0) {
            memmove(s->buf.data, s->buf.data + start, s->buf.len - start);
            s->buf_base += (int64_t)start;
            s->buf.len -= start;
            start = 0;
        }
        scan_from = s->buf.len;
        /* Room for a line of max_line_bytes and its '\n', and no more. */
        if (s->buf.len == s->buf.cap && (r = kpid_buf_reserve_max(&s->buf, 1, max_line + 1)) < 0)
            return r;

        ssize_t n = pread(e->fd, s->buf.data + s->buf.len, s->buf.cap - s->buf.len,
                          (off_t)(s->buf_base + (int64_t)s->buf.len));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            flog(s, KPID_LOG_ERR, "cannot read file: path=\"%s\" error=\"%s\"",
                 file_show(s, 0, e->path), strerror(errno));
            return r;
        }
        if (n == 0)
            break; /* the end for now */
        s->buf.len += (size_t)n;
    }
    /* At the end. A partial last line waits for the rest, unless this is the last read:
     * then it is a line of its own. */
    if (final && (too_long || s->buf.len > 0)) {
        r = file_batch_ensure(s);
        if (r == 0)
            r = take_line(s, e, 0, s->buf.len, &too_long, s->buf_base + (int64_t)s->buf.len);
        if (r < 0)
            return r;
        s->buf.len = 0;
    }
    e->flags |= FE_EOF;
    return 0;
}
