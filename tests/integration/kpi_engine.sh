# The KPI engine on a small hospital whose values are worked out by hand below (see
# docs/kpi-semantics.md): every KPI type, filters, strata, bands, a ratio of two KPIs,
# periods in Asia/Almaty and a DST day in Europe/Berlin; --explain; hostile filter
# values are bound as parameters, never executed. Then the edge rules of
# docs/kpi-semantics.md on a UTC process (June 2026): census and zero-length stays, value
# strata without values, the population bases of a proportion with duplicate
# registrations, members without a case or subject, ties between first events, sums
# over nothing, a ratio over a zero denominator, attribute values as text; and a census
# lookback across Berlin's DST change, which is an absolute duration.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init kpi_engine

mkdir "$KPID_WORK/inbox"
{
    # Emergency: door-to-doctor 20, 50, (none: left), 40 (across midnight into February),
    # 30 (from the first of two arrivals); 10 in February.
    ev e1a E1 P11 ED_ARRIVAL 2025-01-10T08:00:00+05:00 "" '{"triage_level":"2"}'
    ev e1b E1 P11 PHYSICIAN_SEEN 2025-01-10T08:20:00+05:00
    ev e2a E2 P12 ED_ARRIVAL 2025-01-11T09:00:00+05:00 "" '{"triage_level":"3"}'
    ev e2b E2 P12 PHYSICIAN_SEEN 2025-01-11T09:50:00+05:00
    ev e3a E3 P13 ED_ARRIVAL 2025-01-12T10:00:00+05:00 "" '{"triage_level":"3"}'
    ev e3b E3 P13 ED_LEFT_WITHOUT_BEING_SEEN 2025-01-12T11:00:00+05:00
    ev e4a E4 P14 ED_ARRIVAL 2025-01-31T23:30:00+05:00 "" '{"triage_level":"2"}'
    ev e4b E4 P14 PHYSICIAN_SEEN 2025-02-01T00:10:00+05:00
    ev e5a E5 P15 ED_ARRIVAL 2025-02-01T00:30:00+05:00 "" '{"triage_level":"1"}'
    ev e5b E5 P15 PHYSICIAN_SEEN 2025-02-01T00:40:00+05:00
    ev e6a E6 P16 ED_ARRIVAL 2025-01-15T10:00:00+05:00 "" '{"triage_level":"1"}'
    ev e6b E6 P16 ED_ARRIVAL 2025-01-15T10:05:00+05:00 "" '{"triage_level":"1"}'
    ev e6c E6 P16 PHYSICIAN_SEEN 2025-01-15T10:30:00+05:00
    # Inpatient stays: P1 readmitted after 15 days, P2 after 36, P3 died; I6 still open.
    ev i1a I1 P1 ADMISSION 2025-01-02T10:00:00+05:00
    ev i1d I1 P1 DISCHARGE 2025-01-05T10:00:00+05:00
    ev i1c I1 P1 COST 2025-01-05T10:00:00+05:00 1000
    ev i2a I2 P1 ADMISSION 2025-01-20T10:00:00+05:00
    ev i2d I2 P1 DISCHARGE 2025-01-25T10:00:00+05:00
    ev i2c I2 P1 COST 2025-01-25T10:00:00+05:00 2000
    ev i3a I3 P2 ADMISSION 2025-01-03T10:00:00+05:00
    ev i3h I3 P2 HOSPITAL_ACQUIRED_INFECTION 2025-01-06T10:00:00+05:00
    ev i3d I3 P2 DISCHARGE 2025-01-10T10:00:00+05:00
    ev i3c I3 P2 COST 2025-01-10T10:00:00+05:00 3000
    ev i4a I4 P2 ADMISSION 2025-02-15T10:00:00+05:00
    ev i4d I4 P2 DISCHARGE 2025-02-20T10:00:00+05:00
    ev i5a I5 P3 ADMISSION 2025-01-04T10:00:00+05:00
    ev i5x I5 P3 DEATH 2025-01-08T10:00:00+05:00
    ev i5d I5 P3 DISCHARGE 2025-01-08T10:00:00+05:00
    ev i6a I6 P4 ADMISSION 2025-01-30T10:00:00+05:00
    # Berlin's spring-forward day, 2025-03-30, has 23 hours.
    ev b1 B1 P9 LAB_ORDER 2025-03-30T00:30:00+01:00
    ev b2 B2 P9 LAB_ORDER 2025-03-30T23:30:00+02:00
    ev b3 B3 P9 LAB_ORDER 2025-03-31T00:10:00+02:00
} >"$KPID_WORK/inbox/events.ndjson"
{
    # Census (process rules, UTC): C1 from June 9 08:00 to June 11 08:00 in ward A; C2
    # and C3 stays of zero length, C3 exactly at the start of June 10. An admission
    # registered without its case on June 12, in ward Z.
    ev c1a C1 Q1 ADMISSION 2026-06-09T08:00:00Z "" '{"ward":"A"}'
    ev c1d C1 Q1 DISCHARGE 2026-06-11T08:00:00Z
    ev c2a C2 Q2 ADMISSION 2026-06-10T12:00:00Z "" '{"ward":"X"}'
    ev c2d C2 Q2 DISCHARGE 2026-06-10T12:00:00Z
    ev c3a C3 Q3 ADMISSION 2026-06-10T00:00:00Z "" '{"ward":"Y"}'
    ev c3d C3 Q3 DISCHARGE 2026-06-10T00:00:00Z
    ev c4a - Q4 ADMISSION 2026-06-12T06:00:00Z "" '{"ward":"Z"}'
    # Surveys: 8 by sms; one on paper without a value.
    ev s1 S1 Q5 SATISFACTION_SURVEY 2026-06-12T10:00:00Z 8 '{"channel":"sms"}'
    ev s2 S2 Q6 SATISFACTION_SURVEY 2026-06-13T10:00:00Z "" '{"channel":"paper"}'
    # ED visits: V1 registered twice (left); V2, P1's second visit (left); V3 (seen after
    # 30 min); an arrival of P3 registered before its visit number existed (no case);
    # V4 without a patient (left); V5, P2's second visit (left); V6 registered twice at
    # the same instant, ambulance (t1) before walk-in (t2) by event_key (seen after 20
    # min); P7's visits V7 (u2, left) and V8 (u1) registered at the same instant.
    ev r1a V1 P1 ED_ARRIVAL 2026-06-01T10:00:00Z
    ev r1b V1 P1 ED_ARRIVAL 2026-06-01T10:05:00Z
    ev r1l V1 P1 ED_LEFT_WITHOUT_BEING_SEEN 2026-06-01T12:00:00Z
    ev r2a V2 P1 ED_ARRIVAL 2026-06-20T10:00:00Z
    ev r2l V2 P1 ED_LEFT_WITHOUT_BEING_SEEN 2026-06-20T11:00:00Z
    ev r3a V3 P2 ED_ARRIVAL 2026-06-02T09:00:00Z
    ev r3s V3 P2 PHYSICIAN_SEEN 2026-06-02T09:30:00Z
    ev r0a - P3 ED_ARRIVAL 2026-06-03T09:00:00Z
    ev r4a V4 - ED_ARRIVAL 2026-06-04T09:00:00Z
    ev r4l V4 - ED_LEFT_WITHOUT_BEING_SEEN 2026-06-04T10:00:00Z
    ev r5a V5 P2 ED_ARRIVAL 2026-06-25T09:00:00Z
    ev r5l V5 P2 ED_LEFT_WITHOUT_BEING_SEEN 2026-06-25T10:00:00Z
    ev t1 V6 P6 ED_ARRIVAL 2026-06-05T08:00:00Z "" '{"arrival_mode":"ambulance"}'
    ev t2 V6 P6 ED_ARRIVAL 2026-06-05T08:00:00Z "" '{"arrival_mode":"walk-in"}'
    ev t3 V6 P6 PHYSICIAN_SEEN 2026-06-05T08:20:00Z
    ev u2 V7 P7 ED_ARRIVAL 2026-06-06T08:00:00Z
    ev u3 V7 P7 ED_LEFT_WITHOUT_BEING_SEEN 2026-06-06T09:00:00Z
    ev u1 V8 P7 ED_ARRIVAL 2026-06-06T08:00:00Z
    # Triage levels: the number 3, the string "3" and "4".
    ev x1 T1 P8 TRIAGE 2026-06-07T08:00:00Z "" '{"level":3}'
    ev x2 T2 P8 TRIAGE 2026-06-07T09:00:00Z "" '{"level":"3"}'
    ev x3 T3 P8 TRIAGE 2026-06-07T10:00:00Z "" '{"level":"4"}'
    # Berlin: a case opened at 23:30 on March 29, 2025 (22:30 UTC), never closed.
    ev l1 LB1 P9 OPEN 2025-03-29T22:30:00Z
} >"$KPID_WORK/inbox/rules.ndjson"

cat >"$KPID_WORK/kpid.conf" <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = ( { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; } );
objectives = (
  { id = "timely"; name = "Timely care"; perspective = "patient"; },
  { id = "safe"; name = "Safe care"; perspective = "internal"; }
);
processes = (
  { id = "ed"; name = "Emergency care"; category = "main"; timezone = "Asia/Almaty";
    schedule = "*/15 * * * *";
    kpis = (
      { id = "arrivals"; name = "ED arrivals"; type = "count"; period = "month";
        direction = "higher"; objective = "timely"; activity = "ED_ARRIVAL";
        stratify = [ "triage_level" ]; },
      { id = "ed_cases"; name = "ED cases"; type = "count"; period = "month";
        direction = "higher"; objective = "timely"; activity = "ED_ARRIVAL"; count = "cases"; },
      { id = "hostile"; name = "Hostile filter"; type = "count"; period = "month";
        direction = "higher"; objective = "timely"; activity = "ED_ARRIVAL";
        filters = ( { attr = "triage_level"; not_in = [ "x'); DROP TABLE kpid.event; --" ]; } ); },
      { id = "d2d"; name = "Door to doctor, median"; unit = "min"; type = "duration";
        period = "month"; target = 30.0; direction = "lower"; objective = "timely";
        from = "ED_ARRIVAL"; to = "PHYSICIAN_SEEN"; statistic = "median";
        bands = ( { to = 30.0; status = "green"; }, { from = 30.0; to = 45.0; status = "amber"; },
                  { from = 45.0; status = "red"; } ); },
      { id = "d2d_p90"; name = "Door to doctor, p90"; unit = "min"; type = "duration";
        period = "month"; target = 60.0; direction = "lower"; objective = "timely";
        from = "ED_ARRIVAL"; to = "PHYSICIAN_SEEN"; statistic = "p90"; },
      { id = "d2d_45"; name = "Seen within 45 min"; type = "duration"; period = "month";
        target = 0.8; direction = "higher"; objective = "timely";
        from = "ED_ARRIVAL"; to = "PHYSICIAN_SEEN"; statistic = "within"; within = "45m"; },
      { id = "lwbs"; name = "LWBS rate"; type = "proportion"; period = "month"; target = 0.02;
        direction = "lower"; objective = "timely"; population = { activity = "ED_ARRIVAL"; };
        numerator = { activity = "ED_LEFT_WITHOUT_BEING_SEEN"; link = "case"; }; },
      { id = "lwbs_events"; name = "LWBS rate per arrival"; type = "proportion"; period = "month";
        target = 0.02; direction = "lower"; objective = "timely"; basis = "event";
        population = { activity = "ED_ARRIVAL"; };
        numerator = { activity = "ED_LEFT_WITHOUT_BEING_SEEN"; link = "case"; }; },
      { id = "lwbs_t3"; name = "LWBS rate, triage 3"; type = "proportion"; period = "month";
        target = 0.02; direction = "lower"; objective = "timely";
        filters = ( { attr = "triage_level"; equals = "3"; } );
        population = { activity = "ED_ARRIVAL"; };
        numerator = { activity = "ED_LEFT_WITHOUT_BEING_SEEN"; link = "case"; }; }
    ); },
  { id = "inpatient"; name = "Inpatient care"; category = "main"; timezone = "Asia/Almaty";
    schedule = "@daily";
    kpis = (
      { id = "readmit30"; name = "30-day readmission"; type = "proportion"; period = "month";
        target = 0.1; direction = "lower"; objective = "safe";
        population = { activity = "DISCHARGE"; };
        numerator = { activity = "ADMISSION"; link = "subject"; within = "30d"; };
        denominator_exclusion = { activity = "DEATH"; link = "case"; }; },
      { id = "occupancy"; name = "Bed occupancy"; type = "census"; period = "month";
        target = 0.85; direction = "lower"; objective = "safe";
        from = "ADMISSION"; to = "DISCHARGE"; capacity = 10.0; },
      { id = "patient_days"; name = "Patient days"; type = "census"; period = "month";
        target = 1.0; direction = "higher"; objective = "safe";
        from = "ADMISSION"; to = "DISCHARGE"; statistic = "case_days"; },
      { id = "cost"; name = "Cost per case"; type = "value"; period = "month"; target = 2500.0;
        direction = "lower"; objective = "safe"; activity = "COST"; statistic = "avg"; },
      { id = "cost_p90"; name = "Cost p90"; type = "value"; period = "month"; target = 5000.0;
        direction = "lower"; objective = "safe"; activity = "COST"; statistic = "p90"; },
      { id = "hai"; name = "HAI"; type = "count"; period = "month"; direction = "lower";
        objective = "safe"; activity = "HOSPITAL_ACQUIRED_INFECTION"; },
      { id = "hai_rate"; name = "HAI per 1000 patient-days"; type = "ratio"; period = "month";
        target = 2.0; direction = "lower"; objective = "safe";
        numerator = "hai"; denominator = "patient_days"; factor = 1000.0; }
    ); },
  { id = "lab"; name = "Laboratory"; category = "supporting"; timezone = "Europe/Berlin";
    schedule = "@hourly";
    kpis = (
      { id = "lab_orders"; name = "Lab orders per day"; type = "count"; period = "day";
        direction = "higher"; objective = "safe"; activity = "LAB_ORDER"; },
      { id = "lab_open"; name = "Open with a one-day lookback"; type = "census"; period = "day";
        target = 1.0; direction = "higher"; objective = "safe"; from = "OPEN"; to = "CLOSE";
        lookback = "1d"; }
    ); },
  { id = "rules"; name = "Edge rules"; category = "management"; timezone = "UTC";
    schedule = "@daily";
    kpis = (
      { id = "r_census"; name = "Occupancy by ward"; type = "census"; period = "day";
        target = 0.5; direction = "higher"; objective = "safe"; from = "ADMISSION";
        to = "DISCHARGE"; capacity = 10.0; stratify = [ "ward" ]; },
      { id = "r_survey_avg"; name = "Satisfaction"; type = "value"; period = "month";
        target = 8.0; direction = "higher"; objective = "safe";
        activity = "SATISFACTION_SURVEY"; statistic = "avg"; stratify = [ "channel" ]; },
      { id = "r_survey_sum"; name = "Satisfaction points"; type = "value"; period = "month";
        target = 8.0; direction = "higher"; objective = "safe";
        activity = "SATISFACTION_SURVEY"; statistic = "sum"; stratify = [ "channel" ]; },
      { id = "r_lwbs_case"; name = "LWBS per visit"; type = "proportion"; period = "month";
        target = 0.02; direction = "lower"; objective = "timely"; basis = "case";
        population = { activity = "ED_ARRIVAL"; };
        numerator = { activity = "ED_LEFT_WITHOUT_BEING_SEEN"; link = "case"; }; },
      { id = "r_lwbs_subject"; name = "LWBS per patient"; type = "proportion"; period = "month";
        target = 0.02; direction = "lower"; objective = "timely"; basis = "subject";
        population = { activity = "ED_ARRIVAL"; };
        numerator = { activity = "ED_LEFT_WITHOUT_BEING_SEEN"; link = "case"; }; },
      { id = "r_lwbs_event"; name = "LWBS per registration"; type = "proportion";
        period = "month"; target = 0.02; direction = "lower"; objective = "timely";
        basis = "event"; population = { activity = "ED_ARRIVAL"; };
        numerator = { activity = "ED_LEFT_WITHOUT_BEING_SEEN"; link = "case"; }; },
      { id = "r_d2d"; name = "Door to doctor by mode"; unit = "min"; type = "duration";
        period = "month"; target = 30.0; direction = "lower"; objective = "timely";
        from = "ED_ARRIVAL"; to = "PHYSICIAN_SEEN"; statistic = "median";
        stratify = [ "arrival_mode" ]; },
      { id = "r_levels"; name = "Triages by level"; type = "count"; period = "month";
        direction = "higher"; objective = "timely"; activity = "TRIAGE"; stratify = [ "level" ]; },
      { id = "r_level3"; name = "Level 3 triages"; type = "count"; period = "month";
        direction = "higher"; objective = "timely"; activity = "TRIAGE";
        filters = ( { attr = "level"; equals = "3"; } ); },
      { id = "r_surveys"; name = "Surveys"; type = "count"; period = "month";
        direction = "higher"; objective = "safe"; activity = "SATISFACTION_SURVEY"; },
      { id = "r_deaths"; name = "Deaths"; type = "count"; period = "month";
        direction = "lower"; objective = "safe"; activity = "DEATH"; },
      { id = "r_surveys_per_death"; name = "Surveys per death"; type = "ratio";
        period = "month"; target = 1.0; direction = "higher"; objective = "safe";
        numerator = "r_surveys"; denominator = "r_deaths"; }
    ); }
);
CONF
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 63 "events"
# --once then evaluated every KPI for the current periods (one scheduler tick); what
# follows is about the hand-computed history of 2025, so it starts from no values.
assert_sql "SELECT count(DISTINCT kpi_id), count(*) FILTER (WHERE error IS NOT NULL)
            FROM kpid.kpi_run WHERE reason = 'schedule'" "30|0" "--once evaluated every KPI"
sql "DELETE FROM kpid.kpi_value" >/dev/null

# --explain: parameters, not spliced values.
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" --explain hostile >"$KPID_WORK/explain.txt" ||
    fail "--explain failed"
grep -q "^-- \$[0-9]* = '{\"x'); DROP TABLE kpid.event; --\"}'" "$KPID_WORK/explain.txt" ||
    { cat "$KPID_WORK/explain.txt" >&2; fail "the hostile value is not a parameter"; }
! grep -v '^--' "$KPID_WORK/explain.txt" | grep -q "DROP TABLE" || fail "a value was spliced into SQL"
grep -q "= ANY (\$[0-9]*::text\[\])" "$KPID_WORK/explain.txt" || fail "not_in is not an array parameter"
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" --explain r_lwbs_subject |
    head -n 1 | grep -q '^-- KPI r_lwbs_subject (proportion per subject, rules, period month)' ||
    fail "--explain does not name the population basis"

KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill --from 2025-01-01 --to 2025-03-01 \
    >>"$KPID_LOG" 2>&1 || fail "backfill failed"
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill --from 2025-03-29 --to 2025-04-02 \
    --process lab >>"$KPID_LOG" 2>&1 || fail "backfill of lab failed"
assert_sql "SELECT to_regclass('kpid.event') IS NOT NULL" t "kpid.event survived"

# v KPI MONTH [STRATUM]: "value|numerator|denominator|status" of the Almaty month.
v() {
    sql "SELECT round(value::numeric, 9), round(numerator::numeric, 9),
                round(denominator::numeric, 9), status
         FROM kpid.kpi_value WHERE kpi_id = '$1'
         AND period_start = '$2-01 00:00:00+05' AND stratum = '${3:-{\}}'"
}
# 6 arrival events in January (E6 has two), 1 in February; by triage level.
assert_eq "$(v arrivals 2025-01)" "6.000000000|||" "arrivals January"
assert_eq "$(v arrivals 2025-02)" "1.000000000|||" "arrivals February"
assert_eq "$(v arrivals 2025-01 '{"triage_level": "3"}')" "2.000000000|||" "arrivals, triage 3"
assert_eq "$(v arrivals 2025-01 '{"triage_level": "1"}')" "2.000000000|||" "arrivals, triage 1"
assert_eq "$(v ed_cases 2025-01)" "5.000000000|||" "ED cases"
assert_eq "$(v hostile 2025-01)" "6.000000000|||" "not_in with a hostile value"
# Durations 20, 50, 40, 30 (E3 never seen): median 35 (amber), p90 = 40 + 0.7 x 10.
assert_eq "$(v d2d 2025-01)" "35.000000000|||amber" "door to doctor, median"
assert_eq "$(v d2d 2025-02)" "10.000000000|||green" "door to doctor, February"
assert_eq "$(v d2d_p90 2025-01)" "47.000000000|||green" "door to doctor, p90"
# Within 45 min: 20, 40, 30 of the 5 cases with an arrival (E3 included).
assert_eq "$(v d2d_45 2025-01)" "0.600000000|3.000000000|5.000000000|red" "seen within 45 min"
# LWBS per visit (basis case, the default): 1 of the 5 cases (E6 registered twice counts
# once); per arrival event: 1 of 6; triage 3 only: 1 of 2.
assert_eq "$(v lwbs 2025-01)" "0.200000000|1.000000000|5.000000000|red" "LWBS"
assert_eq "$(v lwbs_events 2025-01)" "0.166666667|1.000000000|6.000000000|red" "LWBS per arrival"
assert_eq "$(v lwbs_t3 2025-01)" "0.500000000|1.000000000|2.000000000|red" "LWBS, triage 3"
# Readmission: discharges I1, I3, I5, I2; I5 died (excluded); only I1 is followed by an
# admission within 30 days (I2). February: I4, not readmitted.
assert_eq "$(v readmit30 2025-01)" "0.333333333|1.000000000|3.000000000|red" "readmission"
assert_eq "$(v readmit30 2025-02)" "0.000000000|0.000000000|1.000000000|green" "readmission, February"
# Census, January: I1 3 d, I2 5 d, I3 7 d, I5 4 d, I6 open from Jan 30 10:00 to the
# month's end: 1 d 14 h. 20 d 14 h in 31 days; capacity 10.
days=$(echo "scale=12; 19 + 38/24" | bc)
assert_eq "$(v patient_days 2025-01)" "$(printf '%.9f' "$days")|||green" "patient days"
assert_eq "$(v occupancy 2025-01)" \
    "$(printf '%.9f|%.9f|10.000000000|green' "$(echo "scale=15; $days / 31 / 10" | bc)" "$(echo "scale=15; $days / 31" | bc)")" \
    "occupancy"
# February: I4 5 d, I6 the whole 28 d.
assert_eq "$(v patient_days 2025-02)" "33.000000000|||green" "patient days, February"
# Costs 1000, 2000, 3000: mean 2000, p90 = 2000 + 0.8 x 1000.
assert_eq "$(v cost 2025-01)" "2000.000000000|||green" "cost per case"
assert_eq "$(v cost_p90 2025-01)" "2800.000000000|||green" "cost p90"
# One infection over 20 d 14 h: per 1000 patient-days.
assert_eq "$(v hai_rate 2025-01)" \
    "$(printf '%.9f|1.000000000|%.9f|red' "$(echo "scale=15; 1000 / $days" | bc)" "$days")" "HAI rate"
# Berlin, 2025-03-30: 23 hours long, two orders.
assert_sql "SELECT value, period_end - period_start FROM kpid.kpi_value WHERE kpi_id = 'lab_orders'
            AND period_start = '2025-03-30 00:00:00+01'" "2|23:00:00" "the DST day"
assert_sql "SELECT value, period_end - period_start FROM kpid.kpi_value WHERE kpi_id = 'lab_orders'
            AND period_start = '2025-03-31 00:00:00+02'" "1|1 day" "the day after"
# Every evaluation is logged; the model is in the warehouse.
assert_sql "SELECT count(*) > 0, count(*) FILTER (WHERE error IS NOT NULL) FROM kpid.kpi_run" "t|0" "runs"
assert_sql "SELECT count(*) FROM kpid.kpi WHERE active" 30 "KPI definitions synced"
assert_sql "SELECT trend FROM kpid.scorecard WHERE kpi_id = 'd2d' AND stratum = '{}'" "better" "trend"

# ---- the edge rules (process rules, UTC; June 2026) ----------------------------------
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill --process rules \
    --from 2026-06-01 --to 2026-07-02 >>"$KPID_LOG" 2>&1 || fail "backfill of rules failed"
# r KPI START [STRATUM]: "value|numerator|denominator|n|excluded_incomplete", or "none"
# when there is no row.
r() {
    local got
    got=$(sql "SELECT coalesce(round(value::numeric, 9)::text, 'NULL'),
                      round(numerator::numeric, 9), round(denominator::numeric, 9), n,
                      excluded_incomplete
               FROM kpid.kpi_value WHERE kpi_id = '$1' AND period_start = '$2 00:00:00+00'
                 AND stratum = '${3:-{\}}'")
    printf '%s\n' "${got:-none}"
}
# Census (issue 8, item 1): on June 10 only C1 is open; the stays of zero length are
# never open: not in n, no row for their wards, not listed; also at the day's start.
assert_eq "$(r r_census 2026-06-10)" "0.100000000|1.000000000|10.000000000|1|0" "census, June 10"
assert_eq "$(r r_census 2026-06-10 '{"ward": "A"}')" "0.100000000|1.000000000|10.000000000|1|0" \
    "census, June 10, ward A"
assert_eq "$(r r_census 2026-06-10 '{"ward": "X"}')" none "no row for a zero-length stay"
assert_eq "$(r r_census 2026-06-10 '{"ward": "Y"}')" none "no row for a zero-length stay at the start"
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'r_census'
            AND stratum IN ('{\"ward\": \"X\"}', '{\"ward\": \"Y\"}')" 0 "zero-length stays never have a row"
assert_eq "$(KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" cases \
    --kpi r_census --period 2026-06-10 | tail -n +2 | tr '\t' ' ')" "initial-population C1 Q1" \
    "kpid cases: the open case only"
# June 9: C1 for 16 of 24 hours; June 11: 8 hours.
assert_eq "$(r r_census 2026-06-09)" "0.066666667|0.666666667|10.000000000|1|0" "census, June 9"
assert_eq "$(r r_census 2026-06-11)" "0.033333333|0.333333333|10.000000000|1|0" "census, June 11"
# June 12: the admission without a case is left out and counted, also in its ward's row.
assert_eq "$(r r_census 2026-06-12)" "0.000000000|0.000000000|10.000000000|0|1" "census, June 12"
assert_eq "$(r r_census 2026-06-12 '{"ward": "Z"}')" "0.000000000|0.000000000|10.000000000|0|1" \
    "census, June 12, ward Z: only a member left out"
# An empty census is 0.
assert_eq "$(r r_census 2026-07-01)" "0.000000000|0.000000000|10.000000000|0|0" "an empty census"

# Value (item 2): the stratum whose events have no value keeps its row, without a value;
# a sum over no value is 0, and so is the sum of an empty month; a mean of it is NULL.
assert_eq "$(r r_survey_avg 2026-06-01)" "8.000000000|||1|" "survey mean, June"
assert_eq "$(r r_survey_avg 2026-06-01 '{"channel": "sms"}')" "8.000000000|||1|" "survey mean, sms"
assert_eq "$(r r_survey_avg 2026-06-01 '{"channel": "paper"}')" "NULL|||0|" "survey mean, paper: no value"
assert_eq "$(r r_survey_sum 2026-06-01 '{"channel": "paper"}')" "0.000000000|||0|" "a sum over no value"
assert_eq "$(r r_survey_sum 2026-06-01)" "8.000000000|||1|" "survey sum, June"
assert_eq "$(r r_survey_sum 2026-07-01)" "0.000000000|||0|" "the sum of an empty month"
assert_eq "$(r r_survey_avg 2026-07-01)" "NULL|||0|" "the mean of an empty month"
assert_sql "SELECT status IS NULL FROM kpid.kpi_value WHERE kpi_id = 'r_survey_avg'
            AND period_start = '2026-07-01Z' AND stratum = '{}'" t "no value, no status"

# Population basis (item 3) and members that cannot be followed (item 4), June:
# per visit: V1..V8, 5 of them left (V1, V2, V4, V5, V7); P3's arrival has no case.
assert_eq "$(r r_lwbs_case 2026-06-01)" "0.625000000|5.000000000|8.000000000|8|1" "LWBS per visit"
# per patient: P1 (first at V1: left), P2 (V3), P6 (V6), P7 (first at V8 by event_key:
# the tie of u1 and u2); P3's anchor has no case, V4's arrival no patient.
assert_eq "$(r r_lwbs_subject 2026-06-01)" "0.250000000|1.000000000|4.000000000|4|2" "LWBS per patient"
# per registration: 11 arrivals; P3's cannot be followed to a case; 6 of 10 left.
assert_eq "$(r r_lwbs_event 2026-06-01)" "0.600000000|6.000000000|10.000000000|10|1" "LWBS per arrival"
# The drill-down lists exactly the members of each basis (V4 has no subject).
cases_of() { # KPI POPULATION
    KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" cases --kpi "$1" \
        --period 2026-06-01 --population "$2" | tail -n +2 | cut -f 2,3 | tr '\t' ' ' | tr '\n' ','
}
assert_eq "$(cases_of r_lwbs_subject initial-population)" "V1 P1,V3 P2,V6 P6,V8 P7," "patients listed"
assert_eq "$(cases_of r_lwbs_subject numerator)" "V1 P1," "patients who left"
assert_eq "$(cases_of r_lwbs_case initial-population)" \
    "V1 P1,V2 P1,V3 P2,V4 ,V5 P2,V6 P6,V7 P7,V8 P7," "visits listed"
assert_eq "$(cases_of r_lwbs_case numerator)" "V1 P1,V2 P1,V4 ,V5 P2,V7 P7," "visits that left"
assert_eq "$(cases_of r_lwbs_event numerator)" "V1 P1,V2 P1,V4 ,V5 P2,V7 P7," "registrations that left"
# Duration: V6's anchor is t1 (ambulance), the first of two arrivals at the same instant
# by event_key; P3's arrival without a case is left out and counted.
assert_eq "$(r r_d2d 2026-06-01)" "25.000000000|||2|1" "door to doctor"
assert_eq "$(r r_d2d 2026-06-01 '{"arrival_mode": "ambulance"}')" "20.000000000|||1|0" "tie: ambulance"
assert_eq "$(r r_d2d 2026-06-01 '{"arrival_mode": "walk-in"}')" none "tie: not walk-in"
assert_eq "$(r r_d2d 2026-06-01 '{"arrival_mode": null}')" "30.000000000|||1|1" "no mode"
# Attribute values compare and stratify as text: 3 and "3" are one stratum.
assert_eq "$(r r_levels 2026-06-01 '{"level": "3"}')" "2.000000000|||2|" "3 and \"3\" stratify as one"
assert_eq "$(r r_levels 2026-06-01 '{"level": "4"}')" "1.000000000|||1|" "level 4"
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'r_levels' AND period_start = '2026-06-01Z'" 3 \
    "levels: the whole, 3 and 4"
assert_eq "$(r r_level3 2026-06-01)" "2.000000000|||2|" "a filter matches 3 and \"3\""
# A ratio whose denominator is 0: no value, both stored.
assert_eq "$(r r_surveys_per_death 2026-06-01)" "NULL|2.000000000|0.000000000||" "ratio over zero"

# Lookback is an absolute duration: Berlin's March 31, 2025 starts 24 hours (not one
# calendar day, which would be 23 hours) after 22:00 UTC on March 29, so the case opened
# at 22:30 UTC takes part; on April 1 it no longer does.
lb() { sql "SELECT round(value::numeric, 9), n FROM kpid.kpi_value WHERE kpi_id = 'lab_open'
            AND period_start = '$1' AND stratum = '{}'"; }
assert_eq "$(lb '2025-03-29 00:00+01')" "0.020833333|1" "lookback: March 29, half an hour"
assert_eq "$(lb '2025-03-30 00:00+01')" "1.000000000|1" "lookback: March 30"
assert_eq "$(lb '2025-03-31 00:00+02')" "1.000000000|1" "lookback: 24 hours, not a calendar day"
assert_eq "$(lb '2025-04-01 00:00+02')" "0.000000000|0" "lookback: passed"
