# Acceptance (c): kpid is killed with SIGKILL at random moments, five times, while it
# ingests a large backlog; each time it is started again. The final kpid.event equals the
# input exactly: nothing lost, nothing twice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init crash_safety

n=$(kpid_scale 1000000 100000)
"$HOSPGEN" --seed 1234 --events "$n" --out "$KPID_WORK/gen" --files 8 --malformed 10
mkdir "$KPID_WORK/inbox"
cp "$KPID_WORK"/gen/*.ndjson "$KPID_WORK/inbox/"
write_conf "$KPID_WORK/kpid.conf" "$KPID_WORK/inbox/*.ndjson"
load_expected "$KPID_WORK/gen"
total=$(sql "SELECT count(*) FROM expected")

kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "--migrate exited with $KPID_EXIT"
kpid_start "$KPID_WORK/kpid.conf"
RANDOM=$$
for kill_no in 1 2 3 4 5; do
    # A random point inside the kill_no'th sixth of the backlog.
    threshold=$(((kill_no * total / 6) + RANDOM % (total / 6 > 0 ? total / 6 : 1)))
    threshold=$((threshold < total ? threshold : total - 1))
    wait_for "SELECT count(*) >= $threshold FROM kpid.event" 300
    # A few milliseconds more, so that kills also land inside transactions.
    sleep "0.0$((RANDOM % 10))"
    kpid_kill KILL
    got=$(sql "SELECT count(*) FROM kpid.event")
    echo "kill $kill_no at $got of $total events" >&2
    kpid_start "$KPID_WORK/kpid.conf"
done
wait_for "SELECT count(*) >= $total FROM kpid.event" 600
kpid_stop 0 15
# Whatever is left (a correction at the very end) is read by a final batch run.
kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once exited with $KPID_EXIT"
assert_events_exact
want=$(awk -F'\t' '{print $1 ":" $2}' "$KPID_WORK/gen/malformed.tsv" | sort)
got=$(sql "SELECT regexp_replace(locator, '^.*/', '') FROM kpid.rejected ORDER BY 1" | sort)
assert_eq "$got" "$want" "rejected lines, each once"
