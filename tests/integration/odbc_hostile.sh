# Hostile and broken queries of the odbc source (through psqlODBC), each in a source of
# its own beside a good one in the same kpid: a syntax error, a DELETE, a write through a
# SECURITY DEFINER function (only the READ ONLY transaction stops it: the role may only
# SELECT, the function's owner may write), SELECT ... FOR UPDATE (refused at load at the
# top level, by the READ ONLY transaction in a subquery), a data-modifying WITH, a
# statement past statement_timeout, a value that fails a cast (the server's message
# quotes it: the log must not), columns of the wrong type, a missing column, a
# password in conninfo, a driver that does not exist. Each fails its source with one
# clear line naming the query; rows with a NULL event_key are rejected and the rest of
# their page goes on; the good source keeps ingesting; the HIS sees no write and no row
# lock. A statement that runs long is canceled when kpid stops.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/odbc_lib.sh"
kpid_test_init odbc_hostile
his_setup

sql "CREATE TABLE his.t (
         id bigint PRIMARY KEY, payload text NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
     INSERT INTO his.t (id, payload)
         SELECT i, CASE WHEN i = 3 THEN 'SECRET-NAME' ELSE i::text END
         FROM generate_series(1, 20) i;
     -- A function that writes, owned by the superuser: only READ ONLY stops it.
     CREATE FUNCTION his.evil() RETURNS SETOF int LANGUAGE plpgsql SECURITY DEFINER AS \$\$
     BEGIN INSERT INTO his.t (id, payload) VALUES (-1, 'evil'); RETURN NEXT 1; END \$\$;" >/dev/null
his_grant

# src NAME SQL [TIME_COLUMN] [EXTRA SOURCE KEYS]: a source of one query (CONNINFO, TIMEOUT,
# WM and WM_TYPE override the connection string, statement_timeout and the watermark).
src() {
    printf '{ name = "%s"; plugin = "odbc"; conninfo = "%s"; interval = "200ms";
        statement_timeout = "%s"; page_size = 5; %s
        queries = ( { name = "q_%s"; sql = "%s"; watermark = "%s";
            watermark_type = "%s"; tiebreaker = "id";
            activity = "LAB_RESULT"; event_key = "key"; time = "%s"; } ); }' \
        "$1" "${CONNINFO:-$(his_conninfo)}" "${TIMEOUT:-1s}" "${4:-}" "$1" "$2" "${WM:-updated_at}" \
        "${WM_TYPE:-timestamp}" "${3:-updated_at}"
}
base="SELECT 'k' || id AS key, id, payload, updated_at FROM his.t"
cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
sources = (
    $(src good "$base"),
    $(src null_key "SELECT CASE WHEN id % 5 = 0 THEN NULL ELSE 'k' || id END AS key, id, updated_at FROM his.t"),
    $(src syntax "SELECT 'k' || id AS key, id, updated_at FRM his.t"),
    $(src delete "DELETE FROM his.t RETURNING 'k' || id AS key, id, updated_at"),
    $(src write "SELECT 'k' || id AS key, id, updated_at FROM his.t, his.evil()"),
    $(src lock_top "$base FOR UPDATE"),
    $(src lock_sub "SELECT * FROM ($base FOR UPDATE) s"),
    $(src cte "WITH d AS (DELETE FROM his.t RETURNING *) SELECT 'k' || id AS key, id, updated_at FROM d"),
    $(src sleepy "SELECT 'k' || id AS key, id, updated_at, pg_sleep(3) FROM his.t"),
    $(src cast "SELECT 'k' || id AS key, id, updated_at, payload::int AS n FROM his.t"),
    $(src wrong_type "SELECT 'k' || id AS key, id, updated_at, id AS t FROM his.t" t),
    $(src wrong_wm "SELECT 'k' || id AS key, id, updated_at::timestamp AS updated_at FROM his.t"),
    $(WM=n WM_TYPE=integer src int_wm "SELECT 'k' || id AS key, id, payload AS n, updated_at FROM his.t"),
    $(src missing "$base" admitted_at),
    $(CONNINFO="$(his_conninfo);PWD=secret" src password "$base"),
    $(CONNINFO="Driver=No Such Driver;Database=his" src no_driver "$base"),
    $(TIMEOUT=15m src stuck "SELECT 'k' || id AS key, id, updated_at FROM his.t WHERE pg_sleep(600) IS NOT NULL")
);
CONF

sources="syntax delete write lock_top lock_sub cte sleepy cast wrong_type wrong_wm int_wm missing
         password no_driver stuck"
writes_before=$(his_writes)
kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) = 20 FROM kpid.event WHERE source = 'good'"

# The HIS's sessions of kpid, sampled while the sources fail and retry: none has a
# transaction id (a READ ONLY transaction never gets one: no write, no row lock) or a
# lock on a tuple or a transaction.
for i in $(seq 1 25); do
    bad=$(sql "SELECT count(*) FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid
               AND l.locktype IN ('tuple', 'transactionid')
               WHERE a.usename = '$HIS_ROLE' AND (a.backend_xid IS NOT NULL OR l.pid IS NOT NULL)")
    [ "$bad" = 0 ] || fail "a kpid session on the HIS holds a transaction id or a row lock"
    [ "$i" -eq 10 ] && sql "INSERT INTO his.t (id, payload)
                            SELECT i, 'late' FROM generate_series(21, 30) i" >/dev/null
    sleep 0.2
done
# The good source kept ingesting; the NULL keys were rejected, the other rows taken.
wait_for "SELECT count(*) = 30 FROM kpid.event WHERE source = 'good'"
wait_for "SELECT count(*) = 24 FROM kpid.event WHERE source = 'null_key'"
assert_sql "SELECT string_agg(locator || ' ' || reason, ',' ORDER BY locator COLLATE \"C\")
            FROM kpid.rejected WHERE source = 'null_key'" \
    "query:q_null_key key:10 event_key is NULL,query:q_null_key key:15 event_key is NULL,query:q_null_key key:20 event_key is NULL,query:q_null_key key:25 event_key is NULL,query:q_null_key key:30 event_key is NULL,query:q_null_key key:5 event_key is NULL" \
    "rejected rows of NULL keys"
# Every hostile source failed, clearly, and stored nothing.
for s in $sources; do
    assert_sql "SELECT count(*) FROM kpid.event WHERE source = '$s'" 0 "events of $s"
done
expect() { # SOURCE PATTERN
    grep -qE "source=$1 $2" "$KPID_LOG" || fail "no clear failure of source $1: want /$2/"
}
expect syntax 'query failed query=q_syntax during="page" sqlstate=42601 error="syntax error at or near \\"his\\""'
expect delete "[^ ]*/kpid.conf:[0-9]+: query q_delete: sql must start with SELECT or WITH"
expect write 'query failed query=q_write during="page" sqlstate=25006 error="cannot execute INSERT in a read-only transaction"'
expect lock_top "[^ ]*/kpid.conf:[0-9]+: query q_lock_top: sql has FOR UPDATE: a HIS source only reads"
expect lock_sub 'query failed query=q_lock_sub during="page" sqlstate=25006 error="cannot execute SELECT FOR UPDATE in a read-only transaction"'
expect cte 'query failed query=q_cte during="page" sqlstate=0A000 error="WITH clause containing a data-modifying statement must be at the top level"'
expect sleepy 'query failed query=q_sleepy during="page" sqlstate=57014 error="canceling statement due to statement timeout"'
expect cast 'query failed query=q_cast during="page" sqlstate=22P02 error="invalid input syntax for type integer: \\"\.\.\.\\""'
expect wrong_type 'query failed query=q_wrong_type error="query q_wrong_type: column \\"t\\" \(time\) is an integer; time needs a timestamp with time zone'
expect wrong_wm 'query failed query=q_wrong_wm error="query q_wrong_wm: column \\"updated_at\\" \(watermark\) is a timestamp without time zone; a timestamp watermark must have a time zone'
expect int_wm 'query failed query=q_int_wm error="query q_int_wm: column \\"n\\" \(watermark\) is text; watermark_type \\"integer\\" needs an integer column'
expect missing 'query failed query=q_missing error="query q_missing: the result has no column \\"admitted_at\\" \(time\); its columns are: \\"key\\", \\"id\\", \\"payload\\", \\"updated_at\\""'
expect password 'conninfo holds a password \(PWD\) hint='
expect no_driver 'cannot connect to the HIS sqlstate=01000 error="\[unixODBC\]\[Driver Manager\]Can.t open lib .No Such Driver.'
# ... and goes on failing, with backoff, while the others are unaffected.
for s in $sources; do
    [ "$s" = stuck ] && continue
    n=$(grep -c "source=$s restarting in=" "$KPID_LOG" || true)
    [ "$n" -ge 2 ] || fail "source $s was not retried (restarts: $n)"
done
grep -q 'SECRET' "$KPID_LOG" && fail "a value of the HIS is in the log"
grep -q 'PWD=secret' "$KPID_LOG" && fail "a password is in the log"

# The stuck source waits in its statement; kpid stops at once all the same (the
# watchdog cancels the statement).
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE usename = '$HIS_ROLE'
          AND state = 'active' AND query LIKE '%pg_sleep(600)%'"
t0=$(date +%s%N)
kpid_stop 0 15
took_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$took_ms" -lt 5000 ] || fail "kpid took ${took_ms} ms to stop with a statement running"
wait_for "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = '$HIS_ROLE'" 10

# The HIS saw no write: its table holds what the test wrote, no row was ever locked or
# changed (xmax), its statistics count the test's 10 inserts and nothing else.
assert_sql "SELECT count(*), count(*) FILTER (WHERE xmax <> '0') FROM his.t" "30|0" "the HIS's rows"
IFS='|' read -r ins upd del <<<"$writes_before"
want="$((ins + 10))|$upd|$del"
for i in $(seq 1 50); do
    got=$(his_writes)
    [ "$got" = "$want" ] && break
    sleep 0.2
done
assert_eq "$got" "$want" "rows inserted, updated, deleted in the HIS"
assert_sql "SELECT string_agg(p, ',' ORDER BY p) FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE',
            'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
            WHERE has_table_privilege('$HIS_ROLE', 'his.t', p)" SELECT "the HIS role's privileges"
