/*
 * Scanning: which files match the pattern now. Each scan expands the pattern with
 * glob(3), sorts the matches by name (bytewise, not by locale) and looks at each with
 * lstat(2): only regular files are ever read; a symbolic link is refused (one warning
 * per link) unless follow_symlinks is set, and then only a link to a regular file is
 * followed; FIFOs, devices and directories are skipped without being opened.
 *
 * A known file that the scan does not find has left the pattern (renamed or unlinked).
 * If it is open, it is drained: read to its end through its descriptor, then released
 * after rotate_wait (read.c, file.c). If it is closed (a restart, or closed to stay
 * within max_open_files), it cannot be read any more: it is released at once, and when
 * its directory holds it under another name with bytes not yet read, one warning says
 * so. When nothing matches at all, closed files are kept as they are: the folder may be
 * back soon.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_source.h"

static int cmp_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* glob(3) reports directory errors only through a callback without user data: the
 * errno is passed back through this per-thread variable (one thread per source). */
static _Thread_local int glob_error_errno;

static int glob_error(const char *epath, int eerrno)
{
    (void)epath;
    /* A missing directory means "nothing matches yet"; other errors abort the poll. */
    if (eerrno == ENOENT || eerrno == ENOTDIR)
        return 0;
    glob_error_errno = eerrno;
    return 1;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* A symbolic link the source does not follow: said once per link, until it changes (a
 * new link, even one that got the old one's inode, has a new ctime). */
static int refuse_link(struct file_source *s, const char *path, const struct stat *lst)
{
    file_entry *e = (file_entry *)file_table_get(&s->files, lst->st_dev, lst->st_ino);

    if (e && !(e->flags & FE_LINK))
        return 0; /* cannot be: a link and a regular file share no inode */
    if (e && same_time(&e->mtime, &lst->st_ctim) && strcmp(e->path, path) == 0) {
        e->seen = s->gen;
        return 0;
    }
    flog(s, KPID_LOG_WARNING,
         "symbolic link refused, not reading it: path=\"%s\"; set follow_symlinks = true "
         "for this source to read the regular files links point to",
         file_show(s, 0, path));
    if (!e && !(e = file_entry_new(s, lst->st_dev, lst->st_ino, path)))
        return -ENOMEM;
    if (file_entry_set_path(e, path) < 0)
        return -ENOMEM;
    e->flags |= FE_LINK;
    e->mtime = lst->st_ctim;
    e->seen = s->gen;
    return 0;
}

/* Takes one match into the scan. */
static int scan_path(struct file_source *s, const char *path)
{
    struct stat st;
    bool via_link = false;
    file_entry *e;
    int r;

    if (lstat(path, &st) < 0)
        return 0; /* vanished since the glob */
    if (S_ISLNK(st.st_mode)) {
        if (!s->cfg->follow_symlinks)
            return refuse_link(s, path, &st);
        if (stat(path, &st) < 0)
            return 0; /* dangling */
        via_link = true;
    }
    if (!S_ISREG(st.st_mode))
        return 0; /* a directory, FIFO, device, socket: never opened */

    e = (file_entry *)file_table_get(&s->files, st.st_dev, st.st_ino);
    if (e && (e->seen == s->gen || (e->flags & FE_LINK)))
        return 0; /* a second name (hard or symbolic link) of a file already listed */
    if (!e) {
        e = file_entry_new(s, st.st_dev, st.st_ino, path);
        if (!e)
            return -ENOMEM;
    } else if (strcmp(e->path, path) != 0) {
        /* Renamed within the pattern: same file, same position, new name. */
        if ((r = file_entry_set_path(e, path)) < 0)
            return r;
        if (e->stored) {
            e->flags |= FE_PATH_MOVED;
            if ((r = file_entry_touch(s, e)) < 0)
                return r;
        }
    }
    if (e->flags & FE_DRAINING) {
        /* Back in the pattern before it was released. */
        for (size_t i = 0; i < s->draining.n; i++)
            if (s->draining.v[i] == e) {
                s->draining.v[i] = s->draining.v[--s->draining.n];
                break;
            }
        e->flags &= ~FE_DRAINING;
    }
    e->flags = via_link ? e->flags | FE_VIA_LINK : e->flags & ~FE_VIA_LINK;
    e->seen = s->gen;
    e->gone_ms = 0;
    e->scan_size = st.st_size;
    e->scan_mtime = st.st_mtim;
    return file_list_push(&s->order, e);
}

/* Orphans sorted by directory, then inode, for one pass over each directory. */
static size_t dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) : 0;
}

static int cmp_orphans(const void *a, const void *b)
{
    const file_entry *x = *(file_entry *const *)a, *y = *(file_entry *const *)b;
    size_t nx = dir_len(x->path), ny = dir_len(y->path);
    int c = memcmp(x->path, y->path, nx < ny ? nx : ny);

    if (c == 0 && nx != ny)
        c = nx < ny ? -1 : 1;
    if (c == 0 && x->item.ino != y->item.ino)
        c = x->item.ino < y->item.ino ? -1 : 1;
    return c;
}

/* The orphan of group v[0..n) with this identity, or NULL. */
static file_entry *find_orphan(file_entry **v, size_t n, uint64_t dev, uint64_t ino)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid]->item.ino < ino)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && v[lo]->item.ino == ino; lo++)
        if (v[lo]->item.dev == dev)
            return v[lo];
    return NULL;
}

/* True when the file open at fd starts with e's fingerprinted bytes. */
static bool same_start(struct file_source *s, int fd, const file_entry *e)
{
    size_t got = 0;

    while (got < e->fp_len) {
        ssize_t k = pread(fd, s->fpbuf + got, e->fp_len - got, (off_t)got);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return file_fp_update(FILE_FP_INIT, s->fpbuf, e->fp_len) == e->fp;
}

/*
 * Looks for the orphans v[0..n), all of one directory, under other names in it: one
 * warning for each found with bytes not yet read. Errors only mean that nothing is said.
 */
static void find_renamed(struct file_source *s, file_entry **v, size_t n)
{
    char dir[4096];
    size_t len = dir_len(v[0]->path);
    struct dirent *de;
    DIR *d;

    if (len >= sizeof(dir))
        return;
    memcpy(dir, v[0]->path, len);
    dir[len] = '\0';
    d = opendir(len ? dir : "/");
    if (!d)
        return;
    while ((de = readdir(d))) {
        struct stat st;
        file_entry *e;

        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        e = find_orphan(v, n, st.st_dev, st.st_ino);
        if (!e || (e->flags & FE_SAID) || st.st_size <= e->off)
            continue;
        int fd =
            openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
        if (fd < 0)
            continue;
        if (same_start(s, fd, e)) {
            flog(s, KPID_LOG_WARNING,
                 "file left the pattern with bytes not yet read, which will not be read: "
                 "path=\"%s\" renamed_to=\"%s\" unread_bytes=%" PRId64
                 " hint=\"widen the pattern (e.g. app.ndjson*): a renamed file that still "
                 "matches keeps its position\"",
                 file_show(s, 0, e->path), file_show(s, 1, de->d_name),
                 (int64_t)st.st_size - e->off);
            e->flags |= FE_SAID; /* once, even under two names */
        }
        close(fd);
    }
    closedir(d);
}

/* Releases the closed files that left the pattern, saying which had unread bytes. */
static int release_orphans(struct file_source *s, file_list *orphans)
{
    int r;

    if (orphans->n == 0)
        return 0;
    qsort(orphans->v, orphans->n, sizeof(file_entry *), cmp_orphans);
    for (size_t a = 0, b; a < orphans->n; a = b) {
        size_t len = dir_len(orphans->v[a]->path);
        for (b = a + 1; b < orphans->n && dir_len(orphans->v[b]->path) == len &&
                        memcmp(orphans->v[a]->path, orphans->v[b]->path, len) == 0;
             b++)
            ;
        find_renamed(s, orphans->v + a, b - a);
    }
    for (size_t i = 0; i < orphans->n; i++)
        if ((r = file_entry_release(s, orphans->v[i])) < 0)
            return r;
    flog(s, KPID_LOG_INFO, "files no longer match the pattern, forgetting them: files=%zu",
         orphans->n);
    return 0;
}

/*
 * Where the file open at e->fd is now, for its locators and log lines: the kernel knows
 * its new name after a rename, or says "(deleted)" after an unlink, which keeps its
 * locators apart from those of a new file under the old name. Keeps the old path when
 * it cannot tell.
 */
static int follow_name(file_entry *e)
{
    char link[64], path[4096];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", e->fd);
    n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0 || path[0] != '/')
        return 0;
    path[n] = '\0';
    return file_entry_set_path(e, path);
}

/* Files the scan did not find: drain the open ones, release the closed ones, drop the
 * links that are gone. */
static int handle_missing(struct file_source *s)
{
    file_list orphans = {0};
    int64_t now = file_now_ms();
    int r = 0;

    for (size_t i = s->files.n; i-- > 0 && r == 0;) {
        file_entry *e = (file_entry *)s->files.all[i];

        if (e->seen == s->gen || (e->flags & (FE_RELEASE | FE_DRAINING)))
            continue;
        if (e->flags & FE_LINK) {
            file_entry_forget(s, e); /* the next link there is news again */
            continue;
        }
        if (e->fd >= 0) {
            if ((r = file_list_push(&s->draining, e)) == 0) {
                e->flags |= FE_DRAINING;
                e->gone_ms = e->active_ms = now;
                if (e->stored)
                    e->flags |= FE_PATH_MOVED;
                r = follow_name(e);
            }
        } else if (s->matched) {
            r = file_list_push(&orphans, e);
        }
    }
    if (r == 0)
        r = release_orphans(s, &orphans);
    file_list_free(&orphans);
    return r;
}

int file_scan(struct file_source *s)
{
    glob_t g;
    int r;

    s->gen++;
    s->order.n = 0;
    s->resume = 0;
    glob_error_errno = 0;
    r = glob(s->cfg->path, GLOB_NOSORT, glob_error, &g);
    if (r == GLOB_NOSPACE) {
        globfree(&g);
        return -ENOMEM;
    }
    if (r != 0 && r != GLOB_NOMATCH) {
        r = glob_error_errno ? -glob_error_errno : -EIO;
        globfree(&g);
        flog(s, KPID_LOG_ERR, "cannot expand the pattern: pattern=\"%s\" error=\"%s\"",
             file_show(s, 0, s->cfg->path), strerror(-r));
        return r;
    }
    size_t n = r == 0 ? g.gl_pathc : 0;
    if (n == 0) {
        if (!s->no_match_logged)
            flog(s, KPID_LOG_NOTICE, "no file matches the pattern: pattern=\"%s\"",
                 file_show(s, 0, s->cfg->path));
        s->no_match_logged = true;
    } else if (s->no_match_logged) {
        flog(s, KPID_LOG_INFO, "files match the pattern again: pattern=\"%s\" files=%zu",
             file_show(s, 0, s->cfg->path), n);
        s->no_match_logged = false;
    }
    s->matched = n > 0;
    if (n > 0)
        qsort(g.gl_pathv, n, sizeof(char *), cmp_paths);
    r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = scan_path(s, g.gl_pathv[i]);
    globfree(&g);
    if (r == 0)
        r = handle_missing(s);
    if (r < 0)
        s->order.n = 0;
    return r;
}
