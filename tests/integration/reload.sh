# Acceptance (e) and signals: SIGHUP with an invalid configuration is logged and the
# running one keeps ingesting; SIGHUP with a valid one replaces it (a new source starts);
# SIGTERM stops the daemon with exit 0 within 10 s. A SIGTERM during startup is a stop too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init reload

mkdir "$KPID_WORK/inbox" "$KPID_WORK/inbox2"
conf=$KPID_WORK/kpid.conf
write_conf "$conf" "$KPID_WORK/inbox/*.ndjson"
cp "$conf" "$KPID_WORK/good.conf"
kpid_start "$conf"

make_events "$KPID_WORK/inbox/a.ndjson" a 500
wait_for "SELECT count(*) = 500 FROM kpid.event" 60

# An invalid configuration: an unknown key and a bad duration.
sed -e 's/flush_interval_ms = 50;/flush_interval_ms = 50; bogus = 1;/' \
    -e 's/interval = "100ms";/interval = "soon";/' "$KPID_WORK/good.conf" >"$conf"
kpid_signal HUP
sleep 1
_kpid_alive "$KPID_PID" || fail "kpid died on SIGHUP with an invalid configuration"
grep -q "kpid.conf:[0-9]*: unknown key \"bogus\"" "$KPID_LOG" || fail "no FILE:LINE for the unknown key"
grep -q "kpid.conf:[0-9]*: .*soon" "$KPID_LOG" || fail "no FILE:LINE for the bad duration"
grep -q "running one stays in effect" "$KPID_LOG" || fail "no message that the old configuration stays"
# Ingestion goes on under the old configuration.
make_events "$KPID_WORK/inbox/b.ndjson" b 700
wait_for "SELECT count(*) = 1200 FROM kpid.event" 60

# A valid configuration with a second source.
write_conf "$conf" "$KPID_WORK/inbox/*.ndjson"
sed -i 's|^);|    ,{ name = "second"; plugin = "file"; path = "'"$KPID_WORK"'/inbox2/*.ndjson"; interval = "100ms"; }\n);|' "$conf"
KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$conf" --check-config >/dev/null 2>&1 ||
    { cat "$conf" >&2; fail "the test's second configuration is invalid"; }
kpid_signal HUP
make_events "$KPID_WORK/inbox2/c.ndjson" c 300
wait_for "SELECT count(*) = 300 FROM kpid.event WHERE source = 'second'" 60
make_events "$KPID_WORK/inbox/d.ndjson" d 100
wait_for "SELECT count(*) = 1300 FROM kpid.event WHERE source = 'events'" 60
grep -q "configuration reloaded sources=2" "$KPID_LOG" || fail "no reload message"

# SIGTERM: exit 0 within 10 s.
start=$(date +%s%N)
kpid_stop 0 10
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo "stopped in ${elapsed_ms} ms" >&2
[ "$elapsed_ms" -lt 10000 ] || fail "SIGTERM took ${elapsed_ms} ms"

# A SIGTERM as soon as the daemon takes its signals (kpid_stop waits for that), while it
# loads its configuration or prepares the warehouse, is a stop like any other: exit 0,
# five times in a row. A SIGTERM before that, before main, is death by the signal.
for try in 1 2 3 4 5; do
    kpid_start "$conf"
    kpid_stop 0 10
done
