# A spool folder of 100,000 files (issue 7, item 4): kpid --once ingests every line
# exactly once, the cursor stays the same few bytes whatever the number of files (the
# positions are keyed source state, one row per file), memory stays bounded, and later
# runs read only what is new.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init file_many

files=$(kpid_scale 100000 20000)
inbox=$KPID_WORK/inbox
mkdir "$inbox"
# spool FROM TO LINES: files f<n>.ndjson for n in FROM..TO, LINES events each, and their
# rows in expected.tsv (the columns of load_expected).
spool() {
    awk -v dir="$inbox" -v from="$1" -v to="$2" -v lines="$3" -v tsv="$KPID_WORK/expected.tsv" 'BEGIN {
        for (n = from; n <= to; n++) {
            f = sprintf("%s/f%06d.ndjson", dir, n)
            for (l = 1; l <= lines; l++) {
                key = sprintf("f%d-%d", n, l)
                t = sprintf("2025-01-%02dT%02d:%02d:00Z", 1 + n % 28, n % 24, l % 60)
                printf "{\"event_key\":\"%s\",\"case_id\":\"C%d\",\"subject_id\":\"P%d\",\"activity\":\"LAB_ORDER\",\"time\":\"%s\",\"value\":%d,\"attrs\":{\"ward\":\"W%d\"}}\n", key, n, n % 997, t, l, n % 7 > f
                printf "%s\tC%d\tP%d\tLAB_ORDER\t%s\t%d\t{\"ward\": \"W%d\"}\n", key, n, n % 997, t, l, n % 7 >> tsv
            }
            close(f)
        }
    }'
}
: >"$KPID_WORK/expected.tsv"
spool 1 "$files" 2
[ "$(find "$inbox" -name '*.ndjson' | wc -l)" = "$files" ] || fail "the spool was not written"
write_conf "$KPID_WORK/kpid.conf" "$inbox/*.ndjson"
load_expected "$KPID_WORK"

start=$(date +%s)
/usr/bin/time -f '%M' -o "$KPID_WORK/rss" "$KPID_BIN" -c "$KPID_WORK/kpid.conf" --once \
    </dev/null >>"$KPID_LOG" 2>&1 || fail "kpid --once over $files files exited with $?"
echo "ingested $files files in $(($(date +%s) - start)) s, max RSS $(cat "$KPID_WORK/rss") KiB" >&2
assert_events_exact
assert_sql "SELECT count(*) FROM kpid.rejected" 0 "nothing rejected"
assert_sql "SELECT cursor, length(cursor) FROM kpid.cursor WHERE source = 'events'" '{"v":2}|7' \
    "the cursor is constant"
assert_sql "SELECT count(*), count(*) FILTER (WHERE value LIKE '{\"off\":%,\"line\":2,%')
            FROM kpid.source_state WHERE source = 'events'" "$files|$files" "one state row per file"
# Bounded memory: about 200 bytes per file followed, far from the spool's size.
rss_max=$(kpid_scale 262144 1048576)
[ "$(cat "$KPID_WORK/rss")" -lt "$rss_max" ] || fail "kpid used $(cat "$KPID_WORK/rss") KiB"
grep -q 'cursor too large' "$KPID_LOG" && fail "the cursor grew with the files"

# Nothing new: a second run loads the positions and writes nothing.
before=$(sql "SELECT count(*), max(ingested_at), (SELECT max(updated_at) FROM kpid.source_state) FROM kpid.event")
kpid_run "$KPID_WORK/kpid.conf" --once || fail "the second run exited with $KPID_EXIT"
assert_eq "$(sql "SELECT count(*), max(ingested_at), (SELECT max(updated_at) FROM kpid.source_state) FROM kpid.event")" \
    "$before" "a run with nothing new"

# One file grows, ten new files arrive: only they are read.
printf '{"event_key":"grown-1","activity":"LAB_ORDER","time":"2025-02-01T00:00:00Z"}\n' >>"$inbox/f000001.ndjson"
printf 'grown-1\t\\N\t\\N\tLAB_ORDER\t2025-02-01T00:00:00Z\t\\N\t{}\n' >>"$KPID_WORK/expected.tsv"
spool $((files + 1)) $((files + 10)) 3
load_expected "$KPID_WORK"
kpid_run "$KPID_WORK/kpid.conf" --once || fail "the third run exited with $KPID_EXIT"
assert_events_exact
assert_sql "SELECT count(*) FROM kpid.source_state WHERE source = 'events'" $((files + 10)) \
    "state rows after new files"
assert_sql "SELECT length(cursor) FROM kpid.cursor WHERE source = 'events'" 7 "the cursor is still constant"
