/*
 * Following files: the entries of the files a source knows, their descriptors (kept open
 * so that a file renamed or unlinked can be read to its end, within max_open_files), and
 * knowing a file again by its fingerprint.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_source.h"

file_entry *file_entry_new(struct file_source *s, uint64_t dev, uint64_t ino, const char *path)
{
    file_entry *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->item.dev = dev;
    e->item.ino = ino;
    e->fd = -1;
    e->size = -1;
    e->fp = e->c_fp = FILE_FP_INIT;
    e->path = strdup(path);
    if (!e->path || file_table_add(&s->files, &e->item) < 0) {
        free(e->path);
        free(e);
        return NULL;
    }
    return e;
}

int file_entry_set_path(file_entry *e, const char *path)
{
    char *copy = strdup(path);

    if (!copy)
        return -ENOMEM;
    free(e->path);
    e->path = copy;
    return 0;
}

/* Removes e from l, if it is there (lists that hold e are short: draining). */
static void list_remove(file_list *l, const file_entry *e)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == e) {
            l->v[i] = l->v[--l->n];
            return;
        }
}

void file_entry_forget(struct file_source *s, file_entry *e)
{
    file_close(s, e);
    if (e->flags & FE_DRAINING)
        list_remove(&s->draining, e);
    if (s->buf_entry == e)
        s->buf_entry = NULL;
    file_table_remove(&s->files, &e->item);
    free(e->path);
    free(e);
}

int file_entry_touch(struct file_source *s, file_entry *e)
{
    int r;

    if (e->flags & FE_TOUCHED)
        return 0;
    if ((r = file_list_push(&s->touched, e)) < 0)
        return r;
    e->flags |= FE_TOUCHED;
    return 0;
}

int file_entry_release(struct file_source *s, file_entry *e)
{
    int r;

    if (e->flags & FE_RELEASE)
        return 0;
    if ((r = file_list_push(&s->releasing, e)) < 0)
        return r;
    e->flags |= FE_RELEASE;
    return 0;
}

/* ---- descriptors, most recently active first ---- */

static void lru_unlink(struct file_source *s, file_entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        s->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        s->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct file_source *s, file_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = s->lru_head;
    if (s->lru_head)
        s->lru_head->lru_prev = e;
    s->lru_head = e;
    if (!s->lru_tail)
        s->lru_tail = e;
}

void file_close(struct file_source *s, file_entry *e)
{
    if (e->fd < 0)
        return;
    close(e->fd);
    e->fd = -1;
    lru_unlink(s, e);
    s->n_open--;
}

/*
 * Frees a descriptor: closes the file idle longest that can be opened again by its path
 * (one still in the pattern). A file that left the pattern is only read through its
 * descriptor, so it keeps it until it is released. Returns false when none can close.
 */
static bool close_idlest(struct file_source *s)
{
    for (file_entry *e = s->lru_tail; e; e = e->lru_prev)
        if (!(e->flags & FE_DRAINING)) {
            file_close(s, e);
            return true;
        }
    return false;
}

/* Says once (FE_OPEN_FAILED) that e cannot be opened. */
static int open_failed(struct file_source *s, file_entry *e, int err)
{
    if (!(e->flags & FE_OPEN_FAILED))
        flog(s, KPID_LOG_WARNING, "cannot open file, skipping it for now: path=\"%s\" error=\"%s\"",
             file_show(s, 0, e->path), strerror(err));
    e->flags |= FE_OPEN_FAILED;
    return 1;
}

int file_open(struct file_source *s, file_entry *e, struct stat *ret_st)
{
    struct stat st;
    int fd, flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

    if (e->fd >= 0) {
        if (fstat(e->fd, ret_st) < 0)
            return -errno;
        lru_unlink(s, e);
        lru_push_front(s, e);
        return 0;
    }
    if (e->flags & FE_DRAINING)
        return 1; /* closed after it left the pattern: nothing to open by name */
    while (s->n_open >= s->max_open)
        if (!close_idlest(s)) {
            s->starved = true; /* every descriptor serves a file being drained: later */
            return 1;
        }
    /* Symbolic links were refused or resolved by the scan; none is followed here
     * unless the scan found this file through one that follow_symlinks allows. */
    if (!(e->flags & FE_VIA_LINK))
        flags |= O_NOFOLLOW;
    fd = open(e->path, flags);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 1; /* gone since the scan: the next scan sees where */
        if (errno == ELOOP)
            return 1; /* replaced by a symbolic link since the scan: the next one says so */
        return open_failed(s, e, errno);
    }
    if (fstat(fd, &st) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    /* Only the regular file the scan identified; anything put in its place since (a
     * FIFO, a device, another file) waits for the next scan. */
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_dev != e->item.dev ||
        (uint64_t)st.st_ino != e->item.ino) {
        close(fd);
        return 1;
    }
    if (e->flags & FE_OPEN_FAILED)
        flog(s, KPID_LOG_INFO, "file can be opened again: path=\"%s\"", file_show(s, 0, e->path));
    e->flags &= ~FE_OPEN_FAILED;
    e->fd = fd;
    s->n_open++;
    lru_push_front(s, e);
    *ret_st = st;
    return 0;
}

/* ---- identity ---- */

/* Reads up to n bytes at offset 0. Returns the count read or -errno. */
static ssize_t read_head(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)got);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int file_identify(struct file_source *s, file_entry *e, const struct stat *st)
{
    int64_t size = (int64_t)st->st_size;
    size_t want = size < FILE_FP_MAX ? (size_t)size : FILE_FP_MAX;
    bool replaced = size < e->off || size < (int64_t)e->fp_len;
    ssize_t got = 0;
    int r;

    if (size == e->size && same_time(&st->st_mtim, &e->mtime))
        return 0; /* as it was at the last look */
    if (!replaced && want > 0) {
        got = read_head(e->fd, s->fpbuf, want);
        if (got < 0)
            return (int)got;
        if ((size_t)got < e->fp_len) {
            replaced = true; /* truncated since the fstat */
        } else {
            uint64_t h = file_fp_update(FILE_FP_INIT, s->fpbuf, e->fp_len);
            if (h != e->fp)
                replaced = true;
            else if ((size_t)got > e->fp_len) {
                e->fp = file_fp_update(h, s->fpbuf + e->fp_len, (size_t)got - e->fp_len);
                e->fp_len = (uint32_t)got;
            }
        }
    }
    if (replaced) {
        if (e->off > 0)
            flog(s, KPID_LOG_NOTICE,
                 "file was replaced or truncated since it was read, reading it again from "
                 "the start: path=\"%s\" size=%" PRId64 " position=%" PRId64,
                 file_show(s, 0, e->path), size, e->off);
        e->off = 0;
        e->line = 0;
        if (s->buf_entry == e)
            s->buf_entry = NULL;
        got = want > 0 ? read_head(e->fd, s->fpbuf, want) : 0;
        if (got < 0)
            return (int)got;
        e->fp = file_fp_update(FILE_FP_INIT, s->fpbuf, (size_t)got);
        e->fp_len = (uint32_t)got;
    }
    if (size > e->size)
        e->active_ms = file_now_ms();
    e->size = size;
    e->mtime = st->st_mtim;
    e->flags &= ~FE_EOF;
    if (e->fp != e->c_fp || e->fp_len != e->c_fp_len || e->off != e->c_off)
        if ((r = file_entry_touch(s, e)) < 0)
            return r;
    return 0;
}
