# The odbc source against a HIS on a PostgreSQL of its own, whose role logs in with a
# password from password_file (one with ';', '{', '}' and '=' in it, which the connection
# string must carry in braces): a wrong password fails clearly and a corrected file is read at the next attempt; a world-readable file is warned about; the
# password never reaches the log. The HIS stopped in the middle of reading and started
# again: the source says the connection is lost, connects again and nothing is lost or
# doubled.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/odbc_lib.sh"
kpid_test_init odbc_outage

# The HIS's own server (private: its pg_hba.conf may be changed), stopped at exit.
his_dir=$KPID_WORK/hispg
_outage_exit() {
    local rc=$?
    set +e
    (pg_destroy "$his_dir")
    (exit "$rc")
    _kpid_cleanup
}
trap _outage_exit EXIT
(pg_start "$his_dir" >/dev/null) || fail "cannot start the HIS's PostgreSQL"
his_host=$(sed -n 's/^sock=//p' "$his_dir/pg.env")
his_sql() {
    local out
    out=$(PGHOST=$his_host PGPORT=$KPID_PG_PORT psql -X -A -t -q -v ON_ERROR_STOP=1 -d postgres \
        -c "$1" 2>&1) || fail "HIS sql failed: $1: $out"
    printf '%s\n' "$out"
}
password='p;w}d{=x y'
n=$(kpid_scale 6000 2000)
his_sql "CREATE ROLE his_reader LOGIN PASSWORD '$password';
         CREATE SCHEMA his;
         CREATE TABLE his.results (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload text NOT NULL,
             updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
         CREATE INDEX ON his.results (updated_at, id);
         INSERT INTO his.results (payload) SELECT 'p' || i FROM generate_series(1, $n) i;
         GRANT USAGE ON SCHEMA his TO his_reader;
         GRANT SELECT ON his.results TO his_reader;" >/dev/null
# The HIS role logs in with its password (the first matching line of pg_hba.conf wins).
hba=$(sed -n 's/^data=//p' "$his_dir/pg.env")/pg_hba.conf
{ printf 'local all his_reader scram-sha-256\n'; cat "$hba"; } >"$hba.new" && cat "$hba.new" >"$hba"
his_sql "SELECT pg_reload_conf()" >/dev/null
printf 'wrong\n' >"$KPID_WORK/his.password"
chmod 0644 "$KPID_WORK/his.password"

cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = (
    { name = "his"; plugin = "odbc"; interval = "100ms"; page_size = 10;
      conninfo = "Driver=PostgreSQL Unicode;Servername=$his_host;Port=$KPID_PG_PORT;Database=postgres;Uid=his_reader";
      password_file = "$KPID_WORK/his.password"; login_timeout = "3s";
      queries = ( { name = "results";
          sql = "SELECT 'res:' || id AS key, id, payload, updated_at FROM his.results";
          watermark = "updated_at"; tiebreaker = "id"; overlap = "1m";
          activity = "LAB_RESULT"; event_key = "key"; case_id = "id"; time = "updated_at";
          attributes = { payload = "payload"; }; } ); }
);
CONF

count() { sql "SELECT count(*) FROM kpid.event WHERE source = 'his'"; }
assert_exact() {
    local want got
    want=$(PGTZ=UTC his_sql "SELECT 'res:' || id, updated_at, payload FROM his.results ORDER BY 1")
    got=$(PGTZ=UTC sql "SELECT event_key, time, attrs->>'payload' FROM kpid.event WHERE source = 'his'
                        ORDER BY 1")
    [ "$got" = "$want" ] || fail "$1: kpid.event differs from the HIS"
}

# A wrong password: one clear line a try (psqlODBC says 08001, with the server's message),
# and tries with backoff.
auth_line='source=his cannot connect to the HIS sqlstate=[0-9A-Z]{5} error=".*password authentication failed for user \\"his_reader\\""'
kpid_start "$KPID_WORK/kpid.conf"
for ((i = 0; i < 100; i++)); do
    [ "$(grep -cE "$auth_line" "$KPID_LOG")" -ge 2 ] && break
    sleep 0.1
done
[ "$(grep -cE "$auth_line" "$KPID_LOG")" -ge 2 ] || fail "no clear line for a wrong password, tried again"
grep -q "source=his password_file is readable by every user path=\"$KPID_WORK/his.password\"" \
    "$KPID_LOG" || fail "no warning for a world-readable password file"
assert_eq "$(count)" 0 "events read with a wrong password"
# The corrected file is read at the next attempt.
printf '%s\n' "$password" >"$KPID_WORK/his.password"
chmod 0600 "$KPID_WORK/his.password"
wait_for "SELECT count(*) > 100 FROM kpid.event WHERE source = 'his'" 60

# The HIS stops in the middle of reading and starts again after a while.
got=$(count)
[ "$got" -lt "$n" ] || echo "odbc_outage: the source read everything before the HIS stopped" >&2
(pg_stop "$his_dir" >/dev/null) || fail "cannot stop the HIS"
sleep 3
(pg_start "$his_dir" >/dev/null) || fail "cannot start the HIS again"
his_sql "INSERT INTO his.results (payload) SELECT 'q' || i FROM generate_series(1, 100) i" >/dev/null
wait_for "SELECT count(*) = $((n + 100)) FROM kpid.event WHERE source = 'his'" 120
grep -qE 'source=his (HIS connection lost|cannot connect to the HIS) ' "$KPID_LOG" ||
    fail "the lost HIS was not said"
n_conn=$(grep -c 'source=his connected to the HIS' "$KPID_LOG" || true)
[ "$n_conn" -ge 2 ] || fail "the source did not connect again ($n_conn)"
kpid_stop
assert_exact "after the HIS's outage"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'his'" 0 "rejected rows"
grep -qF -- "$password" "$KPID_LOG" && fail "the password is in the log"
grep -qF -- 'p;w}' "$KPID_LOG" && fail "part of the password is in the log"
true
