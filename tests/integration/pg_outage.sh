# Acceptance (d): PostgreSQL is stopped for 30 s while kpid ingests, and started again:
# the daemon stays up, says so once per state change, and ends with the exact set.
# This test needs a server of its own to stop. The sanitizer stage (KPID_TEST_SCALE=small)
# stops it for 10 s: several reconnection attempts all the same.
unset PGHOST PGPORT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init pg_outage

n=$(kpid_scale 300000 60000)
down_s=$(kpid_scale 30 10)
"$HOSPGEN" --seed 99 --events "$n" --out "$KPID_WORK/gen" --files 6
mkdir "$KPID_WORK/inbox"
cp "$KPID_WORK"/gen/events-000[123].ndjson "$KPID_WORK/inbox/"
write_conf "$KPID_WORK/kpid.conf" "$KPID_WORK/inbox/*.ndjson"
load_expected "$KPID_WORK/gen"
total=$(sql "SELECT count(*) FROM expected")

kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) >= $((total / 10)) FROM kpid.event" 120
pg_stop "$_kpid_private_pg"
echo "PostgreSQL stopped at $(date +%T)" >&2
# More input arrives while the warehouse is down.
cp "$KPID_WORK"/gen/events-000[456].ndjson "$KPID_WORK/inbox/"
for i in $(seq 1 "$down_s"); do
    sleep 1
    _kpid_alive "$KPID_PID" || fail "kpid died while PostgreSQL was down"
done
pg_start "$_kpid_private_pg"
echo "PostgreSQL started at $(date +%T)" >&2
export PGDATABASE=$KPID_TEST_DB
wait_for "SELECT count(*) >= $total FROM kpid.event" 300
kpid_stop 0 15
kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once exited with $KPID_EXIT"
assert_events_exact
# Once per state change, not once per attempt.
assert_eq "$(grep -c 'warehouse unavailable' "$KPID_LOG")" 1 "unavailable messages"
assert_eq "$(grep -c 'warehouse available again' "$KPID_LOG")" 1 "available-again messages"
