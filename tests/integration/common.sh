# shellcheck shell=bash
# Helpers shared by the ingestion tests, on top of lib.sh.

# write_conf FILE INBOX_GLOB [EXTRA_TOP_LEVEL_LINES]: a configuration with one file
# source, pseudonymization off unless EXTRA turns it on.
write_conf() {
    local file=$1 glob=$2 extra=${3:-pseudonymize = false;}
    cat >"$file" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
$extra
warehouse = {
    conninfo = "$KPID_TEST_CONNINFO";
    batch_max_rows = 10000;
    flush_interval_ms = 50;
};
sources = (
    { name = "events"; plugin = "file"; path = "$glob"; interval = "100ms"; }
);
CONF
}

# load_expected DIR: loads DIR/expected.tsv (the generator's final state of every event)
# into table expected.
load_expected() {
    sql "DROP TABLE IF EXISTS expected;
         CREATE TABLE expected (event_key text PRIMARY KEY, case_id text, subject_id text,
                                activity text, time timestamptz, value float8, attrs jsonb)" >/dev/null
    sql "\\copy expected FROM '$1/expected.tsv'" >/dev/null
}

# assert_events_exact [SOURCE]: kpid.event of the source equals table expected, row for
# row, each row once.
assert_events_exact() {
    local source=${1:-events} missing extra dup
    missing=$(sql "SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL
                   SELECT event_key, case_id, subject_id, activity, time, value, attrs
                   FROM kpid.event WHERE source = '$source') d")
    extra=$(sql "SELECT count(*) FROM (SELECT event_key, case_id, subject_id, activity, time,
                 value, attrs FROM kpid.event WHERE source = '$source'
                 EXCEPT ALL SELECT * FROM expected) d")
    if [ "$missing" != 0 ] || [ "$extra" != 0 ]; then
        sql "SELECT 'missing', * FROM (SELECT * FROM expected EXCEPT ALL
             SELECT event_key, case_id, subject_id, activity, time, value, attrs
             FROM kpid.event WHERE source = '$source') d LIMIT 5" >&2 || true
        sql "SELECT 'extra', * FROM (SELECT event_key, case_id, subject_id, activity, time,
             value, attrs FROM kpid.event WHERE source = '$source'
             EXCEPT ALL SELECT * FROM expected) d LIMIT 5" >&2 || true
        fail "kpid.event differs from the generated events: $missing missing, $extra unexpected"
    fi
    assert_sql "SELECT count(*) = (SELECT count(*) FROM expected) FROM kpid.event
                WHERE source = '$source'" t "event count"
}

# make_events FILE PREFIX N [ACTIVITY]: N simple valid events with keys PREFIX-1..N.
make_events() {
    awk -v p="$2" -v n="$3" -v a="${4:-ADMISSION}" 'BEGIN {
        for (i = 1; i <= n; i++)
            printf "{\"event_key\":\"%s-%d\",\"case_id\":\"C%d\",\"subject_id\":\"P%d\",\"activity\":\"%s\",\"time\":\"2025-01-%02dT%02d:%02d:00Z\",\"value\":%d,\"attrs\":{\"ward\":\"W%d\"}}\n",
                p, i, i, i % 97, a, 1 + i % 28, i % 24, i % 60, i, i % 5
    }' >"$1"
}

# ev KEY CASE SUBJECT ACTIVITY TIME [VALUE] [ATTRS_JSON]: one NDJSON event line for the
# file source (VALUE and ATTRS left out when empty; CASE or SUBJECT "-": the event has
# none).
ev() {
    local c=,\"case_id\":\"$2\" s=,\"subject_id\":\"$3\"
    [ "$2" != - ] || c=''
    [ "$3" != - ] || s=''
    printf '{"event_key":"%s"%s%s,"activity":"%s","time":"%s"%s%s}\n' \
        "$1" "$c" "$s" "$4" "$5" "${6:+,\"value\":$6}" "${7:+,\"attrs\":$7}"
}

# backfill_months CONF FROM TO: `kpid backfill` of every process from FROM to TO (dates),
# or the test fails.
backfill_months() {
    kpid_run "$1" backfill --from "$2" --to "$3" || fail "backfill exited with $KPID_EXIT"
}

# month_value KPI MONTH: KPI's value for the whole population in MONTH (YYYY-MM, a
# calendar month in UTC), empty when there is none.
month_value() {
    sql "SELECT value FROM kpid.kpi_value WHERE kpi_id = '$1'
         AND period_start = '$2-01 00:00:00+00' AND stratum = '{}'"
}

# assert_failure_keeps_values CONF KPI ERROR: with a sentinel value (42) stored for
# KPI's January 2025, `kpid backfill --kpi KPI` of that month fails, records exactly
# ERROR in kpid.kpi_run and leaves the sentinel as it was.
assert_failure_keeps_values() {
    local conf=$1 id=$2 error=$3
    sql "DELETE FROM kpid.kpi_value WHERE kpi_id = '$id';
         INSERT INTO kpid.kpi_value (kpi_id, period_start, period_end, value, version_hash)
         VALUES ('$id', '2025-01-01 00:00:00+00', '2025-02-01 00:00:00+00', 42, 'sentinel')" >/dev/null
    KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$conf" backfill --kpi "$id" \
        --from 2025-01-01 --to 2025-02-01 >>"$KPID_LOG" 2>&1 && fail "$id: backfill succeeded"
    assert_sql "SELECT error, values_written IS NULL FROM kpid.kpi_run WHERE kpi_id = '$id'
                ORDER BY id DESC LIMIT 1" "$error|t" "$id: the error in kpid.kpi_run"
    assert_sql "SELECT string_agg(value || ' ' || version_hash, ',') FROM kpid.kpi_value
                WHERE kpi_id = '$id'" "42 sentinel" "$id: the stored value is untouched"
}

# assert_log_values_escaped [FILE]: every quoted value, key="...", in the daemon's log
# (FILE, default $KPID_LOG) ends at its closing quote: a quote inside a value is escaped
# (\"), so the value is followed by a blank, ';', ',', ')' or the end of the line.
assert_log_values_escaped() {
    local file=${1:-$KPID_LOG} bad
    bad=$(grep -nP '(^|[ (>])[A-Za-z_][A-Za-z0-9_.]*="(?:[^"\\]|\\.)*"(?![ ;,)]|$)' "$file" |
        head -5) || true
    [ -z "$bad" ] || fail "log lines with an unescaped quote in a value:
$bad"
}

# Several kpid instances on one warehouse (exclusive sources, take-over):
#   instance_start CONF NAME   starts one more kpid (a tracked child of this shell) with
#                              CONF, logging to $KPID_WORK/kpid-NAME.log; its pid is in
#                              started, and log_of[pid] is NAME
#   instance_stop PID          SIGTERM, at most 15 s, and exit status 0, or the test fails
#   holder_pid SOURCE          the pid of the instance that holds SOURCE now, or ""
declare -A log_of
instance_start() {
    KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$1" </dev/null \
        >>"$KPID_WORK/kpid-$2.log" 2>&1 &
    started=$!
    kpid_track_pid "$started"
    log_of[$started]=$2
}
instance_stop() {
    local pid=$1 i
    _kpid_await_signals "$pid"
    kpid_signal_child TERM "$pid" || true
    for ((i = 0; i < 150; i++)); do
        _kpid_alive "$pid" || break
        sleep 0.1
    done
    _kpid_alive "$pid" && fail "instance $pid did not stop within 15 s of SIGTERM"
    wait "$pid" 2>/dev/null || fail "instance $pid exited with status $?"
}
holder_pid() {
    sql "SELECT coalesce((SELECT split_part(holder, ':', 2) FROM kpid.source_holder
                          WHERE source = '$1' AND active), '')"
}

# Two instances on one exclusive source (sources of the test's warehouse):
#   pair_start CONF SOURCE     starts instances a and b with CONF; once one of them holds
#                              SOURCE, sets a, b, first (its holder) and standby, and
#                              fails if the standby took SOURCE too
#   assert_taken_over SOURCE PID T0 TAKEOVER_S
#                              waits until PID holds SOURCE and sets took_ms, the time
#                              since T0 (date +%s%N); fails beyond TAKEOVER_S seconds
pair_start() {
    instance_start "$1" a
    a=$started
    instance_start "$1" b
    b=$started
    wait_for "SELECT count(*) = 1 FROM kpid.source_holder WHERE source = '$2' AND active" 30
    first=$(holder_pid "$2")
    case "$first" in
    "$a") standby=$b ;;
    "$b") standby=$a ;;
    *) fail "the holder is neither instance: '$first' (a=$a b=$b)" ;;
    esac
    if grep -q "source=$2 taken" "$KPID_WORK/kpid-${log_of[$standby]}.log"; then
        fail "both instances took the source"
    fi
}
assert_taken_over() {
    wait_for "SELECT EXISTS (SELECT FROM kpid.source_holder WHERE source = '$1'
              AND active AND split_part(holder, ':', 2) = '$2')" $(($4 + 10))
    took_ms=$((($(date +%s%N) - $3) / 1000000))
    [ "$took_ms" -le $(($4 * 1000)) ] ||
        fail "the standby took over after ${took_ms} ms (warehouse.takeover ${4}s)"
}

# KPI values against hospgen's truth (--truth, tests/integration/data/kpi_truth.conf.model):
#   backfill_for_truth CONF FROM TO   deletes kpid.kpi_value, backfills processes berlin
#                                     and almaty from FROM to TO and berlin_days over the
#                                     weeks of TRUTH_DAYS
#   load_truth GEN                    table truth from GEN/truth.tsv, its berlin_days rows
#                                     cut to TRUTH_DAYS; fails if an active KPI has none
#   truth_compare_sql                 prints SQL making temp view diff: a row on one side
#                                     only, or a number that differs (exact for counts,
#                                     relative 1e-9 elsewhere)
# Day KPIs: the weeks around Berlin's DST changes (2025-03-30 has 23 hours, 2025-10-26 25).
TRUTH_DAYS="(period_start >= '2025-03-24 00:00+01' AND period_start < '2025-04-07 00:00+02'
       OR period_start >= '2025-10-20 00:00+02' AND period_start < '2025-11-03 00:00+01')"
backfill_for_truth() {
    local p
    sql "DELETE FROM kpid.kpi_value" >/dev/null
    for p in berlin almaty; do
        kpid_run "$1" backfill --process "$p" --from "$2" --to "$3" ||
            fail "backfill of $p exited with $KPID_EXIT"
    done
    kpid_run "$1" backfill --process berlin_days --from 2025-03-24 --to 2025-04-07 &&
        kpid_run "$1" backfill --process berlin_days --from 2025-10-20 --to 2025-11-03 ||
        fail "backfill of berlin_days exited with $KPID_EXIT"
}
load_truth() {
    sql "CREATE TABLE truth (kpi_id text, period_start timestamptz, period_end timestamptz,
           stratum jsonb, value float8, numerator float8, denominator float8, n bigint,
           excluded_incomplete bigint)" >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 -c "\\copy truth FROM '$1/truth.tsv'" >>"$KPID_LOG" 2>&1 ||
        fail "cannot load truth.tsv"
    sql "DELETE FROM truth WHERE kpi_id IN (SELECT id FROM kpid.kpi WHERE process_id = 'berlin_days')
           AND NOT $TRUTH_DAYS" >/dev/null
    assert_sql "SELECT count(*) FROM kpid.kpi k WHERE k.active
                  AND NOT EXISTS (SELECT 1 FROM truth t WHERE t.kpi_id = k.id)" 0 \
        "a KPI without ground truth"
}
truth_compare_sql() {
    cat <<'SQL'
CREATE FUNCTION pg_temp.near(a float8, b float8, exact boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN a IS NULL OR b IS NULL THEN a IS NULL AND b IS NULL
                WHEN exact THEN a = b
                ELSE abs(a - b) <= 1e-9 * greatest(abs(a), abs(b)) END $$;
CREATE TEMP VIEW diff AS
SELECT coalesce(t.kpi_id, v.kpi_id) AS kpi_id, coalesce(t.period_start, v.period_start) AS period_start,
       coalesce(t.stratum, v.stratum) AS stratum,
       t.value AS t_value, v.value AS k_value, t.numerator AS t_num, v.numerator AS k_num,
       t.denominator AS t_den, v.denominator AS k_den, t.n AS t_n, v.n AS k_n,
       t.excluded_incomplete AS t_excl, v.excluded_incomplete AS k_excl
FROM truth t
FULL JOIN (SELECT v.* FROM kpid.kpi_value v JOIN kpid.kpi k ON k.id = v.kpi_id AND k.active
           WHERE v.period_start >= (SELECT min(period_start) FROM truth)) v
  ON v.kpi_id = t.kpi_id AND v.period_start = t.period_start AND v.stratum = t.stratum
LEFT JOIN kpid.kpi k ON k.id = coalesce(t.kpi_id, v.kpi_id)
WHERE t.kpi_id IS NULL OR v.kpi_id IS NULL
   OR t.period_end IS DISTINCT FROM v.period_end
   OR NOT pg_temp.near(t.value, v.value, k.type = 'count')
   OR NOT pg_temp.near(t.numerator, v.numerator, k.type IN ('proportion', 'duration'))
   OR NOT pg_temp.near(t.denominator, v.denominator, k.type IN ('proportion', 'duration'))
   OR t.n IS DISTINCT FROM v.n
   OR t.excluded_incomplete IS DISTINCT FROM v.excluded_incomplete;
SQL
}
