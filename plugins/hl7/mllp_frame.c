#include "mllp_frame.h"

#include <errno.h>
#include <string.h>

enum framer_state {
    S_BETWEEN = 0, /* waiting for a 0x0B; other bytes are skipped */
    S_BODY,        /* after the 0x0B: message bytes until a 0x1C */
    S_END,         /* after the 0x1C: a 0x0D ends the frame, anything else breaks it */
};

int kpid_mllp_framer_init(kpid_mllp_framer *f, size_t max_message_bytes)
{
    if (!f || max_message_bytes == 0 || max_message_bytes > SIZE_MAX / 2)
        return -EINVAL;
    *f = (kpid_mllp_framer){.max = max_message_bytes, .state = S_BETWEEN};
    return 0;
}

static void frame_start(kpid_mllp_framer *f)
{
    f->buf.len = 0;
    f->total = 0;
    f->state = S_BODY;
}

/*
 * Takes n message bytes: the part that fits under the limit is copied, the rest only
 * counted. Returns 0 or -ENOMEM (nothing taken then).
 */
static int frame_take(kpid_mllp_framer *f, const char *p, size_t n)
{
    size_t room = f->max - f->buf.len; /* buf.len <= max always */
    size_t keep = n < room ? n : room;

    if (keep > 0) {
        int r = kpid_buf_reserve_max(&f->buf, keep, f->max);
        if (r < 0)
            return r == -ENOBUFS ? -ENOMEM : r; /* cannot happen: keep fits under max */
        memcpy(f->buf.data + f->buf.len, p, keep);
        f->buf.len += keep;
    }
    f->total = n > SIZE_MAX - f->total ? SIZE_MAX : f->total + n;
    return 0;
}

/* The frame as the caller sees it; data never NULL. */
static kpid_mllp_frame frame_view(const kpid_mllp_framer *f)
{
    return (kpid_mllp_frame){
        .data = f->buf.data ? f->buf.data : "",
        .len = f->buf.len,
        .total = f->total,
    };
}

int kpid_mllp_framer_feed(kpid_mllp_framer *f, const char *data, size_t len, size_t *ret_used,
                          kpid_mllp_frame *ret_frame)
{
    kpid_mllp_frame frame = {0};
    int result = KPID_MLLP_NEED_MORE;
    const char *p, *end;
    /* The first 0x1C at or after p, or NULL when none is left: found once per stretch of
     * input, so that a feed full of 0x0B does not search the same bytes again for 0x1C. */
    const char *eb = NULL;
    bool eb_known = false;

    if (!f || (!data && len > 0) || !ret_used || !ret_frame)
        return -EINVAL;
    if (len == 0) { /* data may be NULL: no pointer arithmetic on it */
        *ret_used = 0;
        *ret_frame = frame;
        return KPID_MLLP_NEED_MORE;
    }
    p = data;
    end = data + len;

    while (p < end && result == KPID_MLLP_NEED_MORE) {
        switch (f->state) {
        case S_BETWEEN: {
            const char *sb = memchr(p, KPID_MLLP_SB, (size_t)(end - p));
            const char *stop = sb ? sb : end;

            f->stats.skipped_bytes += (uint64_t)(stop - p);
            p = stop;
            if (sb) {
                p++;
                frame_start(f);
            }
            break;
        }
        case S_BODY: {
            if (!eb_known || (eb && eb < p)) {
                eb = memchr(p, KPID_MLLP_EB, (size_t)(end - p));
                eb_known = true;
            }
            const char *limit = eb ? eb : end;
            const char *sb = memchr(p, KPID_MLLP_SB, (size_t)(limit - p));
            const char *stop = sb ? sb : limit;

            if (frame_take(f, p, (size_t)(stop - p)) < 0) {
                kpid_mllp_framer_reset(f);
                return -ENOMEM;
            }
            p = stop;
            if (sb) {
                f->stats.restarted++;
                f->stats.restarted_bytes += f->total;
                p++;
                frame_start(f);
            } else if (eb) {
                p++;
                f->state = S_END;
            }
            break;
        }
        case S_END:
            f->state = S_BETWEEN;
            if (*p != KPID_MLLP_CR) {
                /* The byte is not consumed: it is read again between frames. */
                f->stats.broken++;
                frame = frame_view(f);
                result = KPID_MLLP_BROKEN;
                break;
            }
            p++;
            if (f->total == 0) {
                f->stats.empty++;
            } else if (f->total > f->max) {
                f->stats.oversized++;
                frame = frame_view(f);
                result = KPID_MLLP_OVERSIZED;
            } else {
                f->stats.frames++;
                frame = frame_view(f);
                result = KPID_MLLP_FRAME;
            }
            break;
        default: __builtin_unreachable();
        }
    }
    *ret_used = (size_t)(p - data);
    *ret_frame = frame;
    return result;
}

bool kpid_mllp_framer_in_frame(const kpid_mllp_framer *f)
{
    return f->state != S_BETWEEN;
}

void kpid_mllp_framer_reset(kpid_mllp_framer *f)
{
    f->buf.len = 0;
    f->total = 0;
    f->state = S_BETWEEN;
}

void kpid_mllp_framer_free(kpid_mllp_framer *f)
{
    if (!f)
        return;
    kpid_buf_free(&f->buf);
    *f = (kpid_mllp_framer){0};
}

int kpid_mllp_encode(const char *msg, size_t len, kpid_buf *out)
{
    int r;

    if (!msg || !out || len == 0 || len > SIZE_MAX - 3)
        return -EINVAL;
    if (memchr(msg, KPID_MLLP_SB, len) || memchr(msg, KPID_MLLP_EB, len))
        return -EINVAL;
    if ((r = kpid_buf_reserve(out, len + 3)) < 0)
        return r;
    out->data[out->len] = KPID_MLLP_SB;
    memcpy(out->data + out->len + 1, msg, len);
    out->data[out->len + 1 + len] = KPID_MLLP_EB;
    out->data[out->len + 2 + len] = KPID_MLLP_CR;
    out->len += len + 3;
    return 0;
}
