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
    kill -TERM "$pid" 2>/dev/null || true
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
