# Acceptance of the KPI engine against ground truth: hospgen generates a hospital and,
# with its own code (tools/hospgen/truth*.c), the value of every KPI of
# data/kpi_truth.conf.model for every period and stratum, and the cases behind each.
# kpid ingests the events and backfills the same periods; kpid.kpi_value must equal the
# truth: exactly for counts, numerators, denominators, n and the members left out as
# incomplete, within a relative 1e-9 for means, percentiles, durations and census
# figures. The SQL function
# kpid.kpi_cases must list exactly the cases the truth counts, per population. Then the
# same for every KPI of the demo's management model (etc/demo.conf.in).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init kpi_truth

events=$(kpid_scale 80000 30000)
from=2025-01-01
to=2026-02-01
gen=$KPID_WORK/gen
conf=$KPID_WORK/kpid.conf

cat >"$conf" <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; batch_max_rows = 20000; };
sources = ( { name = "events"; plugin = "file"; path = "$gen/*.ndjson"; } );
CONF
cat "$KPID_SOURCE_DIR/tests/integration/data/kpi_truth.conf.model" >>"$conf"

"$HOSPGEN" --seed 11 --events "$events" --days 400 --start "$from" --files 2 --out "$gen" \
    --truth "$conf" --truth-from "$from" --truth-to "$to" 2>>"$KPID_LOG" ||
    fail "hospgen failed"
[ -s "$gen/truth.tsv" ] && [ -s "$gen/truth_cases.tsv" ] || fail "hospgen wrote no truth"
_kpid_say "generated ${SECONDS}s"

# Ingest everything (--once stops when the sources are drained), then compute history
# from nothing: --once also evaluated the current periods, which are not compared.
kpid_run "$conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" "$(wc -l <"$gen/expected.tsv")" "every event ingested"
_kpid_say "ingested ${SECONDS}s"
backfill_for_truth "$conf" "$from" "$to"
_kpid_say "backfilled ${SECONDS}s"

# Every KPI of the model (sql and rolling ones aside: there are none) has truth
# (load_truth), and the comparison covers every period kind.
load_truth "$gen"
sql "CREATE TABLE truth_cases (kpi_id text, period_start timestamptz, stratum jsonb,
       population text, case_id text, subject_id text)" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy truth_cases FROM '$gen/truth_cases.tsv'" >>"$KPID_LOG" 2>&1 ||
    fail "cannot load truth_cases.tsv"
sql "DELETE FROM truth_cases WHERE kpi_id IN
       (SELECT id FROM kpid.kpi WHERE process_id = 'berlin_days') AND NOT $TRUTH_DAYS" >/dev/null
assert_sql "SELECT string_agg(DISTINCT k.period, ',' ORDER BY k.period) FROM kpid.kpi k" \
    "day,fiscal_year:4,fiscal_year:7,month,quarter,week,week:sunday,year" "period kinds"
assert_sql "SELECT string_agg(DISTINCT k.type, ',' ORDER BY k.type) FROM kpid.kpi k" \
    "census,count,duration,proportion,ratio,value" "KPI types"

# The comparison (truth_compare_sql): a row on one side only, or a number that differs.
truth_compare_sql >"$KPID_WORK/compare.sql"
{
    printf '%s\n' "$(cat "$KPID_WORK/compare.sql")"
    printf '%s\n' "SELECT count(*) AS differences FROM diff;"
    printf '%s\n' "SELECT * FROM diff ORDER BY 1, 2 LIMIT 20;"
    printf '%s\n' "SELECT kpi_id, count(*) FROM diff GROUP BY 1 ORDER BY 1;"
} >"$KPID_WORK/report.sql"
ndiff=$(sql "$(cat "$KPID_WORK/compare.sql") SELECT count(*) FROM diff" | tail -n 1)
if [ "$ndiff" != 0 ]; then
    psql -X -v ON_ERROR_STOP=1 -f "$KPID_WORK/report.sql" >&2 || true
    fail "$ndiff KPI values differ from the ground truth"
fi
rows=$(sql "SELECT count(*) FROM truth")
strata=$(sql "SELECT count(*) FROM truth WHERE stratum <> '{}'")
nonnull=$(sql "SELECT count(*) FROM truth WHERE value IS NOT NULL AND value <> 0")
_kpid_say "$rows values equal the ground truth ($strata of strata, $nonnull non-zero)"
[ "$nonnull" -gt $((rows / 2)) ] || fail "too few non-zero values to mean anything"

# The edge rules of docs/kpi-semantics.md are in the data and in the values compared:
# each of these counts something (the numbers themselves were compared above).
cover() { # WHAT SQL
    local n
    n=$(sql "$2")
    [ "$n" -gt 0 ] || fail "the comparison covers no $1"
}
arrivals="FROM kpid.event WHERE activity = 'ED_ARRIVAL'"
cover "ED visit registered twice" "SELECT count(*) FROM (SELECT 1 $arrivals
    AND case_id IS NOT NULL GROUP BY case_id HAVING count(*) > 1) c"
cover "tie of a visit's first registrations" "SELECT count(*) FROM (SELECT 1 $arrivals
    AND case_id IS NOT NULL GROUP BY case_id, time HAVING count(*) > 1) c"
cover "tie of a patient's first registrations in two visits" "SELECT count(*) FROM (SELECT 1
    $arrivals AND case_id IS NOT NULL GROUP BY subject_id, time
    HAVING count(DISTINCT case_id) > 1) c"
cover "registration without a visit number" "SELECT count(*) $arrivals AND case_id IS NULL"
cover "discharge without a patient" "SELECT count(*) FROM kpid.event
    WHERE activity = 'DISCHARGE' AND subject_id IS NULL"
cover "stay of zero length" "SELECT count(*) FROM kpid.event a JOIN kpid.event d
    ON d.case_id = a.case_id AND d.activity = 'DISCHARGE' AND d.time = a.time
    WHERE a.activity = 'ADMISSION'"
cover "attribute written as a number" "SELECT count(*) FROM kpid.event
    WHERE jsonb_typeof(attrs -> 'triage_level') = 'number'"
cover "attribute written as a string" "SELECT count(*) FROM kpid.event
    WHERE jsonb_typeof(attrs -> 'triage_level') = 'string'"
for k in a_lwbs_visit_month a_lwbs_patient_month a_lwbs_arrival_month a_readmit_month \
    a_d2d_mode_month a_seen_60_month a_occupancy_type_month; do
    cover "member left out in $k" "SELECT count(*) FROM truth WHERE kpi_id = '$k'
        AND excluded_incomplete > 0"
done
cover "value stratum without values" "SELECT count(*) FROM truth
    WHERE kpi_id = 'a_satisfaction_response_month' AND stratum = '{\"response\": \"declined\"}'
      AND value IS NULL AND n = 0"
cover "sum over no value" "SELECT count(*) FROM truth WHERE kpi_id = 'a_satisfaction_points_quarter'
    AND stratum ->> 'response' = 'declined' AND value = 0 AND n = 0"
cover "sum over an empty period" "SELECT count(*) FROM truth WHERE kpi_id = 'b_headcount_day'
    AND value = 0 AND n = 0"
cover "ratio over a zero denominator" "SELECT count(*) FROM truth
    WHERE kpi_id = 'b_arrivals_per_staff_day' AND denominator = 0 AND value IS NULL
      AND numerator > 0"
cover "empty census" "SELECT count(*) FROM truth WHERE kpi_id = 'a_census_admin_week'
    AND value = 0 AND n = 0 AND stratum = '{}'"
cover "month whose administrative stays are all of zero length: counted, no census row" \
    "SELECT count(*) FROM kpid.kpi_value c WHERE c.kpi_id = 'a_admissions_type_month'
       AND c.stratum ->> 'admission_type' = 'administrative' AND NOT EXISTS
       (SELECT FROM kpid.kpi_value o WHERE o.kpi_id = 'a_occupancy_type_month'
          AND o.period_start = c.period_start AND o.stratum = c.stratum)"
_kpid_say "every edge rule is covered"

# DST: the Berlin days of 2025-03-30 and 2025-10-26 last 23 and 25 hours.
assert_sql "SELECT string_agg(DISTINCT extract(epoch FROM period_end - period_start)::bigint::text, ',')
            FROM kpid.kpi_value WHERE kpi_id = 'b_arrivals_day'
              AND period_start IN ('2025-03-30 00:00+01', '2025-10-26 00:00+02')
              AND stratum = '{}'" "82800,90000" "DST days"

_kpid_say "compared ${SECONDS}s"
# Drill-down: the cases the SQL function lists are those the truth counts, for every
# population of every period and stratum.
cat >"$KPID_WORK/cases.sql" <<'SQL'
CREATE TEMP TABLE listed AS
SELECT p.kpi_id, p.period_start, p.stratum, c.population, c.case_id, c.subject_id
FROM truth p
CROSS JOIN LATERAL kpid.kpi_cases(p.kpi_id, p.period_start, p.period_end, NULL, p.stratum) c;
CREATE TEMP TABLE expected_cases AS SELECT * FROM truth_cases;
SELECT (SELECT count(*) FROM (SELECT * FROM listed EXCEPT ALL SELECT * FROM expected_cases) a)
    || '|' || (SELECT count(*) FROM (SELECT * FROM expected_cases EXCEPT ALL SELECT * FROM listed) b)
    || '|' || (SELECT count(*) FROM listed)
    || '|' || (SELECT count(DISTINCT (k.type, l.population)) FROM listed l JOIN kpid.kpi k ON k.id = l.kpi_id)
    || '|' || (SELECT count(DISTINCT k.definition ->> 'basis') FROM listed l
               JOIN kpid.kpi k ON k.id = l.kpi_id WHERE k.type = 'proportion');
SQL
got=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -f "$KPID_WORK/cases.sql" 2>&1) || fail "kpi_cases: $got"
IFS='|' read -r extra missing listed kinds bases <<<"$got"
[ "$extra" = 0 ] && [ "$missing" = 0 ] ||
    fail "drill-down differs from the truth: $extra listed but not counted, $missing counted but not listed"
[ "$listed" -gt 1000 ] || fail "only $listed cases listed"
[ "$kinds" -ge 11 ] || fail "only $kinds (type, population) pairs compared"
[ "$bases" = 3 ] || fail "the members of $bases population bases compared, not of all 3"
_kpid_say "$listed listed cases equal the truth's ($kinds type/population pairs)"

# The demo's management model (etc/demo.conf.in) on the same hospital: every one of its
# KPIs equals hospgen's truth too, month by month.
demo=$KPID_WORK/demo.conf
gen2=$KPID_WORK/gen-demo
head -n 3 "$conf" >"$demo"
sed -n '/^objectives = (/,$p' "$KPID_SOURCE_DIR/etc/demo.conf.in" >>"$demo"
"$HOSPGEN" --seed 11 --events "$events" --days 400 --start "$from" --out "$gen2" \
    --truth "$demo" --truth-from "$from" --truth-to "$to" 2>>"$KPID_LOG" ||
    fail "hospgen failed on the demo model"
cmp -s "$gen/expected.tsv" "$gen2/expected.tsv" || fail "hospgen is not deterministic"
kpid_run "$demo" backfill --from "$from" --to "$to" || fail "demo backfill exited with $KPID_EXIT"
sql "TRUNCATE truth; TRUNCATE truth_cases" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy truth FROM '$gen2/truth.tsv'" >>"$KPID_LOG" 2>&1 ||
    fail "cannot load the demo's truth.tsv"
assert_sql "SELECT count(*) FROM kpid.kpi k WHERE k.active
              AND NOT EXISTS (SELECT 1 FROM truth t WHERE t.kpi_id = k.id)" 0 \
    "a demo KPI without ground truth"
ndiff=$(sql "$(cat "$KPID_WORK/compare.sql") SELECT count(*) FROM diff" | tail -n 1)
if [ "$ndiff" != 0 ]; then
    psql -X -v ON_ERROR_STOP=1 -f "$KPID_WORK/report.sql" >&2 || true
    fail "$ndiff values of the demo's KPIs differ from the ground truth"
fi
_kpid_say "$(sql "SELECT count(*) FROM truth") values of $(sql "SELECT count(*) FROM kpid.kpi WHERE active") demo KPIs equal the ground truth"
