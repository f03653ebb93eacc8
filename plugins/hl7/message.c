/*
 * One received frame: parsed, checked against the control ids already received, mapped
 * into the batch being filled (events, retractions, or a rejection with its reason),
 * its control id put in the batch's keyed state, and its ACK queued on the connection
 * to go out once that batch is committed:
 *
 *   AA  mapped (or, unless strict, of a type no rule maps), or a resend of a message
 *       already received (then nothing changes)
 *   AE  parsed but not mappable (a field a rule needs is missing or not a number, an
 *       event kpid refuses): stored in kpid.rejected with the reason
 *   AR  refused: not parsable, without MSH-10 or with one longer than a state key, an
 *       unsupported version, a frame over max_message_bytes or broken, a type no rule
 *       maps in strict mode; stored in kpid.rejected
 *
 * In enhanced mode (MSH-15 set) the commit ACK is CA/CE/CR, sent as MSH-15 asks (AL
 * always, NE never, ER on errors only, SU on success only).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl7_source.h"
#include "time/clock.h"

int hl7_batch(hl7_source *s, kpid_batch **ret)
{
    int r;

    if (!s->batch) {
        if ((r = s->host->batch_begin(s->src, &s->batch)) < 0)
            return r;
        s->batch_local++;
        s->batch_messages = 0;
    }
    *ret = s->batch;
    return 0;
}

typedef struct outcome {
    kpid_hl7_ack_code code; /* AA, AE or AR */
    unsigned error;         /* table 0357, 0 for none */
    char text[160];         /* the error's text: no patient data */
} outcome;

/* Builds into s->scratch the ACK of m, or of the unparsable data when m is NULL. */
static int build_ack(hl7_source *s, const kpid_hl7_msg *m, const char *data, size_t len,
                     const kpid_hl7_ack *a)
{
    s->scratch.len = 0;
    return m ? kpid_hl7_ack_build(m, a, &s->scratch)
             : kpid_hl7_ack_build_fallback(data, len, a, &s->scratch);
}

/* Queues the ACK of m (or of the unparsable data) on c, waiting for batch. */
static int queue_ack(hl7_source *s, hl7_conn *c, const kpid_hl7_msg *m, const char *data,
                     size_t len, const outcome *o, uint64_t batch)
{
    const kpid_hl7_header *h = m ? kpid_hl7_msg_header(m) : NULL;
    kpid_hl7_ack a = {.code = o->code,
                      .time_us = kpid_wall_now_us(),
                      .tz = s->tz,
                      .error_code = o->error,
                      .error_text = o->error ? o->text : NULL};
    char control_id[32];
    int r;

    if (h && h->accept_ack_type[0]) { /* enhanced mode: the commit ACK, as asked */
        const char *when = h->accept_ack_type;
        bool ok = o->code == KPID_HL7_AA;
        if (strcmp(when, "NE") == 0 || (strcmp(when, "ER") == 0 && ok) ||
            (strcmp(when, "SU") == 0 && !ok))
            return 0;
        a.code = o->code == KPID_HL7_AA   ? KPID_HL7_CA
                 : o->code == KPID_HL7_AE ? KPID_HL7_CE
                                          : KPID_HL7_CR;
    }
    snprintf(control_id, sizeof(control_id), "K%" PRIu64, ++s->ack_seq);
    a.control_id = control_id;
    r = build_ack(s, m, data, len, &a);
    if (r == -EILSEQ || r == -EINVAL) { /* a text its charset cannot carry: without it */
        a.error_text = NULL;
        r = build_ack(s, m, data, len, &a);
    }
    if (r < 0)
        return r == -ENOMEM ? r : 0;
    return hl7_conn_queue_ack(c, batch, &s->scratch);
}

/* "sender=APP/FACILITY control_id=ID": where a parsed message came from, no patient data. */
static void message_locator(const kpid_hl7_header *h, char *out, size_t size)
{
    snprintf(out, size, "sender=%.100s/%.100s control_id=%.150s", h->sending_application,
             h->sending_facility, h->control_id);
}

/*
 * Records the message in kpid.rejected (in the batch): locator, reason, raw as allowed.
 * The locator is unique per message, since kpid.rejected keeps one row per locator: the
 * sender and control id of a parsed message (a resend of it is answered from the
 * control ids, never rejected again), else the peer with the frame's number on the
 * connection and the time it came (a peer's frames, and a later connection from the same
 * address and port, must not overwrite each other's rows).
 */
static int reject(hl7_source *s, kpid_batch *b, hl7_conn *c, const kpid_hl7_header *h,
                  const char *reason, const char *data, size_t len)
{
    char locator[400];

    if (h)
        message_locator(h, locator, sizeof(locator));
    else
        snprintf(locator, sizeof(locator), "peer=%s frame=%" PRIu64 " at_us=%" PRId64, c->peer,
                 c->frames, kpid_wall_now_us());
    s->host->counter_add(s->m_rejected, 1);
    return s->host->reject(b, locator, reason, s->keep_raw ? data : NULL, s->keep_raw ? len : 0);
}

/* Adds the mapped results to b, after asking the host whether it takes every event. */
static int emit_all(hl7_source *s, kpid_batch *b, const kpid_hl7_header *h, outcome *o)
{
    char locator[400];
    int r;

    for (size_t i = 0; i < s->mapped.n; i++) {
        const char *why;
        if (s->mapped.v[i].retract)
            continue;
        if ((why = s->host->event_invalid(s->src, &s->mapped.v[i].ev))) {
            o->code = KPID_HL7_AE;
            o->error = 207;
            snprintf(o->text, sizeof(o->text), "event %zu refused: %s", i + 1, why);
            return 0;
        }
    }
    message_locator(h, locator, sizeof(locator));
    for (size_t i = 0; i < s->mapped.n; i++) {
        const kpid_hl7_mapped_event *e = &s->mapped.v[i];
        r = e->retract ? s->host->retract(b, e->ev.event_key) : s->host->emit(b, &e->ev, locator);
        if (r < 0 && r != -EINVAL)
            return r;
    }
    return 0;
}

/*
 * Refuses the frame (m, or NULL when it did not parse) with AR and error code error:
 * recorded in kpid.rejected under the peer's locator, its ACK queued with the batch.
 */
static int refuse(hl7_source *s, hl7_conn *c, const kpid_hl7_msg *m, const char *data, size_t len,
                  unsigned error, const char *text)
{
    outcome o = {.code = KPID_HL7_AR, .error = error};
    kpid_batch *b;
    int r;

    snprintf(o.text, sizeof(o.text), "%s", text);
    if ((r = hl7_batch(s, &b)) < 0 || (r = reject(s, b, c, NULL, o.text, data, len)) < 0)
        return r;
    s->batch_messages++;
    return queue_ack(s, c, m, data, len, &o, s->batch_local);
}

/* A parsed message. */
static int handle_parsed(hl7_source *s, hl7_conn *c, kpid_hl7_msg *m, const char *data, size_t len)
{
    const kpid_hl7_header *h = kpid_hl7_msg_header(m);
    outcome o = {.code = KPID_HL7_AA};
    kpid_batch *b;
    hl7_seen *seen;
    int r;

    /* Without MSH-10 every such message would look like a resend of the first one from
     * its sender (and be dropped with its ACK), and no ACK could name it: refused. */
    if (!h->control_id[0])
        return refuse(s, c, m, data, len, 101, "MSH-10 (message control id) is missing");
    if ((r = hl7_dedup_key(h, &s->scratch)) == -E2BIG)
        return refuse(s, c, m, data, len, 104,
                      "MSH-10 (message control id) is longer than kpid keeps");
    if (r < 0)
        return r;
    seen = hl7_dedup_find(&s->seen, s->scratch.data);
    if (seen) { /* a resend: answered as the first was, once that is committed */
        s->host->counter_add(s->m_duplicates, 1);
        o.code = (kpid_hl7_ack_code)seen->code;
        if (o.code != KPID_HL7_AA)
            snprintf(o.text, sizeof(o.text), "a resend of a message refused before");
        return queue_ack(s, c, m, data, len, &o, seen->batch);
    }
    char *key = strdup(s->scratch.data);
    if (!key)
        return -ENOMEM;
    if ((r = hl7_batch(s, &b)) < 0)
        goto out;
    if (!kpid_hl7_version_supported(h->version_code)) {
        o = (outcome){.code = KPID_HL7_AR, .error = 203};
        snprintf(o.text, sizeof(o.text), "unsupported version (kpid reads 2.3 to 2.8)");
    } else {
        r = kpid_hl7_map_apply(s->map, &s->map_opt, m, &s->mapped, o.text, sizeof(o.text));
        if (r == -ENOENT && s->cfg->strict) {
            o = (outcome){.code = KPID_HL7_AR, .error = 200};
            snprintf(o.text, sizeof(o.text), "no mapping rule for this message type");
        } else if (r == -EINVAL) {
            o.code = KPID_HL7_AE;
            o.error = 207;
        } else if (r == -ENOMEM)
            goto out;
        else if (r > 0 && (r = emit_all(s, b, h, &o)) < 0)
            goto out;
    }
    if (o.code != KPID_HL7_AA && (r = reject(s, b, c, h, o.text, data, len)) < 0)
        goto out;
    s->host->counter_add(s->m_messages, 1);
    char value[32];
    int64_t now_us = kpid_wall_now_us();
    hl7_dedup_value(now_us, o.code, value);
    if ((r = s->host->state_put(b, key, value)) < 0 ||
        (r = hl7_dedup_add(&s->seen, key, s->batch_local, now_us, o.code)) < 0)
        goto out;
    s->batch_messages++;
    r = queue_ack(s, c, m, data, len, &o, s->batch_local);
out:
    free(key);
    return r < 0 ? r : 0;
}

int hl7_message(hl7_source *s, hl7_conn *c, int kind, const char *data, size_t len)
{
    kpid_hl7_msg *m = NULL;
    kpid_hl7_error err = {0};
    outcome o = {.code = KPID_HL7_AR, .error = 100};
    char reason[sizeof(o.text)];
    int r;

    c->frames++;
    if (kind == KPID_MLLP_FRAME) {
        r = kpid_hl7_parse(data, len, &s->parse_opt, &m, &err);
        if (r == -ENOMEM)
            return r;
        if (r == 0) {
            r = handle_parsed(s, c, m, data, len);
            kpid_hl7_free(m);
            return r;
        }
        if (r == -EILSEQ || r == -ENOTSUP)
            o.error = 102;
        snprintf(reason, sizeof(reason), "not an HL7 v2 message: %s (segment %u, byte %zu)",
                 err.what ? err.what : "invalid", err.segment, err.offset);
    } else if (kind == KPID_MLLP_OVERSIZED) {
        snprintf(reason, sizeof(reason), "message larger than max_message_bytes (%lld)",
                 (long long)s->cfg->max_message_bytes);
        o.error = 207;
    } else {
        snprintf(reason, sizeof(reason), "MLLP frame ended by 0x1C without 0x0D");
    }
    return refuse(s, c, NULL, data, len, o.error, reason);
}
