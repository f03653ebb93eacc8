# The odbc source reads a HIS (schema his, a role that may only SELECT) through the
# PostgreSQL ODBC driver, four rows a page: every admission exactly once, with ties on
# the watermark across page boundaries, text beyond the BMP, and values too long for a
# block (the query goes on row by row); a correction (updated_at moves) replaces its
# event, a cancellation (retract_when) and a tombstone (kind = "retractions") delete
# theirs; a row committed after later rows were read is caught by the overlap (and
# missed by a source without one); the HIS connection killed under the source is made
# again; a restart goes on from the cursor; idle, the source writes nothing. A pgsql
# source reading the same HIS (when the plugin is built) lands the same rows. The
# password never reaches the log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/odbc_lib.sh"
kpid_test_init odbc_ingest

his_setup
# Rows 3..9 share one watermark: with four rows a page, the tie spans two boundaries.
his_insert 1 2 "timestamptz '2024-05-01 08:00:00.000001+00' + i * interval '1 second'"
his_insert 3 9 "timestamptz '2024-05-01 08:00:30.5+00'"
his_insert 10 30 "timestamptz '2024-05-01 08:01:00+00' + i * interval '1.001 milliseconds'"

password='p;w}d{=x'
printf '%s\n' "$password" >"$KPID_WORK/his.password"
chmod 0600 "$KPID_WORK/his.password"

pgsql_source=''
if [ -e "$KPID_PLUGIN_DIR/pgsql.so" ]; then
    pgsql_source=", { name = \"his_pg\"; plugin = \"pgsql\"; interval = \"200ms\"; page_size = 4;
        conninfo = \"$(his_pg_conninfo)\";
        queries = ( $(his_admissions_query admissions 'overlap = "5m";'),
                    $(his_retractions_query deletions) ); }"
fi
cat >"$KPID_WORK/kpid.conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 50; };
sources = (
    { name = "his"; plugin = "odbc"; interval = "200ms"; page_size = 4;
      conninfo = "$(his_conninfo)";
      password_file = "$KPID_WORK/his.password";
      statement_timeout = "10s"; login_timeout = "5s";
      queries = ( $(his_admissions_query admissions 'overlap = "5m";'),
                  $(his_retractions_query deletions) ); },
    { name = "his_nooverlap"; plugin = "odbc"; interval = "200ms"; page_size = 4;
      conninfo = "$(his_conninfo)";
      queries = ( $(his_admissions_query admissions) ); }
    $pgsql_source
);
CONF

kpid_start "$KPID_WORK/kpid.conf"
his_wait_exact his
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'his'" 30 "events of 30 rows"
grep -q 'source=his a value did not fit its block: the query reads row by row from now on query=admissions' \
    "$KPID_LOG" || fail "the 10,000-character note did not make the query read row by row"
assert_sql "SELECT attrs->>'ward' FROM kpid.event WHERE source = 'his' AND event_key = 'V3/ADMISSION/1'" \
    'Station Süd ✓ 🏥' "text beyond the BMP"
assert_sql "SELECT length(attrs->>'note') FROM kpid.event WHERE source = 'his' AND event_key = 'V25/ADMISSION/1'" \
    10000 "a note of 10,000 characters"
assert_sql "SELECT time FROM kpid.event WHERE source = 'his' AND event_key = 'V1/ADMISSION/1'" \
    '2024-03-01 09:17:03.623456+00' "an event time with microseconds"
assert_sql "SELECT cursor::jsonb->'queries'->'admissions'->>'watermark' FROM kpid.cursor
            WHERE source = 'his'" '2024-05-01 08:01:00.03003+00' "the watermark in the cursor"

# A correction: the row changes and updated_at moves; its event is replaced.
sql "UPDATE his.encounters SET ward = 'Geriatrie', score = 99.5, updated_at = now()
     WHERE encounter_id = 7" >/dev/null
his_wait_exact his
assert_sql "SELECT attrs->>'ward' || ' ' || value FROM kpid.event WHERE source = 'his'
            AND event_key = 'V7/ADMISSION/1'" 'Geriatrie 99.5' "the corrected event"
# A cancellation (retract_when) and a tombstone (kind = "retractions").
sql "UPDATE his.encounters SET status = 'cancelled', updated_at = now() WHERE encounter_id = 8" >/dev/null
sql "DELETE FROM his.encounters WHERE encounter_id = 9;
     INSERT INTO his.deleted (deletion_id, event_key) VALUES (1, 'V9/ADMISSION/1')" >/dev/null
his_wait_exact his
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'his'
            AND event_key IN ('V8/ADMISSION/1', 'V9/ADMISSION/1')" 0 "retracted events"

# Out of order: row 101 takes its updated_at in a transaction that commits only after
# row 102, with a later updated_at, was read. The overlap reads the window behind the
# cursor again and finds it; the source without an overlap never sees it.
psql -X -q -c "BEGIN;
    INSERT INTO his.encounters (encounter_id, visit_no, mrn, admitted_at, updated_at)
    VALUES (101, 'V101', 'P1', now(), clock_timestamp());
    SELECT pg_sleep(4); COMMIT;" >/dev/null &
late=$!
kpid_track_pid "$late"
sleep 1
his_insert 102 102 "clock_timestamp()"
wait_for "SELECT count(*) = 2 FROM kpid.event WHERE event_key = 'V102/ADMISSION/1'
          AND source IN ('his', 'his_nooverlap')" 30
wait "$late" || fail "the late transaction failed"
his_wait_exact his
sleep 2 # a few polls of his_nooverlap
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'his_nooverlap'
            AND event_key = 'V101/ADMISSION/1'" 0 "a late commit without an overlap"

# The HIS ends the source's connection: the source says so, connects again, goes on.
sql "SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity
     WHERE usename = '$HIS_ROLE'" >/dev/null
sleep 0.5
his_insert 103 110
his_wait_exact his 60
n=$(grep -c 'source=his connected to the HIS dbms="PostgreSQL"' "$KPID_LOG" || true)
[ "$n" -ge 2 ] || fail "the source did not connect again after its connection was ended ($n)"

# A restart goes on from the cursor: nothing read twice is lost or doubled.
kpid_stop
his_insert 111 140
kpid_start "$KPID_WORK/kpid.conf"
his_wait_exact his
assert_sql "SELECT count(*) FROM kpid.rejected WHERE source LIKE 'his%'" 0 "rejected rows"

if [ -n "$pgsql_source" ]; then
    his_wait_exact his_pg
    assert_sql "SELECT count(*) FROM (
                  (SELECT event_key, case_id, subject_id, activity, time, value, attrs, origin
                   FROM kpid.event WHERE source = 'his'
                   EXCEPT ALL
                   SELECT event_key, case_id, subject_id, activity, time, value, attrs, origin
                   FROM kpid.event WHERE source = 'his_pg')
                  UNION ALL
                  (SELECT event_key, case_id, subject_id, activity, time, value, attrs, origin
                   FROM kpid.event WHERE source = 'his_pg'
                   EXCEPT ALL
                   SELECT event_key, case_id, subject_id, activity, time, value, attrs, origin
                   FROM kpid.event WHERE source = 'his')) d" 0 "rows of odbc and pgsql differ"
else
    echo "odbc_ingest: plugin pgsql not built: no comparison" >&2
fi
# Idle, the source reads its overlap window again every poll (rows 111..140 share one
# watermark): it writes nothing, and its position never moves back within the ties.
sleep 2
commits=$(sql "SELECT count(*) FROM kpid.source_commit WHERE source = 'his'")
cursor=$(sql "SELECT cursor FROM kpid.cursor WHERE source = 'his'")
sleep 3
assert_sql "SELECT count(*) FROM kpid.source_commit WHERE source = 'his'" "$commits" \
    "transactions of an idle source"
assert_eq "$(sql "SELECT cursor::jsonb->'queries'->'admissions'->>'tiebreaker' FROM kpid.cursor
                  WHERE source = 'his'")" 140 "the position after the last row"
assert_sql "SELECT cursor FROM kpid.cursor WHERE source = 'his'" "$cursor" "the idle cursor"
kpid_stop

grep -qF -- "$password" "$KPID_LOG" && fail "the password is in the log"
grep -qi -- 'Uid=' "$KPID_LOG" && fail "the connection string is in the log"
true
