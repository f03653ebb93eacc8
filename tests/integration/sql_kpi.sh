# sql KPIs (docs/kpi-semantics.md, "sql"): the operator's query, given $1/$2 as the
# period's bounds, is mapped by column name (value, numerator, denominator, n, stratum)
# into kpid.kpi_value with exact values; --once evaluates it; results that cannot be
# stored (no value, a stratum that is not an object, duplicate strata, a value that is
# not a finite number, a command that returns no rows) are refused with their reason in
# kpid.kpi_run and leave the stored values as they were.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init sql_kpi

mkdir "$KPID_WORK/inbox"
ward_ev() { # key case activity time ward
    printf '{"event_key":"%s","case_id":"%s","subject_id":"P%s","activity":"%s","time":"%s","attrs":{"ward":"%s"}}\n' \
        "$1" "$2" "$2" "$3" "$4" "$5"
}
{
    # January: three arrivals, A (seen), A (not seen), B (seen); February: one, A (seen).
    ward_ev a1 C1 ED_ARRIVAL 2025-01-10T08:00:00Z A
    ward_ev s1 C1 PHYSICIAN_SEEN 2025-01-10T08:20:00Z A
    ward_ev a2 C2 ED_ARRIVAL 2025-01-11T09:00:00Z A
    ward_ev a3 C3 ED_ARRIVAL 2025-01-31T23:59:00Z B
    ward_ev s3 C3 PHYSICIAN_SEEN 2025-02-01T00:10:00Z B
    ward_ev a4 C4 ED_ARRIVAL 2025-02-02T10:00:00Z A
    ward_ev s4 C4 PHYSICIAN_SEEN 2025-02-02T10:30:00Z A
} >"$KPID_WORK/inbox/events.ndjson"

# The share of arrivals (in the period) whose case was seen, as a whole and per ward.
SEEN_QUERY=$(cat <<'QUERY'
"WITH a AS (SELECT e.attrs ->> 'ward' AS ward, EXISTS (SELECT 1 FROM kpid.event s"
  " WHERE s.case_id = e.case_id AND s.activity = 'PHYSICIAN_SEEN') AS seen"
  " FROM kpid.event e WHERE e.activity = 'ED_ARRIVAL' AND e.time >= $1 AND e.time < $2)"
  " SELECT '{}'::jsonb AS stratum, avg(seen::int) AS value, sum(seen::int) AS numerator,"
  " count(*) AS denominator, count(*) AS n FROM a"
  " UNION ALL SELECT jsonb_build_object('ward', ward), avg(seen::int), sum(seen::int),"
  " count(*), count(*) FROM a GROUP BY ward"
QUERY
)

conf() { # FILE EXTRA_KPIS
    cat >"$1" <<CONF
pseudonymize = false;
recompute_horizon = "0s"; # the values asserted are those of the ticks and backfills below
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = ( { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; } );
objectives = ( { id = "timely"; name = "Timely care"; perspective = "patient"; } );
processes = (
  { id = "ed"; name = "Emergency care"; category = "main"; timezone = "UTC";
    schedule = "@daily";
    kpis = (
      { id = "seen"; name = "Seen share"; type = "sql"; period = "month"; target = 0.8;
        direction = "higher"; objective = "timely"; timeout = "2s";
        query = $SEEN_QUERY; },
      { id = "events_n"; name = "Events"; type = "sql"; period = "month"; target = 3.0;
        direction = "higher"; objective = "timely";
        query = "SELECT count(*) AS value FROM kpid.event WHERE time >= \$1 AND time < \$2"; },
      { id = "constant"; name = "Constant"; type = "sql"; period = "month"; target = 3.0;
        direction = "lower"; objective = "timely";
        bands = ( { to = 2.0; status = "green"; }, { from = 2.0; status = "amber"; } );
        query = "SELECT 2.5::numeric AS value, NULL::jsonb AS stratum, 'ignored' AS note"; }
$2
    ); }
);
CONF
}
conf "$KPID_WORK/kpid.conf" ""
kpid_run "$KPID_WORK/kpid.conf" --check-config || fail "--check-config exited with $KPID_EXIT"
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 7 "events"
assert_sql "SELECT count(DISTINCT kpi_id), count(*) FILTER (WHERE error IS NOT NULL)
            FROM kpid.kpi_run WHERE reason = 'schedule'" "3|0" "--once evaluated every sql KPI"
# The current month and the one before have no events: counts of 0, whole population.
assert_sql "SELECT count(*), sum(value), min(stratum::text), max(stratum::text)
            FROM kpid.kpi_value WHERE kpi_id = 'events_n'" "2|0|{}|{}" "events_n, --once"
sql "DELETE FROM kpid.kpi_value" >/dev/null

# --explain shows the query as written and the two parameters.
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" --explain events_n \
    >"$KPID_WORK/explain.txt" || fail "--explain failed"
grep -qx 'SELECT count(\*) AS value FROM kpid.event WHERE time >= \$1 AND time < \$2;' \
    "$KPID_WORK/explain.txt" || { cat "$KPID_WORK/explain.txt" >&2; fail "--explain: no query"; }
grep -qx -- '-- \$2 = period end (timestamptz)' "$KPID_WORK/explain.txt" ||
    fail "--explain: no parameter"

KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill \
    --from 2025-01-01 --to 2025-03-01 >>"$KPID_LOG" 2>&1 || fail "backfill failed"

# v KPI MONTH [STRATUM]: "value|numerator|denominator|n|status|partial".
v() {
    sql "SELECT round(value::numeric, 9), numerator, denominator, n, status, partial
         FROM kpid.kpi_value WHERE kpi_id = '$1'
         AND period_start = '$2-01 00:00:00+00' AND stratum = '${3:-{\}}'"
}
# January: 3 arrivals, 2 seen (C3 seen in February still counts: the case was seen).
assert_eq "$(v seen 2025-01)" "0.666666667|2|3|3|red|f" "seen, January"
assert_eq "$(v seen 2025-01 '{"ward": "A"}')" "0.500000000|1|2|2|red|f" "seen, January, ward A"
assert_eq "$(v seen 2025-01 '{"ward": "B"}')" "1.000000000|1|1|1|green|f" "seen, January, ward B"
assert_eq "$(v seen 2025-02)" "1.000000000|1|1|1|green|f" "seen, February"
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'seen'" 5 "seen: rows"
assert_eq "$(v events_n 2025-01)" "4.000000000||||green|f" "events_n, January"
assert_eq "$(v events_n 2025-02)" "3.000000000||||green|f" "events_n, February"
assert_eq "$(v constant 2025-01)" "2.500000000||||amber|f" "numeric value, NULL stratum, bands"
assert_sql "SELECT count(*) FROM kpid.kpi_value v JOIN kpid.kpi k ON k.id = v.kpi_id
            WHERE v.version_hash = k.version_hash" 9 "every value has its definition's hash"
assert_sql "SELECT count(*), count(*) FILTER (WHERE error IS NOT NULL), sum(values_written)
            FROM kpid.kpi_run WHERE reason = 'backfill'" "6|0|9" "backfill runs"

# Results that cannot be stored, each in a KPI of its own.
bad() { # ID QUERY
    printf '      , { id = "%s"; name = "Bad"; type = "sql"; period = "month"; target = 1.0;\n' "$1"
    printf '          direction = "higher"; objective = "timely"; query = "%s"; }\n' "$2"
}
conf "$KPID_WORK/bad.conf" "$(
    bad no_value 'SELECT 1 AS v'
    bad not_object "SELECT 1 AS value, '[1]'::jsonb AS stratum"
    bad scalar_stratum "SELECT 1 AS value, 'null'::jsonb AS stratum"
    bad dup "SELECT 1 AS value, '{\\\"a\\\": 1}'::jsonb AS stratum UNION ALL SELECT 2, '{\\\"a\\\":1}'"
    bad dup_empty "SELECT 1 AS value UNION ALL SELECT 2"
    bad not_number "SELECT 'x'::text AS value"
    bad nan "SELECT 'NaN'::float8 AS value"
    bad infinite "SELECT 1 AS value, 'Infinity'::float8 AS numerator"
    bad n_fraction "SELECT 1 AS value, 2.5 AS n"
    bad text_stratum "SELECT 1 AS value, 'x' AS stratum"
    bad no_rows "SET LOCAL work_mem = '1MB'"
    bad ends_txn "COMMIT"
    bad ends_txn_comment '/* a /* nested */ comment */ -- and a line\n  rollback'
    bad syntax "SELEC 1"
    bad missing_table "SELECT count(*) AS value FROM kpid.no_such_table"
)"
kpid_run "$KPID_WORK/bad.conf" --check-config || fail "bad.conf: --check-config exited $KPID_EXIT"
declare -A want=(
    [no_value]='no_value: the query returns no column "value"'
    [not_object]='not_object: row 1: "stratum" is [1], not a JSON object'
    [scalar_stratum]='scalar_stratum: row 1: "stratum" is null, not a JSON object'
    [dup]='dup: the query returns stratum {"a":1} more than once'
    [dup_empty]='dup_empty: the query returns stratum {} more than once'
    [not_number]='not_number: column "value" is text, not a number'
    [nan]='nan: row 1: column "value" is NaN, not a finite number'
    [infinite]='infinite: row 1: column "numerator" is Infinity, not a finite number'
    [n_fraction]='n_fraction: row 1: column "n" is 2.5, not a finite integer'
    [text_stratum]='text_stratum: column "stratum" is text, not jsonb'
    [no_rows]='no_rows: the query returns no rows: it must be a SELECT'
    [ends_txn]='ends_txn: the query ended its read-only transaction'
    [ends_txn_comment]='ends_txn_comment: the query ended its read-only transaction'
    [syntax]='syntax: ERROR:  syntax error at or near "SELEC"'
    [missing_table]='missing_table: ERROR:  relation "kpid.no_such_table" does not exist'
)
# A first backfill syncs the definitions (and fails); the sentinel values stand in for
# what an earlier, valid definition stored.
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/bad.conf" backfill \
    --from 2025-01-01 --to 2025-02-01 >>"$KPID_LOG" 2>&1 && fail "backfill of bad KPIs succeeded"
for id in "${!want[@]}"; do
    assert_failure_keeps_values "$KPID_WORK/bad.conf" "$id" "${want[$id]}"
    # kpid.kpi_run keeps the text as it is; the log line escapes its quotes.
    grep -qF "kpi=$id evaluation failed error=\"${want[$id]//\"/\\\"}\"" "$KPID_LOG" ||
        fail "$id: no log line with the error, escaped"
done
assert_log_values_escaped
# The valid KPIs of the same configuration still evaluate; their values are unchanged.
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/bad.conf" backfill --kpi seen \
    --from 2025-01-01 --to 2025-02-01 >>"$KPID_LOG" 2>&1 || fail "seen: backfill failed"
assert_eq "$(v seen 2025-01 '{"ward": "A"}')" "0.500000000|1|2|2|red|f" "seen after the bad ones"
