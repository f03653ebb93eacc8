# Acceptance: Debian's logrotate rotates a file that a writer appends to all the time,
# while kpid follows it (interval 100 ms); once the writer stops and kpid catches up,
# kpid.event equals every line written, exactly. Twice, with logrotate's own
# configuration and state file in the work directory, several rotations each:
#
#   create        the file is renamed (app.ndjson -> app.ndjson.1, out of the pattern
#                 *.ndjson) and a new one created; the writer is told by the
#                 postrotate script (SIGHUP) to reopen, as a daemon is, and that
#                 script waits a moment first, so that the writer keeps appending to
#                 the renamed file meanwhile. kpid reads it to its end through its
#                 open descriptor.
#   copytruncate  the file is copied to app.ndjson.1 and truncated in place. The
#                 pattern is app.ndjson*, as the README advises for copytruncate: the
#                 lines written after kpid's last look and before the copy survive only
#                 in the copy, which kpid reads (again: the events are upserted by key,
#                 so a line read twice is one event). logrotate(8) says that lines
#                 written between its copy and its truncate are lost; that is
#                 logrotate's loss, not kpid's, so the prerotate script pauses the
#                 writer (and waits until it has) and postrotate resumes it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init file_logrotate

command -v logrotate >/dev/null || fail "logrotate is not installed (scripts/bootstrap installs it)"
rotations=$(kpid_scale 5 3)

# writer DIR PREFIX: appends {"event_key":"PREFIX-N",...} to DIR/app.ndjson, holding its
# descriptor, until DIR/stop exists; then writes N to DIR/count. SIGHUP reopens the file
# by name; SIGUSR1 pauses (DIR/paused says it is paused: no line is being written);
# SIGUSR2 resumes.
writer() {
    local dir=$1 prefix=$2 n=0 paused=0
    trap 'exec 3>>"$dir/app.ndjson"' HUP
    trap 'paused=1; : >"$dir/paused"' USR1
    trap 'paused=0; rm -f "$dir/paused"' USR2
    exec 3>>"$dir/app.ndjson"
    while [ ! -e "$dir/stop" ]; do
        if [ "$paused" = 1 ]; then
            sleep 0.01
            continue
        fi
        n=$((n + 1))
        printf '{"event_key":"%s-%d","case_id":"C%d","activity":"TICK","time":"2025-03-01T00:00:00Z","value":%d}\n' \
            "$prefix" "$n" "$n" "$n" >&3
        sleep 0.002
    done
    echo "$n" >"$dir/count"
}

# rotate_conf DIR MODE: logrotate's configuration for DIR/app.ndjson.
rotate_conf() {
    local dir=$1 mode=$2
    if [ "$mode" = copytruncate ]; then
        # Pause the writer and wait until it has; resume it after the truncate.
        cat >"$dir/pre.sh" <<EOF
#!/bin/sh
kill -USR1 \$(cat "$dir/writer.pid")
i=0
while [ ! -e "$dir/paused" ] && [ \$i -lt 500 ]; do sleep 0.01; i=\$((i + 1)); done
[ -e "$dir/paused" ] || { echo "the writer did not pause" >&2; exit 1; }
EOF
        cat >"$dir/post.sh" <<EOF
#!/bin/sh
kill -USR2 \$(cat "$dir/writer.pid")
EOF
    else
        # The writer still appends to the renamed file for a moment before it reopens;
        # note the renamed file's inode and size at that point.
        printf '#!/bin/sh\ntrue\n' >"$dir/pre.sh"
        cat >"$dir/post.sh" <<EOF
#!/bin/sh
stat -c '%i %s' "$dir/app.ndjson.1" >>"$dir/renamed"
sleep 0.3
kill -HUP \$(cat "$dir/writer.pid")
EOF
    fi
    chmod 0755 "$dir/pre.sh" "$dir/post.sh"
    cat >"$dir/logrotate.conf" <<EOF
$dir/app.ndjson {
    $mode
    rotate $((rotations + 2))
    nocompress
    missingok
    prerotate
        $dir/pre.sh
    endscript
    postrotate
        $dir/post.sh
    endscript
}
EOF
}

# run_phase DIR PREFIX MODE: the writer, several rotations, the writer stops, kpid
# catches up; then kpid.event of source PREFIX is every line written, exactly.
run_phase() {
    local dir=$1 prefix=$2 mode=$3 pid n i
    mkdir -p "$dir"
    rotate_conf "$dir" "$mode"
    writer "$dir" "$prefix" &
    pid=$!
    kpid_track_pid "$pid"
    echo "$pid" >"$dir/writer.pid"
    sleep 1
    for ((i = 1; i <= rotations; i++)); do
        logrotate -f -s "$dir/logrotate.state" "$dir/logrotate.conf" >>"$dir/logrotate.log" 2>&1 ||
            { cat "$dir/logrotate.log" >&2; fail "logrotate ($mode) failed"; }
        sleep "1.$((RANDOM % 5))"
    done
    : >"$dir/stop"
    wait "$pid" || fail "the $mode writer failed"
    n=$(cat "$dir/count")
    [ "$n" -gt 500 ] || fail "the $mode writer wrote only $n lines"
    [ -e "$dir/app.ndjson.$rotations" ] || fail "logrotate ($mode) did not rotate $rotations times"
    echo "$mode: $n lines, $rotations rotations" >&2
    wait_for "SELECT count(*) >= $n FROM kpid.event WHERE source = '$prefix'" 60
    sleep 1 # a few more polls: nothing more may come
    assert_sql "SELECT count(*), count(DISTINCT event_key), min(value), max(value)
                FROM kpid.event WHERE source = '$prefix'" "$n|$n|1|$n" "$mode: the events"
    assert_sql "SELECT count(*) FROM generate_series(1, $n) g LEFT JOIN kpid.event e
                ON e.source = '$prefix' AND e.event_key = '$prefix-' || g AND e.value = g
                AND e.case_id = 'C' || g WHERE e.event_key IS NULL" 0 "$mode: every line written"
    assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = '$prefix'" 0 \
        "$mode: no half line rejected"
}

cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 50; };
sources = (
    { name = "cr"; plugin = "file"; path = "$KPID_WORK/create/*.ndjson"; interval = "100ms"; },
    { name = "ct"; plugin = "file"; path = "$KPID_WORK/copytruncate/app.ndjson*"; interval = "100ms"; }
);
CONF
kpid_start "$KPID_WORK/kpid.conf"

run_phase "$KPID_WORK/create" cr create
# The writer did append to renamed files after the rename: kpid read those lines too.
grew=0
while read -r ino size; do
    now=$(find "$KPID_WORK/create" -maxdepth 1 -inum "$ino" -printf '%s\n')
    [ -n "$now" ] && [ "$now" -gt "$size" ] && grew=$((grew + 1))
done <"$KPID_WORK/create/renamed"
[ "$grew" -gt 0 ] || fail "the writer never appended to a renamed file: the test shows nothing"
echo "create: the writer appended to $grew renamed files after their rename" >&2

run_phase "$KPID_WORK/copytruncate" ct copytruncate
kpid_stop 0
