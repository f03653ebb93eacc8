# Pseudonymization: subject_id (and case_id when configured) are HMAC-SHA256 under the
# key file, checked against PostgreSQL's own pgcrypto; a missing or short key refuses to
# start with exit 78.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init pseudonymize

"$HOSPGEN" --seed 11 --events 3000 --out "$KPID_WORK/gen"
mkdir "$KPID_WORK/inbox"
cp "$KPID_WORK"/gen/*.ndjson "$KPID_WORK/inbox/"
write_conf "$KPID_WORK/kpid.conf" "$KPID_WORK/inbox/*.ndjson" \
    "pseudonym_key_file = \"$KPID_TEST_KEY_FILE\";"
sed -i 's/interval = "100ms";/interval = "100ms"; pseudonymize_case_id = true;/' "$KPID_WORK/kpid.conf"
load_expected "$KPID_WORK/gen"

kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once exited with $KPID_EXIT"

key=$(tr -d '\n' <"$KPID_TEST_KEY_FILE")
sql "CREATE EXTENSION IF NOT EXISTS pgcrypto" >/dev/null
assert_sql "SELECT count(*) FROM expected" "$(sql "SELECT count(*) FROM kpid.event")" "event count"
# Every stored id is the HMAC of the clear one; no clear id is stored.
assert_sql "SELECT count(*) FROM kpid.event e JOIN expected x USING (event_key)
            WHERE e.subject_id IS DISTINCT FROM encode(hmac(x.subject_id, '$key', 'sha256'), 'hex')
               OR e.case_id IS DISTINCT FROM encode(hmac(x.case_id, '$key', 'sha256'), 'hex')" 0 \
    "ids are HMAC-SHA256 of the originals"
assert_sql "SELECT count(*) FROM kpid.event e JOIN expected x USING (event_key)
            WHERE e.subject_id = x.subject_id OR e.case_id = x.case_id" 0 "no clear ids"

# A short key, and a missing one, are configuration errors.
printf 'short\n' >"$KPID_WORK/short.key"
sed "s|$KPID_TEST_KEY_FILE|$KPID_WORK/short.key|" "$KPID_WORK/kpid.conf" >"$KPID_WORK/short.conf"
kpid_run "$KPID_WORK/short.conf" --check-config && fail "a short key was accepted"
assert_eq "$KPID_EXIT" 78 "exit status with a short key"
grep -q "short.conf:[0-9]*: .*pseudonym key" "$KPID_LOG" || fail "no FILE:LINE message for the short key"
sed "s|$KPID_TEST_KEY_FILE|$KPID_WORK/none.key|" "$KPID_WORK/kpid.conf" >"$KPID_WORK/none.conf"
kpid_run "$KPID_WORK/none.conf" --once && fail "a missing key was accepted"
assert_eq "$KPID_EXIT" 78 "exit status with a missing key"
