# The warehouse's session settings and refusals, as an operator meets them:
#  - a role-wide statement_timeout of 5 ms does not stall ingestion (kpid sets its own);
#  - kpid's own statement_timeout ending a statement is reported as that, not an outage;
#  - a wrong password and a missing privilege (CONNECT on the database, INSERT on
#    kpid.event) are errors with a hint: --once, --migrate and the commands exit 77 at
#    once; the daemon retries slowly and recovers when the DBA fixes the grant;
#  - backfill reconnects when the warehouse drops its connection.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init warehouse_session

mkdir "$KPID_WORK/inbox"
write_conf "$KPID_WORK/kpid.conf" "$KPID_WORK/inbox/*.ndjson"

# --- a role setting of 5 ms: ingestion is unaffected ------------------------------------
sql "ALTER ROLE $KPID_PG_USER IN DATABASE $KPID_TEST_DB SET statement_timeout = '5ms'"
sql "ALTER ROLE $KPID_PG_USER IN DATABASE $KPID_TEST_DB SET lock_timeout = '1ms'"
# What kpid's role gets without kpid's own settings: the 5 ms.
got=$(psql -X -A -t -q -U "$KPID_PG_USER" -c "SHOW statement_timeout")
assert_eq "$got" 5ms "the role setting is in effect for a plain session"
make_events "$KPID_WORK/inbox/a.ndjson" a 50000
start=$(date +%s)
timeout 120 "$KPID_BIN" -c "$KPID_WORK/kpid.conf" --once >>"$KPID_LOG" 2>&1 ||
    fail "kpid --once with a role statement_timeout of 5ms failed (exit $?)"
_kpid_say "50,000 events under a role statement_timeout of 5ms in $(($(date +%s) - start))s"
assert_sql "SELECT count(*) FROM kpid.event" 50000 "events under the role's 5 ms timeout"
! grep -q 'warehouse unavailable' "$KPID_LOG" || fail "the role's timeout was taken for an outage"
sql "ALTER ROLE $KPID_PG_USER IN DATABASE $KPID_TEST_DB RESET ALL"

# --- kpid's own statement_timeout ends a slow statement: said as what it is -------------
sql "CREATE FUNCTION public.slow_insert() RETURNS trigger LANGUAGE plpgsql AS
     \$\$ BEGIN PERFORM pg_sleep(0.6); RETURN NULL; END \$\$"
sql "CREATE TRIGGER slow AFTER INSERT ON kpid.event FOR EACH STATEMENT
     EXECUTE FUNCTION public.slow_insert()"
sed 's/flush_interval_ms = 50;/flush_interval_ms = 50; statement_timeout = "200ms";/' \
    "$KPID_WORK/kpid.conf" >"$KPID_WORK/slow.conf"
make_events "$KPID_WORK/inbox/b.ndjson" b 100
kpid_start "$KPID_WORK/slow.conf"
for i in $(seq 1 100); do grep -q 'warehouse statement canceled' "$KPID_LOG" && break; sleep 0.1; done
grep -q 'warehouse statement canceled step=write sqlstate=57014 .*statement_timeout=200ms' "$KPID_LOG" ||
    fail "a statement ended by kpid's statement_timeout was not reported as such"
! grep -q 'warehouse unavailable' "$KPID_LOG" || fail "kpid's statement_timeout was taken for an outage"
assert_sql "SELECT count(*) FROM kpid.event" 50000 "events committed while every insert timed out"
sql "DROP TRIGGER slow ON kpid.event"
wait_for "SELECT count(*) = 50100 FROM kpid.event" 30
grep -q 'warehouse available again' "$KPID_LOG" || fail "no recovery line after the trigger went"
kpid_stop 0

# --- a wrong password -----------------------------------------------------------------
sql "DROP ROLE IF EXISTS kpid_password" -d postgres >/dev/null
sql "CREATE ROLE kpid_password LOGIN PASSWORD 'right' IN ROLE $KPID_PG_USER" -d postgres >/dev/null
printf 'wrong\n' >"$KPID_WORK/password"
chmod 0600 "$KPID_WORK/password"
sed -e "s|user=$KPID_PG_USER\"|user=kpid_password\"; password_file = \"$KPID_WORK/password\"|" \
    "$KPID_WORK/kpid.conf" >"$KPID_WORK/password.conf"
grep -q 'password_file' "$KPID_WORK/password.conf" || fail "cannot write password.conf"
for args in --once --migrate "backfill --from 2025-01-01 --to 2025-01-02"; do
    start=$(date +%s)
    # shellcheck disable=SC2086
    kpid_run "$KPID_WORK/password.conf" $args || true
    assert_eq "$KPID_EXIT" 77 "exit status of kpid $args with a wrong password"
    [ $(($(date +%s) - start)) -le 5 ] || fail "kpid $args took more than 5 s to give up"
done
grep -q 'password authentication failed for user \\"kpid_password\\"' "$KPID_LOG" ||
    fail "the error does not say that the password was wrong"
grep -q "hint=\"kpid's warehouse role must be able to log in" "$KPID_LOG" ||
    fail "the error has no hint"
! grep -q 'wrong' <(grep -v '^---' "$KPID_LOG") || fail "the password appears in the log"
printf 'right\n' >"$KPID_WORK/password"
kpid_run "$KPID_WORK/password.conf" --migrate || fail "the right password: exit $KPID_EXIT"
sql "DROP ROLE kpid_password" -d postgres >/dev/null

# --- no CONNECT privilege: --once exits 77; the daemon retries and recovers -----------
sql "REVOKE CONNECT ON DATABASE $KPID_TEST_DB FROM PUBLIC"
make_events "$KPID_WORK/inbox/c.ndjson" c 100
kpid_run "$KPID_WORK/kpid.conf" --once || true
assert_eq "$KPID_EXIT" 77 "exit status of --once without CONNECT"
grep -q 'permission denied for database' "$KPID_LOG" || fail "the error does not name the privilege"
kpid_start "$KPID_WORK/kpid.conf"
for i in $(seq 1 50); do grep -q "warehouse refuses kpid's role" "$KPID_LOG" && break; sleep 0.1; done
sleep 3
lines=$(awk '/^--- kpid_start/ { n = 0 } /warehouse refuses kpid.s role/ { n++ } END { print n }' "$KPID_LOG")
assert_eq "$lines" 1 "lines saying the warehouse refuses kpid's role (once per state change)"
kill -0 "$KPID_PID" || fail "the daemon gave up"
sql "GRANT CONNECT ON DATABASE $KPID_TEST_DB TO $KPID_PG_USER"
wait_for "SELECT count(*) = 50200 FROM kpid.event" 40
grep -q 'warehouse available' "$KPID_LOG" || fail "no line saying the warehouse is available"
kpid_stop 0
sql "GRANT CONNECT ON DATABASE $KPID_TEST_DB TO PUBLIC"

# --- no INSERT on kpid.event: the writer's refusal ------------------------------------
sql "REVOKE INSERT ON kpid.event FROM $KPID_PG_USER"
make_events "$KPID_WORK/inbox/d.ndjson" d 100
start=$(date +%s)
kpid_run "$KPID_WORK/kpid.conf" --once || true
assert_eq "$KPID_EXIT" 77 "exit status of --once without INSERT on kpid.event"
[ $(($(date +%s) - start)) -le 10 ] || fail "--once took more than 10 s to give up"
grep -q "warehouse refuses kpid's role step=write sqlstate=42501" "$KPID_LOG" ||
    fail "the writer's refusal is not an error with its SQLSTATE"
sql "GRANT INSERT ON kpid.event TO $KPID_PG_USER"
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once after the grant: exit $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 50300 "events after the grant"

# --- backfill over a dropped connection -----------------------------------------------
cat >>"$KPID_WORK/kpid.conf" <<'CONF'
objectives = ( { id = "o"; name = "O"; perspective = "internal"; } );
processes = ( { id = "p"; name = "P"; category = "main"; schedule = "0 3 * * *"; timezone = "UTC";
  kpis = ( { id = "admissions"; name = "Admissions"; type = "count"; activity = "ADMISSION";
             period = "day"; objective = "o"; direction = "higher"; } ); } );
CONF
kpid_run "$KPID_WORK/kpid.conf" --check-config || fail "the model does not load"
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" backfill \
    --from 2019-01-01 --to 2025-02-01 >>"$KPID_LOG" 2>&1 &
backfill=$!
kpid_track_pid "$backfill"
wait_for "SELECT count(*) >= 200 FROM kpid.kpi_value" 60
killed=$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'kpid'")
[ "$killed" -ge 1 ] || fail "no backfill connection to terminate"
rc=0
wait "$backfill" || rc=$?
assert_eq "$rc" 0 "backfill's exit status after its connection was dropped"
grep -q 'warehouse connection lost during backfill; reconnecting' "$KPID_LOG" ||
    fail "backfill did not say it reconnects"
grep -q 'warehouse connection reopened' "$KPID_LOG" || fail "backfill did not reconnect"
days=$(sql "SELECT '2025-02-01'::date - '2019-01-01'::date")
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'admissions' AND stratum = '{}'" \
    "$days" "backfilled days"
