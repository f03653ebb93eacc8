# Recomputing history when a KPI's definition changes (recompute_horizon): a new KPI
# and a KPI whose definition hash changed get the periods within the horizon evaluated
# again at their process's next tick (reason "definition"), and only they; the next
# tick recomputes nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init recompute

mkdir "$KPID_WORK/inbox"
# Admissions at noon UTC of each of the last 20 days: (days ago % 3) + 1 on each.
for ((d = 1; d <= 20; d++)); do
    day=$(date -u -d "-$d days" +%F)
    for ((k = 0; k <= d % 3; k++)); do
        printf '{"event_key":"a%d-%d","case_id":"C%d-%d","subject_id":"P%d","activity":"ADMISSION","time":"%sT12:00:00Z"}\n' \
            "$d" "$k" "$d" "$k" "$k" "$day"
    done
done >"$KPID_WORK/inbox/events.ndjson"

conf() { # TARGET_OF_adm
    cat >"$KPID_WORK/kpid.conf" <<CONF
pseudonymize = false;
recompute_horizon = "10d";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = ( { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; } );
objectives = ( { id = "flow"; name = "Flow"; perspective = "internal"; } );
processes = (
  { id = "admission"; name = "Admission"; category = "main"; timezone = "UTC";
    schedule = "@daily";
    kpis = (
      { id = "adm"; name = "Admissions"; type = "count"; period = "day"; target = $1;
        direction = "higher"; objective = "flow"; activity = "ADMISSION"; },
      { id = "adm_cases"; name = "Admitted cases"; type = "count"; period = "day";
        direction = "higher"; objective = "flow"; activity = "ADMISSION"; count = "cases"; }
    ); }
);
CONF
}

# The days from the one 10 days before now to yesterday: those a recompute evaluates
# beyond the tick's own (today and yesterday).
horizon_days="(period_start >= date_trunc('day', now() - interval '10 days', 'UTC')
               AND period_start < date_trunc('day', now(), 'UTC') - interval '1 day')"

conf 2.0
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 41 "events"
# New KPIs: their history within the horizon, nothing older.
for kpi in adm adm_cases; do
    assert_sql "SELECT count(*) FROM kpid.kpi_run WHERE kpi_id = '$kpi' AND reason = 'definition'
                AND error IS NULL" "$(sql "SELECT count(*) FROM generate_series(1, 20) d
                WHERE date_trunc('day', now() - d * interval '1 day', 'UTC') >= date_trunc('day', now() - interval '10 days', 'UTC')
                  AND date_trunc('day', now() - d * interval '1 day', 'UTC') < date_trunc('day', now(), 'UTC') - interval '1 day'")" \
        "$kpi: one recompute per day of the horizon"
done
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'adm'
            AND period_start < date_trunc('day', now() - interval '10 days', 'UTC')" 0 \
    "nothing before the horizon"
# Every recomputed value is right: (days ago % 3) + 1 admissions, green from 2 on.
assert_sql "SELECT count(*) FROM kpid.kpi_value v WHERE kpi_id = 'adm' AND $horizon_days
            AND (value <> (extract(day FROM date_trunc('day', now(), 'UTC') - period_start)::int % 3) + 1
                 OR status <> CASE WHEN value >= 2 THEN 'green' ELSE 'red' END)" 0 "recomputed values"
assert_sql "SELECT count(*) FROM kpid.kpi WHERE recompute_from IS NOT NULL" 0 "recomputes done"

# A changed target changes adm's hash: its history is recomputed with the new status;
# adm_cases is untouched.
runs() { sql "SELECT count(*) FROM kpid.kpi_run WHERE kpi_id = '$1' AND reason = 'definition'"; }
n=$(runs adm)
[ "$n" -ge 8 ] || fail "only $n days recomputed"
assert_eq "$(runs adm_cases)" "$n" "adm_cases: as many"
conf 3.0
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
# The same days and yesterday, which this tick did not evaluate (it was complete).
assert_eq "$(runs adm)" "$((2 * n + 1))" "adm recomputed again over the horizon"
assert_eq "$(runs adm_cases)" "$n" "adm_cases not recomputed"
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'adm' AND $horizon_days
            AND status <> CASE WHEN value >= 3 THEN 'green' ELSE 'red' END" 0 "statuses under the new target"
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'adm' AND $horizon_days
            AND status = 'green'" "$(sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'adm'
            AND $horizon_days AND value >= 3")" "green where 3 admissions"

# Nothing changed: nothing recomputed.
before=$(sql "SELECT count(*) FROM kpid.kpi_run WHERE reason = 'definition'")
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.kpi_run WHERE reason = 'definition'" "$before" \
    "no recompute without a change"
