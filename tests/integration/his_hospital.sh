# A generated hospital read from its HIS: hospgen --his writes the hospital's final state
# as the tables of a hospital information system (his.sql), loaded into a second
# database of the test's PostgreSQL and read by a role that may only SELECT what
# etc/his-pgsql.conf names.
#  1. KPIs: kpid --once with the HIS as its only source (plugin pgsql), then a backfill,
#     equals hospgen's ground truth of tests/integration/data/kpi_truth.conf.model.
#  2. The same HIS through plugin pgsql and through plugin odbc (psqlODBC) in one kpid:
#     each source's events equal expected.tsv (event_key too; attributes compared as
#     text, as the NDJSON form writes some triage levels as JSON numbers), the two
#     sources' rows are identical, nothing is rejected.
#  3. Failover: two kpid instances share one pgsql source (small pages); the holder is
#     killed with SIGKILL mid-ingestion, the other takes over within warehouse.takeover,
#     the end state equals expected.tsv, and kpid.source_commit shows one holder per
#     epoch and no commit of an older epoch after a newer one.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init his_hospital
source "$(dirname "$0")/pgsql_common.sh"

events=$(kpid_scale 20000 4000)
from=2025-01-01
to=2026-02-01
gen=$KPID_WORK/gen
takeover=6

# @include paths are relative to the configuration file's directory. The odbc source
# reads the same queries, less what ODBC cannot do: bound = "snapshot_xmin" (pgsql
# only) becomes an overlap of transaction ids, and the xid8 watermarks are read as
# bigint (no xid8 comparison with a bound parameter).
cp "$KPID_SOURCE_DIR/etc/his-pgsql.conf" "$KPID_WORK/"
sed -e 's/bound = "snapshot_xmin";/overlap = 1000;/' \
    -e 's/\b\([a-z]\)\.row_xid, /\1.row_xid::text::bigint AS row_xid, /' \
    "$KPID_WORK/his-pgsql.conf" >"$KPID_WORK/his-odbc.conf"
[ "$(grep -v '^ *#' "$KPID_WORK/his-odbc.conf" | grep -c snapshot_xmin)" = 0 ] &&
    [ "$(grep -c 'row_xid::text::bigint AS row_xid' "$KPID_WORK/his-odbc.conf")" = 3 ] ||
    fail "his-odbc.conf: the lab queries of etc/his-pgsql.conf changed; adapt the sed"

# The HIS: database his_his_hospital, its role reads what etc/his-pgsql.conf's comment
# grants, nothing more (of patients and staff only the identifiers). On a PostgreSQL of
# its own: the lab queries' snapshot_xmin bound waits behind the oldest transaction of
# the whole server, which on the suite's shared server may be another test's, and --once
# would end before those rows are safe to read.
his_server "$KPID_WORK/hispg"
his_init
his_sql "DROP SCHEMA his" >/dev/null
# pg_src NAME [KEYS], odbc_src NAME [KEYS]: a source reading the HIS, for sources = (...).
pg_src() {
    printf '{ name = "%s"; plugin = "pgsql"; conninfo = "%s"; %s\n  @include "his-pgsql.conf" }' \
        "$1" "$(his_conninfo)" "${2:-}"
}
odbc_src() {
    printf '{ name = "%s"; plugin = "odbc"; conninfo = "%s"; %s\n  @include "his-odbc.conf" }' \
        "$1" "Driver=PostgreSQL Unicode;Servername=$HIS_HOST;Port=$HIS_PORT;Database=$HIS_DB;Uid=$HIS_ROLE" \
        "${2:-}"
}

# 1. KPIs against the ground truth: the configuration whose only source is the HIS.
kpi_conf=$KPID_WORK/kpi.conf
{
    printf '%s\n' "plugin_dir = \"$KPID_PLUGIN_DIR\";" "pseudonymize = false;" \
        "warehouse = { conninfo = \"$KPID_TEST_CONNINFO\"; batch_max_rows = 20000; };" \
        "sources = ( $(pg_src his_pg) );"
    cat "$KPID_SOURCE_DIR/tests/integration/data/kpi_truth.conf.model"
} >"$kpi_conf"
"$HOSPGEN" --seed 23 --events "$events" --days 400 --start "$from" --out "$gen" --his \
    --truth "$kpi_conf" --truth-from "$from" --truth-to "$to" 2>>"$KPID_LOG" ||
    fail "hospgen failed"
[ -s "$gen/his.sql" ] && [ -s "$gen/truth.tsv" ] || fail "hospgen wrote no his.sql or truth"
PGHOST=$HIS_HOST PGPORT=$HIS_PORT psql -X -q -v ON_ERROR_STOP=1 -d "$HIS_DB" -f "$gen/his.sql" \
    >>"$KPID_LOG" 2>&1 || fail "cannot load his.sql"
PGHOST=$HIS_HOST PGPORT=$HIS_PORT psql -X -q -v ON_ERROR_STOP=1 -d "$HIS_DB" -v role="$HIS_ROLE" \
    -f "$KPID_SOURCE_DIR/etc/his-pgsql-grants.sql" >>"$KPID_LOG" 2>&1 || fail "cannot grant the HIS role"
# The role reads the identifiers, not the demographics, and writes nothing.
as_his() {
    PGHOST=$HIS_HOST PGPORT=$HIS_PORT psql -X -A -t -q -v ON_ERROR_STOP=1 -U "$HIS_ROLE" \
        -d "$HIS_DB" -c "$1" 2>&1
}
out=$(as_his "SELECT count(mrn) > 0 FROM his.patients") && [ "$out" = t ] ||
    fail "the HIS role cannot read his.patients.mrn: $out"
for q in "SELECT family_name FROM his.patients LIMIT 1" "SELECT * FROM his.staff LIMIT 1" \
    "UPDATE his.encounters SET status = status WHERE false"; do
    out=$(as_his "$q") && fail "the HIS role may run: $q"
    case "$out" in
    *"permission denied"*) ;;
    *) fail "the HIS role's $q failed otherwise than by a privilege: $out" ;;
    esac
done
load_expected "$gen"
rows=$(sql "SELECT count(*) FROM expected")
_kpid_say "generated and loaded ${SECONDS}s ($rows events)"

kpid_run "$kpi_conf" --once || fail "--once (his_pg) exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event WHERE source = 'his_pg'" "$rows" \
    "events of his_pg after --once"
backfill_for_truth "$kpi_conf" "$from" "$to"
load_truth "$gen"
compare=$(truth_compare_sql)
ndiff=$(sql "$compare SELECT count(*) FROM diff" | tail -n 1)
if [ "$ndiff" != 0 ]; then
    psql -X -v ON_ERROR_STOP=1 -c "$compare SELECT * FROM diff ORDER BY 1, 2 LIMIT 20" >&2 || true
    fail "$ndiff KPI values from the HIS differ from the ground truth"
fi
nonnull=$(sql "SELECT count(*) FROM truth WHERE value IS NOT NULL AND value <> 0")
[ "$nonnull" -gt "$(($(sql "SELECT count(*) FROM truth") / 2))" ] ||
    fail "too few non-zero KPI values to mean anything"
_kpid_say "KPIs from the HIS equal the ground truth ${SECONDS}s"

# 2. pgsql and odbc side by side (his_pg is done: its cursor is at the end).
conf=$KPID_WORK/kpid.conf
write_conf "$conf" "$(pg_src his_pg), $(odbc_src his_odbc)"
kpid_run "$conf" --once || fail "--once (his_pg, his_odbc) exited with $KPID_EXIT"
norm="(SELECT coalesce(jsonb_object_agg(k, v #>> '{}'), '{}') FROM jsonb_each(attrs) AS e(k, v))"
cols="event_key, case_id, subject_id, activity, time, value"
# assert_exact SOURCE: the source's events are expected.tsv's, row for row.
assert_exact() {
    local src=$1 missing extra
    missing=$(sql "SELECT count(*) FROM (SELECT $cols, $norm FROM expected EXCEPT ALL
                   SELECT $cols, $norm FROM kpid.event WHERE source = '$src') d")
    extra=$(sql "SELECT count(*) FROM (SELECT $cols, $norm FROM kpid.event WHERE source = '$src'
                 EXCEPT ALL SELECT $cols, $norm FROM expected) d")
    if [ "$missing" != 0 ] || [ "$extra" != 0 ]; then
        sql "(SELECT 'missing', * FROM (SELECT $cols, $norm FROM expected EXCEPT ALL
              SELECT $cols, $norm FROM kpid.event WHERE source = '$src') d LIMIT 5)
             UNION ALL
             (SELECT 'extra', * FROM (SELECT $cols, $norm FROM kpid.event WHERE source = '$src'
              EXCEPT ALL SELECT $cols, $norm FROM expected) d LIMIT 5)" >&2 || true
        fail "source $src differs from expected.tsv: $missing missing, $extra unexpected"
    fi
    assert_sql "SELECT count(*) FROM kpid.event WHERE source = '$src'" "$rows" "events of $src"
    assert_sql "SELECT count(*) FROM kpid.rejected WHERE source = '$src'" 0 "rejected of $src"
    # Beyond the text comparison, the attributes are expected.tsv's JSON but where the
    # NDJSON line wrote a triage level as a number (the HIS gives its text).
    assert_sql "SELECT count(*) FROM expected x JOIN kpid.event e USING (event_key)
                WHERE e.source = '$src' AND e.attrs <> x.attrs
                  AND NOT (x.activity = 'TRIAGE'
                           AND jsonb_typeof(x.attrs -> 'triage_level') = 'number'
                           AND e.attrs = x.attrs || jsonb_build_object('triage_level',
                                                    x.attrs ->> 'triage_level'))" 0 \
        "attributes of $src other than expected.tsv's JSON"
}
assert_exact his_pg
assert_exact his_odbc
assert_sql "SELECT count(*) FROM (
              (SELECT $cols, attrs FROM kpid.event WHERE source = 'his_pg'
               EXCEPT ALL SELECT $cols, attrs FROM kpid.event WHERE source = 'his_odbc')
              UNION ALL
              (SELECT $cols, attrs FROM kpid.event WHERE source = 'his_odbc'
               EXCEPT ALL SELECT $cols, attrs FROM kpid.event WHERE source = 'his_pg')) d" 0 \
    "rows of his_pg and his_odbc that differ"
_kpid_say "pgsql and odbc equal expected.tsv ${SECONDS}s"

# 3. Failover: two instances, one pgsql source in small pages; kill -9 of the holder.
fo_conf=$KPID_WORK/failover.conf
# About 1000 pages in all (each a HIS transaction and a warehouse commit): a few seconds.
page=$((rows / 1000 > 2 ? rows / 1000 : 2))
cat >"$fo_conf" <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; takeover = "${takeover}s"; };
sources = ( $(pg_src his_fo "page_size = $page; interval = \"200ms\";") );
CONF
pair_start "$fo_conf" his_fo
wait_for "SELECT count(*) >= $((rows / 10)) FROM kpid.event WHERE source = 'his_fo'" 60
kpid_signal_child KILL "$first" || fail "the first instance is gone before its kill"
wait "$first" 2>/dev/null || true
t0=$(date +%s%N)
at_kill=$(sql "SELECT count(*) FROM kpid.event WHERE source = 'his_fo'")
[ "$at_kill" -lt "$rows" ] ||
    fail "his_fo was read whole ($at_kill events) before the kill: make its pages smaller"
assert_taken_over his_fo "$standby" "$t0" "$takeover"
wait_for "SELECT count(*) >= $rows FROM kpid.event WHERE source = 'his_fo'" 120
# Idle polls of the standby (now the holder) may still be under way: let one more pass.
sleep 1
instance_stop "$standby"
_kpid_say "failover: killed at $at_kill of $rows events, taken over in ${took_ms} ms ${SECONDS}s"
assert_exact his_fo
assert_sql "SELECT count(DISTINCT holder) >= 2 AND count(DISTINCT epoch) >= 2
            FROM kpid.source_commit WHERE source = 'his_fo'" t \
    "commits under two epochs by two instances"
assert_sql "SELECT count(*) FROM (SELECT epoch, lead(epoch) OVER (ORDER BY at) AS next
            FROM kpid.source_commit WHERE source = 'his_fo') x WHERE next < epoch" 0 \
    "commits of an older epoch after a newer one"
assert_sql "SELECT count(*) FROM (SELECT epoch FROM kpid.source_commit WHERE source = 'his_fo'
            GROUP BY epoch HAVING count(DISTINCT holder) > 1) x" 0 "epochs with two holders"
assert_sql "SELECT count(*) FROM kpid.source_commit WHERE source = 'his_fo'
            AND split_part(holder, ':', 2) = '$first'
            AND at > (SELECT min(at) FROM kpid.source_commit WHERE source = 'his_fo'
                      AND split_part(holder, ':', 2) <> '$first')" 0 \
    "commits of the killed instance after another's"
