# The event log's indexes follow the management model, and every KPI is an index range
# scan: after model sync, EXPLAIN (FORMAT JSON) of each demo KPI's compiled statement
# (kpid --explain gives its text and parameters) scans kpid.event only through indexes,
# its anchor through a time range of its activity's index. (Which index a probe takes is
# the planner's choice: it may hash a rare activity's few events instead.)
# A reload that adds a KPI gets its index (CREATE INDEX CONCURRENTLY) before the KPI is
# evaluated, and an index no KPI reads any more is dropped.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init index_plans

events=$(kpid_scale 300000 100000)
"$HOSPGEN" --seed 5 --events "$events" --start 2025-01-01 --days 365 --out "$KPID_WORK/gen" \
    --files 4 2>>"$KPID_LOG" || fail "hospgen failed"
mkdir "$KPID_WORK/inbox"
mv "$KPID_WORK"/gen/*.ndjson "$KPID_WORK/inbox/"

# The demo's model, firing every 5 seconds, and a file source.
# conf FILE [EXTRA_KPI] [DROP_KPI]: EXTRA_KPI goes first into the emergency process's
# KPIs; DROP_KPI is a KPI id left out (its lines, up to the next KPI's).
conf() {
    {
        cat <<CONF
plugin_dir = "$KPID_PLUGIN_DIR";
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 50; };
sources = ( { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; } );
CONF
        sed -n '/^objectives = (/,$p' "$KPID_SOURCE_DIR/etc/demo.conf.in" |
            sed -e 's/schedule = "[^"]*"/schedule = "*\/5 * * * * *"/' |
            awk -v extra="${2:-}" -v drop="${3:-}" '
                drop != "" && index($0, "id = \"" drop "\"") { skipping = 1; next }
                skipping && (/^        \{ id = / || /^      \)/) { skipping = 0 }
                skipping { next }
                { print }
                extra != "" && /id = "emergency"/ { want = 1 }
                want && /kpis = \(/ { print extra; want = 0 }'
    } >"$1"
    kpid_run "$1" --check-config || fail "configuration $1 does not load: $(tail -n 3 "$KPID_LOG")"
}
conf "$KPID_WORK/kpid.conf"
kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once exited with $KPID_EXIT"
assert_sql "SELECT count(*) > 0 FROM kpid.event" t "events ingested"
sql "ANALYZE kpid.event" >/dev/null

# The indexes are exactly those the model's KPIs read, all valid.
indexes() {
    sql "SELECT string_agg(c.relname || CASE WHEN i.indisvalid THEN '' ELSE '(invalid)' END, ' '
                           ORDER BY c.relname)
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid = 'kpid.event'::regclass AND c.relname ~ '^ev_'"
}
want=$(for id in $(sql "SELECT id FROM kpid.kpi WHERE active ORDER BY id"); do
    "$KPID_BIN" -c "$KPID_WORK/kpid.conf" --explain "$id" >"$KPID_WORK/explain.txt" ||
        fail "kpid --explain $id failed"
    sed -n 's/^--   kpid\.\(ev_[a-z0-9_]*\):.*/\1/p' "$KPID_WORK/explain.txt"
done | sort -u | tr '\n' ' ')
assert_eq "$(indexes) " "$want" "the model's indexes"
assert_sql "SELECT count(*) FROM pg_indexes WHERE schemaname = 'kpid' AND indexname IN
            ('event_activity_time_idx', 'event_case_idx', 'event_subject_idx')" 0 \
    "the old indexes of every event are gone"

# plan_check KPI_ID [INDEX...]: EXPLAIN (FORMAT JSON) of the KPI's statement for June
# 2025: no sequential scan of kpid.event, the anchor a range scan of its index (the
# first --explain names), and each INDEX used.
plan_check() {
    local id=$1 out sql_text params names anchor
    shift
    out=$("$KPID_BIN" -c "$KPID_WORK/kpid.conf" --explain "$id") || fail "--explain $id"
    anchor=$(printf '%s\n' "$out" | sed -n 's/^--   kpid\.\(ev_time_[a-z0-9_]*\):.*/\1/p' | head -n 1)
    [ -n "$anchor" ] || fail "--explain $id names no anchor index"
    names="$anchor $*"
    sql_text=$(printf '%s\n' "$out" | sed -n '/^-- version/,/^-- \$1 = /p' | sed -e '1d' -e '$d')
    sql_text=${sql_text%;}
    params=$(printf '%s\n' "$out" | sed -n "s/^-- \$[0-9]* = \('.*'\)$/\1/p" | paste -sd, -)
    psql -X -A -t -q -v ON_ERROR_STOP=1 >"$KPID_WORK/plan-$id.json" 2>&1 <<SQL ||
SET jit = off;
PREPARE s AS $sql_text;
EXPLAIN (FORMAT JSON) EXECUTE s('2025-06-01 00:00+00', '2025-07-01 00:00+00'${params:+, $params});
SQL
        fail "EXPLAIN of $id failed: $(cat "$KPID_WORK/plan-$id.json")"
    python3 - "$KPID_WORK/plan-$id.json" "$id" $names <<'PY' || fail "the plan of $id is not what it should be"
import json, sys
plan = json.load(open(sys.argv[1]))[0]["Plan"]
kpi, anchor_index, wanted = sys.argv[2], sys.argv[3], set(sys.argv[3:])
nodes = []
def walk(n):
    nodes.append(n)
    for c in n.get("Plans", []):
        walk(c)
walk(plan)
bad = [n for n in nodes if n.get("Relation Name") == "event" and n["Node Type"] == "Seq Scan"]
used = {n.get("Index Name") for n in nodes if n.get("Index Name")}
anchor = [n for n in nodes if n.get("Index Name") == anchor_index
          and '"time" >=' in n.get("Index Cond", "")]
ok = not bad and anchor and wanted <= used
print(f"{kpi}: seq scans on event {len(bad)}, anchor range scans {len(anchor)}, "
      f"indexes {sorted(used)}" + ("" if wanted <= used else f", missing {sorted(wanted - used)}"),
      file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}
for id in $(sql "SELECT id FROM kpid.kpi WHERE active AND type NOT IN ('ratio', 'sql') ORDER BY id"); do
    plan_check "$id"
done

# A reload that adds a KPI reading TRIAGE and ED_DEPARTURE by case (no index had them)
# and leaves out the readmission rate (the only reader of ADMISSION by subject).
triage='        { id = "triage_to_departure"; name = "Triage to departure, mean"; unit = "min";
          type = "duration"; period = "month"; target = 60.0; direction = "lower";
          objective = "timely_access";
          from = "TRIAGE"; to = "ED_DEPARTURE"; statistic = "avg"; },'
conf "$KPID_WORK/reload.conf" "$triage" readmission_30d
grep -q 'triage_to_departure' "$KPID_WORK/reload.conf" || fail "the new KPI is not in reload.conf"
! grep -q 'readmission_30d' "$KPID_WORK/reload.conf" || fail "readmission_30d is still in reload.conf"
cp "$KPID_WORK/kpid.conf" "$KPID_WORK/live.conf"
started=$(sql "SELECT now()")
kpid_start "$KPID_WORK/live.conf"
wait_for "SELECT count(*) > 0 FROM kpid.kpi_run WHERE started_at > '$started'" 30
assert_sql "SELECT count(*) FROM pg_indexes WHERE indexname = 'ev_case_triage'" 0 "ev_case_triage before the reload"
cp "$KPID_WORK/reload.conf" "$KPID_WORK/live.conf"
kpid_signal HUP
wait_for "SELECT count(*) > 0 FROM kpid.kpi_run WHERE kpi_id = 'triage_to_departure' AND error IS NULL" 60
grep -q 'event index created name=ev_case_triage activity=TRIAGE' "$KPID_LOG" || fail "no ev_case_triage"
grep -q 'event index created name=ev_case_ed_departure activity=ED_DEPARTURE' "$KPID_LOG" ||
    fail "no ev_case_ed_departure"
grep -q 'event index dropped name=ev_subject_admission' "$KPID_LOG" || fail "ev_subject_admission stayed"
# The index came first: its log line precedes the new KPI's first evaluation (catch-up).
assert_sql "SELECT count(*) FROM pg_indexes WHERE indexname IN ('ev_case_triage', 'ev_case_ed_departure')" 2 \
    "the new KPI's indexes"
kpid_stop 0
sql "ANALYZE kpid.event" >/dev/null
cp "$KPID_WORK/reload.conf" "$KPID_WORK/kpid.conf"
plan_check triage_to_departure ev_case_triage ev_case_ed_departure
