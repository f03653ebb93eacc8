# Hostile and broken queries, each in a source of its own beside a good one in the same
# kpid: a syntax error, a write through a SECURITY DEFINER function, SELECT ... FOR UPDATE
# (refused at load at the top level, by the READ ONLY transaction in a subquery), a
# data-modifying WITH, a statement past statement_timeout, a value that fails a cast (the
# server's message quotes it: the log must not), a column of the wrong type, a missing
# column. Each fails its source with one
# clear line naming the query, the SQLSTATE and the server's message; the good source
# keeps ingesting; the HIS sees no write and no row lock, and its role may only SELECT.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pgsql_common.sh"
kpid_test_init pgsql_hostile
his_init

his_sql "
CREATE TABLE his.t (
    id bigint PRIMARY KEY, payload text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
INSERT INTO his.t (id, payload) SELECT i, CASE WHEN i = 3 THEN 'SECRET-NAME' ELSE i::text END
    FROM generate_series(1, 20) i;
-- A function that writes, owned by the superuser: only the READ ONLY transaction stops it.
CREATE FUNCTION his.evil() RETURNS SETOF int LANGUAGE plpgsql SECURITY DEFINER AS \$\$
BEGIN INSERT INTO his.t (id, payload) VALUES (-1, 'evil'); RETURN NEXT 1; END \$\$;" >/dev/null
his_grant

# src NAME SQL [TIME_COLUMN] [EXTRA KEYS] [STATEMENT_TIMEOUT]: a source of one query.
src() {
    printf '{ name = "%s"; plugin = "pgsql"; conninfo = "%s"; interval = "200ms";
        statement_timeout = "%s"; page_size = 5; %s
        queries = ( { name = "q_%s"; sql = "%s"; watermark = "updated_at"; tiebreaker = "id";
            activity = "LAB_RESULT"; event_key = "key"; time = "%s"; } ); }' \
        "$1" "$(his_conninfo)" "${5:-1s}" "${4:-}" "$1" "$2" "${3:-updated_at}"
}
base="SELECT 'k' || id AS key, id, payload, updated_at FROM his.t"
write_conf "$KPID_WORK/kpid.conf" "$(src good "$base"),
    $(src syntax "SELECT 'k' || id AS key, id, updated_at FRM his.t"),
    $(src write "SELECT 'k' || id AS key, id, updated_at FROM his.t, his.evil()"),
    $(src lock_top "$base FOR UPDATE"),
    $(src lock_sub "SELECT * FROM ($base FOR UPDATE) s"),
    $(src cte "WITH d AS (DELETE FROM his.t RETURNING *) SELECT 'k' || id AS key, id, updated_at FROM d"),
    $(src sleepy "SELECT 'k' || id AS key, id, updated_at, pg_sleep(3) FROM his.t"),
    $(src cast "SELECT 'k' || id AS key, id, updated_at, payload::int AS n FROM his.t"),
    $(src wrong_type "SELECT 'k' || id AS key, id, updated_at, id AS t FROM his.t" t),
    $(src missing "$base" admitted_at),
    $(src slow "SELECT 'k' || id AS key, id, updated_at, pg_sleep(60) FROM his.t" updated_at '' 1m)"

sources="syntax write lock_top lock_sub cte sleepy cast wrong_type missing"
kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) = 20 FROM kpid.event WHERE source = 'good'"

# The HIS's sessions of kpid, sampled while the sources fail and retry: none has a
# transaction id (a READ ONLY transaction never gets one: no write, no row lock) or a
# lock on a tuple or a transaction.
for i in $(seq 1 25); do
    bad=$(his_sql "SELECT count(*) FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid
                   AND l.locktype IN ('tuple', 'transactionid')
                   WHERE a.usename = '$HIS_ROLE' AND (a.backend_xid IS NOT NULL OR l.pid IS NOT NULL)")
    [ "$bad" = 0 ] || fail "a kpid session on the HIS holds a transaction id or a row lock"
    [ "$i" -eq 10 ] && his_sql "INSERT INTO his.t (id, payload) SELECT i, 'late' FROM generate_series(21, 30) i" >/dev/null
    sleep 0.2
done
# The good source kept ingesting.
wait_for "SELECT count(*) = 30 FROM kpid.event WHERE source = 'good'"
# Every hostile source failed, clearly, and stored nothing.
for s in $sources; do
    assert_sql "SELECT count(*) FROM kpid.event WHERE source = '$s'" 0 "events of $s"
done
expect() { # SOURCE PATTERN
    grep -qE "source=$1 $2" "$KPID_LOG" || fail "no clear failure of source $1: want /$2/"
}
expect syntax 'query failed query=q_syntax during="page" sqlstate=42601 error="syntax error at or near \\"his\\""'
expect write 'query failed query=q_write during="page" sqlstate=25006 error="cannot execute INSERT in a read-only transaction"'
expect lock_top "[^ ]*/kpid.conf:[0-9]+: query q_lock_top: sql has FOR UPDATE: a HIS source only reads"
expect lock_sub 'query failed query=q_lock_sub during="page" sqlstate=25006 error="cannot execute SELECT FOR UPDATE in a read-only transaction"'
expect cte 'query failed query=q_cte during="page" sqlstate=0A000 error="WITH clause containing a data-modifying statement must be at the top level"'
expect sleepy 'query failed query=q_sleepy during="page" sqlstate=57014 error="canceling statement due to statement timeout"'
expect cast 'query failed query=q_cast during="page" sqlstate=22P02 error="invalid input syntax for type integer: \\"..\.\\""'
expect wrong_type 'query failed query=q_wrong_type error="query q_wrong_type: column \\"t\\" \(time\) is an integer; time needs a timestamp with time zone'
expect missing 'query failed query=q_missing error="query q_missing: the result has no column \\"admitted_at\\" \(time\); its columns are: \\"key\\", \\"id\\", \\"payload\\", \\"updated_at\\""'
# ... and goes on failing, with backoff, while the others are unaffected.
for s in $sources; do
    n=$(grep -c "source=$s restarting in=" "$KPID_LOG" || true)
    [ "$n" -ge 2 ] || fail "source $s was not retried (restarts: $n)"
done
grep -q 'SECRET' "$KPID_LOG" && fail "a value of the HIS is in the log"
# A statement that runs long (statement_timeout 1m) is canceled when kpid stops: it stops
# within kpid_stop's 15 s, and that is no failure of the query.
kpid_stop
grep -q 'source=slow query failed' "$KPID_LOG" && fail "a canceled statement was logged as a failure"
for i in $(seq 1 50); do # a backend ends a moment after its client
    left=$(his_sql "SELECT count(*) FROM pg_stat_activity WHERE usename = '$HIS_ROLE'")
    [ "$left" = 0 ] && break
    sleep 0.1
done
assert_eq "$left" 0 "kpid sessions left on the HIS"

# The HIS saw no write: its table holds what the test wrote, no row was ever locked or
# changed (xmax), its statistics count the test's 30 inserts and nothing else.
assert_eq "$(his_sql "SELECT count(*), count(*) FILTER (WHERE xmax <> '0') FROM his.t")" "30|0" \
    "the HIS's rows"
for i in $(seq 1 50); do
    stats=$(his_sql "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables
                     WHERE relid = 'his.t'::regclass")
    [ "$stats" = "30|0|0" ] && break
    sleep 0.2
done
assert_eq "$stats" "30|0|0" "rows inserted, updated, deleted in the HIS"
assert_eq "$(his_sql "SELECT string_agg(p, ',' ORDER BY p) FROM unnest(ARRAY['SELECT', 'INSERT',
                      'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
                      WHERE has_table_privilege('$HIS_ROLE', 'his.t', p)")" SELECT \
    "the HIS role's privileges"
