# A source whose poll fails is restarted with capped exponential backoff and never takes
# the daemon down; a slow source does not stall the others.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init source_failures

mkdir "$KPID_WORK/plugins" "$KPID_WORK/inbox"
cp "$KPID_PLUGIN_DIR"/file.so "$TEST_PLUGIN_DIR"/flaky.so "$KPID_WORK/plugins/"
cat >"$KPID_WORK/kpid.conf" <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = (
    { name = "flaky"; plugin = "flaky"; fail_first = 3; total = 50; interval = "100ms"; },
    { name = "slow"; plugin = "flaky"; sleep_ms = 20000; total = 10; interval = "100ms"; },
    { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; interval = "100ms"; }
);
CONF
export KPID_PLUGIN_DIR=$KPID_WORK/plugins
kpid_start "$KPID_WORK/kpid.conf"
start=$(date +%s)
make_events "$KPID_WORK/inbox/a.ndjson" a 400
# The file source is not held up by the slow one, which sleeps 20 s in its first poll.
wait_for "SELECT count(*) = 400 FROM kpid.event WHERE source = 'events'" 15
[ $(($(date +%s) - start)) -lt 15 ] || fail "the file source waited for the slow one"
# The failing source comes back after three failures: restarts after 1 s, 2 s, 4 s.
wait_for "SELECT count(*) = 50 FROM kpid.event WHERE source = 'flaky'" 30
_kpid_alive "$KPID_PID" || fail "the daemon died"
assert_eq "$(grep -c 'source=flaky poll failed' "$KPID_LOG")" 3 "failures logged"
grep 'source=flaky restarting' "$KPID_LOG" | sed -n 's/.*in=\([0-9]*\)ms.*/\1/p' >"$KPID_WORK/backoff"
assert_eq "$(tr '\n' ' ' <"$KPID_WORK/backoff")" "1000 2000 4000 " "backoff doubles"
# The cursor of each source is its own.
assert_sql "SELECT cursor FROM kpid.cursor WHERE source = 'flaky'" 50 "flaky cursor"
# SIGTERM while the slow source sleeps in its poll: the daemon still stops, within 10 s.
kpid_stop 0 10
grep -q 'source=slow did not stop in time' "$KPID_LOG" || fail "no word about the stuck source"
