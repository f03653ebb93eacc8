# Hostile configuration against the warehouse: filter values made of SQL are matched
# literally (an event whose attribute is exactly the string counts, a near miss does
# not), also in strata; sql KPIs that try to write (DELETE, CREATE TABLE, nextval, a
# second statement, switching the transaction to read-write) or to sleep past their
# timeout fail, are recorded as errors in kpid.kpi_run and leave the stored values
# untouched; kpid.event keeps every row and no table appears; hostile identifiers are
# refused at load with exit 78 and FILE:LINE.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init injection

mkdir "$KPID_WORK/inbox"
# One arrival per ward value; JSON escapes \ and ". h7 is a near miss of h1.
cat >"$KPID_WORK/inbox/events.ndjson" <<'EVENTS'
{"event_key":"h1","case_id":"C1","subject_id":"P1","activity":"ED_ARRIVAL","time":"2025-01-10T08:00:00Z","attrs":{"ward":"'; DROP TABLE kpid.event; --"}}
{"event_key":"h2","case_id":"C2","subject_id":"P2","activity":"ED_ARRIVAL","time":"2025-01-10T09:00:00Z","attrs":{"ward":"$1"}}
{"event_key":"h3","case_id":"C3","subject_id":"P3","activity":"ED_ARRIVAL","time":"2025-01-10T10:00:00Z","attrs":{"ward":"\\"}}
{"event_key":"h4","case_id":"C4","subject_id":"P4","activity":"ED_ARRIVAL","time":"2025-01-10T11:00:00Z","attrs":{"ward":"x\"y"}}
{"event_key":"h5","case_id":"C5","subject_id":"P5","activity":"ED_ARRIVAL","time":"2025-01-10T12:00:00Z","attrs":{"ward":"Приёмное"}}
{"event_key":"h6","case_id":"C6","subject_id":"P6","activity":"ED_ARRIVAL","time":"2025-01-10T13:00:00Z","attrs":{"ward":"ICU"}}
{"event_key":"h7","case_id":"C7","subject_id":"P7","activity":"ED_ARRIVAL","time":"2025-01-10T14:00:00Z","attrs":{"ward":"'; DROP TABLE kpid.event; -- "}}
{"event_key":"h8","case_id":"C8","subject_id":"P8","activity":"ED_ARRIVAL","time":"2025-01-10T15:00:00Z","attrs":{"ward":"x'y"}}
EVENTS

# The same values in libconfig strings (\ and " escaped).
HOSTILE_IN=$(cat <<'VALUES'
"'; DROP TABLE kpid.event; --", "$1", "\\", "x\"y", "Приёмное"
VALUES
)
head_conf() {
    cat <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = ( { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; } );
objectives = ( { id = "safe"; name = "Safe"; perspective = "internal"; } );
CONF
}
count_kpi() { # ID FILTER
    printf '      { id = "%s"; name = "N"; type = "count"; period = "month"; direction = "higher";\n' "$1"
    printf '        objective = "safe"; activity = "ED_ARRIVAL"; filters = ( %s ); },\n' "$2"
}
sql_kpi() { # ID QUERY [TIMEOUT]
    printf '      { id = "%s"; name = "S"; type = "sql"; period = "month"; target = 1.0;\n' "$1"
    printf '        direction = "higher"; objective = "safe"; timeout = "%s";\n' "${3:-5s}"
    printf '        query = "%s"; },\n' "$2"
}
filter_kpis() {
    count_kpi drop "{ attr = \"ward\"; equals = \"'; DROP TABLE kpid.event; --\"; }"
    count_kpi dollar '{ attr = "ward"; equals = "$1"; }'
    count_kpi backslash '{ attr = "ward"; equals = "\\"; }'
    count_kpi dquote '{ attr = "ward"; equals = "x\"y"; }'
    count_kpi squote "{ attr = \"ward\"; equals = \"x'y\"; }"
    count_kpi cyrillic '{ attr = "ward"; equals = "Приёмное"; }'
    count_kpi in_all "{ attr = \"ward\"; in = [ $HOSTILE_IN ]; }"
    count_kpi not_in_all "{ attr = \"ward\"; not_in = [ $HOSTILE_IN ]; }"
    printf '      { id = "by_ward"; name = "N"; type = "count"; period = "month"; direction = "higher";\n'
    printf '        objective = "safe"; activity = "ED_ARRIVAL"; stratify = [ "ward" ]; },\n'
}
sql_kpis() {
    sql_kpi sql_delete 'DELETE FROM kpid.event RETURNING 1 AS value'
    sql_kpi sql_create 'CREATE TABLE kpid.pwned AS SELECT 1 AS value'
    sql_kpi sql_multi 'SELECT 1 AS value; DELETE FROM kpid.event'
    sql_kpi sql_commit_then 'COMMIT; DELETE FROM kpid.event'
    sql_kpi sql_nextval "SELECT nextval('kpid.kpi_run_id_seq') AS value"
    sql_kpi sql_nextval_public "SELECT nextval('public.open_seq') AS value"
    sql_kpi sql_rw "SELECT set_config('transaction_read_only', 'off', true), 1 AS value"
    sql_kpi sql_cte 'WITH d AS (DELETE FROM kpid.event RETURNING 1) SELECT count(*) AS value FROM d'
    sql_kpi sql_sleep 'SELECT 1 AS value FROM pg_sleep(10)' 500ms
    sql_kpi sql_unset "SELECT 1 AS value FROM set_config('statement_timeout', '0', true), pg_sleep(3)" 500ms
}
write_conf() { # FILE WITH_SQL
    {
        head_conf
        printf 'processes = ( { id = "p"; name = "P"; category = "main"; timezone = "UTC";\n'
        printf '    schedule = "@daily"; kpis = (\n'
        filter_kpis
        [ "$2" = no ] || sql_kpis
        printf '      { id = "last"; name = "L"; type = "count"; period = "month"; direction = "higher";\n'
        printf '        objective = "safe"; activity = "ED_ARRIVAL"; }\n'
        printf '    ); } );\n'
    } >"$1"
}
write_conf "$KPID_WORK/filters.conf" no
write_conf "$KPID_WORK/kpid.conf" yes

# Ingest and evaluate with the filter KPIs only: that must succeed.
kpid_run "$KPID_WORK/filters.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 8 "events"
assert_sql "SELECT attrs ->> 'ward' FROM kpid.event WHERE event_key = 'h3'" '\' "a backslash"
kpid_run "$KPID_WORK/kpid.conf" --check-config || fail "--check-config exited $KPID_EXIT"

# --explain: the hostile value is a parameter, byte for byte, never in the statement.
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" --explain drop \
    >"$KPID_WORK/explain.txt" || fail "--explain failed"
grep -qE -- "^-- \\\$[0-9]+ = ''; DROP TABLE kpid.event; --'\$" "$KPID_WORK/explain.txt" ||
    { cat "$KPID_WORK/explain.txt" >&2; fail "the hostile value is not a parameter"; }
! grep -v '^--' "$KPID_WORK/explain.txt" | grep -q "DROP" || fail "a value is in the statement"

KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/filters.conf" backfill \
    --from 2025-01-01 --to 2025-02-01 >>"$KPID_LOG" 2>&1 || fail "backfill failed"
v() { # KPI [STRATUM]
    sql "SELECT value FROM kpid.kpi_value WHERE kpi_id = '$1'
         AND period_start = '2025-01-01 00:00:00+00' AND stratum = \$\$${2:-{\}}\$\$"
}
assert_eq "$(v drop)" 1 "equals '; DROP TABLE ...: only h1, not the near miss h7"
assert_eq "$(v dollar)" 1 "equals \$1"
assert_eq "$(v backslash)" 1 "equals a backslash"
assert_eq "$(v dquote)" 1 "equals x\"y"
assert_eq "$(v squote)" 1 "equals x'y"
assert_eq "$(v cyrillic)" 1 "equals a Cyrillic value"
assert_eq "$(v in_all)" 5 "in: the five hostile values"
assert_eq "$(v not_in_all)" 3 "not_in: ICU, the near miss and x'y"
assert_eq "$(v last)" 8 "all arrivals"
assert_eq "$(v by_ward '{"ward": "'"'"'; DROP TABLE kpid.event; --"}')" 1 "hostile stratum"
assert_eq "$(v by_ward '{"ward": "\\"}')" 1 "backslash stratum"
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'by_ward'
            AND period_start = '2025-01-01 00:00:00+00'" 9 "8 strata and {}"

# The sql KPIs: a first backfill syncs their definitions (and fails); sentinel values
# stand for what they stored before; then each is evaluated on its own. A sequence that
# everyone may use, made by the DBA.
sql "CREATE SEQUENCE public.open_seq; GRANT USAGE, UPDATE ON SEQUENCE public.open_seq TO PUBLIC" >/dev/null
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill --kpi sql_delete \
    --from 2025-01-01 --to 2025-02-01 >>"$KPID_LOG" 2>&1 && fail "sql_delete succeeded"
declare -A want=(
    [sql_delete]='ERROR:  cannot execute DELETE in a read-only transaction'
    [sql_create]='ERROR:  cannot execute CREATE TABLE AS in a read-only transaction'
    [sql_multi]='ERROR:  cannot insert multiple commands into a prepared statement'
    [sql_commit_then]='ERROR:  cannot insert multiple commands into a prepared statement'
    # kpid's own sequences are not the sql KPIs' role's; one it may use is read only.
    [sql_nextval]='ERROR:  permission denied for sequence kpi_run_id_seq'
    [sql_nextval_public]='ERROR:  cannot execute nextval() in a read-only transaction'
    [sql_rw]='ERROR:  transaction read-write mode must be set before any query'
    # A data-modifying WITH is refused as the SELECT it is part of.
    [sql_cte]='ERROR:  cannot execute SELECT in a read-only transaction'
    [sql_sleep]='ERROR:  canceling statement due to statement timeout'
    [sql_unset]='ERROR:  canceling statement due to statement timeout'
)
sql "DELETE FROM kpid.kpi_run" >/dev/null
for id in "${!want[@]}"; do
    assert_failure_keeps_values "$KPID_WORK/kpid.conf" "$id" "$id: ${want[$id]}"
done
# The timeout cut the sleeps short (10 s and 3 s asked for, 500 ms allowed).
assert_sql "SELECT count(*) FROM kpid.kpi_run WHERE kpi_id IN ('sql_sleep', 'sql_unset')
            AND duration_ms < 2500" 2 "the timeout cancelled the sleeps"
assert_sql "SELECT count(*) FROM kpid.event" 8 "kpid.event keeps every row"
assert_sql "SELECT count(*) FROM pg_class WHERE relname = 'pwned'" 0 "no table was created"
assert_sql "SELECT count(*) FROM pg_prepared_xacts" 0 "no prepared transaction"
# The session stays usable and read-write after the failures: the filter KPIs evaluate.
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill --process p \
    --from 2025-01-01 --to 2025-02-01 >>"$KPID_LOG" 2>&1 && fail "backfill of p succeeded"
assert_sql "SELECT count(*) FROM kpid.kpi_run WHERE error IS NULL AND kpi_id IN
            ('drop', 'dollar', 'backslash', 'dquote', 'squote', 'cyrillic', 'in_all',
             'not_in_all', 'by_ward', 'last')" 10 "the filter KPIs after the sql ones"
assert_eq "$(v drop)" 1 "equals '; DROP TABLE ... again"

# Hostile identifiers are refused at load: exit 78 and FILE:LINE.
refused() { # NAME SED_EXPR EXPECTED_LINE_PATTERN
    sed "$2" "$KPID_WORK/filters.conf" >"$KPID_WORK/$1.conf"
    kpid_run "$KPID_WORK/$1.conf" --check-config && fail "$1: accepted"
    assert_eq "$KPID_EXIT" 78 "$1: exit status"
    grep -qF -- "$3" "$KPID_LOG" || fail "$1: no message $3"
    kpid_run "$KPID_WORK/$1.conf" --once && fail "$1: --once ran"
    assert_eq "$KPID_EXIT" 78 "$1: --once exit status"
}
line=$(grep -n 'id = "last"' "$KPID_WORK/filters.conf" | cut -d: -f1)
line=$((line + 1))
refused activity "${line}s/activity = \"ED_ARRIVAL\"/activity = \"ED_ARRIVAL'--\"/" \
    "$KPID_WORK/activity.conf:$line: invalid activity \"ED_ARRIVAL'--\" for \"activity\" in KPI \"last\": use 1 to 64 characters of A-Z 0-9 _"
line=$(grep -n 'id = "dollar"' "$KPID_WORK/filters.conf" | cut -d: -f1)
line=$((line + 1))
refused attr "${line}s/attr = \"ward\"/attr = \"attr\\\\\"; DROP\"/" \
    "$KPID_WORK/attr.conf:$line: invalid attribute name \"attr?; DROP\" in filters[0] of KPI \"dollar\""
line=$(grep -n 'id = "last"' "$KPID_WORK/filters.conf" | cut -d: -f1)
refused id "${line}s/id = \"last\"/id = \"Last\"/" \
    "$KPID_WORK/id.conf:$line: invalid KPI id \"Last\" in kpis[9] of process \"p\""
assert_sql "SELECT count(*) FROM kpid.event" 8 "kpid.event at the end"
