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
