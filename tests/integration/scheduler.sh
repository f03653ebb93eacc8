# The KPI scheduler: a process firing every 5 seconds (a schedule of seconds) evaluates
# its KPIs while the daemon runs; at start a process that never ran gets one catch-up tick; a second instance on
# the same warehouse evaluates no firing a second time; SIGTERM stops both within 10 s;
# --once ingests and then evaluates.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init scheduler

mkdir "$KPID_WORK/inbox"
declare -A written=() # events written per UTC day

# admissions FILE PREFIX N: N admissions at the current time, written into the inbox
# whole (through a rename), counted in written[day].
admissions() {
    local now day i
    now=$(date -u +%FT%TZ)
    day=${now%%T*}
    for ((i = 1; i <= $3; i++)); do
        printf '{"event_key":"%s-%d","case_id":"%s%d","subject_id":"P%d","activity":"ADMISSION","time":"%s"}\n' \
            "$2" "$i" "$2" "$i" "$i" "$now"
    done >"$KPID_WORK/$1.tmp"
    mv "$KPID_WORK/$1.tmp" "$KPID_WORK/inbox/$1"
    written[$day]=$((${written[$day]:-0} + $3))
    last_day=$day
}

# conf FILE SOURCES: one process in UTC firing every 5 seconds, with a count per day and
# a count over the last hour (a rolling window).
conf() {
    cat >"$1" <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = ( $2 );
objectives = ( { id = "flow"; name = "Patient flow"; perspective = "internal"; } );
processes = (
  { id = "admission"; name = "Admission"; category = "main"; timezone = "UTC";
    schedule = "*/5 * * * * *";
    kpis = (
      { id = "admissions"; name = "Admissions per day"; type = "count"; period = "day";
        direction = "higher"; objective = "flow"; activity = "ADMISSION"; },
      { id = "admissions_1h"; name = "Admissions, last hour"; type = "count";
        period = "last 1h"; direction = "higher"; objective = "flow"; activity = "ADMISSION"; }
    ); }
);
CONF
}
conf "$KPID_WORK/kpid.conf" "{ name = \"events\"; plugin = \"file\"; path = \"$KPID_WORK/inbox/*.ndjson\"; interval = \"100ms\"; }"
conf "$KPID_WORK/second.conf" "" # the second instance only evaluates

# day_value DAY: the whole-population value of the day's count, "" when none.
day_value() {
    sql "SELECT value FROM kpid.kpi_value WHERE kpi_id = 'admissions'
         AND period_start = '$1 00:00:00+00' AND stratum = '{}'"
}

# firing SQL_TIMESTAMP: the firing (a multiple of 5 s) a run started at belongs to.
firing() { printf "to_timestamp(floor(extract(epoch FROM %s) / 5) * 5)" "$1"; }

# 1. The first tick is the catch-up at start; the value of the day comes at the latest
#    with the next firing's tick (the catch-up may run before the events are written).
admissions a.ndjson a 5
first_started=$(date +%s)
KPID_LOG_LEVEL=debug kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) = 5 FROM kpid.event" 30
wait_for "SELECT value = ${written[$last_day]} FROM kpid.kpi_value WHERE kpi_id = 'admissions'
          AND period_start = '$last_day 00:00:00+00' AND stratum = '{}'" 20
# One catch-up tick, not one per missed firing: the day and the day before, the window.
assert_sql "SELECT count(*) FILTER (WHERE kpi_id = 'admissions'),
                   count(*) FILTER (WHERE kpi_id = 'admissions_1h'),
                   count(*) FILTER (WHERE error IS NOT NULL)
            FROM kpid.kpi_run WHERE reason = 'catchup'" "2|1|0" "one catch-up tick at start"
assert_sql "SELECT count(*) FROM kpid.kpi WHERE active" 2 "the model is synced"

# 2. More events, ingested by the first instance; then a second instance on the same
#    warehouse. The next firing's tick counts the new events, once.
admissions b.ndjson b 7
wait_for "SELECT count(*) = 12 FROM kpid.event" 30
second_log=$KPID_WORK/second.log
second_start=$(sql "SELECT now()")
printf -- '--- second instance\n' >>"$second_log"
second_started=$(date +%s)
KPID_LOG_LEVEL=debug KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/second.conf" \
    </dev/null >>"$second_log" 2>&1 &
second_pid=$!
kpid_track_pid "$second_pid"
wait_for "SELECT value = ${written[$last_day]} FROM kpid.kpi_value WHERE kpi_id = 'admissions'
          AND period_start = '$last_day 00:00:00+00' AND stratum = '{}'" 20
wait_for "SELECT coalesce(bool_or(value >= 12), false) FROM kpid.kpi_value
          WHERE kpi_id = 'admissions_1h' AND period_end >= '$second_start' AND stratum = '{}'" 20

# 3. Two firings with both instances up: each period evaluated once per firing.
wait_for "SELECT count(DISTINCT $(firing started_at)) >= 2 FROM kpid.kpi_run
          WHERE reason = 'schedule' AND started_at > '$second_start'::timestamptz + interval '2 s'" 30
_kpid_alive "$second_pid" || { cat "$second_log" >&2; fail "the second instance died"; }
sql "SELECT kpi_id, reason, $(firing started_at) AS firing, count(*)
     FROM kpid.kpi_run GROUP BY 1, 2, 3 ORDER BY 3, 1, 2" >&2
assert_sql "SELECT coalesce(max(n), 0) <= 2 FROM (SELECT count(*) AS n FROM kpid.kpi_run
            WHERE reason = 'schedule' GROUP BY kpi_id, reason, $(firing started_at)) c" \
    t "a firing was evaluated twice"
assert_sql "SELECT count(*) FROM (SELECT 1 FROM kpid.kpi_run WHERE reason = 'schedule'
            GROUP BY kpi_id, period_start, $(firing started_at) HAVING count(*) > 1) c" \
    0 "a period was evaluated twice in one firing"
assert_sql "SELECT count(*) FROM kpid.kpi_run WHERE error IS NOT NULL" 0 "failed evaluations"
# Both instances fired; the one that came second skipped (lock taken or already done).
# Its line may come a moment after the other's runs are committed. (grep reads the files
# itself: "cat | grep -q" fails under pipefail when grep stops reading early.)
skipped() { grep -q -e "tick skipped" -e "already evaluated for this firing" "$KPID_LOG" "$second_log"; }
for i in $(seq 1 100); do
    skipped && break
    sleep 0.2
done
skipped || fail "no instance skipped a firing the other evaluated"
grep -q "status .*kpi_runs=[1-9]" "$KPID_LOG" || fail "no kpi_runs= in the status line"
# One tick per firing and instance (a skipped one included), plus the catch-up.
now_s=$(date +%s)
ticks=$(grep -c "process=admission tick" "$KPID_LOG" || true)
[ "$ticks" -le $(((now_s - first_started) / 5 + 2)) ] ||
    fail "the first instance ticked $ticks times in $((now_s - first_started)) s"
ticks=$(grep -c "process=admission tick" "$second_log" || true)
[ "$ticks" -le $(((now_s - second_started) / 5 + 2)) ] ||
    fail "the second instance ticked $ticks times in $((now_s - second_started)) s"

# 4. SIGTERM to both: exit 0 within 10 s.
start=$(date +%s%N)
kpid_signal_child TERM "$second_pid" || fail "the second instance is gone before SIGTERM"
kpid_stop 0 10
for ((i = 0; i < 100; i++)); do
    _kpid_alive "$second_pid" || break
    sleep 0.1
done
second_exit=0
wait "$second_pid" 2>/dev/null || second_exit=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo "both stopped in ${elapsed_ms} ms" >&2
[ "$second_exit" = 0 ] || { tail -n 20 "$second_log" >&2; fail "the second instance exited with $second_exit"; }
[ "$elapsed_ms" -lt 10000 ] || fail "SIGTERM took ${elapsed_ms} ms"

# 5. Ten minutes of downtime (the runs made older): at the next start, one catch-up tick,
#    not one per missed firing.
sql "UPDATE kpid.kpi_run SET started_at = started_at - interval '10 minutes'" >/dev/null
restarted=$(sql "SELECT now()")
KPID_LOG_LEVEL=debug kpid_start "$KPID_WORK/kpid.conf"
wait_for "SELECT count(*) = 3 FROM kpid.kpi_run WHERE reason = 'catchup' AND started_at >= '$restarted'" 30
sleep 1
assert_sql "SELECT count(*) FROM kpid.kpi_run WHERE reason = 'catchup' AND started_at >= '$restarted'" 3 \
    "one catch-up tick after downtime"
kpid_stop 0 10

# 6. --once ingests what is new and evaluates what is due.
sql "DELETE FROM kpid.kpi_value" >/dev/null
admissions c.ndjson c 3
kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 15 "events after --once"
assert_eq "$(day_value "$last_day")" "${written[$last_day]}" "the day's value after --once"
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE kpi_id = 'admissions_1h'" 1 \
    "the window's value after --once"
