# The KPI engine on a small hospital whose values are worked out by hand below (see
# docs/kpi-semantics.md): every KPI type, filters, strata, bands, a ratio of two KPIs,
# periods in Asia/Almaty and a DST day in Europe/Berlin; --explain; hostile filter
# values are bound as parameters, never executed.
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
        direction = "higher"; objective = "safe"; activity = "LAB_ORDER"; }
    ); }
);
CONF
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 32 "events"
# --once then evaluated every KPI for the current periods (one scheduler tick); what
# follows is about the hand-computed history of 2025, so it starts from no values.
assert_sql "SELECT count(DISTINCT kpi_id), count(*) FILTER (WHERE error IS NOT NULL)
            FROM kpid.kpi_run WHERE reason = 'schedule'" "16|0" "--once evaluated every KPI"
sql "DELETE FROM kpid.kpi_value" >/dev/null

# --explain: parameters, not spliced values.
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" --explain hostile >"$KPID_WORK/explain.txt" ||
    fail "--explain failed"
grep -q "^-- \$[0-9]* = '{\"x'); DROP TABLE kpid.event; --\"}'" "$KPID_WORK/explain.txt" ||
    { cat "$KPID_WORK/explain.txt" >&2; fail "the hostile value is not a parameter"; }
! grep -v '^--' "$KPID_WORK/explain.txt" | grep -q "DROP TABLE" || fail "a value was spliced into SQL"
grep -q "= ANY (\$[0-9]*::text\[\])" "$KPID_WORK/explain.txt" || fail "not_in is not an array parameter"

KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill --from 2025-01-01 --to 2025-03-01 \
    >>"$KPID_LOG" 2>&1 || fail "backfill failed"
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill --from 2025-03-29 --to 2025-04-01 \
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
# LWBS: 1 of 6 arrival events; triage 3 only: 1 of 2.
assert_eq "$(v lwbs 2025-01)" "0.166666667|1.000000000|6.000000000|red" "LWBS"
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
assert_sql "SELECT count(*) FROM kpid.kpi WHERE active" 16 "KPI definitions synced"
assert_sql "SELECT trend FROM kpid.scorecard WHERE kpi_id = 'd2d' AND stratum = '{}'" "better" "trend"
