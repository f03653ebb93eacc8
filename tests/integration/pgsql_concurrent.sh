# Writers whose transactions commit out of order: a session inserts rows and updates one
# with an older updated_at (its transaction's start) and an older transaction id, and
# commits only after later rows were committed and read. A source with an overlap
# window, and one bounded by the snapshot's xmin on a row_xid xid8 column, miss nothing
# and write nothing twice; the same sources without them (controls) miss the late rows,
# which shows what the test tests. While the late transaction is open, the bounded source
# reads nothing past it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pgsql_common.sh"
kpid_test_init pgsql_concurrent
his_init

his_sql "
CREATE TABLE his.orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    row_xid xid8 NOT NULL DEFAULT pg_current_xact_id());
CREATE INDEX ON his.orders (updated_at, id);
CREATE INDEX ON his.orders (row_xid, id);
-- Every change stamps the row with its transaction's time and id.
CREATE FUNCTION his.stamp() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN NEW.updated_at := now(); NEW.row_xid := pg_current_xact_id(); RETURN NEW; END \$\$;
CREATE TRIGGER stamp BEFORE UPDATE ON his.orders FOR EACH ROW EXECUTE FUNCTION his.stamp();
INSERT INTO his.orders (payload) SELECT 'p' || i FROM generate_series(1, 50) i;" >/dev/null
his_grant

# source NAME WATERMARK TYPE EXTRA: one source reading his.orders.
source_conf() {
    printf '{ name = "%s"; plugin = "pgsql"; conninfo = "%s"; page_size = 7; interval = "200ms";
        queries = ( { name = "orders";
            sql = "SELECT '"'ord:'"' || id AS key, id, payload, updated_at, row_xid FROM his.orders";
            watermark = "%s"; watermark_type = "%s"; tiebreaker = "id"; %s
            activity = "LAB_ORDER"; event_key = "key"; case_id = "id"; time = "updated_at";
            attributes = { payload = "payload"; }; } ); }' "$1" "$(his_conninfo)" "$2" "$3" "${4:-}"
}
write_conf "$KPID_WORK/kpid.conf" "$(source_conf ts_overlap updated_at timestamp 'overlap = "30s";'),
    $(source_conf ts_plain updated_at timestamp),
    $(source_conf xid_bound row_xid integer 'bound = "snapshot_xmin";'),
    $(source_conf xid_plain row_xid integer)"

count() { sql "SELECT count(*) FROM kpid.event WHERE source = '$1'"; }
# The bounded source waits for every transaction with an id on the whole server, also
# for those of other tests running beside this one: it gets longer.
wait_count() { # SOURCE N [TIMEOUT]
    wait_for "SELECT count(*) = $2 FROM kpid.event WHERE source = '$1'" "${3:-30}"
}

kpid_start "$KPID_WORK/kpid.conf"
for s in ts_overlap ts_plain xid_plain; do
    wait_count "$s" 50
done
wait_count xid_bound 50 120

# The late session: its rows get the transaction's start time and id; it commits later.
mkfifo "$KPID_WORK/late.fifo"
PGHOST=$HIS_HOST PGPORT=$HIS_PORT timeout 120 psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$HIS_DB" \
    <"$KPID_WORK/late.fifo" >"$KPID_WORK/late.out" 2>&1 &
late_pid=$!
kpid_track_pid "$late_pid"
exec 7>"$KPID_WORK/late.fifo"
printf '%s\n' "BEGIN; INSERT INTO his.orders (payload) VALUES ('late1'), ('late2'), ('late3');
UPDATE his.orders SET payload = 'changed late' WHERE id = 5; SELECT 'written';" >&7
for i in $(seq 1 100); do
    grep -q written "$KPID_WORK/late.out" && break
    sleep 0.1
done
grep -q written "$KPID_WORK/late.out" || fail "the late session did not write: $(cat "$KPID_WORK/late.out")"

# Later rows, each committed at once, read by every source but the bounded one.
for i in $(seq 1 30); do
    his_sql "INSERT INTO his.orders (payload) VALUES ('after$i')" >/dev/null
    sleep 0.05
done
wait_count ts_overlap 80
wait_count ts_plain 80
wait_count xid_plain 80
sleep 2 # ten polls of the bounded source
assert_eq "$(count xid_bound)" 50 "the bounded source read past a running transaction"

# The late session commits; more rows come.
printf 'COMMIT;\n' >&7
exec 7>&-
wait "$late_pid" || fail "the late session failed: $(cat "$KPID_WORK/late.out")"
# In one statement: five rows of one updated_at (ties at the cursor's watermark).
his_sql "INSERT INTO his.orders (payload) SELECT 'end' || i FROM generate_series(1, 5) i" >/dev/null

all=$(his_sql "SELECT count(*) FROM his.orders")
assert_eq "$all" 88 "rows in the HIS"
wait_count ts_overlap 88
wait_count xid_bound 88 120
wait_for "SELECT count(*) = 2 FROM kpid.event WHERE event_key = 'ord:5' AND attrs->>'payload' = 'changed late'
          AND source IN ('ts_overlap', 'xid_bound')"
wait_count ts_plain 85
wait_count xid_plain 85
sleep 2 # ten more polls: nothing else comes
for s in ts_overlap xid_bound; do
    assert_eq "$(count $s)" 88 "events of $s"
    expected=$(PGTZ=UTC his_sql "SELECT 'ord:' || id, updated_at, payload FROM his.orders ORDER BY 1")
    got=$(PGTZ=UTC sql "SELECT event_key, time, attrs->>'payload' FROM kpid.event WHERE source = '$s'
                        ORDER BY 1")
    assert_eq "$got" "$expected" "events of $s as the HIS holds them"
done
# The controls missed the late rows and the late update: the hazard is real.
for s in ts_plain xid_plain; do
    assert_sql "SELECT count(*) FROM kpid.event WHERE source = '$s'
                AND event_key IN (SELECT 'ord:' || id FROM generate_series(51, 53) id)" 0 \
        "late rows read by $s"
    assert_sql "SELECT attrs->>'payload' FROM kpid.event WHERE source = '$s' AND event_key = 'ord:5'" \
        p5 "the late update read by $s"
done
# Idle, the sources write nothing, not even their cursors: the overlap window's pages,
# whose last rows share watermarks with the cursor's (ties), do not move it back and forth.
cursors=$(sql "SELECT source, updated_at FROM kpid.cursor ORDER BY 1")
sleep 2
assert_eq "$(sql "SELECT source, updated_at FROM kpid.cursor ORDER BY 1")" "$cursors" \
    "cursors written while idle"
# Nothing written twice: each source's event changed only by the late update (old and
# new version), however often the overlap window was read again.
assert_sql "SELECT count(*) FROM kpid.event_change" 4 "event versions changed"
kpid_stop
skipped=$(grep 'source=ts_overlap metric=pgsql_skipped_total' "$KPID_LOG" | tail -n 1 | sed 's/.* value=//')
[ "${skipped:-0}" -gt 0 ] || fail "the overlap source skipped no row read again"
_kpid_say "the overlap source skipped $skipped rows read again"
grep -E 'source=[a-z_]+ (query failed|HIS connection lost)' "$KPID_LOG" && fail "a query failed"
true
