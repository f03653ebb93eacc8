/* The file plugin (file.so) through its ABI with a fake host (file_host.h): what keeps
 * lines from being lost. A file is known by its fingerprint (inode reuse, copytruncate,
 * a rewrite to the same size); a file renamed or unlinked out of the pattern is read to
 * its end through its descriptor, and one renamed while the source was stopped is
 * reported; many files stay within max_open_files; symbolic links are refused unless
 * follow_symlinks; kpid.rejected.raw keeps what rejected_raw says. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "file_host.h"

static ino_t inode_of(const char *name)
{
    struct stat sb;
    assert_int_equal(stat(p(name), &sb), 0);
    return sb.st_ino;
}

/* Sleeps until the next second begins. */
static void second_start(void)
{
    struct timespec now, nap;
    clock_gettime(CLOCK_REALTIME, &now);
    nap = (struct timespec){0, 1000000000 - now.tv_nsec};
    nanosleep(&nap, NULL);
}

/*
 * Deletes dir/old and writes data as dir/name so that the new file gets old's inode;
 * returns false (old deleted all the same) when the file system does not give it. ext4
 * gives a new file the first free inode of its directory's group that was not deleted
 * in an earlier second (those count as recently deleted for a minute): so this starts at
 * the beginning of a second, deletes old and at once creates empty files outside the
 * pattern until one of them has old's inode; that one gets the data and its name. Most
 * times it does: callers try again with another file, and fail loudly when it never
 * does.
 */
static bool reuse_inode(const char *old, const char *name, const char *data)
{
    enum { SPARES = 3000 };
    char spare[64];
    ino_t ino = inode_of(old);
    int found = -1, n;

    second_start();
    assert_int_equal(unlink(p(old)), 0);
    for (n = 0; n < SPARES && found < 0; n++) {
        snprintf(spare, sizeof(spare), "spare%d.tmp", n);
        int fd = open(p(spare), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        struct stat sb;
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &sb), 0);
        close(fd);
        if (sb.st_ino == ino)
            found = n;
    }
    if (found >= 0) {
        snprintf(spare, sizeof(spare), "spare%d.tmp", found);
        write_at(spare, "w", data, strlen(data));
        assert_int_equal(rename(p(spare), p(name)), 0);
    }
    for (int i = 0; i < n; i++) {
        snprintf(spare, sizeof(spare), "spare%d.tmp", i);
        assert_true(i == found || unlink(p(spare)) == 0);
    }
    return found >= 0 && inode_of(name) == ino;
}

#define REUSE_TRIES 5

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", "..", and the descriptor of d */
}

/* copytruncate: the file is truncated and new data passes the old position before the
 * next poll. The fingerprint says it is another file: read from its first line. */
static void test_copytruncate_past_offset(void **state)
{
    put("a.ndjson", EV("c1") EV("c2") EV("c3"));
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    free(take_records());
    put("a.ndjson", EV("n1") EV("n2") EV("n3") EV("n4") EV("n5"));
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[2048];
    snprintf(exp, sizeof(exp),
             "E %1$s/a.ndjson:1 n1 A 1000000 -\nE %1$s/a.ndjson:2 n2 A 1000000 -\n"
             "E %1$s/a.ndjson:3 n3 A 1000000 -\nE %1$s/a.ndjson:4 n4 A 1000000 -\n"
             "E %1$s/a.ndjson:5 n5 A 1000000 -\n",
             dir);
    expect_records(exp);
    assert_int_equal(log_count("file was replaced or truncated since it was read, reading it "
                               "again from the start: path=\""),
                     1);
    assert_non_null(strstr(H.logs, "size=320 position=192"));
    assert_non_null(strstr(state_get(key_of("a.ndjson")), "{\"off\":320,\"line\":5,"));
}

/* Rewritten in place to the same size with a new mtime. */
static void test_same_size_rewrite(void **state)
{
    put("a.ndjson", EV("s1"));
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    free(take_records());
    put("a.ndjson", EV("s2"));
    struct timespec times[2] = {{0, UTIME_OMIT}, {time(NULL) + 5, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p("a.ndjson"), times, 0), 0);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[512];
    snprintf(exp, sizeof(exp), "E %s/a.ndjson:1 s2 A 1000000 -\n", dir);
    expect_records(exp);
    /* The same size and mtime again: not even looked at. */
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    expect_records("");
}

/* A file deleted while the source is stopped; a new, longer one gets its inode. */
static void test_inode_reuse_restart(void **state)
{
    char victim[32];
    int try;

    for (try = 0; try < REUSE_TRIES; try++) {
        snprintf(victim, sizeof(victim), "a%d.ndjson", try);
        put(victim, EV("o1") EV("o2"));
        start(100, 1024);
        assert_int_equal(poll1(), KPID_POLL_IDLE);
        free(take_records());
        stop();
        if (reuse_inode(victim, "b.ndjson", EV("r1") EV("r2") EV("r3")))
            break;
    }
    if (try == REUSE_TRIES)
        fail_msg("the file system never reused an inode in %d tries", REUSE_TRIES);
    start(100, 1024);
    H.logs_len = 0;
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[1024];
    snprintf(exp, sizeof(exp),
             "E %1$s/b.ndjson:1 r1 A 1000000 -\nE %1$s/b.ndjson:2 r2 A 1000000 -\n"
             "E %1$s/b.ndjson:3 r3 A 1000000 -\n",
             dir);
    expect_records(exp);
    assert_int_equal(log_count("replaced or truncated"), 1);
    assert_non_null(strstr(state_get(key_of("b.ndjson")), "\"line\":3,"));
}

/* The same while the source runs: the file was closed (max_open_files 1; z was read
 * after it), so its inode is free when it is deleted, and the new file gets it before
 * the next poll. */
static void test_inode_reuse_live(void **state)
{
    char victim[32];
    int try;

    put("z.ndjson", EV("z1"));
    start(100, 1024);
    cfg.max_open_files = 1;
    stop();
    assert_int_equal(start_cfg(), 0);
    for (try = 0; try < REUSE_TRIES; try++) {
        snprintf(victim, sizeof(victim), "a%d.ndjson", try);
        put(victim, EV("o1") EV("o2"));
        assert_int_equal(poll1(), KPID_POLL_IDLE);
        app("z.ndjson", EV("z2"));
        assert_int_equal(poll1(), KPID_POLL_IDLE);
        free(take_records());
        if (reuse_inode(victim, "b.ndjson", EV("r1") EV("r2") EV("r3")))
            break;
    }
    if (try == REUSE_TRIES)
        fail_msg("the file system never reused an inode in %d tries", REUSE_TRIES);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[1024];
    snprintf(exp, sizeof(exp),
             "E %1$s/b.ndjson:1 r1 A 1000000 -\nE %1$s/b.ndjson:2 r2 A 1000000 -\n"
             "E %1$s/b.ndjson:3 r3 A 1000000 -\n",
             dir);
    expect_records(exp);
    assert_int_equal(log_count("replaced or truncated"), 1);
}

/* logrotate's create: the file is renamed out of the pattern with an unread tail, and
 * the writer appends to it a moment longer. Every line is read through the open
 * descriptor, under the file's new name, until rotate_wait has passed. */
static void test_rename_out_live(void **state)
{
    put("a.ndjson", EV("a1") EV("a2"));
    start(100, 1024);
    cfg.rotate_wait_ms = 3600000;
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    free(take_records());
    char old_key[64];
    snprintf(old_key, sizeof(old_key), "%s", key_of("a.ndjson"));
    app("a.ndjson", EV("a3") EV("a4"));
    assert_int_equal(rename(p("a.ndjson"), p("a.ndjson.1")), 0);
    put("a.ndjson", EV("n1"));
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[1024];
    snprintf(exp, sizeof(exp),
             "E %1$s/a.ndjson.1:3 a3 A 1000000 -\nE %1$s/a.ndjson.1:4 a4 A 1000000 -\n"
             "E %1$s/a.ndjson:1 n1 A 1000000 -\n",
             dir);
    expect_records(exp);
    /* The writer has not reopened yet. */
    app("a.ndjson.1", EV("a5"));
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    snprintf(exp, sizeof(exp), "E %s/a.ndjson.1:5 a5 A 1000000 -\n", dir);
    expect_records(exp);
    assert_non_null(strstr(state_get(old_key), "\"line\":5,"));
    /* A last line without its newline, then rotate_wait passes: it is read as the last
     * line, and the file is released with its state. */
    app("a.ndjson.1",
        "{\"event_key\":\"a6\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\"}");
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    expect_records("");
    cfg.rotate_wait_ms = 0;
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    snprintf(exp, sizeof(exp), "E %s/a.ndjson.1:6 a6 A 1000000 -\n", dir);
    expect_records(exp);
    assert_null(state_get(old_key));
    assert_int_equal(H.n_state, 1);
    assert_int_equal(log_count("WARN"), 0);
}

/* Unlinked with an unread tail: read through the descriptor all the same. */
static void test_unlinked_live(void **state)
{
    put("a.ndjson", EV("a1"));
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    free(take_records());
    app("a.ndjson", EV("a2"));
    assert_int_equal(unlink(p("a.ndjson")), 0);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[512];
    snprintf(exp, sizeof(exp), "E %s/a.ndjson (deleted):2 a2 A 1000000 -\n", dir);
    expect_records(exp);
    assert_int_equal(H.n_state, 0); /* released at once: rotate_wait 0 */
}

/* Renamed out of the pattern while the source was stopped, with bytes not yet read: one
 * warning line with the old path, the new name and the unread bytes; then forgotten. */
static void test_rename_out_stopped(void **state)
{
    put("a.ndjson", EV("a1"));
    put("b.ndjson", EV("b1"));
    put("c.ndjson", EV("c1"));
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    free(take_records());
    stop();
    app("a.ndjson", EV("a2") EV("a3"));
    assert_int_equal(rename(p("a.ndjson"), p("a.ndjson.1")), 0);
    assert_int_equal(rename(p("b.ndjson"), p("b.ndjson.1")), 0); /* nothing unread */
    put("d.tmp", "");                           /* before c's inode is free: another inode */
    assert_int_equal(unlink(p("c.ndjson")), 0); /* gone */
    /* While nothing matches, nothing is forgotten: the folder may be back soon. */
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    assert_int_equal(H.n_state, 3);
    assert_int_equal(log_count("file left the pattern"), 0);
    assert_int_equal(rename(p("d.tmp"), p("d.ndjson")), 0);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    expect_records("");
    char want[1024];
    snprintf(want, sizeof(want),
             "file left the pattern with bytes not yet read, which will not be read: "
             "path=\"%s/a.ndjson\" renamed_to=\"a.ndjson.1\" unread_bytes=128 hint=\"widen "
             "the pattern (e.g. app.ndjson*): a renamed file that still matches keeps its "
             "position\"\n",
             dir);
    if (!strstr(H.logs, want))
        fail_msg("no warning\n%s\nin the log:\n%s", want, H.logs);
    assert_int_equal(log_count("file left the pattern"), 1);
    if (!strstr(H.logs, "files no longer match the pattern, forgetting them: files=3"))
        fail_msg("log:\n%s", H.logs);
    assert_int_equal(H.n_state, 0);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    assert_int_equal(log_count("file left the pattern"), 1);
}

/* Symbolic links are refused, once per link, unless follow_symlinks; FIFOs, devices and
 * directories are never opened. */
static void test_symlinks(void **state)
{
    assert_int_equal(mkdir(p("sub"), 0700), 0);
    put("sub/secret.txt", "TOP SECRET\n");
    put("sub/real.json", EV("r1"));
    assert_int_equal(symlink(p("sub/secret.txt"), p("leak.ndjson")), 0);
    assert_int_equal(symlink("/etc/passwd", p("passwd.ndjson")), 0);
    assert_int_equal(mkfifo(p("fifo.ndjson"), 0600), 0);
    assert_int_equal(mkdir(p("dir.ndjson"), 0700), 0);
    put("ok.ndjson", EV("k1"));
    assert_int_equal(link(p("ok.ndjson"), p("ok2.ndjson")), 0); /* a second name: read once */
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[512];
    snprintf(exp, sizeof(exp), "E %s/ok.ndjson:1 k1 A 1000000 -\n", dir);
    expect_records(exp);
    assert_int_equal(log_count("symbolic link refused, not reading it: path=\""), 2);
    assert_non_null(strstr(H.logs, "leak.ndjson\"; set follow_symlinks = true"));
    assert_null(strstr(H.logs, "SECRET"));
    assert_null(H.raws);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    assert_int_equal(log_count("symbolic link refused"), 2);
    /* A link that changes (a new link in its place) is news again. */
    assert_int_equal(unlink(p("leak.ndjson")), 0);
    assert_int_equal(symlink(p("sub/real.json"), p("leak.ndjson")), 0);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    assert_int_equal(log_count("symbolic link refused"), 3);
    expect_records("");
    stop();

    /* follow_symlinks: a link to a regular file is read (once, however many links);
     * a link to a FIFO or a directory still is not. */
    assert_int_equal(unlink(p("passwd.ndjson")), 0);
    assert_int_equal(symlink(p("fifo.ndjson"), p("tofifo.ndjson")), 0);
    assert_int_equal(symlink(p("sub"), p("todir.ndjson")), 0);
    cfg.follow_symlinks = true;
    assert_int_equal(start_cfg(), 0);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    snprintf(exp, sizeof(exp), "E %s/leak.ndjson:1 r1 A 1000000 -\n", dir);
    expect_records(exp);
    assert_int_equal(log_count("symbolic link refused"), 3);
}

/* 3000 files, at most 16 open at a time: every line once, one state key per file, the
 * cursor constant; when they are gone, so is their state. */
static void test_many_files(void **state)
{
    enum { FILES = 3000 };
    char name[64], line[256];
    int base = count_fds(), r, polls = 0;

    for (int i = 0; i < FILES; i++) {
        snprintf(name, sizeof(name), "f%05d.ndjson", i);
        snprintf(line, sizeof(line),
                 "{\"event_key\":\"k%d-1\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\"}\n"
                 "{\"event_key\":\"k%d-2\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\"}\n",
                 i, i);
        put(name, line);
    }
    start(500, 1024);
    cfg.max_open_files = 16;
    stop();
    assert_int_equal(start_cfg(), 0);
    while ((r = poll1()) == KPID_POLL_MORE) {
        polls++;
        assert_true(count_fds() - base <= 16);
        assert_string_equal(H.cursor, "{\"v\":2}");
    }
    assert_int_equal(r, KPID_POLL_IDLE);
    assert_int_equal(polls, 2 * FILES / 500); /* the last full batch returns MORE too */
    char *recs = take_records(), *q = recs;
    for (int i = 0; i < FILES; i++)
        for (int k = 1; k <= 2; k++) {
            char want[512];
            snprintf(want, sizeof(want), "E %s/f%05d.ndjson:%d k%d-%d ", dir, i, k, i, k);
            if (strncmp(q, want, strlen(want)) != 0)
                fail_msg("file %d line %d: %.80s", i, k, q);
            q = strchr(q, '\n') + 1;
        }
    assert_string_equal(q, "");
    free(recs);
    assert_int_equal(H.n_state, FILES);
    assert_string_equal(H.cursor, "{\"v\":2}");
    /* A restart loads 3000 positions and reads nothing again. */
    stop();
    assert_int_equal(start_cfg(), 0);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    expect_records("");
    assert_true(count_fds() - base <= 16);
    /* All gone: open or closed, every file is forgotten with its state. */
    for (int i = 0; i < FILES; i++) {
        snprintf(name, sizeof(name), "f%05d.ndjson", i);
        assert_int_equal(unlink(p(name)), 0);
    }
    /* A new file waits for a descriptor while all 16 serve the files being drained: they
     * are released with the batch, and the poll asks to be called again at once. */
    put("new.ndjson", EV("x1"));
    assert_int_equal(poll1(), KPID_POLL_MORE);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[512];
    snprintf(exp, sizeof(exp), "E %s/new.ndjson:1 x1 A 1000000 -\n", dir);
    expect_records(exp);
    if (H.n_state != 1)
        fail_msg("state keys: %zu; log:\n%s", H.n_state, H.logs);
    assert_non_null(strstr(state_get(key_of("new.ndjson")), "{\"off\":64,\"line\":1,"));
}

#define REJECTS                                                                                          \
    "{\"event_key\":\"r1\",\"subject_id\":\"P-CLEAR\",\"case_id\":\"C-CLEAR\",\"activity\":\"bad "       \
    "act\",\"time\":\"1970-01-01T00:00:01Z\"}\n"                                                         \
    "not json P-CLEAR\n"                                                                                 \
    "{\"event_key\":\"r3\",\"subject_id\":12345,\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\"}\n" \
    "{\"event_key\":\"r4\",\"case_id\":\"C-CLEAR\",\"subject_id\":\"P-CLEAR\",\"activity\":\"A\","       \
    "\"time\":\"9999-12-31T23:00:00-05:00\"}\n"                                                          \
    "{\"event_key\":\"r6\",\"subject_id\":P-CLEAR}\n"

#define NUMBER_ID "subject_id must be a string, not a number (quote numeric identifiers)"

/* Runs the rejected lines (and one too long) through a source with rejected_raw = mode. */
static void run_rejects(const char *mode, bool pseudonymize, bool pseudonymize_case)
{
    char *long_line = malloc(3000);
    int n = sprintf(long_line, "{\"event_key\":\"r5\",\"subject_id\":\"P-CLEAR\",\"x\":\"");
    memset(long_line + n, 'y', 2000);
    strcpy(long_line + n + 2000, "\"}\n");
    put("a.ndjson", REJECTS);
    app("a.ndjson", long_line);
    free(long_line);
    start(100, 1024);
    cfg.rejected_raw = (char *)mode;
    stop();
    H.pseudonymize = pseudonymize;
    H.pseudonymize_case = pseudonymize_case;
    assert_int_equal(start_cfg(), 0);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
}

static void test_rejected_raw_pseudonymized(void **state)
{
    run_rejects("pseudonymized", true, false);
    char *recs = take_records();
    char exp[2048];
    snprintf(exp, sizeof(exp),
             "R %1$s/a.ndjson:1 activity must match [A-Z0-9_]{1,64} [120]\n"
             "R %1$s/a.ndjson:2 invalid JSON at column 3: invalid token [null]\n"
             "R %1$s/a.ndjson:3 " NUMBER_ID " [92]\n"
             "R %1$s/a.ndjson:4 time outside years 0001-9999 [119]\n"
             "R %1$s/a.ndjson:5 invalid JSON at column 32: invalid token [null]\n"
             "R %1$s/a.ndjson:6 line longer than 1024 bytes [null]\n",
             dir);
    if (strcmp(recs, exp) != 0)
        fail_msg("records:\n%s\nexpected:\n%s", recs, exp);
    snprintf(exp, sizeof(exp),
             "%1$s/a.ndjson:1\t{\"event_key\":\"r1\",\"subject_id\":\"pseudo(P-CLEAR)\","
             "\"case_id\":\"C-CLEAR\",\"activity\":\"bad act\",\"time\":\"1970-01-01T00:00:01Z\"}\n"
             "%1$s/a.ndjson:3\t{\"event_key\":\"r3\",\"subject_id\":\"pseudo(12345)\","
             "\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\"}\n"
             "%1$s/a.ndjson:4\t{\"event_key\":\"r4\",\"case_id\":\"C-CLEAR\",\"subject_id\":"
             "\"pseudo(P-CLEAR)\",\"activity\":\"A\",\"time\":\"9999-12-31T23:00:00-05:00\"}\n",
             dir);
    assert_string_equal(H.raws, exp);
    /* The clear subject id is nowhere: not in raw, not in a reason. */
    assert_null(strstr(recs, "P-CLEAR"));
    assert_null(strstr(strstr(H.raws, "\t"), "\"P-CLEAR"));
    free(recs);
}

static void test_rejected_raw_pseudonymized_case(void **state)
{
    run_rejects("pseudonymized", true, true);
    free(take_records());
    assert_null(strstr(H.raws, "C-CLEAR\""));
    assert_non_null(strstr(H.raws, "\"case_id\":\"pseudo(C-CLEAR)\""));
    assert_null(strstr(H.raws, "\"P-CLEAR"));
}

/* Without pseudonymization, "pseudonymized" keeps what "full" keeps. */
static void test_rejected_raw_full(void **state)
{
    static const struct {
        const char *mode;
        bool pseudonymize;
    } runs[] = {{"full", true}, {"full", false}, {"pseudonymized", false}};

    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        run_rejects(runs[i].mode, runs[i].pseudonymize, false);
        char *recs = take_records();
        char exp[2048];
        snprintf(exp, sizeof(exp),
                 "R %1$s/a.ndjson:1 activity must match [A-Z0-9_]{1,64} [112]\n"
                 "R %1$s/a.ndjson:2 invalid JSON at column 3: invalid token near 'not' [16]\n"
                 "R %1$s/a.ndjson:3 " NUMBER_ID " [82]\n"
                 "R %1$s/a.ndjson:4 time outside years 0001-9999 [111]\n"
                 "R %1$s/a.ndjson:5 invalid JSON at column 32: invalid token near 'P' [39]\n"
                 "R %1$s/a.ndjson:6 line longer than 1024 bytes [1024]\n",
                 dir);
        if (strcmp(recs, exp) != 0)
            fail_msg("%s: records:\n%s\nexpected:\n%s", runs[i].mode, recs, exp);
        free(recs);
        assert_non_null(strstr(H.raws, "a.ndjson:2\tnot json P-CLEAR\n"));
        stop();
        reset_host();
    }
}

static void test_rejected_raw_none(void **state)
{
    run_rejects("none", true, false);
    char *recs = take_records();
    assert_int_equal(H.raws_len, 0);
    char exp[2048];
    snprintf(exp, sizeof(exp),
             "R %1$s/a.ndjson:1 activity must match [A-Z0-9_]{1,64} [null]\n"
             "R %1$s/a.ndjson:2 invalid JSON at column 3: invalid token [null]\n"
             "R %1$s/a.ndjson:3 " NUMBER_ID " [null]\n"
             "R %1$s/a.ndjson:4 time outside years 0001-9999 [null]\n"
             "R %1$s/a.ndjson:5 invalid JSON at column 32: invalid token [null]\n"
             "R %1$s/a.ndjson:6 line longer than 1024 bytes [null]\n",
             dir);
    assert_string_equal(recs, exp);
    free(recs);
}

int main(void)
{
    if (fake_load_plugin())
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_copytruncate_past_offset, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_same_size_rewrite, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_inode_reuse_restart, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_inode_reuse_live, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_rename_out_live, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_unlinked_live, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_rename_out_stopped, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_symlinks, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_many_files, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_rejected_raw_pseudonymized, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_rejected_raw_pseudonymized_case, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_rejected_raw_full, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_rejected_raw_none, fake_setup, fake_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
