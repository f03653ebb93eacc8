# Late and corrected events: after a tick has set the process's watermark, a late
# PHYSICIAN_SEEN (its case's ED_ARRIVAL in an earlier, closed month), a correction that
# moves an event into another month and a retraction change, at the next tick, exactly
# the KPI values they affect (to what a full backfill computes), and rewrite no other
# row; a retraction that moves a case's first registration into another month makes
# both months of a per-visit proportion dirty. A tick with nothing new re-evaluates only
# the open periods.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init late_data

mkdir "$KPID_WORK/inbox"
{
    # Door to doctor, January: 20 and 50 min, E3 not seen (yet); February: 10 min.
    ev e1a E1 P11 ED_ARRIVAL 2025-01-10T08:00:00Z
    ev e1b E1 P11 PHYSICIAN_SEEN 2025-01-10T08:20:00Z
    ev e2a E2 P12 ED_ARRIVAL 2025-01-11T09:00:00Z
    ev e2b E2 P12 PHYSICIAN_SEEN 2025-01-11T09:50:00Z
    ev e3a E3 P13 ED_ARRIVAL 2025-01-31T23:50:00Z
    ev e4a E4 P14 ED_ARRIVAL 2025-02-03T10:00:00Z
    ev e4b E4 P14 PHYSICIAN_SEEN 2025-02-03T10:10:00Z
    # Lab orders: 1 in January, 2 in February, 1 in March.
    ev l1 L1 P21 LAB_ORDER 2025-01-05T10:00:00Z
    ev l2 L2 P22 LAB_ORDER 2025-02-10T10:00:00Z
    ev l3 L3 P23 LAB_ORDER 2025-02-11T10:00:00Z
    ev l4 L4 P24 LAB_ORDER 2025-03-01T10:00:00Z
    # Stays: P1 discharged on January 20 and readmitted on February 5 (4 days); P2 in March.
    ev a1 I1 P1 ADMISSION 2025-01-10T10:00:00Z
    ev d1 I1 P1 DISCHARGE 2025-01-20T10:00:00Z
    ev a2 I2 P1 ADMISSION 2025-02-05T10:00:00Z
    ev d2 I2 P1 DISCHARGE 2025-02-09T10:00:00Z
    ev a3 I3 P2 ADMISSION 2025-03-02T10:00:00Z
    ev d3 I3 P2 DISCHARGE 2025-03-04T10:00:00Z
    # Visit V9 registered on January 31 and again on February 2, when the patient left.
    ev r9a V9 P3 REGISTRATION 2025-01-31T23:00:00Z
    ev r9b V9 P3 REGISTRATION 2025-02-02T08:00:00Z
    ev r9l V9 P3 LEFT 2025-02-02T09:00:00Z
} >"$KPID_WORK/inbox/a.ndjson"

cat >"$KPID_WORK/kpid.conf" <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = ( { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; } );
objectives = ( { id = "care"; name = "Care"; perspective = "patient"; } );
processes = (
  { id = "hospital"; name = "Hospital"; category = "main"; timezone = "UTC";
    schedule = "0 0 1 1 *";
    kpis = (
      { id = "arrivals"; name = "ED arrivals"; type = "count"; period = "month";
        direction = "higher"; objective = "care"; activity = "ED_ARRIVAL"; },
      { id = "d2d"; name = "Door to doctor"; unit = "min"; type = "duration"; period = "month";
        target = 30.0; direction = "lower"; objective = "care";
        from = "ED_ARRIVAL"; to = "PHYSICIAN_SEEN"; statistic = "median"; },
      { id = "labs"; name = "Lab orders"; type = "count"; period = "month";
        direction = "higher"; objective = "care"; activity = "LAB_ORDER"; },
      { id = "labs_1d"; name = "Lab orders, last day"; type = "count"; period = "last 24h";
        direction = "higher"; objective = "care"; activity = "LAB_ORDER"; },
      { id = "readmit"; name = "Readmission"; type = "proportion"; period = "month";
        target = 0.1; direction = "lower"; objective = "care";
        population = { activity = "DISCHARGE"; };
        numerator = { activity = "ADMISSION"; link = "subject"; within = "30d"; }; },
      { id = "visits_left"; name = "Visits left"; type = "proportion"; period = "month";
        target = 0.1; direction = "lower"; objective = "care"; basis = "case";
        population = { activity = "REGISTRATION"; };
        numerator = { activity = "LEFT"; link = "case"; }; },
      { id = "days"; name = "Patient days"; type = "census"; period = "month"; target = 1.0;
        direction = "higher"; objective = "care"; from = "ADMISSION"; to = "DISCHARGE";
        statistic = "case_days"; },
      { id = "days_per_lab"; name = "Patient days per lab order"; type = "ratio";
        period = "month"; target = 1.0; direction = "higher"; objective = "care";
        numerator = "days"; denominator = "labs"; }
    ); }
);
CONF

backfill() { backfill_months "$KPID_WORK/kpid.conf" 2025-01-01 2025-04-01; }
# The values of 2025, one line per KPI, period and stratum.
values() {
    sql "SELECT kpi_id, to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM'), stratum, value,
                numerator, denominator, n, status, partial
         FROM kpid.kpi_value WHERE period_start < '2026-01-01' ORDER BY 1, 2, 3"
}

# 1. The first tick sets the watermark and finds nothing late: history is backfill's.
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 20 "events"
assert_sql "SELECT count(*) FROM kpid.process_watermark WHERE process_id = 'hospital'" 1 \
    "the first tick stored a watermark"
assert_sql "SELECT count(*) FROM kpid.kpi_run WHERE reason = 'late'" 0 "late runs at the first tick"
backfill
assert_eq "$(month_value d2d 2025-01)" 35 "door to doctor, January, before"
assert_eq "$(month_value labs 2025-02)" 2 "labs, February, before"
assert_eq "$(month_value readmit 2025-01)" 1 "readmission, January, before"
assert_eq "$(month_value days 2025-02)" 4 "patient days, February, before"
assert_eq "$(month_value visits_left 2025-01)" 1 "visits left, January, before: V9 is January's"
assert_eq "$(month_value visits_left 2025-02)" "" "visits left, February, before: no visit"

# 2. A tick with nothing new: only the open periods (the one before is settled).
mark=$(sql "SELECT max(id) FROM kpid.kpi_run")
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*), count(DISTINCT kpi_id), count(*) FILTER (WHERE reason <> 'schedule'),
                   count(*) FILTER (WHERE kpi_id <> 'labs_1d' AND period_start
                                    < date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
            FROM kpid.kpi_run WHERE id > $mark" "8|8|0|0" "a tick without changes"

# 3. Late data: (a) E3 was seen at 00:30 on February 1 (40 min after its January
#    arrival), (b) lab order l2 moves from February 10 to March 10, (c) admission a2 is
#    retracted (P1 was not readmitted, I2 has no opening), (d) V9's January registration
#    is retracted: the visit's first registration is now in February.
before=$(values)
sql "SELECT kpi_id || ' ' || period_start || ' ' || computed_at FROM kpid.kpi_value
     WHERE period_start < '2026-01-01'" | sort >"$KPID_WORK/computed.before"
{
    ev e3b E3 P13 PHYSICIAN_SEEN 2025-02-01T00:30:00Z
    ev l2 L2 P22 LAB_ORDER 2025-03-10T10:00:00Z
    printf '{"event_key":"a2","retract":true}\n'
    printf '{"event_key":"r9a","retract":true}\n'
} >"$KPID_WORK/late.tmp"
mv "$KPID_WORK/late.tmp" "$KPID_WORK/inbox/b.ndjson"
mark=$(sql "SELECT max(id) FROM kpid.kpi_run")
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 19 "events after the late ones"

# Exactly the affected periods were evaluated, with reason "late": the ratio after its
# numerator (patient days, February) and denominator (labs, February and March).
assert_sql "SELECT string_agg(kpi_id || ' ' || to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM'),
                              ', ' ORDER BY kpi_id, period_start)
            FROM kpid.kpi_run WHERE id > $mark AND reason = 'late' AND error IS NULL" \
    "d2d 2025-01, days 2025-02, days_per_lab 2025-02, days_per_lab 2025-03, labs 2025-02, labs 2025-03, readmit 2025-01, visits_left 2025-01, visits_left 2025-02" \
    "late evaluations"
assert_sql "SELECT count(*) FROM kpid.kpi_run WHERE id > $mark AND error IS NOT NULL" 0 "failed runs"
assert_sql "SELECT max(id) FILTER (WHERE kpi_id IN ('days', 'labs'))
                   < min(id) FILTER (WHERE kpi_id = 'days_per_lab')
            FROM kpid.kpi_run WHERE id > $mark AND reason = 'late'" t \
    "ratios are evaluated after their parts"

# The new values, by hand: median(20, 40, 50); 1 and 2 orders; not readmitted; no stay.
assert_eq "$(month_value d2d 2025-01)" 40 "door to doctor, January, after"
assert_eq "$(month_value d2d 2025-02)" 10 "door to doctor, February, unchanged"
assert_eq "$(month_value labs 2025-02)" 1 "labs, February, after"
assert_eq "$(month_value labs 2025-03)" 2 "labs, March, after"
assert_eq "$(month_value readmit 2025-01)" 0 "readmission, January, after"
assert_eq "$(month_value days 2025-02)" 0 "patient days, February, after"
assert_eq "$(month_value days_per_lab 2025-03)" 1 "patient days per lab order, March, after"
assert_eq "$(month_value visits_left 2025-01)" "" "visits left, January, after: no visit"
assert_eq "$(month_value visits_left 2025-02)" 1 "visits left, February, after: V9"

# No other row was rewritten.
sql "SELECT kpi_id || ' ' || period_start || ' ' || computed_at FROM kpid.kpi_value
     WHERE period_start < '2026-01-01'" | sort >"$KPID_WORK/computed.after"
changed=$(comm -13 "$KPID_WORK/computed.before" "$KPID_WORK/computed.after" | wc -l)
assert_eq "$changed" 9 "rows rewritten by the tick"
after=$(values)
assert_eq "$(diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep -c '^>')" 9 \
    "rows whose values changed"

# The tick's values are what a full recompute gives.
backfill
assert_eq "$(values)" "$after" "the values after the tick differ from a full backfill"

# 4. The watermark moved: the next tick finds nothing late, and the versions that every
#    watermark has passed are gone.
mark=$(sql "SELECT max(id) FROM kpid.kpi_run")
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.kpi_run WHERE id > $mark AND reason = 'late'" 0 \
    "late runs at the tick after"
assert_sql "SELECT count(*) FROM kpid.event_change" 0 "changes kept after every watermark passed"

# 5. A correction that moves the discharge of a closed stay (I3: March 4 to March 6)
#    dirties the months between its opening and the later closing, not every month up
#    to now: the stay before the change is rebuilt from the change's old version.
echo '{"event_key":"d3","case_id":"I3","subject_id":"P2","activity":"DISCHARGE","time":"2025-03-06T10:00:00Z"}' \
    >"$KPID_WORK/late.tmp"
mv "$KPID_WORK/late.tmp" "$KPID_WORK/inbox/c.ndjson"
mark=$(sql "SELECT max(id) FROM kpid.kpi_run")
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT string_agg(kpi_id || ' ' || to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM'),
                              ', ' ORDER BY kpi_id, period_start)
            FROM kpid.kpi_run WHERE id > $mark AND reason = 'late' AND error IS NULL" \
    "days 2025-03, days_per_lab 2025-03, readmit 2025-03" "late evaluations of a moved discharge"
assert_eq "$(month_value days 2025-03)" 4 "patient days, March, after the discharge moved"
after=$(values)
backfill
assert_eq "$(values)" "$after" "the values after the moved discharge differ from a full backfill"

# 6. The tick summarizes the block ranges that new rows filled in the BRIN index on
#    ingest_xid, so that later ticks do not read every page written since the last
#    vacuum; it never waits for the table's lock to do so. Autovacuum stays away from
#    kpid.event here, so that only the tick can summarize them. NOTE is an activity no
#    KPI reads: its events dirty no period.
sql "ALTER TABLE kpid.event SET (autovacuum_enabled = false)" >/dev/null
sql "VACUUM kpid.event" >/dev/null
unsummarized() { sql "SELECT brin_summarize_new_values('kpid.event_ingest_xid_brin')"; }
pages() { sql "SELECT pg_relation_size('kpid.event') / current_setting('block_size')::int"; }
assert_eq "$(unsummarized)" 0 "ranges left unsummarized by VACUUM"
p0=$(pages)
make_events "$KPID_WORK/late.tmp" note 30000 NOTE
mv "$KPID_WORK/late.tmp" "$KPID_WORK/inbox/d.ndjson"
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event WHERE activity = 'NOTE'" 30000 "NOTE events"
p1=$(pages)
[ $((p1 - p0)) -ge 384 ] || fail "30,000 events filled $((p1 - p0)) new pages, not 3 ranges' worth"
assert_eq "$(unsummarized)" 0 "ranges the tick left unsummarized"

# While a VACUUM or an index build holds SHARE UPDATE EXCLUSIVE on kpid.event, the tick
# does not wait for it (kpid's lock_timeout is a minute): it reads the new ranges as
# they are and evaluates what the late event made dirty.
lock_table kpid.event 'SHARE UPDATE EXCLUSIVE'
{
    make_events /dev/stdout note2 30000 NOTE
    ev l5 L5 P25 LAB_ORDER 2025-03-15T10:00:00Z
} >"$KPID_WORK/late.tmp"
mv "$KPID_WORK/late.tmp" "$KPID_WORK/inbox/e.ndjson"
t0=$(date +%s)
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
[ $(($(date +%s) - t0)) -lt 30 ] || fail "the tick waited for the lock ($(($(date +%s) - t0)) s)"
assert_eq "$(month_value labs 2025-03)" 3 "labs, March, after a late order with the table locked"
unlock_table
[ "$(unsummarized)" -ge 3 ] || fail "the locked tick's new ranges were summarized after all"

# Without the index (an operator dropped it), the tick warns once and goes on: the late
# event is found all the same.
sql "DROP INDEX kpid.event_ingest_xid_brin" >/dev/null
ev l6 L6 P26 LAB_ORDER 2025-03-16T10:00:00Z >"$KPID_WORK/late.tmp"
mv "$KPID_WORK/late.tmp" "$KPID_WORK/inbox/f.ndjson"
: >"$KPID_LOG"
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_eq "$(grep -c 'cannot summarize the new block ranges of kpid.event_ingest_xid_brin' "$KPID_LOG")" 1 \
    "warnings of a missing ingest_xid index"
assert_eq "$(month_value labs 2025-03)" 4 "labs, March, after a late order without the index"
