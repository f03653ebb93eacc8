# Back-pressure without blocking and typed metrics (SDK ABI 1.2). The stream plugin
# `pressure` (tests/integration/plugins/pressure.c) submits with batch_try_submit and,
# on -EAGAIN, keeps its batch and waits for room with wait_room, as a Kafka consumer or
# an MLLP listener pauses. The queue is small and the warehouse blocked (another session
# holds LOCK TABLE kpid.event), so the queue fills and stays full until the lock goes:
#   1. the plugin pauses, its waits time out while the lock is held, room comes when it
#      goes, and every event arrives exactly once; its metrics (logged at debug level
#      when the source stops) say so: again = room + timeouts, batches and rows exact;
#   2. asked to stop while paused, wait_room answers -ECANCELED at once and the daemon
#      stops; nothing of that run is committed, and the next run, from the committed
#      cursor, brings every event exactly once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init sdk_backpressure

total=$(kpid_scale 2000 1000)
more=$((total + 500))
per_batch=20

mkdir "$KPID_WORK/plugins"
cp "$TEST_PLUGIN_DIR/pressure.so" "$KPID_WORK/plugins/"
export KPID_PLUGIN_DIR=$KPID_WORK/plugins
go=$KPID_WORK/go
# 100 events fit in the queue: five batches. The writer takes at most 100 rows into one
# transaction, so it cannot swallow the backlog before it blocks.
write_bp_conf() {
    cat >"$KPID_WORK/kpid.conf" <<CONF
log_level = "debug";
pseudonymize = false;
queue = { max_events = 100; max_bytes = 65536; };
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; batch_max_rows = 100; flush_interval_ms = 20; };
sources = ( { name = "bp"; plugin = "pressure"; total = $1; per_batch = $per_batch;
              wait_ms = 50; go_file = "$go";
              labels = ( { name = "feed"; value = "adt"; }, { name = "site"; value = "north"; } ); } );
CONF
}

# wait_log PATTERN [TIMEOUT_S]: waits until the daemon's log has a line matching PATTERN.
wait_log() {
    local i
    for ((i = 0; i < ${2:-30} * 10; i++)); do
        grep -q -- "$1" "$KPID_LOG" && return 0
        _kpid_alive "$KPID_PID" || fail "kpid exited while waiting for: $1"
        sleep 0.1
    done
    fail "timed out waiting for the log line: $1"
}

# metric NAME [FIELD]: the value of FIELD (value) of metric NAME in the last debug lines
# the source logged when it stopped (see kpid_metric_format).
metric() {
    grep "source=bp metric=$1 " "$KPID_LOG" | tail -n 1 | tr ' ' '\n' |
        sed -n "s/^${2:-value}=//p"
}

# ---- 1. The queue fills while the warehouse is blocked; nothing is lost. ----------------
write_bp_conf "$total"
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "kpid --migrate"
kpid_start "$KPID_WORK/kpid.conf"
wait_log 'source=bp starting plugin=pressure'
lock_table kpid.event 'ACCESS EXCLUSIVE'
touch "$go"
wait_log 'source=bp queue full: pausing'
wait_for "SELECT count(*) >= 1 FROM pg_stat_activity WHERE datname = current_database()
          AND application_name = 'kpid' AND wait_event_type = 'Lock'" 20
# Paused, the plugin polls on: its 50 ms waits time out while the lock is held. The next
# status line (every 5 s, at debug level) shows the queue full and within its bound: the
# next batch of 20 does not fit.
n_status=$(grep -c 'status events/s=' "$KPID_LOG" || true)
for ((i = 0; i < 100; i++)); do
    [ "$(grep -c 'status events/s=' "$KPID_LOG" || true)" -gt "$n_status" ] && break
    sleep 0.1
done
queued=$(grep 'status events/s=' "$KPID_LOG" | tail -n 1 | sed -n 's/.* queue_events=\([0-9]*\) .*/\1/p')
[ -n "$queued" ] && [ "$queued" -gt $((100 - per_batch)) ] && [ "$queued" -le 100 ] ||
    fail "while paused the queue held ${queued:-?} events, not 81 to 100"
# (The writer may have taken a first transaction's worth before it blocked: room came
# once then. Not any more now.)
resumed=$(grep -c 'source=bp room again' "$KPID_LOG" || true)
sleep 0.5
assert_eq "$(grep -c 'source=bp room again' "$KPID_LOG" || true)" "$resumed" \
    "resumptions while the writer waits on the lock"
unlock_table
wait_for "SELECT count(*) = $total FROM kpid.event WHERE source = 'bp'" 60
wait_log 'source=bp all submitted'
grep -q 'source=bp room again: resuming after again=[1-9]' "$KPID_LOG" ||
    fail "the plugin did not resume after the lock"
kpid_stop 0 15

assert_sql "SELECT count(*), count(DISTINCT event_key), min(value), max(value) FROM kpid.event
            WHERE source = 'bp'" "$total|$total|0|$((total - 1))" "every event once"
assert_sql "SELECT cursor FROM kpid.cursor WHERE source = 'bp'" "$total" "cursor"
assert_sql "SELECT count(*) FROM kpid.rejected" 0 "nothing rejected"

# The metrics, registered with the labels of the nested section, and their values.
batches=$((total / per_batch))
grep -q "source=bp metric=batches_total type=counter label.feed=\"adt\" label.site=\"north\" value=$batches\$" "$KPID_LOG" ||
    fail "no batches_total=$batches with the section's labels"
again=$(metric submit_again_total)
room=$(metric room_total)
timeouts=$(metric room_timeouts_total)
_kpid_say "paused: again=$again room=$room timeouts=$timeouts"
[ "${again:-0}" -ge 1 ] || fail "the plugin never saw -EAGAIN"
[ "${room:-0}" -ge 1 ] || fail "wait_room never said there is room"
[ "${timeouts:-0}" -ge 1 ] || fail "no wait_room timed out while the warehouse was blocked"
assert_eq "$again" "$((room + timeouts))" "every -EAGAIN followed by one wait for room"
assert_eq "$(metric room_cancelled_total)" 0 "cancelled waits"
assert_eq "$(metric paused)" 0 "paused gauge at the end"
assert_eq "$(metric next_tick)" "$total" "next_tick gauge"
# The histogram of rows per queued batch: -EAGAIN never changed a batch.
assert_eq "$(metric batch_rows count) $(metric batch_rows sum)" "$batches $total" "batch_rows count and sum"
assert_eq "$(metric batch_rows le.10) $(metric batch_rows le.50) $(metric batch_rows le.+Inf)" \
    "0 $batches $batches" "batch_rows buckets"
grep -q 'source=bp metric=batch_rows type=histogram label.feed="adt" label.site="north" count=' "$KPID_LOG" ||
    fail "the histogram lacks its labels"

# ---- 2. Stopped while paused: -ECANCELED, nothing half-written, nothing lost. -----------
write_bp_conf "$more"
rm -f "$go"
mv "$KPID_LOG" "$KPID_WORK/run1.log"
kpid_start "$KPID_WORK/kpid.conf"
wait_log 'source=bp starting plugin=pressure'
lock_table kpid.event 'ACCESS EXCLUSIVE'
touch "$go"
wait_log 'source=bp queue full: pausing'
t0=$(date +%s)
kpid_stop 0 15
[ $(($(date +%s) - t0)) -le 10 ] || fail "stopping while paused took more than 10 s"
grep -q 'source=bp stopped while paused' "$KPID_LOG" || fail "wait_room did not answer -ECANCELED"
assert_eq "$(metric room_cancelled_total)" 1 "cancelled waits"
assert_eq "$(metric submit_again_total)" \
    "$(($(metric room_total) + $(metric room_timeouts_total) + 1))" "waits of the stopped run"
assert_eq "$(metric paused)" 1 "paused gauge when stopped while paused"
unlock_table
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'bp'" "$total" "nothing of the stopped run"
assert_sql "SELECT cursor FROM kpid.cursor WHERE source = 'bp'" "$total" "cursor of the stopped run"

kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) = $more FROM kpid.event WHERE source = 'bp'" 60
kpid_stop 0 15
assert_sql "SELECT count(*), count(DISTINCT event_key), min(value), max(value) FROM kpid.event
            WHERE source = 'bp'" "$more|$more|0|$((more - 1))" "every event once after the stop"
assert_sql "SELECT cursor FROM kpid.cursor WHERE source = 'bp'" "$more" "cursor after the stop"
