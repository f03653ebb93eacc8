# Keyed source state (plugin SDK ABI 1.1, kpid.source_state): a test plugin's puts are
# committed with their batch; the last put of a key wins within a batch and across the
# batches of one transaction; a delete removes the key; refused puts record nothing; a
# restarted plugin loads every key in bytewise order, in pages. The host's helpers
# answer as documented. Then the file source: a kill -9 while the writer waits inside
# the batch's transaction leaves neither the cursor nor the state moved, and the next
# run ingests every line exactly once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init source_state

bulk=$(kpid_scale 25000 12000)
mkdir "$KPID_WORK/plugins"
cp "$TEST_PLUGIN_DIR"/statekeeper.so "$KPID_PLUGIN_DIR"/file.so "$KPID_WORK/plugins/"
# batch_max_rows and flush_interval_ms large enough that the writer joins both batches.
cat >"$KPID_WORK/kpid.conf" <<CONF
pseudonym_key_file = "$KPID_TEST_KEY_FILE";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; batch_max_rows = 1000000; flush_interval_ms = 2000; };
sources = ( { name = "sk"; plugin = "statekeeper"; keys = $bulk; } );
CONF
export KPID_PLUGIN_DIR=$KPID_WORK/plugins

kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once exited with $KPID_EXIT"
grep -q 'source=sk state loaded keys=0 sorted=yes k=- w=- d=- n=0$' "$KPID_LOG" ||
    fail "the first start did not find an empty state"
grep -q 'source=sk invalid puts refused=4$' "$KPID_LOG" || fail "invalid puts were not refused"
# Both batches were written in one transaction: their events and state rows carry one
# now(), the transaction's start.
assert_sql "SELECT count(DISTINCT t) FROM (SELECT ingested_at AS t FROM kpid.event WHERE source = 'sk'
            UNION ALL SELECT updated_at FROM kpid.source_state WHERE source = 'sk') x" 1 \
    "one transaction for both batches"
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'sk'" 2 "events of both batches"
# Last put wins: within batch 1 (w), across batches 1 and 2 (k); d was deleted by batch 2.
assert_sql "SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM kpid.source_state
            WHERE source = 'sk' AND key !~ '^n'" "k=3,w=b" "last put per key"
assert_sql "SELECT count(*), min(key), max(key), bool_and(value = 'v') FROM kpid.source_state
            WHERE source = 'sk' AND key ~ '^n'" \
    "$bulk|n00000000|n$(printf '%08d' $((bulk - 1)))|t" "bulk keys"
assert_sql "SELECT cursor FROM kpid.cursor WHERE source = 'sk'" 2 "cursor"
# No refused put reached the table.
assert_sql "SELECT count(*) FROM kpid.source_state WHERE key IN ('', 'big') OR key ~ '[[:cntrl:]]'
            OR length(key) > 256" 0 "refused puts"

# The helpers: the pseudonym of P1 is the HMAC-SHA256 PostgreSQL computes; case ids are
# not pseudonymized by this source (pseudonymize_case_id is false); a small buffer is
# -ENOBUFS (-105); a time in year 10000 is refused with the reason emit() gives.
key=$(tr -d '\n' <"$KPID_TEST_KEY_FILE")
sql "CREATE EXTENSION IF NOT EXISTS pgcrypto" >/dev/null
hmac=$(sql "SELECT encode(hmac('P1', '$key', 'sha256'), 'hex')")
grep -q "source=sk helpers subject=1:$hmac case=0:C1 small=-105 invalid=\"time outside years 0001-9999\" valid=-\$" \
    "$KPID_LOG" || fail "the helpers did not answer as documented"

# A restart loads what was committed: every key once, in bytewise order, across pages
# of 10000 rows.
kpid_run "$KPID_WORK/kpid.conf" --once || fail "second --once exited with $KPID_EXIT"
grep -q "source=sk state loaded keys=$((bulk + 2)) sorted=yes k=3 w=b d=- n=$bulk\$" "$KPID_LOG" ||
    fail "the restarted plugin did not load the committed state"
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'sk'" 2 "nothing new at the restart"

# ---- the file source: no state without its batch's commit ----
mkdir "$KPID_WORK/inbox"
make_events "$KPID_WORK/inbox/a.ndjson" a 50
cat >"$KPID_WORK/file.conf" <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = ( { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; interval = "100ms"; } );
CONF
kpid_start "$KPID_WORK/file.conf"
wait_for "SELECT count(*) = 1 FROM kpid.source_state WHERE source = 'events' AND value LIKE '%\"line\":50,%'" 30
before=$(sql "SELECT (SELECT count(*) FROM kpid.event WHERE source = 'events'),
                     (SELECT cursor FROM kpid.cursor WHERE source = 'events'),
                     (SELECT string_agg(key || '=' || value, ',') FROM kpid.source_state WHERE source = 'events')")
# Another session holds kpid.source_state: the next batch's transaction writes its events
# and its cursor, then waits for the table inside the transaction, before its COMMIT
# (the lease check, the state's EXECUTE and COMMIT travel together).
PGAPPNAME=kpid_test_locker psql -X -q -c "BEGIN; LOCK TABLE kpid.source_state IN ACCESS EXCLUSIVE MODE;
    SELECT pg_sleep(120); COMMIT" >/dev/null 2>&1 &
locker=$!
kpid_track_pid "$locker"
wait_for "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE a.application_name = 'kpid_test_locker' AND l.mode = 'AccessExclusiveLock'
          AND l.granted)" 30
make_events "$KPID_WORK/more.ndjson" a 80
tail -n 30 "$KPID_WORK/more.ndjson" >>"$KPID_WORK/inbox/a.ndjson"
wait_for "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE usename = '$KPID_PG_USER'
          AND wait_event_type = 'Lock' AND query LIKE '%EXECUTE kpid_state(%')" 30
# kill -9 between the batch's submit and the answer to its COMMIT. The COMMIT travels
# with the state's EXECUTE, so the orphaned transaction may still commit once the lock
# goes: whole or not at all, events, cursor and state together.
kpid_kill KILL
sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'kpid_test_locker'" >/dev/null
wait "$locker" 2>/dev/null || true
wait_for "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE usename = '$KPID_PG_USER'
          AND state = 'active' AND query LIKE '%EXECUTE kpid_state(%')" 30
got=$(sql "SELECT (SELECT count(*) FROM kpid.event WHERE source = 'events'),
                  (SELECT cursor FROM kpid.cursor WHERE source = 'events'),
                  (SELECT string_agg(key || '=' || value, ',') FROM kpid.source_state WHERE source = 'events')")
if [ "$got" != "$before" ]; then
    assert_sql "SELECT (SELECT count(*) FROM kpid.event WHERE source = 'events') = 80 AND
                (SELECT count(*) FROM kpid.source_state WHERE source = 'events'
                 AND value LIKE '%\"line\":80,%') = 1" t \
        "events, cursor and state after a kill inside the transaction: all of the batch or none"
fi
# The next run reads the uncommitted lines again: every line once.
kpid_run "$KPID_WORK/file.conf" --once || fail "kpid --once after the kill exited with $KPID_EXIT"
assert_sql "SELECT count(*), count(DISTINCT event_key), min(value), max(value) FROM kpid.event
            WHERE source = 'events'" "80|80|1|80" "every line once after the restart"
assert_sql "SELECT count(*) FROM kpid.source_state WHERE source = 'events' AND value LIKE '%\"line\":80,%'" 1 \
    "the state moved with the committed batch"
