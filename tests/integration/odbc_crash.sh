# kpid killed (SIGKILL) while the odbc source reads, three times, with the HIS changing
# in between (new rows, corrections, cancellations, tombstones): after the last restart
# kpid.event holds exactly what the HIS gives, every row once. A page's batch and the
# cursor after it commit together, so what was read but not committed is read again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/odbc_lib.sh"
kpid_test_init odbc_crash
his_setup

n=$(kpid_scale 4000 1200)
his_insert 1 "$n" "timestamptz '2024-05-01 08:00:00+00' + (i / 3) * interval '1 millisecond'"
cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = (
    { name = "his"; plugin = "odbc"; interval = "100ms"; page_size = 10;
      conninfo = "$(his_conninfo)";
      queries = ( $(his_admissions_query admissions 'overlap = "2s";'),
                  $(his_retractions_query deletions) ); }
);
CONF

kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "kpid --migrate exited with $KPID_EXIT"
next=$((n + 1))
for round in 1 2 3; do
    before=$(sql "SELECT count(*) FROM kpid.event WHERE source = 'his'")
    total=$(sql "SELECT count(*) FROM his.encounters")
    kpid_start "$KPID_WORK/kpid.conf"
    # A third of what is left, and the restart's first pages, are read before the kill.
    wait_for "SELECT count(*) >= $((before + (total - before) / 3)) FROM kpid.event
              WHERE source = 'his'" 120
    kpid_kill KILL
    got=$(sql "SELECT count(*) FROM kpid.event WHERE source = 'his'")
    _kpid_say "round $round: killed with $got of $total rows stored"
    [ "$got" -lt "$total" ] || _kpid_say "round $round: killed after everything was read"
    # The HIS goes on while kpid is down: new rows, corrections, a cancellation, tombstones.
    his_insert "$next" $((next + 199))
    next=$((next + 200))
    sql "UPDATE his.encounters SET ward = 'Round $round', updated_at = now()
         WHERE encounter_id % 97 = $round" >/dev/null
    sql "UPDATE his.encounters SET status = 'cancelled', updated_at = now()
         WHERE encounter_id = $((round * 11))" >/dev/null
    sql "DELETE FROM his.encounters WHERE encounter_id = $((round * 13));
         INSERT INTO his.deleted (deletion_id, event_key)
         VALUES ($round, 'V$((round * 13))/ADMISSION/1')" >/dev/null
done
kpid_start "$KPID_WORK/kpid.conf"
his_wait_exact his 180
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = 'his'" 0 "rejected rows"
kpid_stop
assert_his_exact his
