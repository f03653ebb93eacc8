/*
 * The file source's state and the functions its files share (private to the plugin):
 *
 *   file.c     the plugin definition, its keys, init, poll and fini
 *   positions.c  positions as keyed source state: loading them, putting them in batches
 *   scan.c     expanding the pattern: which files match, symbolic links, files that
 *              left the pattern
 *   follow.c   keeping files open within max_open_files, knowing a file by its
 *              fingerprint, releasing files that are gone
 *   read.c     reading a file's complete lines into the batch
 *   reject.c   rejected input and what of it goes into kpid.rejected.raw
 *
 * Thread ownership: everything here belongs to the source thread (init, poll, fini).
 */
#ifndef KPID_FILE_SOURCE_H
#define KPID_FILE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "buf/buf.h"
#include "fingerprint.h"
#include "kpid/plugin.h"
#include "ndjson.h"
#include "table.h"

#define FILE_READ_SIZE ((size_t)1024 * 1024)
#define FILE_RAW_HEAD 1024 /* bytes of a line that kpid.rejected.raw may keep, at most */
#define FILE_BATCH_MAX_BYTES ((size_t)64 * 1024 * 1024)

struct file_config {
    char *path;
    int64_t batch_max_lines;
    int64_t max_line_bytes;
    int64_t rotate_wait_ms;
    int64_t max_open_files;
    bool follow_symlinks;
    char *rejected_raw;
};

enum file_raw_mode {
    FILE_RAW_PSEUDONYMIZED = 0, /* JSON with its identifiers pseudonymized, else NULL */
    FILE_RAW_FULL = 1,          /* the line's first FILE_RAW_HEAD bytes */
    FILE_RAW_NONE = 2,          /* locator and reason only */
};

/* file_entry.flags */
#define FE_OPEN_FAILED 0x01u /* the last attempt to open it failed (and was logged) */
#define FE_TOUCHED 0x02u     /* in s->touched: its position may move in this batch */
#define FE_RELEASE 0x04u     /* in s->releasing: its state goes with the next batch */
#define FE_EOF 0x08u         /* read to its end at size; nothing new until it changes */
#define FE_LINK 0x10u        /* a refused symbolic link (dev, ino of the link itself) */
#define FE_VIA_LINK 0x20u    /* reached through a followed symbolic link */
#define FE_PATH_MOVED 0x40u  /* its path differs from the one in its stored state */
#define FE_DRAINING 0x80u    /* in s->draining: left the pattern, read through its fd */
#define FE_SAID 0x100u       /* its unread bytes under another name were reported */

/* A file the source knows: followed, or a refused link (FE_LINK). */
typedef struct file_entry {
    file_table_item item; /* first: dev, ino */
    char *path;           /* where it was last seen, as the file system spells it */

    /* The position being advanced by the current batch... */
    int64_t off, line;
    uint64_t fp;
    uint32_t fp_len;
    /* ... and as of the last submitted batch, which is what kpid.source_state holds
     * once that batch commits. */
    int64_t c_off, c_line;
    uint64_t c_fp;
    uint32_t c_fp_len;
    bool stored; /* a submitted batch put its state */

    int fd;       /* -1 when closed */
    int64_t size; /* st_size when it was last looked at; -1 = never */
    struct timespec mtime;
    int64_t scan_size; /* st_size and st_mtim as the last scan found them */
    struct timespec scan_mtime;
    int64_t active_ms; /* when it last grew, was opened or left the pattern */
    int64_t gone_ms;   /* when it was found out of the pattern; 0 = in it */
    uint32_t seen;     /* the scan generation that last found it */
    unsigned flags;
    struct file_entry *lru_prev, *lru_next; /* open files, most recently active first */
} file_entry;

/* A growable array of entry pointers. */
typedef struct file_list {
    file_entry **v;
    size_t n, cap;
} file_list;

struct file_source {
    const kpid_host *host;
    kpid_source *src;
    const struct file_config *cfg;
    enum file_raw_mode raw_mode;
    bool pseudo_subject, pseudo_case; /* what the host pseudonymizes */
    size_t max_open;

    bool no_match_logged; /* "no file matches" was said, and still holds */
    bool matched;         /* the last scan matched at least one file */
    file_table files;     /* every file_entry */
    uint32_t gen;         /* scan generation */
    file_list order;      /* files in the pattern, in name order, as of the last scan */
    size_t resume;        /* where in order a full batch stopped; order.n = at the end */
    file_list draining;   /* files that left the pattern, still open */
    file_list touched;    /* entries whose position may move in this batch */
    file_list releasing;  /* entries to forget (and whose state to delete) at submit */
    char **stale_keys;    /* state keys to delete with the next batch */
    size_t n_stale;
    bool put_cursor; /* submit even without lines: the cursor must become v2 */

    file_entry *lru_head, *lru_tail;
    size_t n_open;
    bool starved; /* a file was not read: every descriptor served a file being drained */

    /* The read buffer: buf.data[0..buf.len) holds the file bytes from offset buf_base.
     * It is kept between polls (buf_entry) when a full batch left lines in it. */
    kpid_buf buf;
    int64_t buf_base;
    const file_entry *buf_entry;
    unsigned char fpbuf[FILE_FP_MAX];

    char head[FILE_RAW_HEAD]; /* the start of a line too long to buffer */
    size_t head_len;
    kpid_buf locator; /* "path:" followed by the line number (not counted in len) */
    size_t locator_prefix;

    char shown[2][1024]; /* paths made printable for log lines (file_show) */

    ndjson_line parsed;
    kpid_batch *batch;
    size_t batch_lines;
    int64_t n_lines, n_events, n_retractions, n_rejected;
};

/* Logs with key=value fields; paths go through file_path_printable() first. */
#define flog(s, level, ...) (s)->host->log((s)->src, (level), __VA_ARGS__)

/* path made printable for a log line, in s->shown[slot] (slot 0 or 1): valid until the
 * next call with that slot. */
const char *file_show(struct file_source *s, int slot, const char *path);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t file_now_ms(void);

/* Appends e to l. Returns 0 or -ENOMEM. */
int file_list_push(file_list *l, file_entry *e);
void file_list_free(file_list *l);

/* ---- positions.c ---- */

/*
 * Loads where every file is (init): a version 2 cursor means the committed state, a
 * version 1 cursor holds the positions itself (taken over once), no cursor means from
 * the start, and whatever state is left (its cursor row was deleted to read everything
 * again) is deleted with the first batch. Returns 0 or a negative errno (logged).
 */
int file_positions_load(struct file_source *s);

/* Hands the batch to the host with the state of the files it moved or released, and
 * the v2 cursor. Returns 0 (also when there was nothing to submit) or -errno. */
int file_submit(struct file_source *s);

/* Puts what this poll changed back to where the last submitted batch left it. */
void file_undo(struct file_source *s);

/* ---- follow.c ---- */

/* A new entry for (dev, ino) at path, at position 0, added to s->files. Returns it, or
 * NULL when out of memory. */
file_entry *file_entry_new(struct file_source *s, uint64_t dev, uint64_t ino, const char *path);
/* Removes e from s->files (and from draining), closes it, frees it. */
void file_entry_forget(struct file_source *s, file_entry *e);
/* Sets e->path to a copy of path. Returns 0 or -ENOMEM. */
int file_entry_set_path(file_entry *e, const char *path);
/* Notes that e's position may move in this batch (s->touched). Returns 0 or -ENOMEM. */
int file_entry_touch(struct file_source *s, file_entry *e);
/* Marks e to be forgotten with the next batch (s->releasing). Returns 0 or -ENOMEM. */
int file_entry_release(struct file_source *s, file_entry *e);

/*
 * Makes sure e is open (opening it by path when it is closed, within max_open_files:
 * the file idle longest is closed first) and is still the file (dev, ino) of e, a
 * regular file; fills *ret_st with fstat(). Returns 0, 1 when e cannot be read now
 * (gone or replaced since the scan, not openable, no descriptor free: logged when
 * that is news), or a negative errno.
 */
int file_open(struct file_source *s, file_entry *e, struct stat *ret_st);
/* Closes e's descriptor, if open. */
void file_close(struct file_source *s, file_entry *e);

/*
 * Checks that e, open and with fstat() result st, is still the file it was: when its size
 * or mtime changed since the last look, its first bytes must match the fingerprint,
 * which is then extended. A file shorter than its fingerprint or its position, or whose
 * fingerprint differs, was replaced or truncated: it is read again from offset 0 (one
 * notice). Returns 0 or a negative errno.
 */
int file_identify(struct file_source *s, file_entry *e, const struct stat *st);

/* ---- scan.c ---- */

/*
 * Expands the pattern into s->order (name order), creating entries for new files,
 * refusing symbolic links unless follow_symlinks, and handling files that are no longer
 * in it: open ones go to s->draining, closed ones are released (with one warning when
 * they are found renamed in their directory with bytes not yet read). Returns 0 or a
 * negative errno.
 */
int file_scan(struct file_source *s);

/* ---- read.c ---- */

/* Prepares s->locator as "path:" for the lines of e. Returns 0 or -ENOMEM. */
int file_locator_start(struct file_source *s, const file_entry *e);
/* Completes s->locator with the line number and returns it. */
const char *file_locator_line(struct file_source *s, int64_t line);

/*
 * Reads the complete lines of e after its position into the batch, until its end or
 * until the batch is full (*ret_full). With final, what follows the last newline is
 * taken as a last line (e is being released and will not grow). Returns 0 or a negative
 * errno; a file that cannot be read now is skipped.
 */
int file_read(struct file_source *s, file_entry *e, bool final, bool *ret_full);

/* Starts the batch if there is none. */
int file_batch_ensure(struct file_source *s);
bool file_batch_full(const struct file_source *s);

/* ---- reject.c ---- */

/* Parses rejected_raw into s->raw_mode and asks the host what it pseudonymizes. Returns
 * 0 or -EINVAL (logged). */
int file_reject_init(struct file_source *s);

/*
 * Records a line (data, len bytes; complete = false when it is only the line's head) as
 * rejected with locator and reason, keeping of it in raw what rejected_raw says. Returns
 * 0 or a negative errno.
 */
int file_reject(struct file_source *s, const char *locator, const char *reason, const char *data,
                size_t len, bool complete);

#endif
