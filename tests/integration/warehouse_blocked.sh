# A warehouse that blocks: another session holds LOCK TABLE kpid.event while kpid has
# events to write. The watchdog keeps pinging (the writer waits on purpose, and says so
# in STATUS= and in one notice naming the blocking session); SIGTERM during the wait is
# answered within 10 s, the statement canceled and nothing committed; after the lock,
# the next run ingests every event exactly once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init warehouse_blocked

# The lock is held 60 s (30 s in sanitizer runs); WatchdogSec is 4 s here, so pings
# must come at least every 2 s, all through the wait.
lock_s=60
[ "$KPID_TEST_SCALE" = small ] && lock_s=30
watchdog_s=4

mkdir "$KPID_WORK/inbox"
make_events "$KPID_WORK/inbox/a.ndjson" a 500
cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = {
    conninfo = "$KPID_TEST_CONNINFO";
    flush_interval_ms = 50;
    lock_timeout = "5m";
    wait_notice = "3s";
};
sources = ( { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; interval = "100ms"; } );
CONF

sock=$KPID_WORK/notify.sock
"$NOTIFY_LISTEN" -t "$sock" $((lock_s + 60)) >"$KPID_WORK/notify.txt" &
kpid_track_pid $!
for i in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "the notification socket did not appear"

NOTIFY_SOCKET=$sock WATCHDOG_USEC=$((watchdog_s * 1000000)) kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) = 500 FROM kpid.event" 30

# The locker: its backend pid first, then the lock, held lock_s seconds.
psql -X -A -t -q -v ON_ERROR_STOP=1 >"$KPID_WORK/locker.txt" 2>&1 <<SQL &
SELECT pg_backend_pid();
BEGIN;
LOCK TABLE kpid.event IN ACCESS EXCLUSIVE MODE;
SELECT pg_sleep($lock_s);
COMMIT;
SQL
locker=$!
kpid_track_pid "$locker"
wait_for "SELECT count(*) = 1 FROM pg_locks WHERE relation = 'kpid.event'::regclass
          AND mode = 'AccessExclusiveLock' AND granted" 20
lock_t0=$(date +%s)
locker_backend=$(head -n 1 "$KPID_WORK/locker.txt")
case "$locker_backend" in '' | *[!0-9]*) fail "no backend pid from the locker: $locker_backend" ;; esac

make_events "$KPID_WORK/inbox/b.ndjson" b 300
# kpid's writer waits for the lock...
wait_for "SELECT count(*) >= 1 FROM pg_stat_activity WHERE datname = current_database()
          AND application_name = 'kpid' AND wait_event_type = 'Lock'" 20
# ... and keeps the watchdog fed until SIGTERM, which comes 15 s before the lock ends.
sleep $((lock_s - 15 - ($(date +%s) - lock_t0)))
grep -q "warehouse statement waiting waited=[0-9]*s wait_event=Lock:relation relation=\"kpid.event\" blocked_by=\"pid=$locker_backend user=" "$KPID_LOG" ||
    fail "no notice naming the blocking session (pid $locker_backend)"
[ "$(grep -c 'warehouse statement waiting' "$KPID_LOG")" -eq 1 ] ||
    fail "the wait was not logged exactly once"
grep -q 'STATUS=.* warehouse=waiting waited=[0-9]*s' "$KPID_WORK/notify.txt" ||
    fail "STATUS= never said the warehouse is being waited for"

t0=$(date +%s.%N)
kpid_stop 0 15
t1=$(date +%s.%N)
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
_kpid_say "SIGTERM answered in ${took}s with the lock held"
awk -v t="$took" 'BEGIN { exit !(t <= 10) }' || fail "SIGTERM took ${took}s (more than 10 s)"
# The lock was still held: nothing of b committed, and the locker is still waiting.
kill -0 "$locker" 2>/dev/null || fail "the lock ended before SIGTERM: the test proves nothing"
grep -q 'stopping: canceling the warehouse statement in progress' "$KPID_LOG" ||
    fail "the statement in progress was not canceled"

# Pings: from READY to STOPPING, never more than WatchdogSec/2 apart.
for i in $(seq 1 50); do grep -q 'STOPPING=1' "$KPID_WORK/notify.txt" && break; sleep 0.1; done
awk -v max=$((watchdog_s / 2)) '
    / WATCHDOG=1/ { if (last != "" && $1 - last > max) { printf "gap %.2fs before %s\n", $1 - last, $1; bad = 1 } last = $1; n++ }
    END { if (n < 10) { printf "only %d pings\n", n; bad = 1 } exit bad }' "$KPID_WORK/notify.txt" ||
    fail "watchdog pings stopped while the writer waited on the lock"

# After the lock: every event exactly once. The locker's last seconds prove nothing more:
# its session is ended rather than waited for.
assert_sql "SELECT pg_terminate_backend($locker_backend)" t "the locker's session ended"
wait "$locker" 2>/dev/null || true
wait_for "SELECT count(*) = 0 FROM pg_locks WHERE relation = 'kpid.event'::regclass" 10
assert_sql "SELECT count(*) FROM kpid.event" 500 "events committed while the lock was held"
kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once after the lock exited $KPID_EXIT"
assert_sql "SELECT count(*), count(DISTINCT event_key) FROM kpid.event" "800|800" "events after the lock"

# Starting up while another instance migrates (its migration lock held): SIGTERM is
# answered within 10 s as well, with nothing written.
psql -X -A -t -q -v ON_ERROR_STOP=1 >"$KPID_WORK/migrator.txt" 2>&1 <<SQL &
SELECT pg_advisory_lock(1802529124, 1);
SELECT pg_sleep(30);
SQL
migrator=$!
kpid_track_pid "$migrator"
wait_for "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 1
          AND classid = 1802529124 AND granted" 20
kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) >= 1 FROM pg_stat_activity WHERE datname = current_database()
          AND application_name = 'kpid' AND wait_event_type = 'Lock'" 20
sleep 1
t0=$(date +%s.%N)
kpid_stop 0 15
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
_kpid_say "SIGTERM answered in ${took}s while waiting for the migration lock"
awk -v t="$took" 'BEGIN { exit !(t <= 10) }' || fail "SIGTERM at start-up took ${took}s (more than 10 s)"
kpid_signal_child TERM "$migrator" || true
