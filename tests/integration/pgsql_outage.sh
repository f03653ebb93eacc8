# The pgsql source against a HIS on a PostgreSQL of its own, whose role logs in with a
# password from password_file: a wrong password fails clearly and a corrected file is
# read at the next attempt; a world-readable file is warned about; the session is named
# kpid. kpid killed (SIGKILL) in the middle of reading, twice, and started again reads
# every row exactly; the HIS stopped in the middle of reading and started again: the
# source recovers and nothing is lost; the warehouse stopped in the middle of reading
# and started again: the same.
# The warehouse is this test's own PostgreSQL, so that it can stop it.
unset PGHOST PGPORT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pgsql_common.sh"
kpid_test_init pgsql_outage
his_server "$KPID_WORK/hispg"
his_init

# The same size at small scale and in every phase: fewer rows are read before a loaded
# machine's polls of the count see the first of them, and the kill or the outage would
# come after the last (a sanitizer build read 4,000 rows between two polls).
n1=20000
his_sql "
CREATE TABLE his.results (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON his.results (updated_at, id);
INSERT INTO his.results (payload) SELECT 'p' || i FROM generate_series(1, $n1) i;
ALTER ROLE $HIS_ROLE PASSWORD 'right horse battery';" >/dev/null
his_grant
# The HIS role logs in with its password (first matching line of pg_hba.conf wins).
hba=$(sed -n 's/^data=//p' "$HIS_PG_DIR/pg.env")/pg_hba.conf
{ printf 'local all %s scram-sha-256\n' "$HIS_ROLE"; cat "$hba"; } >"$hba.new" && cat "$hba.new" >"$hba"
his_sql "SELECT pg_reload_conf()" >/dev/null
printf 'wrong\n' >"$KPID_WORK/his.password"
chmod 0644 "$KPID_WORK/his.password"

write_conf "$KPID_WORK/kpid.conf" "{ name = \"his\"; plugin = \"pgsql\";
    conninfo = \"$(his_conninfo 'connect_timeout=5')\"; password_file = \"$KPID_WORK/his.password\";
    page_size = 10; interval = \"100ms\"; connect_timeout = \"3s\";
    queries = ( { name = \"results\";
        sql = \"SELECT 'res:' || id AS key, id, payload, updated_at FROM his.results\";
        watermark = \"updated_at\"; tiebreaker = \"id\"; overlap = \"1m\";
        activity = \"LAB_RESULT\"; event_key = \"key\"; case_id = \"id\"; time = \"updated_at\";
        attributes = { payload = \"payload\"; }; } ); }"

count() { sql "SELECT count(*) FROM kpid.event WHERE source = 'his'"; }
assert_exact() {
    local want got
    want=$(PGTZ=UTC his_sql "SELECT 'res:' || id, updated_at, payload FROM his.results ORDER BY 1")
    got=$(PGTZ=UTC sql "SELECT event_key, time, attrs->>'payload' FROM kpid.event WHERE source = 'his'
                        ORDER BY 1")
    [ "$got" = "$want" ] || fail "$1: kpid.event differs from the HIS"
    _kpid_say "$1: $(printf '%s\n' "$want" | wc -l) events as the HIS holds them"
}
# kill_mid_read MIN: SIGKILL once more than MIN events are stored; fails if all were.
kill_mid_read() {
    local total=$2 i
    for ((i = 0; i < 1200; i++)); do
        [ "$(count)" -gt "$1" ] && break
        _kpid_alive "$KPID_PID" || fail "kpid died"
        sleep 0.05
    done
    kpid_kill
    local got
    got=$(count)
    [ "$got" -lt "$total" ] || fail "kpid read everything before it was killed (rows $got)"
    _kpid_say "killed with $got of $total rows stored"
}

# A wrong password: one clear line, and the source retries.
kpid_start "$KPID_WORK/kpid.conf"
for i in $(seq 1 100); do
    grep -q 'source=his cannot connect to the HIS error=".*password authentication failed' "$KPID_LOG" && break
    sleep 0.1
done
grep -q 'source=his cannot connect to the HIS error=".*password authentication failed' "$KPID_LOG" ||
    fail "no clear line for a wrong password"
grep -q "source=his password_file is readable by every user path=\"$KPID_WORK/his.password\"" \
    "$KPID_LOG" || fail "no warning for a world-readable password file"
grep -q 'right horse' "$KPID_LOG" && fail "the password is in the log"
# The corrected file is read at the next attempt (restarts back off from 1 s).
(umask 077 && printf 'right horse battery\n' >"$KPID_WORK/his.password.new")
mv "$KPID_WORK/his.password.new" "$KPID_WORK/his.password"
wait_for "SELECT count(*) > 0 FROM kpid.event WHERE source = 'his'" 30
assert_eq "$(his_sql "SELECT string_agg(DISTINCT application_name, ',') FROM pg_stat_activity
                      WHERE usename = '$HIS_ROLE'")" kpid "the HIS session's application_name"

# Killed in the middle of reading, twice; started again, it reads every row once.
kill_mid_read 200 "$n1"
kpid_start "$KPID_WORK/kpid.conf"
kill_mid_read $(($(count) + 300)) "$n1"
kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) = $n1 FROM kpid.event WHERE source = 'his'" 120
assert_exact "after two SIGKILLs"

# The HIS stopped in the middle of reading new rows, and started again.
n2=$n1
his_sql "INSERT INTO his.results (payload) SELECT 'q' || i FROM generate_series(1, $n2) i" >/dev/null
for ((i = 0; i < 1200; i++)); do
    [ "$(count)" -gt $((n1 + 50)) ] && break
    sleep 0.05
done
(pg_stop "$HIS_PG_DIR") || fail "cannot stop the HIS"
at_stop=$(count)
[ "$at_stop" -lt $((n1 + n2)) ] || fail "kpid read everything before the HIS stopped"
_kpid_say "HIS stopped with $at_stop of $((n1 + n2)) rows stored"
sleep 5
_kpid_alive "$KPID_PID" || fail "kpid died while the HIS was down"
grep -qE 'source=his (HIS connection lost|HIS statement abandoned|cannot connect to the HIS)' \
    "$KPID_LOG" || fail "the outage was not logged"
assert_eq "$(count)" "$at_stop" "events stored while the HIS was down"
(pg_start "$HIS_PG_DIR" >/dev/null) || fail "cannot start the HIS again"
his_sql "INSERT INTO his.results (payload) SELECT 'r' || i FROM generate_series(1, 100) i" >/dev/null
wait_for "SELECT count(*) = $n1 + $n2 + 100 FROM kpid.event WHERE source = 'his'" 120
assert_exact "after the HIS's outage"

# The warehouse stopped in the middle of reading new rows, and started again.
n3=$n1
total=$((n1 + n2 + 100 + n3 + 100))
his_sql "INSERT INTO his.results (payload) SELECT 's' || i FROM generate_series(1, $n3) i" >/dev/null
for ((i = 0; i < 1200; i++)); do
    [ "$(count)" -gt $((n1 + n2 + 150)) ] && break
    sleep 0.05
done
at_down=$(count)
[ "$at_down" -lt $((n1 + n2 + 100 + n3)) ] || fail "kpid read everything before the warehouse stopped"
_kpid_say "warehouse stopped with $at_down of $total rows stored"
kpid_pg_down
sleep 3
_kpid_alive "$KPID_PID" || fail "kpid died while the warehouse was down"
his_sql "INSERT INTO his.results (payload) SELECT 't' || i FROM generate_series(1, 100) i" >/dev/null
kpid_pg_up
wait_for "SELECT count(*) = $total FROM kpid.event WHERE source = 'his'" 120
grep -q 'warehouse unavailable' "$KPID_LOG" || fail "the warehouse's outage was not logged"
assert_exact "after the warehouse's outage"
kpid_stop
assert_sql "SELECT count(*) FROM kpid.rejected" 0 "rejected rows"
grep -E 'source=his query failed' "$KPID_LOG" && fail "a query failed"
true
