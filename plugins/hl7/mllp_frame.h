/*
 * MLLP framing (HL7 Minimal Lower Layer Protocol, release 2): each message travels as
 *
 *   0x0B <message bytes> 0x1C 0x0D
 *
 * The framer is a state machine that a non-blocking socket reader feeds with whatever
 * bytes a read returned, in pieces of any size: a frame may be split anywhere (even
 * between the 0x1C and the 0x0D) and one read may hold several frames. It copies each
 * message into a buffer of its own (lib/buf, grown to at most the message limit and
 * reused) and hands it out whole; a partial message is never handed out.
 *
 * What the framer does with a stream that breaks the rules:
 *
 *  - Bytes between frames (anything before a 0x0B) are skipped and counted in
 *    stats.skipped_bytes; they are never part of a message. A 0x0D after a frame's
 *    0x1C 0x0D is such a byte too (some senders end frames with 0x1C 0x0D 0x0D).
 *  - A 0x0B inside a frame starts the frame again: the sender gave up on the message
 *    (a timeout, a restart) and is sending it, or another one, anew. The partial bytes
 *    are discarded and counted (stats.restarted, stats.restarted_bytes); nothing is
 *    reported, since the sender awaits the answer to the message it is now sending.
 *    A message therefore never contains 0x0B.
 *  - A 0x1C not followed by 0x0D ends the frame as broken (KPID_MLLP_BROKEN), as HAPI
 *    does (its decoder stops with "MLLP protocol violation"; HL7 text never holds the
 *    framing bytes). Unlike HAPI the framer does not give up on the stream: the byte
 *    after the 0x1C is read again as a byte between frames, so a 0x0B there starts the
 *    next frame. A message therefore never contains 0x1C either. (Mirth's frame reader
 *    would keep the 0x1C as data instead; a message that holds it would only fail later,
 *    in the HL7 parser, with a less useful reason.)
 *  - An empty frame (0x0B 0x1C 0x0D) is skipped and counted (stats.empty): there is no
 *    message, so no message control ID to acknowledge. HAPI ignores it likewise.
 *  - A message longer than the limit is not kept: its first max_message_bytes bytes are,
 *    the rest is counted and discarded up to the frame's 0x1C 0x0D, and then the frame
 *    is reported as KPID_MLLP_OVERSIZED with that head, so that the caller can read the
 *    MSH segment and answer with a negative ACK. The framer holds at most
 *    max_message_bytes bytes whatever it is fed.
 *
 * The hot path scans with memchr (for 0x0B and 0x1C) and copies with memcpy: no call
 * per byte, and every input byte is scanned a bounded number of times.
 *
 * Thread ownership: a framer belongs to one thread (the one reading its connection).
 */
#ifndef KPID_HL7_MLLP_FRAME_H
#define KPID_HL7_MLLP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf/buf.h"

#define KPID_MLLP_SB 0x0B /* start block */
#define KPID_MLLP_EB 0x1C /* end block */
#define KPID_MLLP_CR 0x0D /* after the end block */

/* What kpid_mllp_framer_feed found. */
typedef enum kpid_mllp_result {
    KPID_MLLP_NEED_MORE = 0, /* every byte was consumed and no frame ended */
    KPID_MLLP_FRAME = 1,     /* a whole message, 1 to max_message_bytes bytes */
    KPID_MLLP_OVERSIZED = 2, /* a frame longer than the limit ended; its head is given */
    KPID_MLLP_BROKEN = 3,    /* a frame ended by 0x1C without 0x0D; its bytes are given */
} kpid_mllp_result;

/*
 * A frame as kpid_mllp_framer_feed reports it. data points into the framer's buffer and
 * stays valid until the next feed, reset or free of the framer; it is never NULL and not
 * NUL-terminated. For KPID_MLLP_FRAME, len == total is the message's length. For
 * KPID_MLLP_OVERSIZED and KPID_MLLP_BROKEN, data holds the frame's first len bytes
 * (at most max_message_bytes) and total counts every byte the frame had between its
 * 0x0B and its 0x1C (SIZE_MAX if it had more).
 */
typedef struct kpid_mllp_frame {
    const char *data;
    size_t len;
    size_t total;
} kpid_mllp_frame;

/* What a framer has seen since kpid_mllp_framer_init; reset keeps them. */
typedef struct kpid_mllp_stats {
    uint64_t frames;          /* KPID_MLLP_FRAME reported */
    uint64_t oversized;       /* KPID_MLLP_OVERSIZED reported */
    uint64_t broken;          /* KPID_MLLP_BROKEN reported */
    uint64_t empty;           /* empty frames skipped */
    uint64_t restarted;       /* partial frames discarded at a 0x0B inside them */
    uint64_t restarted_bytes; /* their bytes */
    uint64_t skipped_bytes;   /* bytes between frames, never part of a message */
} kpid_mllp_stats;

/*
 * A framer. The caller allocates it and calls kpid_mllp_framer_init; kpid_mllp_framer_free
 * releases what it holds. The caller reads stats and never writes any field.
 */
typedef struct kpid_mllp_framer {
    kpid_mllp_stats stats;

    /* private */
    kpid_buf buf; /* the frame's first bytes, at most max; cap at most max */
    size_t max;   /* max_message_bytes */
    size_t total; /* the current frame's bytes so far (saturating) */
    int state;    /* between frames, in a frame, after its 0x1C */
} kpid_mllp_framer;

/*
 * Makes *f an empty framer for messages of at most max_message_bytes bytes (1 to
 * SIZE_MAX / 2). Returns 0 or -EINVAL (*f is untouched then). Allocates nothing: the
 * buffer grows as messages need it, doubling from 4 KiB up to max_message_bytes.
 */
int kpid_mllp_framer_init(kpid_mllp_framer *f, size_t max_message_bytes);

/*
 * Feeds the len bytes at data (any bytes, not NUL-terminated; data may be NULL when len
 * is 0) and stops at the first frame that ends in them. Returns:
 *
 *   KPID_MLLP_NEED_MORE   every byte was consumed (*ret_used == len) and no frame ended;
 *   KPID_MLLP_FRAME, KPID_MLLP_OVERSIZED, KPID_MLLP_BROKEN
 *                         *ret_frame is that frame; the first *ret_used bytes were
 *                         consumed and the caller feeds the rest next (several frames
 *                         may end in one read). *ret_used may be 0 for a
 *                         KPID_MLLP_BROKEN whose 0x1C ended the previous feed; the next
 *                         feed then consumes at least one byte;
 *   -EINVAL               a NULL argument (nothing consumed, the framer unchanged);
 *   -ENOMEM               the buffer could not grow: the partial frame is dropped, as by
 *                         kpid_mllp_framer_reset, and how much was consumed is unknown,
 *                         so the caller closes the connection.
 *
 * *ret_used and *ret_frame are written only when the result is not negative (*ret_frame
 * is zeroed for KPID_MLLP_NEED_MORE). Feeding invalidates the frame reported before.
 */
int kpid_mllp_framer_feed(kpid_mllp_framer *f, const char *data, size_t len, size_t *ret_used,
                          kpid_mllp_frame *ret_frame);

/*
 * Whether a frame is partially received: its 0x0B came and its 0x1C 0x0D did not yet.
 * When a connection's read times out or ends while this is true, the partial message is
 * lost (never handed on): the caller logs it and resets or frees the framer.
 */
bool kpid_mllp_framer_in_frame(const kpid_mllp_framer *f);

/*
 * Drops a partial frame and waits for a 0x0B again, as for a new connection. Keeps the
 * buffer's memory, the limit and the stats.
 */
void kpid_mllp_framer_reset(kpid_mllp_framer *f);

/* Frees what *f holds and zeroes it (init it again to reuse it). Accepts NULL. */
void kpid_mllp_framer_free(kpid_mllp_framer *f);

/*
 * Appends the frame of the len bytes at msg (0x0B, the bytes, 0x1C 0x0D) to *out, as for
 * an ACK. Returns 0, -EINVAL when the message is empty or holds 0x0B or 0x1C (a receiver
 * would cut it there), or -ENOMEM; *out is unchanged on failure.
 */
int kpid_mllp_encode(const char *msg, size_t len, kpid_buf *out);

#endif
