# What the file source reads and what kpid.rejected keeps of it (issue 7, item 5 and the
# file parts of 11), against the real daemon and PostgreSQL:
#   - symbolic links in the inbox to a secret file and to the pseudonym key are refused
#     with one warning each: nothing of those files reaches kpid.event or kpid.rejected;
#     FIFOs are never opened; with follow_symlinks = true a link to a regular NDJSON
#     file is read;
#   - an event the host refuses (a time in year 10000 once its offset is applied) is
#     stored in kpid.rejected with its raw line, like any other rejection;
#   - with pseudonymization on, a rejected JSON line keeps the pseudonym, never the clear
#     subject_id (nor case_id where that is pseudonymized); a line that is not JSON keeps
#     no raw at all and its reason quotes none of it; rejected_raw "full" keeps the
#     line's first 1024 bytes, "none" nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init file_safety

key=$(tr -d '\n' <"$KPID_TEST_KEY_FILE")
sql "CREATE EXTENSION IF NOT EXISTS pgcrypto" >/dev/null
mkdir "$KPID_WORK/inbox" "$KPID_WORK/elsewhere" "$KPID_WORK/p" "$KPID_WORK/full" "$KPID_WORK/none"

# ---- symbolic links ----
printf 'TOP-SECRET-VALUE\nroot:$6$hash:19000:0:99999:7:::\n' >"$KPID_WORK/secret"
make_events "$KPID_WORK/inbox/ok.ndjson" ok 3
ln -s "$KPID_WORK/secret" "$KPID_WORK/inbox/leak.ndjson"
ln -s "$KPID_TEST_KEY_FILE" "$KPID_WORK/inbox/key.ndjson"
mkfifo "$KPID_WORK/inbox/fifo.ndjson"
make_events "$KPID_WORK/elsewhere/real.ndjson" linked 4

cat >"$KPID_WORK/links.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonym_key_file = "$KPID_TEST_KEY_FILE";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 50; };
sources = ( { name = "links"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; } );
CONF
# A FIFO opened for reading would block the source forever: bound the run.
timeout 60 "$KPID_BIN" -c "$KPID_WORK/links.conf" --once >>"$KPID_LOG" 2>&1 ||
    fail "kpid --once with links in the inbox exited with $?"
assert_sql "SELECT string_agg(event_key, ',' ORDER BY event_key) FROM kpid.event" "ok-1,ok-2,ok-3" \
    "only the regular file was read"
assert_sql "SELECT count(*) FROM kpid.rejected" 0 "nothing of the linked files was rejected"
assert_sql "SELECT count(*) FROM kpid.event WHERE attrs::text LIKE '%SECRET%' OR case_id LIKE '%SECRET%'" 0 \
    "no secret in the events"
for link in leak key; do
    n=$(grep -c "source=links symbolic link refused, not reading it: path=\"$KPID_WORK/inbox/$link.ndjson\"; set follow_symlinks = true" "$KPID_LOG" || true)
    assert_eq "$n" 1 "warnings for $link.ndjson"
done
grep -q "TOP-SECRET\|$key" "$KPID_LOG" && fail "the log holds what a link points to"

# follow_symlinks: a link to a regular NDJSON file is read; the links to the secret and
# the key are taken out of the inbox first, since they would be followed too.
rm "$KPID_WORK/inbox/leak.ndjson" "$KPID_WORK/inbox/key.ndjson"
ln -s "$KPID_WORK/elsewhere/real.ndjson" "$KPID_WORK/inbox/linked.ndjson"
sed -i 's|path = "\([^"]*\)";|path = "\1"; follow_symlinks = true;|' "$KPID_WORK/links.conf"
timeout 60 "$KPID_BIN" -c "$KPID_WORK/links.conf" --once >>"$KPID_LOG" 2>&1 ||
    fail "kpid --once with follow_symlinks exited with $?"
assert_sql "SELECT string_agg(event_key, ',' ORDER BY event_key) FROM kpid.event" \
    "linked-1,linked-2,linked-3,linked-4,ok-1,ok-2,ok-3" "the linked file was read"
assert_sql "SELECT count(*) FROM kpid.rejected" 0 "nothing rejected with follow_symlinks"

# ---- rejected raw ----
sql "DELETE FROM kpid.event" >/dev/null
# reject_lines FILE: the same rejected lines for each mode, and one good event.
reject_lines() {
    {
        # 1: an invalid activity (the parser rejects it)
        printf '{"event_key":"r1","case_id":"C-CLEAR-1","subject_id":"P-CLEAR-1","activity":"bad act","time":"2025-01-01T00:00:00Z"}\n'
        # 2: a time the host refuses: 9999-12-31T23:00-05:00 is 10000-01-01T04:00Z
        printf '{"event_key":"r2","case_id":"C-CLEAR-2","subject_id":"P-CLEAR-2","activity":"ADMISSION","time":"9999-12-31T23:00:00-05:00"}\n'
        # 3: a numeric subject id
        printf '{"event_key":"r3","subject_id":4711,"activity":"ADMISSION","time":"2025-01-01T00:00:00Z"}\n'
        # 4: not JSON
        printf 'P-CLEAR-4 was admitted\n'
        # 5: JSON with an unquoted identifier: jansson would quote it in the reason
        printf '{"event_key":"r5","subject_id":PCLEAR5}\n'
        # 6: a line longer than max_line_bytes (2048), with an identifier in its head
        printf '{"event_key":"r6","subject_id":"P-CLEAR-6","attrs":{"x":"%s"}}\n' "$(head -c 3000 /dev/zero | tr '\0' y)"
        ev good-1 C1 P1 ADMISSION 2025-01-02T00:00:00Z
    } >"$1"
}
for mode in p full none; do
    reject_lines "$KPID_WORK/$mode/a.ndjson"
done
cat >"$KPID_WORK/raw.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonym_key_file = "$KPID_TEST_KEY_FILE";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 50; };
sources = (
    { name = "p"; plugin = "file"; path = "$KPID_WORK/p/*.ndjson"; pseudonymize_case_id = true;
      max_line_bytes = 2048; },
    { name = "full"; plugin = "file"; path = "$KPID_WORK/full/*.ndjson"; rejected_raw = "full";
      max_line_bytes = 2048; },
    { name = "none"; plugin = "file"; path = "$KPID_WORK/none/*.ndjson"; rejected_raw = "none";
      max_line_bytes = 2048; }
);
CONF
kpid_run "$KPID_WORK/raw.conf" --once || fail "kpid --once with rejected lines exited with $KPID_EXIT"
assert_sql "SELECT string_agg(source || ':' || event_key, ',' ORDER BY source) FROM kpid.event" \
    "full:good-1,none:good-1,p:good-1" "the good event of each source"
assert_sql "SELECT count(*) FROM kpid.rejected GROUP BY source ORDER BY source" "6
6
6" "six rejected lines per source"

# hmac X: the pseudonym kpid stores for X, computed by PostgreSQL.
hmac() { sql "SELECT encode(hmac('$1', '$key', 'sha256'), 'hex')"; }
raw() { sql "SELECT coalesce(raw, 'NULL') FROM kpid.rejected WHERE source = '$1' AND locator LIKE '%:$2'"; }

# Pseudonymized (the default): JSON lines with their identifiers replaced, compact.
assert_eq "$(raw p 1)" \
    "{\"event_key\":\"r1\",\"case_id\":\"$(hmac C-CLEAR-1)\",\"subject_id\":\"$(hmac P-CLEAR-1)\",\"activity\":\"bad act\",\"time\":\"2025-01-01T00:00:00Z\"}" \
    "pseudonymized raw of an invalid line"
assert_eq "$(raw p 2)" \
    "{\"event_key\":\"r2\",\"case_id\":\"$(hmac C-CLEAR-2)\",\"subject_id\":\"$(hmac P-CLEAR-2)\",\"activity\":\"ADMISSION\",\"time\":\"9999-12-31T23:00:00-05:00\"}" \
    "pseudonymized raw of a time the host refuses"
assert_sql "SELECT reason FROM kpid.rejected WHERE source = 'p' AND locator LIKE '%:2'" \
    "time outside years 0001-9999" "the host's reason"
assert_eq "$(raw p 3)" \
    "{\"event_key\":\"r3\",\"subject_id\":\"$(hmac 4711)\",\"activity\":\"ADMISSION\",\"time\":\"2025-01-01T00:00:00Z\"}" \
    "pseudonymized raw of a numeric subject id"
for line in 4 5 6; do
    assert_eq "$(raw p $line)" NULL "no raw for line $line, which is not a whole JSON object"
done
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source IN ('p', 'none')
            AND (coalesce(raw, '') || reason) ~ '(P-CLEAR|C-CLEAR|4711|PCLEAR)'" 0 \
    "no clear identifier in raw or reason"
assert_sql "SELECT reason FROM kpid.rejected WHERE source = 'p' AND locator LIKE '%:5'" \
    "invalid JSON at column 37: invalid token" "the reason quotes nothing of the line"
# Every locator points to its line.
assert_sql "SELECT string_agg(regexp_replace(locator, '^.*/', ''), ',' ORDER BY locator)
            FROM kpid.rejected WHERE source = 'p'" \
    "a.ndjson:1,a.ndjson:2,a.ndjson:3,a.ndjson:4,a.ndjson:5,a.ndjson:6" "locators"

# full: the line's first bytes, at most 1024; the refused time has its raw too.
assert_eq "$(raw full 2)" "$(sed -n 2p "$KPID_WORK/full/a.ndjson")" "full raw of a time the host refuses"
assert_eq "$(raw full 4)" "P-CLEAR-4 was admitted" "full raw of a line that is not JSON"
assert_sql "SELECT length(raw), raw = left('$(sed -n 6p "$KPID_WORK/full/a.ndjson")', 1024)
            FROM kpid.rejected WHERE source = 'full' AND locator LIKE '%:6'" "1024|t" "the head of a long line"
assert_sql "SELECT max(octet_length(raw)) <= 1024 FROM kpid.rejected" t "no raw beyond 1024 bytes"

# none: locator and reason only.
assert_sql "SELECT count(*), count(raw) FROM kpid.rejected WHERE source = 'none'" "6|0" "no raw at all"
