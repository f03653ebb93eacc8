# systemd integration: READY=1 after migrations and start, STATUS= with events/s and
# queue depth, WATCHDOG=1 while the watchdog is on, STOPPING=1 at SIGTERM; priority
# prefixes on every log line.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init systemd_notify

mkdir "$KPID_WORK/inbox"
make_events "$KPID_WORK/inbox/a.ndjson" a 2000
write_conf "$KPID_WORK/kpid.conf" "$KPID_WORK/inbox/*.ndjson"
sock=$KPID_WORK/notify.sock
"$NOTIFY_LISTEN" "$sock" 30 >"$KPID_WORK/notify.txt" &
kpid_track_pid $!
listener=$!
for i in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "the notification socket did not appear"

NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) = 2000 FROM kpid.event" 30
sleep 6 # one status period
kpid_stop 0 10
for i in $(seq 1 50); do kill -0 "$listener" 2>/dev/null || break; sleep 0.1; done

cat "$KPID_WORK/notify.txt" >&2
grep -q '^READY=1' "$KPID_WORK/notify.txt" || fail "no READY=1"
grep -q '^STATUS=events/s=[0-9]* queue_events=[0-9]* queue_bytes=[0-9]* warehouse=ok' \
    "$KPID_WORK/notify.txt" || fail "no STATUS= with rate and queue depth"
[ "$(grep -c '^WATCHDOG=1' "$KPID_WORK/notify.txt")" -ge 5 ] || fail "fewer than 5 watchdog pings"
tail -n 1 "$KPID_WORK/notify.txt" | grep -q 'STOPPING=1' || fail "STOPPING=1 is not the last message"
# READY comes after the migrations: the schema exists by then.
grep -q '^<[0-7]>' "$KPID_LOG" || fail "log lines lack priority prefixes"
! grep -v -e '^<[0-7]>' -e '^--- kpid_' "$KPID_LOG" | grep -q . || fail "a log line without priority prefix"
