/*
 * setlocale_guard.so: an LD_PRELOAD library for odbc_connect_race.sh. It wraps
 * setlocale(3): each call stays inside for 2 ms after the real one has returned (the
 * moment in which a caller holds the locale's name that the next setlocale frees, made
 * long), and appends one line per call to the file $SETLOCALE_GUARD_OUT: "call", or
 * "overlap" when another thread was inside setlocale at the same time. Without
 * SETLOCALE_GUARD_OUT it only passes the call on.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <locale.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef char *(*setlocale_fn)(int, const char *);

static atomic_int inside;

static void record(const char *line)
{
    const char *path = getenv("SETLOCALE_GUARD_OUT");
    if (!path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    /* One write of a few bytes with O_APPEND: lines of threads do not mix. */
    if (write(fd, line, strlen(line)) < 0) {
        /* nothing to do: the test counts the lines that are there */
    }
    close(fd);
}

char *setlocale(int category, const char *locale)
{
    setlocale_fn real = (setlocale_fn)dlsym(RTLD_NEXT, "setlocale");
    if (!real)
        abort();
    int before = atomic_fetch_add(&inside, 1);
    char *name = real(category, locale);
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    record(before > 0 ? "overlap\n" : "call\n");
    atomic_fetch_sub(&inside, 1);
    return name;
}
