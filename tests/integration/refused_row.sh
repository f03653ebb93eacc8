# A row that PostgreSQL refuses for good (here: a constraint an operator added) is
# isolated by bisection and moved to kpid.rejected; every other row is ingested.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init refused_row

mkdir "$KPID_WORK/inbox"
write_conf "$KPID_WORK/kpid.conf" "$KPID_WORK/inbox/*.ndjson"
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "--migrate exited with $KPID_EXIT"
sql "ALTER TABLE kpid.event ADD CONSTRAINT no_poison CHECK (event_key NOT LIKE '%poison%')" >/dev/null
make_events "$KPID_WORK/inbox/a.ndjson" ok 3000
# Three poisoned events spread over the file, one of them a retraction's neighbour.
sed -i -e '17s/"event_key":"ok-17"/"event_key":"poison-1"/' \
       -e '1500s/"event_key":"ok-1500"/"event_key":"poison-2"/' \
       -e '2999s/"event_key":"ok-2999"/"event_key":"poison-3"/' "$KPID_WORK/inbox/a.ndjson"
printf '{"event_key":"ok-5","retract":true}\n' >>"$KPID_WORK/inbox/a.ndjson"

kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 2996 "events ingested around the refused ones"
assert_sql "SELECT count(*) FROM kpid.event WHERE event_key IN ('ok-5', 'ok-17', 'ok-1500')" 0 \
    "retracted and replaced keys"
assert_sql "SELECT string_agg(locator, ',' ORDER BY locator) FROM kpid.rejected" \
    "key:poison-1,key:poison-2,key:poison-3" "refused rows"
assert_sql "SELECT bool_and(reason LIKE '%no_poison%') FROM kpid.rejected" t "reason names the constraint"
# The warehouse's messages are logged escaped: the constraint's name is quoted in them.
assert_eq "$(grep -cF 'row refused source=events sqlstate=23514 reason="ERROR:  new row for relation \"event\" violates check constraint \"no_poison\"' "$KPID_LOG")" 3 \
    "log lines of the refused rows, with the reason escaped"
assert_sql "SELECT count(*) FROM kpid.rejected WHERE reason LIKE '%constraint \"no\_poison\"%'" 3 \
    "kpid.rejected keeps the reason as the warehouse said it"

# A table the writer needs is missing (an operator renamed it): the error is logged,
# escaped, and the batch is kept until the table is back.
sql "ALTER TABLE kpid.event RENAME TO event_away" >/dev/null
kpid_start "$KPID_WORK/kpid.conf"
make_events "$KPID_WORK/inbox/b.ndjson" b 10
for ((i = 0; i < 300; i++)); do
    grep -q 'sqlstate=42P01' "$KPID_LOG" && break
    sleep 0.1
done
grep -qF 'error="ERROR:  relation \"kpid.event\" does not exist' "$KPID_LOG" ||
    fail "no escaped missing-relation error in the log"
sql "ALTER TABLE kpid.event_away RENAME TO event" >/dev/null
wait_for "SELECT count(*) = 10 FROM kpid.event WHERE event_key LIKE 'b-%'" 60
kpid_stop 0
assert_log_values_escaped
