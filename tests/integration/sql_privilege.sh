# sql KPIs with least privilege (docs/kpi-semantics.md, "sql"), on a private PostgreSQL:
# roles and sessions are the cluster's. kpid's login role has what a DBA may grant it
# for its own work (dblink_connect_u, pg_read_file); none of that, and nothing of kpid's
# own, reaches an sql KPI, which runs as kpid_sql. Each attempt below is refused: an
# advisory lock (session or transaction), dblink creating a table (with and without a
# password check), pg_read_file of a server file into a stratum, pg_terminate_backend of
# kpid's writer and of a session in another database, the set_config('role') and
# session_authorization escapes followed by one of those, functions of other roles
# (SECURITY INVOKER ones of the DBA that terminate, lock or write; a SECURITY DEFINER
# one of kpid that writes) and reading kpid.rejected or kpid.cursor. Each is recorded
# as the KPI's error in kpid.kpi_run, by the daemon's catch-up tick and by backfill,
# and leaves the stored values untouched; afterwards no kpid session holds an advisory
# lock or idles in a transaction, the writer and the other database's session are the
# same backends, no table appeared, no file content is in kpid.kpi_value, and ingestion
# goes on. An sql KPI whose role is a member of a pg_* role is refused with what to run.
unset PGHOST PGPORT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init sql_privilege

mkdir "$KPID_WORK/inbox"
make_events "$KPID_WORK/inbox/a.ndjson" a 20

# What a DBA granted kpid's login role, and objects of other roles.
sql "CREATE EXTENSION dblink;
     GRANT EXECUTE ON FUNCTION dblink_connect_u(text, text) TO kpid;
     GRANT EXECUTE ON FUNCTION pg_read_file(text) TO kpid;
     CREATE TABLE public.visits (n int); GRANT SELECT, INSERT ON public.visits TO PUBLIC;
     CREATE FUNCTION public.kill_kpid() RETURNS bigint LANGUAGE sql AS
         \$\$ SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE usename = 'kpid' AND pid <> pg_backend_pid() \$\$;
     CREATE FUNCTION public.lock_it() RETURNS int LANGUAGE sql AS
         \$\$ SELECT 1 FROM pg_advisory_lock(4245) \$\$;
     CREATE FUNCTION public.write_it() RETURNS int LANGUAGE plpgsql AS
         \$\$ BEGIN INSERT INTO public.visits VALUES (1); RETURN 1; END \$\$" >/dev/null
pg_createdb other || fail "cannot create database other"
# A session of kpid's role in another database (another kpid's, say), until the end.
psql -X -q -U kpid -d other -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
kpid_track_pid "$!"
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = 'other' AND usename = 'kpid'
          AND state = 'active'"
other_pid=$(sql "SELECT pid FROM pg_stat_activity WHERE datname = 'other' AND usename = 'kpid'")

conninfo="host=$PGHOST port=$PGPORT dbname=$KPID_TEST_DB user=kpid"
kill_all="SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'kpid' AND pid <> pg_backend_pid()"
declare -A query=(
    [lock]="SELECT 1 AS value FROM pg_advisory_lock(4242)"
    [lock_xact]="SELECT 1 AS value FROM pg_advisory_xact_lock(4243)"
    [dblink]="SELECT 1 AS value FROM public.dblink_exec('$conninfo', 'CREATE TABLE kpid.dblink_made ()')"
    [dblink_u]="SELECT 1 AS value FROM public.dblink_connect_u('x', '$conninfo'), public.dblink_exec('x', 'CREATE TABLE kpid.dblink_made ()')"
    [read_file]="SELECT 1 AS value, jsonb_build_object('secret', pg_read_file('PG_VERSION')) AS stratum"
    [kill_writer]="SELECT count(pg_terminate_backend(pid)) AS value FROM pg_stat_activity WHERE usename = 'kpid' AND datname = current_database() AND pid <> pg_backend_pid()"
    [kill_other]="SELECT count(pg_terminate_backend(pid)) AS value FROM pg_stat_activity WHERE datname = 'other'"
    [escape_role]="SELECT k.n AS value FROM (SELECT set_config('role', session_user, true) AS r) AS s, LATERAL ($kill_all AND s.r IS NOT NULL) AS k (n)"
    [escape_auth]="SELECT k.n AS value FROM (SELECT set_config('session_authorization', session_user, true) AS r) AS s, LATERAL (SELECT 1 FROM pg_advisory_lock(4244) WHERE s.r IS NOT NULL) AS k (n)"
    [fn_kill]="SELECT public.kill_kpid() AS value"
    [fn_lock]="SELECT public.lock_it() AS value"
    [fn_write]="SELECT public.write_it() AS value"
    [fn_definer]="SELECT kpid.delete_events() AS value"
    [rejected]="SELECT count(*) AS value FROM kpid.rejected"
    [cursor]="SELECT count(*) AS value FROM kpid.cursor"
)
terminate='ERROR:  must be a member of the role whose process is being terminated or member of pg_signal_backend'
declare -A want=(
    [lock]='the query took advisory locks (1): sql KPIs may not lock'
    [lock_xact]='the query took advisory locks (1): sql KPIs may not lock'
    [dblink]='ERROR:  password is required'
    [dblink_u]='ERROR:  permission denied for function dblink_connect_u'
    [read_file]='ERROR:  permission denied for function pg_read_file'
    [kill_writer]=$terminate
    [kill_other]=$terminate
    [escape_role]='ERROR:  cannot set parameter "role" within security-definer function'
    [escape_auth]='ERROR:  cannot set parameter "session_authorization" within security-definer function'
    [fn_kill]=$terminate
    [fn_lock]='the query took advisory locks (1): sql KPIs may not lock'
    [fn_write]='ERROR:  cannot execute INSERT in a read-only transaction'
    [fn_definer]='ERROR:  cannot execute DELETE in a read-only transaction'
    [rejected]='ERROR:  permission denied for table rejected'
    [cursor]='ERROR:  permission denied for table cursor'
)
kpi() { # ID QUERY
    printf '      { id = "%s"; name = "K"; type = "sql"; period = "month"; target = 1.0;\n' "$1"
    printf '        direction = "higher"; objective = "o"; query = "%s"; },\n' "$2"
}
write_conf "$KPID_WORK/kpid.conf" "$KPID_WORK/inbox/*.ndjson" 'pseudonymize = false; recompute_horizon = "0s";'
{
    printf 'objectives = ( { id = "o"; name = "O"; perspective = "internal"; } );\n'
    printf 'processes = ( { id = "p"; name = "P"; category = "main"; timezone = "UTC";\n'
    printf '  schedule = "@daily"; kpis = (\n'
    for id in "${!query[@]}"; do kpi "$id" "${query[$id]}"; done
    kpi scorecard_n "SELECT count(*) AS value FROM kpid.scorecard"
    printf '      { id = "events_n"; name = "N"; type = "sql"; period = "month"; target = 1.0;\n'
    printf '        direction = "higher"; objective = "o";\n'
    printf '        query = "SELECT count(*) AS value FROM kpid.event WHERE time >= $1 AND time < $2"; }\n'
    printf '  ); } );\n'
} >>"$KPID_WORK/kpid.conf"
kpid_run "$KPID_WORK/kpid.conf" --check-config || fail "--check-config exited with $KPID_EXIT"
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "--migrate exited with $KPID_EXIT"
# A SECURITY DEFINER function of kpid's own that writes; EXECUTE stays PUBLIC's.
psql -X -q -v ON_ERROR_STOP=1 -U kpid -c "CREATE FUNCTION kpid.delete_events() RETURNS int
    LANGUAGE plpgsql SECURITY DEFINER AS \$\$ BEGIN DELETE FROM kpid.event; RETURN 1; END \$\$" ||
    fail "cannot create kpid.delete_events"

# no_lock_left: no session of kpid's role holds an advisory lock (but the lease of the
# exclusive source "events", on kpid's lease connection) or idles in a transaction.
no_lock_left() {
    assert_sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND a.usename = 'kpid'
                AND NOT (l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint)
                         = hashtextextended('kpid.source:events', 0))" 0 "$1: advisory locks held"
    assert_sql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'kpid'
                AND state LIKE 'idle in transaction%'" 0 "$1: sessions idle in a transaction"
}

# --- the daemon's catch-up tick runs every KPI on its thread's own sql connection ----------
kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) = 20 FROM kpid.event"
wait_for "SELECT count(DISTINCT kpi_id) = ${#query[@]} + 2 FROM kpid.kpi_run WHERE reason = 'catchup'"
for ((i = 0; i < 100; i++)); do
    grep -q 'process=p tick reason=catchup' "$KPID_LOG" && break
    sleep 0.2
done
grep -q 'process=p tick reason=catchup' "$KPID_LOG" || fail "the catch-up tick did not end"
no_lock_left "after the catch-up"
for id in "${!want[@]}"; do
    assert_sql "SELECT DISTINCT error FROM kpid.kpi_run WHERE kpi_id = '$id'" "$id: ${want[$id]}" \
        "$id: the catch-up's error"
done
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id NOT IN ('scorecard_n', 'events_n')" 0 \
    "no value from a refused query"
assert_sql "SELECT count(*) FILTER (WHERE error IS NULL), count(*) FROM kpid.kpi_run
            WHERE kpi_id IN ('scorecard_n', 'events_n')" "4|4" "the queries within bounds ran"
assert_sql "SELECT count(*) FROM pg_stat_activity WHERE pid = $other_pid" 1 \
    "the other database's session survived the catch-up"

# --- each again by backfill, with a stored value to keep; the daemon's sessions stay -------
backends() {
    sql "SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
         WHERE usename = 'kpid' AND datname = current_database()"
}
before=$(backends)
[ -n "$before" ] || fail "the daemon has no session"
for id in "${!want[@]}"; do
    assert_failure_keeps_values "$KPID_WORK/kpid.conf" "$id" "$id: ${want[$id]}"
done
no_lock_left "after the backfills"
after=$(backends)
for pid in ${before//,/ }; do
    case ",$after," in *",$pid,"*) ;; *) fail "kpid's session $pid was terminated (before $before, after $after)" ;; esac
done
assert_sql "SELECT count(*) FROM pg_stat_activity WHERE pid = $other_pid" 1 \
    "the other database's session survived"
assert_sql "SELECT count(*) FROM pg_class WHERE relname = 'dblink_made'" 0 "no table was made"
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE stratum ? 'secret'" 0 "no file content stored"
assert_sql "SELECT count(*) FROM public.visits" 0 "nothing written"
make_events "$KPID_WORK/inbox/b.ndjson" b 10
wait_for "SELECT count(*) = 30 FROM kpid.event"
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill --kpi events_n \
    --from 2025-01-01 --to 2025-02-01 >>"$KPID_LOG" 2>&1 || fail "backfill of events_n failed"
assert_sql "SELECT value FROM kpid.kpi_value WHERE kpi_id = 'events_n'
            AND period_start = '2025-01-01 00:00:00+00'" 30 "an sql KPI reads kpid.event"
kpid_stop

# --- a role that is a member of a pg_* role is not run under ------------------------------
sql "GRANT pg_read_server_files TO kpid_sql" >/dev/null
assert_failure_keeps_values "$KPID_WORK/kpid.conf" events_n \
    "events_n: role kpid_sql is a member of role pg_read_server_files: sql KPIs are not evaluated; as a DBA run: REVOKE pg_read_server_files FROM kpid_sql;"
grep -qF "warehouse role=kpid_sql is a member of role pg_read_server_files: sql KPIs are not evaluated; as a DBA run: REVOKE pg_read_server_files FROM kpid_sql;" \
    "$KPID_LOG" || fail "no warning at start about kpid_sql's membership"
sql "REVOKE pg_read_server_files FROM kpid_sql" >/dev/null
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill --kpi events_n \
    --from 2025-01-01 --to 2025-02-01 >>"$KPID_LOG" 2>&1 || fail "backfill after the REVOKE failed"
assert_sql "SELECT value FROM kpid.kpi_value WHERE kpi_id = 'events_n'
            AND period_start = '2025-01-01 00:00:00+00'" 30 "events_n after the REVOKE"

# --- a stop ends an sql KPI in progress on its own connection, and that connection ---------
write_conf "$KPID_WORK/slow.conf" "$KPID_WORK/inbox/*.ndjson" 'pseudonymize = false; recompute_horizon = "0s";'
cat >>"$KPID_WORK/slow.conf" <<'CONF'
objectives = ( { id = "o"; name = "O"; perspective = "internal"; } );
processes = ( { id = "slow"; name = "S"; category = "main"; timezone = "UTC"; schedule = "@daily";
  kpis = ( { id = "sleeper"; name = "Z"; type = "sql"; period = "month"; target = 1.0;
             direction = "higher"; objective = "o"; timeout = "10m";
             query = "SELECT 1 AS value FROM pg_sleep(120)"; } ); } );
CONF
mark=$(wc -l <"$KPID_LOG")
kpid_start "$KPID_WORK/slow.conf"
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE usename = 'kpid' AND state = 'active'
          AND query LIKE 'SELECT kpid.sql_kpi_rows(%'"
sleeper=$(sql "SELECT pid FROM pg_stat_activity WHERE usename = 'kpid' AND state = 'active'
               AND query LIKE 'SELECT kpid.sql_kpi_rows(%'")
t0=$(date +%s)
kpid_stop 0 10
[ $(($(date +%s) - t0)) -le 8 ] || fail "the stop took more than 8 s"
! tail -n +"$mark" "$KPID_LOG" | grep -F 'did not stop in time' || fail "a scheduler thread was left behind"
wait_for "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $sleeper" 15
