#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrival.h"
#include "emit.h"
#include "his_out.h"
#include "hl7_out.h"
#include "journey.h"
#include "malformed.h"
#include "pathway.h"
#include "pending.h"
#include "tally.h"
#include "timefmt.h"
#include "world.h"

/* Random streams of one seed. */
enum { STREAM_WORLD = 1, STREAM_ARRIVALS = 2, STREAM_MALFORMED = 3 };
#define PILOT_SEED 0x5eed /* the rate calibration does not depend on --seed */

/* Takes the next journey start (earliest of arrivals and queued follow-ups) into *sp. */
static void next_start(struct hg_world *w, struct hg_arrivals *a, struct hg_spawn *sp)
{
    const struct hg_spawn *q = hg_world_peek_spawn(w);

    if (q && q->time <= hg_arrivals_peek(a))
        hg_world_pop_spawn(w, sp);
    else
        hg_arrivals_pop(a, sp);
}

/* Returns the time of the next journey start without taking it. */
static int64_t next_start_time(const struct hg_world *w, const struct hg_arrivals *a)
{
    const struct hg_spawn *q = hg_world_peek_spawn(w);
    int64_t t = hg_arrivals_peek(a);

    return q && q->time < t ? q->time : t;
}

/*
 * Finds the rate scale at which N event lines span about o->days days. A quiet pilot
 * run of the model hospital at scale 1 counts the lines emitted in the first
 * min(days, 120) days, ramp-up included (the hospital opens empty); past 120 days the
 * rate of its last 28 days continues. Everything but the monthly headcount grows in
 * proportion to the rate, so the scale is the ratio of the lines wanted to the lines
 * counted. Returns the scale, or a negative value when out of memory.
 */
static double pilot_scale(const struct hg_options *o)
{
    const double span = o->days < 120 ? o->days : 120;
    const int64_t end = o->start + (int64_t)(span * (double)HG_DAY);
    const int64_t tail = end - 28 * HG_DAY;
    struct hg_world w;
    struct hg_arrivals a;
    struct hg_spawn sp;
    double lines = 0, tail_lines = 0, r = -1;

    if (hg_world_init(&w, PILOT_SEED, STREAM_WORLD, o->start, o->off_sec, o->off_text) < 0)
        return -1;
    hg_arrivals_init(&a, PILOT_SEED, STREAM_ARRIVALS, o->start, o->off_sec, 1.0);
    for (;;) {
        next_start(&w, &a, &sp);
        if (sp.time >= end)
            break;
        hg_pathway_build(&w, &sp);
        struct hg_journey *j = hg_builder_finish(&w.b, &w.rng, w.next_order++);
        if (!j || w.error)
            goto out;
        for (unsigned i = 0; i < j->n_line && sp.type != HG_J_HEADCOUNT; i++) {
            lines += j->line[i].emit < end;
            tail_lines += j->line[i].emit < end && j->line[i].emit >= tail;
        }
        free(j);
    }
    if (o->days > span)
        lines += tail_lines / 28.0 * (o->days - span);
    /* Ten headcount lines a month do not scale. */
    double wanted = (double)o->events - 10.0 * o->days / 30.44;
    r = (wanted > 1 ? wanted : 1) / (lines > 1 ? lines : 1);
out:
    hg_world_fini(&w);
    return r;
}

struct sim {
    struct hg_emitter em;
    struct hg_tally tally;
    struct hg_his *his; /* NULL without --his */
    uint64_t final;
};

/*
 * The one exit of every journey: called once, after its last line was written or
 * when the run stops with lines of it unwritten. Writes the expected.tsv rows of its
 * events in their final state (what was written, corrections applied, retractions
 * removed), feeds the same journey to the accumulators, and frees it.
 */
static void journey_done(struct sim *s, struct hg_journey *j)
{
    for (unsigned i = 0; i < j->n_ev; i++) {
        if (j->ev[i].key_of != i)
            continue;
        const struct hg_event *e = hg_journey_final(j, i);
        if (e) {
            hg_emit_expected(&s->em, j, i, e);
            s->final++;
        }
    }
    hg_tally_journey(&s->tally, j);
    if (s->his)
        hg_his_journey(s->his, j);
    free(j);
}

/* Records what line l does to the final state of its event. */
static void apply_line(struct hg_journey *j, const struct hg_line *l)
{
    struct hg_event *o = &j->ev[j->ev[l->slot].key_of];

    o->final = l->kind == HG_L_RETRACT ? HG_FINAL_GONE : l->slot;
}

/* Writes out_dir/summary.tsv. Returns 0 or a negative errno after a message. */
static int write_summary(const struct hg_options *o, const struct hg_tally *t)
{
    size_t len = strlen(o->out_dir) + 16;
    char *path = malloc(len);
    int r;

    if (!path)
        return -ENOMEM;
    snprintf(path, len, "%s/summary.tsv", o->out_dir);
    r = hg_tally_write_summary(t, path);
    if (r < 0)
        fprintf(stderr, "hospgen: cannot write \"%s\": %s\n", path, strerror(-r));
    free(path);
    return r;
}

int hg_sim_run(const struct hg_options *o, struct hg_stats *ret_stats)
{
    struct sim s = {0};
    struct hg_world w;
    struct hg_arrivals a;
    struct hg_bad_plan plan;
    struct hg_pending pend = {0};
    struct hg_spawn sp;
    struct hg_stats st = {.scale = 1.0, .last_emit = o->start};
    struct hg_hl7 *hl7 = NULL;
    uint64_t written = 0;
    int r;

    s.tally.truth = o->truth;
    if (o->days > 0) {
        st.scale = pilot_scale(o);
        if (st.scale <= 0)
            return -ENOMEM;
    }
    r = hg_world_init(&w, o->seed, STREAM_WORLD, o->start, o->off_sec, o->off_text);
    if (r < 0)
        return r;
    hg_arrivals_init(&a, o->seed, STREAM_ARRIVALS, o->start, o->off_sec, st.scale);
    r = hg_bad_plan_init(&plan, o->seed, STREAM_MALFORMED, o->malformed, o->events);
    if (r < 0)
        goto out_world;
    r = hg_emitter_open(&s.em, o->out_dir, o->files, o->events, &plan, o->off_sec, o->off_text);
    if (r < 0)
        goto out_plan;
    if (o->hl7_streams) {
        /* HL7 DTM: at most 4 fractional digits. --hl7-split cuts only its HL7 cases, after
         * they are built: the hospital is then the one of a run without --hl7. */
        if (!o->hl7_split)
            w.b.max_digits = 4;
        r = hg_hl7_open(&hl7, o->out_dir, o->hl7_streams,
                        o->hl7_split ? o->hl7_split : o->hl7_streams, o->seed, o->off_sec,
                        o->start);
        if (r < 0)
            goto out_close;
    }
    if (o->his) {
        r = hg_his_open(&s.his, o->out_dir, o->his_share, o->off_sec, o->start);
        if (r < 0)
            goto out_close;
    }

    while (written < o->events) {
        int64_t t_next = next_start_time(&w, &a);
        struct hg_journey *j;

        /* Every line of a journey not yet started is at or after t_next. */
        while ((j = hg_pending_top(&pend)) && j->line[j->next].emit <= t_next &&
               written < o->events) {
            const struct hg_line *l = &j->line[j->next];
            unsigned prev = j->ev[j->ev[l->slot].key_of].final;
            apply_line(j, l);
            /* --his-share: a case of the share goes to the HIS only. --hl7-split: a case of
             * the first streams goes out as HL7 only, the others as NDJSON only. */
            bool as_his = s.his && hg_his_owns(s.his, j);
            bool as_hl7 = hl7 && !as_his && (!o->hl7_split || hg_hl7_stream(hl7, j) < o->hl7_split);
            bool as_ndjson = !as_his && (!o->hl7_split || !as_hl7);
            r = as_ndjson ? hg_emit_line(&s.em, j, l) : hg_emit_skip(&s.em, l);
            st.hl7_lines += as_hl7 && !as_ndjson;
            st.his_lines += as_his;
            if (r < 0)
                goto out_close;
            if (as_hl7)
                hg_hl7_line(hl7, j, l, prev);
            st.last_emit = l->emit;
            written++;
            if (++j->next == j->n_line) {
                hg_pending_pop(&pend);
                journey_done(&s, j);
            } else {
                hg_pending_update_top(&pend);
            }
        }
        if (written == o->events)
            break;
        next_start(&w, &a, &sp);
        hg_pathway_build(&w, &sp);
        j = hg_builder_finish(&w.b, &w.rng, w.next_order++);
        if (j && o->hl7_split && hg_hl7_stream(hl7, j) < o->hl7_split &&
            !(s.his && hg_his_owns(s.his, j)))
            hg_journey_cap_digits(j, 4);
        if (!j || w.error || hg_pending_push(&pend, j) < 0) {
            free(j);
            r = -ENOMEM;
            goto out_close;
        }
        st.journeys++;
    }
    r = 0;

out_close:
    /* Journeys cut short by the end of the run: their unwritten lines never happened. */
    for (size_t i = 0; i < pend.n; i++)
        journey_done(&s, pend.a[i].j);
    st.open_high = pend.high;
    hg_pending_fini(&pend);
    if (s.his) {
        int r2 = hg_his_close(s.his, /* complete= */ r == 0, &st.his_rows);
        if (r2 < 0 && r == 0)
            r = r2;
    }
    {
        int r2 = hg_emitter_close(&s.em);
        if (r2 < 0 && r == 0) {
            fprintf(stderr, "hospgen: writing \"%s\" failed: %s\n", o->out_dir, strerror(-r2));
            r = r2;
        }
    }
    if (hl7) {
        st.hl7 = hg_hl7_count(hl7);
        int r2 = hg_hl7_close(hl7);
        if (r2 < 0 && r == 0) {
            fprintf(stderr, "hospgen: writing HL7 to \"%s\" failed: %s\n", o->out_dir,
                    strerror(-r2));
            r = r2;
        }
    }
    st.malformed = s.em.n_bad;
    if (r == 0)
        r = write_summary(o, &s.tally);
out_plan:
    hg_bad_plan_fini(&plan);
out_world:
    hg_world_fini(&w);
    if (r == 0) {
        st.final = s.final;
        *ret_stats = st;
    } else if (r == -ENOMEM) {
        fprintf(stderr, "hospgen: out of memory\n");
    }
    return r;
}
