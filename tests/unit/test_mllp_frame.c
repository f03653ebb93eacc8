/* plugins/hl7/mllp_frame.c: MLLP frames from a byte stream cut anywhere, and the encoder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mllp_frame.h"

#define SB "\x0B"
#define EB "\x1C"
#define CR "\x0D"
#define MSG_A "MSH|^~\\&|LAB|H1|KPID|H1|202403010815||ORU^R01|A1|P|2.5\rPID|1||p-7\r"
#define MSG_B "MSH|^~\\&|ADT|H1|KPID|H1|202403010816||ADT^A01|B2|P|2.5\rPV1|1|I|ED\r"

/* A frame as the tests keep it: a copy of its bytes. */
struct event {
    int kind;
    char *data;
    size_t len;
    size_t total;
};

struct events {
    struct event *ev;
    size_t n;
    size_t cap;
    size_t zero_used; /* feeds that reported a frame and consumed nothing */
};

static void events_clear(struct events *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->ev[i].data);
    free(e->ev);
    *e = (struct events){0};
}

static void events_add(struct events *e, int kind, const kpid_mllp_frame *fr)
{
    if (e->n == e->cap) {
        e->ev = kpid_array_grow(e->ev, &e->cap, sizeof(*e->ev));
        assert_non_null(e->ev);
    }
    struct event *ev = &e->ev[e->n++];
    ev->kind = kind;
    ev->len = fr->len;
    ev->total = fr->total;
    ev->data = malloc(fr->len + 1);
    assert_non_null(ev->data);
    memcpy(ev->data, fr->data, fr->len);
    ev->data[fr->len] = '\0';
}

/* Feeds n bytes as one read would deliver them: frames are taken until all is consumed. */
static void feed_read(kpid_mllp_framer *f, const char *s, size_t n, struct events *out)
{
    bool zero_before = false;

    for (;;) {
        size_t used = SIZE_MAX;
        kpid_mllp_frame fr;
        int r = kpid_mllp_framer_feed(f, s, n, &used, &fr);

        assert_true(r >= 0);
        assert_true(used <= n);
        if (r == KPID_MLLP_NEED_MORE) {
            assert_int_equal(used, n);
            assert_null(fr.data);
            return;
        }
        assert_non_null(fr.data);
        if (used == 0) {
            assert_false(zero_before); /* progress at the next feed */
            zero_before = true;
            out->zero_used++;
        } else {
            zero_before = false;
        }
        events_add(out, r, &fr);
        s += used;
        n -= used;
    }
}

/* Feeds n bytes in reads of at most chunk bytes. */
static void feed_chunks(kpid_mllp_framer *f, const char *s, size_t n, size_t chunk,
                        struct events *out)
{
    while (n > 0) {
        size_t k = n < chunk ? n : chunk;
        feed_read(f, s, k, out);
        s += k;
        n -= k;
    }
}

static void assert_event(const struct events *e, size_t i, int kind, const char *data, size_t total)
{
    assert_true(i < e->n);
    assert_int_equal(e->ev[i].kind, kind);
    assert_int_equal(e->ev[i].len, strlen(data));
    assert_memory_equal(e->ev[i].data, data, strlen(data));
    assert_int_equal(e->ev[i].total, total);
}

static void test_one_frame(void **state)
{
    const char s[] = SB MSG_A EB CR;
    kpid_mllp_framer f;
    kpid_mllp_frame fr;
    size_t used;

    assert_int_equal(kpid_mllp_framer_init(&f, 1024), 0);
    assert_false(kpid_mllp_framer_in_frame(&f));
    assert_int_equal(kpid_mllp_framer_feed(&f, s, sizeof(s) - 1, &used, &fr), KPID_MLLP_FRAME);
    assert_int_equal(used, sizeof(s) - 1);
    assert_int_equal(fr.len, strlen(MSG_A));
    assert_int_equal(fr.total, strlen(MSG_A));
    assert_memory_equal(fr.data, MSG_A, strlen(MSG_A));
    assert_false(kpid_mllp_framer_in_frame(&f));
    assert_int_equal(f.stats.frames, 1);
    assert_int_equal(f.stats.skipped_bytes, 0);

    /* Nothing more: an empty feed, with or without a pointer. */
    used = 99;
    assert_int_equal(kpid_mllp_framer_feed(&f, NULL, 0, &used, &fr), KPID_MLLP_NEED_MORE);
    assert_int_equal(used, 0);
    assert_null(fr.data);
    assert_int_equal(kpid_mllp_framer_feed(&f, s, 0, &used, &fr), KPID_MLLP_NEED_MORE);
    assert_int_equal(f.stats.frames, 1);
    kpid_mllp_framer_free(&f);
}

static void test_byte_at_a_time(void **state)
{
    const char s[] = SB MSG_A EB CR SB MSG_B EB CR;
    size_t n = sizeof(s) - 1;
    kpid_mllp_framer f;
    struct events e = {0};

    assert_int_equal(kpid_mllp_framer_init(&f, 1024), 0);
    for (size_t i = 0; i < n; i++) {
        size_t before = e.n;
        feed_read(&f, s + i, 1, &e);
        /* A frame comes out exactly at its 0x0D, and only then is the framer out of it. */
        bool at_end = i == strlen(MSG_A) + 2 || i == n - 1;
        assert_int_equal(e.n - before, at_end ? 1 : 0);
        assert_int_equal(kpid_mllp_framer_in_frame(&f), !at_end);
    }
    assert_int_equal(e.n, 2);
    assert_event(&e, 0, KPID_MLLP_FRAME, MSG_A, strlen(MSG_A));
    assert_event(&e, 1, KPID_MLLP_FRAME, MSG_B, strlen(MSG_B));
    events_clear(&e);
    kpid_mllp_framer_free(&f);
}

static void test_split_between_eb_and_cr(void **state)
{
    const char s1[] = SB MSG_A EB;
    kpid_mllp_framer f;
    kpid_mllp_frame fr;
    size_t used;

    assert_int_equal(kpid_mllp_framer_init(&f, 1024), 0);
    assert_int_equal(kpid_mllp_framer_feed(&f, s1, sizeof(s1) - 1, &used, &fr),
                     KPID_MLLP_NEED_MORE);
    assert_int_equal(used, sizeof(s1) - 1);
    assert_true(kpid_mllp_framer_in_frame(&f));
    assert_int_equal(kpid_mllp_framer_feed(&f, CR SB "x", 3, &used, &fr), KPID_MLLP_FRAME);
    assert_int_equal(used, 1);
    assert_int_equal(fr.len, strlen(MSG_A));
    assert_memory_equal(fr.data, MSG_A, strlen(MSG_A));
    assert_false(kpid_mllp_framer_in_frame(&f));
    assert_int_equal(kpid_mllp_framer_feed(&f, SB "x", 2, &used, &fr), KPID_MLLP_NEED_MORE);
    assert_true(kpid_mllp_framer_in_frame(&f));
    kpid_mllp_framer_free(&f);
}

static void test_three_frames_one_read(void **state)
{
    const char s[] = SB MSG_A EB CR SB "MSH|x" EB CR SB MSG_B EB CR;
    kpid_mllp_framer f;
    kpid_mllp_frame fr;
    size_t used, off = 0;

    assert_int_equal(kpid_mllp_framer_init(&f, 1024), 0);
    assert_int_equal(kpid_mllp_framer_feed(&f, s, sizeof(s) - 1, &used, &fr), KPID_MLLP_FRAME);
    assert_int_equal(used, strlen(MSG_A) + 3);
    assert_memory_equal(fr.data, MSG_A, strlen(MSG_A));
    off += used;
    assert_int_equal(kpid_mllp_framer_feed(&f, s + off, sizeof(s) - 1 - off, &used, &fr),
                     KPID_MLLP_FRAME);
    assert_int_equal(used, 8);
    assert_int_equal(fr.len, 5);
    assert_memory_equal(fr.data, "MSH|x", 5);
    off += used;
    assert_int_equal(kpid_mllp_framer_feed(&f, s + off, sizeof(s) - 1 - off, &used, &fr),
                     KPID_MLLP_FRAME);
    assert_int_equal(used, sizeof(s) - 1 - off);
    assert_memory_equal(fr.data, MSG_B, strlen(MSG_B));
    assert_int_equal(f.stats.frames, 3);
    assert_int_equal(f.stats.skipped_bytes, 0);
    kpid_mllp_framer_free(&f);
}

static void test_garbage_between_frames(void **state)
{
    /* Keep-alive line ends, a stray 0x0D after a frame, noise with 0x1C before a 0x0B. */
    const char s[] = "\r\n\r\n" SB "one" EB CR CR "noise" EB CR "\x00\xff" SB "two" EB CR "\n";
    kpid_mllp_framer f;
    struct events e = {0};

    assert_int_equal(kpid_mllp_framer_init(&f, 1024), 0);
    feed_read(&f, s, sizeof(s) - 1, &e);
    assert_int_equal(e.n, 2);
    assert_event(&e, 0, KPID_MLLP_FRAME, "one", 3);
    assert_event(&e, 1, KPID_MLLP_FRAME, "two", 3);
    assert_int_equal(f.stats.skipped_bytes, 4 + 1 + 7 + 2 + 1);
    assert_int_equal(f.stats.frames, 2);
    assert_int_equal(f.stats.broken, 0);
    assert_false(kpid_mllp_framer_in_frame(&f));
    events_clear(&e);

    /* The same, a byte at a time: the same frames and count. */
    kpid_mllp_framer_free(&f);
    assert_int_equal(kpid_mllp_framer_init(&f, 1024), 0);
    feed_chunks(&f, s, sizeof(s) - 1, 1, &e);
    assert_int_equal(e.n, 2);
    assert_event(&e, 1, KPID_MLLP_FRAME, "two", 3);
    assert_int_equal(f.stats.skipped_bytes, 15);
    events_clear(&e);
    kpid_mllp_framer_free(&f);
}

static void test_oversized(void **state)
{
    const char s[] = SB "0123456789abcdefghij" EB CR SB "ok" EB CR;
    kpid_mllp_framer f;
    struct events e = {0};

    for (size_t chunk = 1; chunk <= sizeof(s); chunk++) {
        assert_int_equal(kpid_mllp_framer_init(&f, 8), 0);
        feed_chunks(&f, s, sizeof(s) - 1, chunk, &e);
        assert_int_equal(e.n, 2);
        assert_event(&e, 0, KPID_MLLP_OVERSIZED, "01234567", 20);
        assert_event(&e, 1, KPID_MLLP_FRAME, "ok", 2);
        assert_int_equal(f.stats.oversized, 1);
        assert_int_equal(f.stats.frames, 1);
        assert_true(f.buf.cap <= 8); /* never more than the limit */
        events_clear(&e);
        kpid_mllp_framer_free(&f);
    }

    /* The limit itself is a message; one byte more is not. */
    assert_int_equal(kpid_mllp_framer_init(&f, 4), 0);
    feed_read(&f, SB "abcd" EB CR SB "abcde" EB CR, 15, &e);
    assert_int_equal(e.n, 2);
    assert_event(&e, 0, KPID_MLLP_FRAME, "abcd", 4);
    assert_event(&e, 1, KPID_MLLP_OVERSIZED, "abcd", 5);
    events_clear(&e);
    kpid_mllp_framer_free(&f);

    /* A large frame past a small limit, in big reads: the buffer stays at the limit. */
    size_t big = 1 << 20;
    char *m = malloc(big + 3);
    assert_non_null(m);
    memset(m, 'x', big + 3);
    m[0] = KPID_MLLP_SB;
    m[big + 1] = KPID_MLLP_EB;
    m[big + 2] = KPID_MLLP_CR;
    assert_int_equal(kpid_mllp_framer_init(&f, 100000), 0);
    feed_chunks(&f, m, big + 3, 65536, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.ev[0].kind, KPID_MLLP_OVERSIZED);
    assert_int_equal(e.ev[0].len, 100000);
    assert_int_equal(e.ev[0].total, big);
    assert_true(f.buf.cap <= 100000);
    free(m);
    events_clear(&e);
    kpid_mllp_framer_free(&f);
}

static void test_sb_inside_frame(void **state)
{
    const char s[] = SB "MSH|partial" SB MSG_A EB CR;
    kpid_mllp_framer f;
    struct events e = {0};

    for (size_t chunk = 1; chunk <= sizeof(s); chunk++) {
        assert_int_equal(kpid_mllp_framer_init(&f, 1024), 0);
        feed_chunks(&f, s, sizeof(s) - 1, chunk, &e);
        assert_int_equal(e.n, 1);
        assert_event(&e, 0, KPID_MLLP_FRAME, MSG_A, strlen(MSG_A));
        assert_int_equal(f.stats.restarted, 1);
        assert_int_equal(f.stats.restarted_bytes, 11);
        assert_int_equal(f.stats.skipped_bytes, 0);
        events_clear(&e);
        kpid_mllp_framer_free(&f);
    }

    /* An oversized partial frame restarts too, and its bytes are all counted. */
    assert_int_equal(kpid_mllp_framer_init(&f, 4), 0);
    feed_read(&f, SB "0123456789" SB "ok" EB CR, 16, &e);
    assert_int_equal(e.n, 1);
    assert_event(&e, 0, KPID_MLLP_FRAME, "ok", 2);
    assert_int_equal(f.stats.restarted_bytes, 10);
    assert_int_equal(f.stats.oversized, 0);
    events_clear(&e);
    kpid_mllp_framer_free(&f);
}

static void test_eb_without_cr(void **state)
{
    kpid_mllp_framer f;
    kpid_mllp_frame fr;
    struct events e = {0};
    size_t used;

    /* The frame breaks at the 0x1C; what follows is between frames until a 0x0B. */
    assert_int_equal(kpid_mllp_framer_init(&f, 1024), 0);
    feed_read(&f, SB "abc" EB "def" EB CR SB "ok" EB CR, 15, &e);
    assert_int_equal(e.n, 2);
    assert_event(&e, 0, KPID_MLLP_BROKEN, "abc", 3);
    assert_event(&e, 1, KPID_MLLP_FRAME, "ok", 2);
    assert_int_equal(f.stats.broken, 1);
    assert_int_equal(f.stats.skipped_bytes, 5); /* "def" 0x1C 0x0D */
    events_clear(&e);

    /* A 0x0B right after the 0x1C starts the next frame (a sender that drops the 0x0D). */
    feed_read(&f, SB "abc" EB SB "ok" EB CR, 10, &e);
    assert_int_equal(e.n, 2);
    assert_event(&e, 0, KPID_MLLP_BROKEN, "abc", 3);
    assert_event(&e, 1, KPID_MLLP_FRAME, "ok", 2);
    assert_int_equal(f.stats.skipped_bytes, 5);
    events_clear(&e);

    /* Split after the 0x1C: the next feed reports the break and consumes nothing. */
    assert_int_equal(kpid_mllp_framer_feed(&f, SB "abc" EB, 5, &used, &fr), KPID_MLLP_NEED_MORE);
    assert_true(kpid_mllp_framer_in_frame(&f));
    assert_int_equal(kpid_mllp_framer_feed(&f, SB "x" EB CR, 4, &used, &fr), KPID_MLLP_BROKEN);
    assert_int_equal(used, 0);
    assert_int_equal(fr.len, 3);
    assert_memory_equal(fr.data, "abc", 3);
    assert_false(kpid_mllp_framer_in_frame(&f));
    assert_int_equal(kpid_mllp_framer_feed(&f, SB "x" EB CR, 4, &used, &fr), KPID_MLLP_FRAME);
    assert_int_equal(used, 4);
    assert_int_equal(fr.len, 1);

    /* 0x1C 0x1C 0x0D: broken at the first, the rest skipped; an empty broken frame too. */
    feed_read(&f, SB "abc" EB EB CR SB EB "z", 10, &e);
    assert_int_equal(e.n, 2);
    assert_event(&e, 0, KPID_MLLP_BROKEN, "abc", 3);
    assert_event(&e, 1, KPID_MLLP_BROKEN, "", 0);
    assert_int_equal(f.stats.broken, 5);
    assert_int_equal(f.stats.frames, 3);
    events_clear(&e);
    kpid_mllp_framer_free(&f);

    /* An oversized frame that breaks reports its head and its length. */
    assert_int_equal(kpid_mllp_framer_init(&f, 2), 0);
    feed_read(&f, SB "abcdef" EB "x", 9, &e);
    assert_int_equal(e.n, 1);
    assert_event(&e, 0, KPID_MLLP_BROKEN, "ab", 6);
    assert_int_equal(f.stats.oversized, 0);
    events_clear(&e);
    kpid_mllp_framer_free(&f);
}

static void test_empty_frame(void **state)
{
    const char s[] = SB EB CR SB EB CR SB "a" EB CR SB EB CR;
    kpid_mllp_framer f;
    struct events e = {0};

    assert_int_equal(kpid_mllp_framer_init(&f, 1024), 0);
    feed_read(&f, s, sizeof(s) - 1, &e);
    assert_int_equal(e.n, 1);
    assert_event(&e, 0, KPID_MLLP_FRAME, "a", 1);
    assert_int_equal(f.stats.empty, 3);
    assert_int_equal(f.stats.frames, 1);
    assert_int_equal(f.stats.skipped_bytes, 0);
    events_clear(&e);
    kpid_mllp_framer_free(&f);
}

static void test_stream_cut(void **state)
{
    kpid_mllp_framer f;
    kpid_mllp_frame fr;
    struct events e = {0};
    size_t used;

    assert_int_equal(kpid_mllp_framer_init(&f, 1024), 0);
    /* The read times out with half a message: nothing is handed on. */
    assert_int_equal(kpid_mllp_framer_feed(&f, SB "MSH|^~\\&|LAB", 13, &used, &fr),
                     KPID_MLLP_NEED_MORE);
    assert_int_equal(used, 13);
    assert_true(kpid_mllp_framer_in_frame(&f));
    assert_int_equal(f.stats.frames, 0);
    kpid_mllp_framer_reset(&f);
    assert_false(kpid_mllp_framer_in_frame(&f));

    /* The rest of the cut message, on the next connection, is not a message. */
    feed_read(&f, "|H1\r" EB CR SB "ok" EB CR, 11, &e);
    assert_int_equal(e.n, 1);
    assert_event(&e, 0, KPID_MLLP_FRAME, "ok", 2);
    assert_int_equal(f.stats.skipped_bytes, 6);
    events_clear(&e);

    /* Cut right after the 0x0B, or between the 0x1C and the 0x0D. */
    feed_read(&f, SB, 1, &e);
    assert_true(kpid_mllp_framer_in_frame(&f));
    feed_read(&f, "abc" EB, 4, &e);
    assert_true(kpid_mllp_framer_in_frame(&f));
    assert_int_equal(e.n, 0);
    kpid_mllp_framer_free(&f);
    kpid_mllp_framer_free(&f);
    kpid_mllp_framer_free(NULL);
}

/* xorshift64*: the same stream and cuts on every run. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void test_random_splits(void **state)
{
    enum { N = 300, MAX = 5000 };
    uint64_t seed = 0x6b706964u;
    kpid_buf stream = {0};
    char *msgs[N];
    size_t lens[N], garbage = 0;

    for (int i = 0; i < N; i++) {
        size_t n = 1 + rnd(&seed) % (i % 10 == 0 ? MAX : 300);
        msgs[i] = malloc(n);
        assert_non_null(msgs[i]);
        for (size_t j = 0; j < n; j++) {
            char c = (char)(rnd(&seed) & 0xff);
            msgs[i][j] = c == KPID_MLLP_SB || c == KPID_MLLP_EB ? '\r' : c;
        }
        lens[i] = n;
        /* Some garbage between frames: line ends, 0x1C, 0x0D, never a 0x0B. */
        if (rnd(&seed) % 4 == 0) {
            static const char g[] = "\r\n" EB CR "zz";
            size_t k = 1 + rnd(&seed) % (sizeof(g) - 1);
            assert_int_equal(kpid_buf_append(&stream, g, k), 0);
            garbage += k;
        }
        assert_int_equal(kpid_mllp_encode(msgs[i], n, &stream), 0);
    }

    for (int round = 0; round < 20; round++) {
        kpid_mllp_framer f;
        struct events e = {0};
        size_t off = 0;
        /* Cuts from 1 byte to ~64 KiB, some rounds mostly tiny, some mostly large. */
        uint64_t span = round % 4 == 0 ? 4 : round % 4 == 1 ? 100 : round % 4 == 2 ? 3000 : 70000;

        assert_int_equal(kpid_mllp_framer_init(&f, MAX), 0);
        while (off < stream.len) {
            size_t k = 1 + rnd(&seed) % span;
            if (k > stream.len - off)
                k = stream.len - off;
            feed_read(&f, stream.data + off, k, &e);
            off += k;
        }
        assert_false(kpid_mllp_framer_in_frame(&f));
        assert_int_equal(e.n, N);
        for (int i = 0; i < N; i++) {
            assert_int_equal(e.ev[i].kind, KPID_MLLP_FRAME);
            assert_int_equal(e.ev[i].len, lens[i]);
            assert_int_equal(e.ev[i].total, lens[i]);
            assert_memory_equal(e.ev[i].data, msgs[i], lens[i]);
        }
        assert_int_equal(f.stats.frames, N);
        assert_int_equal(f.stats.skipped_bytes, garbage);
        assert_int_equal(f.stats.broken + f.stats.oversized + f.stats.restarted, 0);
        assert_true(f.buf.cap <= MAX);
        events_clear(&e);
        kpid_mllp_framer_free(&f);
    }
    for (int i = 0; i < N; i++)
        free(msgs[i]);
    kpid_buf_free(&stream);
}

static void test_encode(void **state)
{
    kpid_buf out = {0};

    assert_int_equal(kpid_buf_append(&out, "x", 1), 0);
    assert_int_equal(kpid_mllp_encode("MSA|AA|A1\r", 10, &out), 0);
    assert_int_equal(out.len, 14);
    assert_memory_equal(out.data, "x" SB "MSA|AA|A1\r" EB CR, 14);

    /* What a receiver would cut is refused, and out is left as it was. */
    assert_int_equal(kpid_mllp_encode("a" SB "b", 3, &out), -EINVAL);
    assert_int_equal(kpid_mllp_encode("a" EB "b", 3, &out), -EINVAL);
    assert_int_equal(kpid_mllp_encode("", 0, &out), -EINVAL);
    assert_int_equal(kpid_mllp_encode(NULL, 1, &out), -EINVAL);
    assert_int_equal(out.len, 14);

    /* The framer reads back what the encoder wrote. */
    kpid_mllp_framer f;
    kpid_mllp_frame fr;
    size_t used;
    assert_int_equal(kpid_mllp_framer_init(&f, 16), 0);
    assert_int_equal(kpid_mllp_framer_feed(&f, out.data, out.len, &used, &fr), KPID_MLLP_FRAME);
    assert_int_equal(used, 14);
    assert_int_equal(fr.len, 10);
    assert_memory_equal(fr.data, "MSA|AA|A1\r", 10);
    assert_int_equal(f.stats.skipped_bytes, 1);
    kpid_mllp_framer_free(&f);
    kpid_buf_free(&out);
}

static void test_arguments(void **state)
{
    kpid_mllp_framer f;
    kpid_mllp_frame fr = {.len = 7};
    size_t used = 7;

    assert_int_equal(kpid_mllp_framer_init(&f, 0), -EINVAL);
    assert_int_equal(kpid_mllp_framer_init(&f, SIZE_MAX), -EINVAL);
    assert_int_equal(kpid_mllp_framer_init(NULL, 10), -EINVAL);
    assert_int_equal(kpid_mllp_framer_init(&f, 10), 0);
    assert_int_equal(kpid_mllp_framer_feed(&f, NULL, 1, &used, &fr), -EINVAL);
    assert_int_equal(kpid_mllp_framer_feed(&f, SB, 1, NULL, &fr), -EINVAL);
    assert_int_equal(kpid_mllp_framer_feed(&f, SB, 1, &used, NULL), -EINVAL);
    assert_int_equal(kpid_mllp_framer_feed(NULL, SB, 1, &used, &fr), -EINVAL);
    /* Nothing written, nothing consumed. */
    assert_int_equal(used, 7);
    assert_int_equal(fr.len, 7);
    assert_false(kpid_mllp_framer_in_frame(&f));
    kpid_mllp_framer_free(&f);
}

/* Once grown, the buffer is reused: a steady stream of messages allocates nothing. */
static void test_buffer_reuse(void **state)
{
    kpid_mllp_framer f;
    struct events e = {0};
    char m[1000 + 3];

    memset(m, 'q', sizeof(m));
    m[0] = KPID_MLLP_SB;
    m[1001] = KPID_MLLP_EB;
    m[1002] = KPID_MLLP_CR;
    assert_int_equal(kpid_mllp_framer_init(&f, 1 << 20), 0);
    feed_read(&f, m, sizeof(m), &e);
    const char *data = f.buf.data;
    size_t cap = f.buf.cap;
    assert_int_equal(cap, 4096);
    for (int i = 0; i < 1000; i++)
        feed_read(&f, m, sizeof(m), &e);
    assert_ptr_equal(f.buf.data, data);
    assert_int_equal(f.buf.cap, cap);
    assert_int_equal(e.n, 1001);
    events_clear(&e);
    kpid_mllp_framer_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_frame),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_split_between_eb_and_cr),
        cmocka_unit_test(test_three_frames_one_read),
        cmocka_unit_test(test_garbage_between_frames),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_sb_inside_frame),
        cmocka_unit_test(test_eb_without_cr),
        cmocka_unit_test(test_empty_frame),
        cmocka_unit_test(test_stream_cut),
        cmocka_unit_test(test_random_splits),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_buffer_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
