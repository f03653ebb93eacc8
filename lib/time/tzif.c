/*
 * Loading a zone: reading and checking a TZif file (RFC 8536, versions 1 to 4) from
 * $TZDIR or /usr/share/zoneinfo.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "time/tz.h"
#include "time/tz_private.h"

#define TZ_FILE_MAX ((off_t)1024 * 1024) /* real files are a few kB */
#define TZ_OFFSET_MIN (-89999)           /* RFC 8536: more than -25 h ... */
#define TZ_OFFSET_MAX 93599              /* ... and less than 26 h */

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static bool rd_skip(reader *r, uint64_t n)
{
    if (n > r->left)
        return false;
    r->p += n;
    r->left -= n;
    return true;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

typedef struct tzif_header {
    int version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_header;

static const char *tzif_header_read(reader *r, tzif_header *h)
{
    const uint8_t *p = r->p;
    if (!rd_skip(r, 44))
        return "truncated header";
    if (memcmp(p, "TZif", 4) != 0)
        return "bad magic";
    if (p[4] == 0)
        h->version = 1;
    else if (p[4] >= '2' && p[4] <= '4')
        h->version = p[4] - '0';
    else
        return "unsupported version";
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 ||
        (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
        return "inconsistent counts";
    return NULL;
}

static uint64_t tzif_block_size(const tzif_header *h, unsigned tsize)
{
    return (uint64_t)h->timecnt * (tsize + 1) + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* Reads a data block with tsize-byte times into tz. */
static const char *tzif_block_read(reader *r, const tzif_header *h, unsigned tsize, kpid_tz *tz)
{
    const uint8_t *p = r->p, *idx, *types;

    if (!rd_skip(r, tzif_block_size(h, tsize)))
        return "truncated data";
    tz->n_trans = h->timecnt;
    tz->n_types = h->typecnt;
    tz->trans = malloc(sizeof(*tz->trans) * (h->timecnt ? h->timecnt : 1));
    tz->idx = malloc(h->timecnt ? h->timecnt : 1);
    tz->types = malloc(sizeof(*tz->types) * h->typecnt);
    if (!tz->trans || !tz->idx || !tz->types)
        return NULL; /* the caller sees the NULL pointers: -ENOMEM */
    idx = p + (size_t)h->timecnt * tsize;
    types = idx + h->timecnt;
    for (size_t i = 0; i < h->timecnt; i++) {
        tz->trans[i] = tsize == 8 ? (int64_t)be64(p + i * 8) : (int32_t)be32(p + i * 4);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return "transitions out of order";
        if (idx[i] >= h->typecnt)
            return "transition to an undefined type";
        tz->idx[i] = idx[i];
    }
    for (size_t i = 0; i < h->typecnt; i++) {
        const uint8_t *t = types + i * 6;
        int32_t off = (int32_t)be32(t);
        if (off < TZ_OFFSET_MIN || off > TZ_OFFSET_MAX || t[4] > 1 || t[5] >= h->charcnt)
            return "invalid local time type";
        tz->types[i] = (tz_type){off, t[4] == 1};
    }
    return NULL;
}

/* Parses a whole TZif file into tz; returns NULL or why it is invalid. */
static const char *tzif_parse(const uint8_t *data, size_t size, kpid_tz *tz, bool *ret_leap)
{
    reader r = {data, size};
    tzif_header h;
    const char *why, *nl;
    char footer[256];

    *ret_leap = false;
    if ((why = tzif_header_read(&r, &h)))
        return why;
    if (h.leapcnt) {
        *ret_leap = true;
        return "leap seconds";
    }
    if (h.version == 1)
        return tzif_block_read(&r, &h, 4, tz);
    if (!rd_skip(&r, tzif_block_size(&h, 4)))
        return "truncated data";
    if ((why = tzif_header_read(&r, &h)))
        return why;
    if (h.leapcnt) {
        *ret_leap = true;
        return "leap seconds";
    }
    if ((why = tzif_block_read(&r, &h, 8, tz)) || !tz->types)
        return why;
    if (r.left < 2 || r.p[0] != '\n')
        return "missing footer";
    nl = memchr(r.p + 1, '\n', r.left - 1);
    if (!nl || (size_t)(nl - (const char *)r.p) > sizeof(footer))
        return "unterminated footer";
    if (memchr(r.p + 1, '\0', (size_t)(nl - (const char *)r.p) - 1))
        return "invalid footer TZ string";
    memcpy(footer, r.p + 1, (size_t)(nl - (const char *)r.p) - 1);
    footer[nl - (const char *)r.p - 1] = '\0';
    if (footer[0] && !kpid__tz_rule_parse(footer, &tz->rule))
        return "invalid footer TZ string";
    return NULL;
}

static bool name_valid(const char *name, size_t len)
{
    if (len == 0 || len > KPID_TZ_NAME_MAX || name[0] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!kpid__tz_is_alpha(c) && !kpid__tz_is_digit(c) && c != '_' && c != '+' && c != '-' &&
            c != '/')
            return false; /* no '.' at all, hence no ".." */
    }
    return true;
}

/* A printable, bounded copy of an untrusted name for messages. */
static void name_quote(const char *name, char out[72])
{
    size_t i;
    for (i = 0; i < 64 && name[i]; i++)
        out[i] = name[i] >= 0x20 && name[i] < 0x7f && name[i] != '"' ? name[i] : '?';
    strcpy(out + i, name[i] ? "..." : "");
}

static int fail(char **ret_error, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char **ret_error, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(ret_error, fmt, ap) < 0)
        *ret_error = NULL;
    va_end(ap);
    return r;
}

/* Reads the regular file at path (at most TZ_FILE_MAX bytes). Returns 0 or -errno. */
static int read_file(const char *path, uint8_t **ret_data, size_t *ret_size)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t size = 0;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = S_ISDIR(st.st_mode) ? -EISDIR : -ENOENT;
        goto out;
    }
    if (st.st_size > TZ_FILE_MAX) {
        r = -EFBIG;
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t k = read(fd, data + size, (size_t)st.st_size + 1 - size);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = -errno;
            goto out;
        }
        if (k == 0)
            break;
        size += (size_t)k;
        if (size > (size_t)st.st_size) { /* grew while we read it */
            r = -EFBIG;
            goto out;
        }
    }
    *ret_data = data;
    *ret_size = size;
    data = NULL;
out:
    free(data);
    close(fd);
    return r;
}

int kpid_tz_load(const char *name, kpid_tz **ret_tz, char **ret_error)
{
    const char *dir = getenv("TZDIR");
    char quoted[72], *path = NULL;
    uint8_t *data = NULL;
    size_t size = 0, len = strnlen(name, KPID_TZ_NAME_MAX + 1);
    kpid_tz *tz = NULL;
    const char *why;
    bool leap;
    int r;

    name_quote(name, quoted);
    if (len > KPID_TZ_NAME_MAX)
        return fail(ret_error, -EINVAL, "invalid time zone name \"%s\": longer than %d bytes",
                    quoted, KPID_TZ_NAME_MAX);
    if (!name_valid(name, len))
        return fail(ret_error, -EINVAL,
                    "invalid time zone name \"%s\": a zone name like \"Europe/Berlin\" is "
                    "letters, digits, '_', '+', '-' and '/', without '.' and not starting "
                    "with '/'",
                    quoted);
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return fail(ret_error, -ENOMEM, "out of memory loading time zone \"%s\"", quoted);
    r = read_file(path, &data, &size);
    if (r == -ENOENT || r == -ENOTDIR || r == -EISDIR) {
        r = fail(ret_error, -ENOENT, "unknown time zone \"%s\" (no such zone in %s)", quoted, dir);
        goto out;
    }
    if (r == -EFBIG) {
        r = fail(ret_error, -EBADMSG, "time zone \"%s\": %s is not a TZif file (too large)", quoted,
                 path);
        goto out;
    }
    if (r < 0) {
        r = fail(ret_error, r, "cannot read time zone \"%s\" from %s: %s", quoted, path,
                 strerror(-r));
        goto out;
    }
    tz = calloc(1, sizeof(*tz));
    if (!tz || !(tz->name = strdup(name))) {
        r = fail(ret_error, -ENOMEM, "out of memory loading time zone \"%s\"", quoted);
        goto out;
    }
    why = tzif_parse(data, size, tz, &leap);
    if (leap) {
        r = fail(ret_error, -ENOTSUP,
                 "time zone \"%s\": %s counts leap seconds, which kpid does not support "
                 "(use the zone without the \"right/\" prefix)",
                 quoted, path);
        goto out;
    }
    if (why) {
        r = fail(ret_error, -EBADMSG, "time zone \"%s\": %s is not a valid TZif file: %s", quoted,
                 path, why);
        goto out;
    }
    if (!tz->trans || !tz->idx || !tz->types) {
        r = fail(ret_error, -ENOMEM, "out of memory loading time zone \"%s\"", quoted);
        goto out;
    }
    *ret_tz = tz;
    tz = NULL;
    r = 0;
out:
    kpid_tz_free(tz);
    free(data);
    free(path);
    return r;
}
