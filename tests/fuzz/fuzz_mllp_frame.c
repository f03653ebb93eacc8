/*
 * Fuzz target for the MLLP framer (plugins/hl7/mllp_frame.c). The input is
 *
 *   byte 0      the message limit: 1 to 48 bytes, or 64 KiB from 240 up
 *   bytes 1-4   the seed of the chunk sizes
 *   the rest    the stream
 *
 * The stream is fed whole, a byte at a time, and in chunks whose sizes the seed draws
 * (1 to 4, 64 or 4096 bytes, by the seed's low bits). Every feed is held to the header's
 * promises, and every run must give what a reference model gives: a byte-at-a-time
 * state machine written from the header's rules, which knows nothing of chunks. Each
 * message that comes out is also framed again by kpid_mllp_encode and must come back
 * unchanged. A broken promise aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf/buf.h"
#include "mllp_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

/* What a run reports: the frames (their bytes concatenated in bytes), the stats. */
struct event {
    int kind;
    size_t off, len, total;
};

struct run {
    struct event *ev;
    size_t n, cap;
    kpid_buf bytes;
    kpid_mllp_stats stats;
    bool in_frame;
};

static void run_add(struct run *r, int kind, const char *p, size_t len, size_t total)
{
    if (r->n == r->cap) {
        r->ev = kpid_array_grow(r->ev, &r->cap, sizeof(*r->ev));
        CHECK(r->ev);
    }
    r->ev[r->n++] = (struct event){.kind = kind, .off = r->bytes.len, .len = len, .total = total};
    CHECK(kpid_buf_append(&r->bytes, p, len) == 0);
}

static void run_free(struct run *r)
{
    free(r->ev);
    kpid_buf_free(&r->bytes);
}

static bool runs_equal(const struct run *a, const struct run *b)
{
    if (a->n != b->n || a->bytes.len != b->bytes.len || a->in_frame != b->in_frame)
        return false;
    if (memcmp(&a->stats, &b->stats, sizeof(a->stats)) != 0)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->ev[i].kind != b->ev[i].kind || a->ev[i].len != b->ev[i].len ||
            a->ev[i].total != b->ev[i].total || a->ev[i].off != b->ev[i].off)
            return false;
    return a->bytes.len == 0 || memcmp(a->bytes.data, b->bytes.data, a->bytes.len) == 0;
}

/* ---- the reference model: one byte at a time, straight from the header's rules ---- */

enum { M_BETWEEN, M_BODY, M_END };

static void model(const uint8_t *s, size_t n, size_t max, struct run *out)
{
    char *head = malloc(max);
    size_t len = 0, total = 0;
    int st = M_BETWEEN;

    CHECK(head);
    for (size_t i = 0; i < n; i++) {
        char c = (char)s[i];

        if (st == M_END) {
            st = M_BETWEEN;
            if (c == KPID_MLLP_CR) {
                if (total == 0) {
                    out->stats.empty++;
                } else if (total > max) {
                    out->stats.oversized++;
                    run_add(out, KPID_MLLP_OVERSIZED, head, len, total);
                } else {
                    out->stats.frames++;
                    run_add(out, KPID_MLLP_FRAME, head, len, total);
                }
                continue;
            }
            out->stats.broken++;
            run_add(out, KPID_MLLP_BROKEN, head, len, total);
            /* c is read again between frames */
        }
        if (st == M_BETWEEN) {
            if (c == KPID_MLLP_SB) {
                st = M_BODY;
                len = total = 0;
            } else {
                out->stats.skipped_bytes++;
            }
        } else if (c == KPID_MLLP_SB) {
            out->stats.restarted++;
            out->stats.restarted_bytes += total;
            len = total = 0;
        } else if (c == KPID_MLLP_EB) {
            st = M_END;
        } else {
            if (len < max)
                head[len++] = c;
            total++;
        }
    }
    out->in_frame = st != M_BETWEEN;
    free(head);
}

/* ---- the framer, held to its header ---- */

static void check_frame(const kpid_mllp_framer *f, int r, const kpid_mllp_frame *fr, size_t max)
{
    CHECK(fr->data);
    CHECK(fr->len <= max && fr->len <= fr->total);
    CHECK(fr->len == 0 ||
          (fr->data >= f->buf.data && fr->data + fr->len <= f->buf.data + f->buf.cap));
    CHECK(!memchr(fr->data, KPID_MLLP_SB, fr->len));
    CHECK(!memchr(fr->data, KPID_MLLP_EB, fr->len));
    switch (r) {
    case KPID_MLLP_FRAME: CHECK(fr->len >= 1 && fr->len == fr->total); break;
    case KPID_MLLP_OVERSIZED: CHECK(fr->total > max && fr->len == max); break;
    case KPID_MLLP_BROKEN: CHECK(fr->len == (fr->total < max ? fr->total : max)); break;
    default: abort();
    }
}

/* One read: frames are taken until the read is consumed. */
static void feed_read(kpid_mllp_framer *f, const char *s, size_t n, size_t max, struct run *out)
{
    bool zero_before = false;

    for (;;) {
        size_t used = SIZE_MAX;
        kpid_mllp_frame fr;
        int r = kpid_mllp_framer_feed(f, s, n, &used, &fr);

        CHECK(r >= 0);
        CHECK(used <= n);
        CHECK(f->buf.cap <= max);
        if (r == KPID_MLLP_NEED_MORE) {
            CHECK(used == n && !fr.data && fr.len == 0 && fr.total == 0);
            return;
        }
        check_frame(f, r, &fr, max);
        /* A feed that reports a frame and consumes nothing is followed by progress. */
        CHECK(used > 0 || !zero_before);
        zero_before = used == 0;
        if (r == KPID_MLLP_FRAME) {
            CHECK(!kpid_mllp_framer_in_frame(f));
            CHECK(used > 0);
        }
        run_add(out, r, fr.data, fr.len, fr.total);
        s += used;
        n -= used;
    }
}

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1DULL;
}

/* mode 0: whole; 1: a byte at a time; 2: chunks drawn from seed. */
static void framer_run(const uint8_t *s, size_t n, size_t max, int mode, uint64_t seed,
                       struct run *out)
{
    static const uint64_t spans[4] = {4, 64, 4096, 4};
    uint64_t span = spans[seed & 3];
    kpid_mllp_framer f;
    size_t off = 0;

    CHECK(kpid_mllp_framer_init(&f, max) == 0);
    seed |= 1; /* xorshift never leaves 0 */
    while (off < n) {
        size_t k = mode == 0 ? n - off : mode == 1 ? 1 : 1 + (size_t)(rnd(&seed) % span);
        if (k > n - off)
            k = n - off;
        feed_read(&f, (const char *)s + off, k, max, out);
        off += k;
    }
    out->stats = f.stats;
    out->in_frame = kpid_mllp_framer_in_frame(&f);
    kpid_mllp_framer_free(&f);
}

/* A message the framer gave out, framed again, comes back unchanged. */
static void check_encode(const char *msg, size_t len, size_t max)
{
    kpid_buf b = {0};
    kpid_mllp_framer f;
    kpid_mllp_frame fr;
    size_t used;

    CHECK(kpid_buf_append(&b, "\r\n", 2) == 0);
    CHECK(kpid_mllp_encode(msg, len, &b) == 0);
    CHECK(b.len == len + 5);
    CHECK(kpid_mllp_framer_init(&f, max) == 0);
    CHECK(kpid_mllp_framer_feed(&f, b.data, b.len, &used, &fr) == KPID_MLLP_FRAME);
    CHECK(used == b.len && fr.len == len && memcmp(fr.data, msg, len) == 0);
    CHECK(f.stats.skipped_bytes == 2);
    kpid_mllp_framer_free(&f);
    kpid_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run ref = {0}, got[3] = {{0}};
    size_t max;
    uint64_t seed;

    if (size < 5)
        return 0;
    max = data[0] >= 240 ? 65536 : 1 + data[0] % 48;
    seed = (uint64_t)data[1] | (uint64_t)data[2] << 8 | (uint64_t)data[3] << 16 |
           (uint64_t)data[4] << 24;
    data += 5;
    size -= 5;

    model(data, size, max, &ref);
    for (int mode = 0; mode < 3; mode++) {
        framer_run(data, size, max, mode, seed, &got[mode]);
        CHECK(runs_equal(&ref, &got[mode]));
    }
    for (size_t i = 0; i < ref.n; i++)
        if (ref.ev[i].kind == KPID_MLLP_FRAME)
            check_encode(ref.bytes.data + ref.ev[i].off, ref.ev[i].len, max);

    run_free(&ref);
    for (int mode = 0; mode < 3; mode++)
        run_free(&got[mode]);
    return 0;
}
