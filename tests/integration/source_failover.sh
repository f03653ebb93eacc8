# Two kpid instances with the same configuration on one warehouse share an exclusive poll
# source (a file source on a shared folder): one reads it, the other waits. kill -9 of
# the reader: the other takes over within warehouse.takeover and goes on from the
# committed position. Then the new reader's lease connection is ended by the server
# (pg_terminate_backend: a lost warehouse connection): it stops reading and whichever
# instance takes the source next goes on. In the end every line is in kpid.event once,
# and kpid.source_commit shows that at no moment did two instances commit for the
# source: epochs only grow in commit order, and each epoch has one holder.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init source_failover

chunks=24
per=$(kpid_scale 500 150)
takeover=6
mkdir "$KPID_WORK/inbox"
cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; takeover = "${takeover}s"; };
sources = ( { name = "shared"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson";
              interval = "100ms"; batch_max_lines = 50; } );
CONF

pair_start "$KPID_WORK/kpid.conf" shared

for ((i = 1; i <= chunks; i++)); do
    make_events "$KPID_WORK/inbox/chunk-$(printf %02d "$i").ndjson" "c$i" "$per"
    if [ "$i" -eq 8 ]; then
        # The reader dies: the standby takes over within warehouse.takeover.
        wait_for "SELECT count(*) > 0 FROM kpid.event WHERE source = 'shared'" 30
        kpid_signal_child KILL "$first" || fail "the reader is gone before its kill"
        wait "$first" 2>/dev/null || true
        t0=$(date +%s%N)
        assert_taken_over shared "$standby" "$t0" "$takeover"
        # A new standby, as systemd would restart the dead instance.
        instance_start "$KPID_WORK/kpid.conf" c
        c=$started
    fi
    if [ "$i" -eq 16 ]; then
        # The reader's lease connection ends (the warehouse lost it): it stops reading,
        # and one of the two takes the source again under a new epoch.
        epoch=$(sql "SELECT epoch FROM kpid.source_lease WHERE source = 'shared'")
        sql "SELECT pg_terminate_backend(pid) FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 1
               AND ((classid::bigint << 32) | objid::bigint)
                   = hashtextextended('kpid.source:shared', 0)" >/dev/null
        wait_for "SELECT EXISTS (SELECT FROM kpid.source_holder WHERE source = 'shared'
                  AND active AND epoch > $epoch)" $((takeover + 10))
        # A transaction of batches read under the lost epoch cannot commit (fencing).
        out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
            -c "SELECT kpid.lease_check('{shared}', '{$epoch}')" 2>&1) &&
            fail "kpid.lease_check accepted the lost epoch $epoch"
        case "$out" in
        *KP001*) ;;
        *) fail "kpid.lease_check refused the lost epoch with another error: $out" ;;
        esac
    fi
    sleep 0.3
done

total=$((chunks * per))
wait_for "SELECT count(*) = $total FROM kpid.event WHERE source = 'shared'" 120
survivor=$(holder_pid shared)
[ "$survivor" = "$standby" ] || [ "$survivor" = "$c" ] ||
    fail "the holder at the end is neither live instance: '$survivor'"
instance_stop "$standby"
instance_stop "$c"

assert_sql "SELECT count(*), count(DISTINCT event_key) FROM kpid.event WHERE source = 'shared'" \
    "$total|$total" "every line once"
for ((i = 1; i <= chunks; i += 5)); do
    assert_sql "SELECT count(*), min(value), max(value) FROM kpid.event
                WHERE source = 'shared' AND event_key LIKE 'c$i-%'" "$per|1|$per" "chunk $i whole"
done
assert_sql "SELECT count(DISTINCT holder) >= 2 AND count(DISTINCT epoch) >= 3
            FROM kpid.source_commit WHERE source = 'shared'" t \
    "commits under at least three epochs by at least two instances"
assert_sql "SELECT count(*) FROM (SELECT epoch, lead(epoch) OVER (ORDER BY at) AS next
            FROM kpid.source_commit WHERE source = 'shared') x WHERE next < epoch" 0 \
    "commits of an older epoch after a newer one"
assert_sql "SELECT count(*) FROM (SELECT epoch FROM kpid.source_commit WHERE source = 'shared'
            GROUP BY epoch HAVING count(DISTINCT holder) > 1) x" 0 "epochs with two holders"
assert_sql "SELECT count(*) FROM kpid.source_commit WHERE source = 'shared'
            AND split_part(holder, ':', 2) = '$first'
            AND at > (SELECT min(at) FROM kpid.source_commit WHERE source = 'shared'
                      AND split_part(holder, ':', 2) <> '$first')" 0 \
    "commits of the killed instance after another's"
