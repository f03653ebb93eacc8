# Acceptance (a), (b), (f): every event of generated files is in kpid.event exactly
# once; replaying the same files adds nothing; malformed lines are in kpid.rejected with
# their line numbers and the rest is ingested.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init file_ingest

n=$(kpid_scale 60000 15000)
"$HOSPGEN" --seed 7 --events "$n" --out "$KPID_WORK/gen" --files 4 --malformed 12
mkdir "$KPID_WORK/inbox"
cp "$KPID_WORK"/gen/*.ndjson "$KPID_WORK/inbox/"
write_conf "$KPID_WORK/kpid.conf" "$KPID_WORK/inbox/*.ndjson"
load_expected "$KPID_WORK/gen"

kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once exited with $KPID_EXIT"

# (a) exactly once, with corrections applied and retractions honoured.
assert_events_exact
# (f) each malformed line is in kpid.rejected under its file and line number.
want=$(awk -F'\t' '{print $1 ":" $2}' "$KPID_WORK/gen/malformed.tsv" | sort)
got=$(sql "SELECT regexp_replace(locator, '^.*/', '') FROM kpid.rejected ORDER BY 1" | sort)
assert_eq "$got" "$want" "rejected lines"
assert_sql "SELECT bool_and(reason <> '' AND source = 'events') FROM kpid.rejected" t "reasons"
# A cursor was stored with the events.
assert_sql "SELECT count(*) FROM kpid.cursor WHERE source = 'events'" 1 "cursor"

before=$(sql "SELECT count(*), max(ingested_at), (SELECT count(*) FROM kpid.rejected) FROM kpid.event")

# (b) replay: again from the stored cursor (nothing new) ...
kpid_run "$KPID_WORK/kpid.conf" --once || fail "second --once exited with $KPID_EXIT"
assert_eq "$(sql "SELECT count(*), max(ingested_at), (SELECT count(*) FROM kpid.rejected) FROM kpid.event")" \
    "$before" "state after a run with nothing new"
# ... from the beginning, with the cursor gone: every event is read again, no row is
# added, and only events that the input states more than once (corrections) are
# rewritten on the way, since their older statement is read again before the newer.
mark=$(sql "SELECT max(ingested_at) FROM kpid.event")
sql "DELETE FROM kpid.cursor" >/dev/null
kpid_run "$KPID_WORK/kpid.conf" --once || fail "replay exited with $KPID_EXIT"
assert_eq "$(sql "SELECT count(*), (SELECT count(*) FROM kpid.rejected) FROM kpid.event")" \
    "$(echo "$before" | cut -d'|' -f1,3)" "events and rejects after replaying from the start"
cat "$KPID_WORK"/gen/*.ndjson | grep -ao '"event_key":"[^"]*"' | sort | uniq -d |
    sed 's/^"event_key":"//; s/"$//' >"$KPID_WORK/restated.txt"
sql "CREATE TABLE restated (event_key text)" >/dev/null
sql "\\copy restated FROM '$KPID_WORK/restated.txt'" >/dev/null
assert_sql "SELECT count(*) FROM kpid.event WHERE ingested_at > '$mark'
            AND event_key NOT IN (SELECT event_key FROM restated)" 0 "rows rewritten by a replay"
assert_events_exact
before=$(sql "SELECT count(*), max(ingested_at), (SELECT count(*) FROM kpid.rejected) FROM kpid.event")
# ... and the same files under new names.
for f in "$KPID_WORK"/gen/*.ndjson; do
    cp "$f" "$KPID_WORK/inbox/replay-$(basename "$f")"
done
mark=$(sql "SELECT max(ingested_at) FROM kpid.event")
kpid_run "$KPID_WORK/kpid.conf" --once || fail "replay of copies exited with $KPID_EXIT"
assert_eq "$(sql "SELECT count(*) FROM kpid.event")" "$(echo "$before" | cut -d'|' -f1)" \
    "events after replaying copies"
assert_sql "SELECT count(*) FROM kpid.event WHERE ingested_at > '$mark'
            AND event_key NOT IN (SELECT event_key FROM restated)" 0 "rows rewritten by copies"
assert_events_exact
# The copies' malformed lines are recorded under the copies' names.
assert_sql "SELECT count(*) FROM kpid.rejected WHERE locator LIKE '%/replay-%'" \
    "$(wc -l <"$KPID_WORK/gen/malformed.tsv")" "rejected lines of the copies"
