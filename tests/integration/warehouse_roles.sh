# kpid's warehouse user and the roles (kpid.conf(5), "warehouse"; sql/grants.sql), on a
# private PostgreSQL: roles are global to a cluster. A kpid role without CREATEROLE:
# --migrate succeeds and warns, once per role, with the exact statements a DBA runs;
# kpid_reader cannot read anything (it does not exist) and sql KPIs fail with what to
# run, never running with kpid's own privileges. The DBA runs the logged statements; the
# next start grants: kpid_reader reads kpid.scorecard and not kpid.event, kpid.rejected
# or kpid.cursor, kpid_analyst may call kpid.kpi_cases, sql KPIs run as kpid_sql. kpid
# with CREATEROLE (the harness's case) creates everything itself, also with several
# instances migrating fresh databases of one cluster at once; and a kpid that is a
# superuser is warned about.
unset PGHOST PGPORT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init warehouse_roles

mkdir "$KPID_WORK/inbox"
make_events "$KPID_WORK/inbox/a.ndjson" e 40
conf() { # FILE DATABASE
    write_conf "$1" "$KPID_WORK/inbox/*.ndjson"
    sed -i "s/dbname=$KPID_TEST_DB /dbname=$2 /" "$1"
    cat >>"$1" <<'CONF'
objectives = ( { id = "o"; name = "O"; perspective = "internal"; } );
processes = ( { id = "p"; name = "P"; category = "main"; timezone = "UTC"; schedule = "@daily";
  kpis = (
    { id = "events_n"; name = "Events"; type = "sql"; period = "month"; target = 1.0;
      direction = "higher"; objective = "o";
      query = "SELECT count(*) AS value FROM kpid.event WHERE time >= $1 AND time < $2"; },
    { id = "admissions"; name = "Admissions"; type = "count"; period = "month";
      direction = "higher"; objective = "o"; activity = "ADMISSION"; }
  ); } );
CONF
}
conf "$KPID_WORK/kpid.conf" "$KPID_TEST_DB"
# mark NAME puts a line into the log; log_since NAME prints the log from there on.
mark() { printf -- '--- mark %s\n' "$1" >>"$KPID_LOG"; }
log_since() { sed -n "/^--- mark $1\$/,\$p" "$KPID_LOG"; }
denied() { # ROLE SQL: the statement fails with permission denied, as ROLE
    local out
    out=$(psql -X -A -t -q -c "SET ROLE $1; $2" 2>&1) && fail "$1 could run: $2"
    case "$out" in *"permission denied"*) ;; *) fail "$1: $2: want permission denied, got: $out" ;; esac
}

# --- kpid without CREATEROLE ------------------------------------------------------------
sql "ALTER ROLE kpid NOCREATEROLE" >/dev/null
mark nocreaterole
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "--migrate exited with $KPID_EXIT"
warnings=$(log_since nocreaterole | grep -F 'warehouse role=' || true)
want="<4>warehouse role=kpid_reader does not exist and kpid may not create it (no CREATEROLE): dashboards cannot read kpid.scorecard; as a DBA run: CREATE ROLE kpid_reader NOLOGIN; then restart kpid or run kpid --migrate
<4>warehouse role=kpid_analyst does not exist and kpid may not create it (no CREATEROLE): analysts cannot call kpid.kpi_cases; as a DBA run: CREATE ROLE kpid_analyst NOLOGIN; then restart kpid or run kpid --migrate
<4>warehouse role=kpid_sql does not exist: sql KPIs are not evaluated; as a DBA run: CREATE ROLE kpid_sql NOLOGIN; GRANT kpid_sql TO kpid; then restart kpid or run kpid --migrate"
assert_eq "$warnings" "$want" "one warning per missing role, with the statements to run"
assert_sql "SELECT count(*) FROM pg_roles WHERE rolname IN ('kpid_reader', 'kpid_analyst', 'kpid_sql')" 0 \
    "no role could be created"
out=$(psql -X -A -t -q -c "SET ROLE kpid_reader; SELECT count(*) FROM kpid.scorecard" 2>&1) &&
    fail "kpid_reader could read the scorecard: $out"
case "$out" in *'role "kpid_reader" does not exist'*) ;; *) fail "kpid_reader: $out" ;; esac

# The daemon ingests and evaluates what it can; the sql KPI fails with what to run.
kpid_run "$KPID_WORK/kpid.conf" --once && fail "--once succeeded with an sql KPI that cannot run"
assert_eq "$KPID_EXIT" 1 "--once exit status"
assert_sql "SELECT count(*) FROM kpid.event" 40 "events ingested"
assert_sql "SELECT count(*) > 0 FROM kpid.kpi_run WHERE kpi_id = 'admissions' AND error IS NULL" t \
    "the compiled KPI evaluated"
assert_sql "SELECT DISTINCT error FROM kpid.kpi_run WHERE kpi_id = 'events_n'" \
    "events_n: role kpid_sql does not exist: sql KPIs are not evaluated; as a DBA run: CREATE ROLE kpid_sql NOLOGIN; GRANT kpid_sql TO kpid; then restart kpid or run kpid --migrate" \
    "the sql KPI's error"
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'events_n'" 0 "no sql KPI value"

# --- the DBA runs what the warnings say; the next start grants ----------------------------
printf '%s\n' "$warnings" | sed -n 's/.*as a DBA run: \(.*\) then restart kpid.*/\1/p' >"$KPID_WORK/dba.sql"
assert_eq "$(wc -l <"$KPID_WORK/dba.sql")" 3 "three statements lines"
psql -X -q -v ON_ERROR_STOP=1 -f "$KPID_WORK/dba.sql" >/dev/null || fail "the logged statements failed"
assert_sql "SELECT has_table_privilege('kpid_reader', 'kpid.scorecard', 'SELECT')" f \
    "nothing granted before the next start"
mark granted
kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT has_table_privilege('kpid_reader', 'kpid.scorecard', 'SELECT')"
kpid_stop
! log_since granted | grep -F 'warehouse role=' || fail "warnings after the DBA created the roles"
assert_sql "SELECT has_schema_privilege('kpid_reader', 'kpid', 'USAGE'),
                   has_function_privilege('kpid_analyst',
                       'kpid.kpi_cases(text, timestamptz, timestamptz, text, jsonb)', 'EXECUTE'),
                   pg_has_role('kpid', 'kpid_sql', 'MEMBER')" "t|t|t" "granted at the start"
assert_sql "SELECT p.proowner::regrole, p.prosecdef FROM pg_proc p
            WHERE p.oid = 'kpid.sql_kpi_rows(text, timestamptz, timestamptz)'::regprocedure" \
    "kpid_sql|t" "the sql KPIs' function is kpid_sql's"
assert_sql "SET ROLE kpid_reader; SELECT count(*) > 0 FROM kpid.scorecard" t "kpid_reader reads the scorecard"
for t in event rejected cursor; do
    denied kpid_reader "SELECT count(*) FROM kpid.$t"
done
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill --kpi events_n \
    --from 2025-01-01 --to 2025-02-01 >>"$KPID_LOG" 2>&1 || fail "backfill of the sql KPI failed"
assert_sql "SELECT value FROM kpid.kpi_value WHERE kpi_id = 'events_n'
            AND period_start = '2025-01-01 00:00:00+00'" 40 "the sql KPI's value"

# --- kpid with CREATEROLE creates everything itself, several instances at once -----------
sql "DROP OWNED BY kpid_reader, kpid_analyst, kpid_sql;
     DROP ROLE kpid_reader, kpid_analyst, kpid_sql; ALTER ROLE kpid CREATEROLE" >/dev/null
pids=()
mark createrole
for i in 1 2 3; do
    pg_create_warehouse "roles_$i" || fail "cannot create database roles_$i"
    conf "$KPID_WORK/kpid$i.conf" "roles_$i"
    KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid$i.conf" --migrate \
        >"$KPID_WORK/migrate$i.log" 2>&1 &
    pids+=($!)
    kpid_track_pid "$!"
done
for i in 0 1 2; do
    wait "${pids[$i]}" || { cat "$KPID_WORK/migrate$((i + 1)).log" >&2; fail "--migrate $((i + 1)) failed"; }
done
! grep -F '<4>' "$KPID_WORK"/migrate?.log || fail "warnings from kpid with CREATEROLE"
for i in 1 2 3; do
    PGDATABASE=roles_$i assert_sql "SELECT has_table_privilege('kpid_reader', 'kpid.scorecard', 'SELECT'),
                       (SELECT p.proowner::regrole::text || ' ' || p.prosecdef FROM pg_proc p
                        WHERE p.oid = 'kpid.sql_kpi_rows(text, timestamptz, timestamptz)'::regprocedure)" \
        "t|kpid_sql true" "roles_$i: granted"
done
assert_sql "SELECT rolname, rolcanlogin, (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)
            FROM pg_roles r WHERE rolname LIKE 'kpid\_%' ORDER BY 1" "kpid_analyst|f|0
kpid_reader|f|0
kpid_sql|f|0" "the roles kpid made: NOLOGIN, members of nothing"
kpid_run "$KPID_WORK/kpid1.conf" --once || fail "--once on roles_1 exited with $KPID_EXIT"
PGDATABASE=roles_1 assert_sql "SELECT count(*) > 0, count(*) FILTER (WHERE error IS NOT NULL)
                              FROM kpid.kpi_run WHERE kpi_id = 'events_n'" "t|0" "the sql KPI ran"

# --- a superuser is warned about -----------------------------------------------------------
sql "ALTER ROLE kpid SUPERUSER" >/dev/null
mark superuser
kpid_run "$KPID_WORK/kpid1.conf" --migrate || fail "--migrate as a superuser exited with $KPID_EXIT"
sql "ALTER ROLE kpid NOSUPERUSER" >/dev/null
assert_eq "$(log_since superuser | grep -F 'warehouse role=')" \
    "<4>warehouse role=kpid is a superuser, which kpid never needs; connect as a role that is no superuser: the owner of schema kpid, with CREATEROLE or with the roles created by a DBA (see kpid.conf(5), warehouse)" \
    "the superuser warning"
for i in 1 2 3; do pg_dropdb "roles_$i"; done
