# The drill-down on a small hand-made event set (see docs/kpi-semantics.md, "n, and the
# populations behind a value"): `kpid cases` lists the exact cases of every population
# of every KPI type (a stratified count, a proportion with all four populations on each
# population basis, durations, a value, censuses with and without lookback, a ratio);
# kpid.kpi_cases gives the same rows to kpid_analyst and refuses kpid_reader; `kpid
# measure-report` is a structurally valid R4 MeasureReport whose counts are the members
# the values count and whose contained Measure states the population basis, and the
# validator itself rejects broken reports.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init drilldown
[ -x "${MEASURE_REPORT_CHECK:-}" ] || fail "no validator at MEASURE_REPORT_CHECK"
command -v jq >/dev/null || fail "jq is missing (scripts/bootstrap installs it)"

mkdir "$KPID_WORK/inbox"
{
    # Arrivals in January: C1 twice (wards A, B), C2 (B), C3 (A); C4 in February.
    ev a1 C1 S1 ARRIVAL 2025-01-05T10:00:00Z "" '{"ward":"A"}'
    ev a2 C2 S2 ARRIVAL 2025-01-06T10:00:00Z "" '{"ward":"B"}'
    ev a3 C3 S3 ARRIVAL 2025-01-07T10:00:00Z "" '{"ward":"A"}'
    ev a4 C1 S1 ARRIVAL 2025-01-08T10:00:00Z "" '{"ward":"B"}'
    ev a5 C4 S4 ARRIVAL 2025-02-02T10:00:00Z "" '{"ward":"A"}'
    # Seen: C1 after 20 min, C2 after 60; C3 never.
    ev s1 C1 S1 SEEN 2025-01-05T10:20:00Z
    ev s2 C2 S2 SEEN 2025-01-06T11:00:00Z
    # Proportion: triage in C1, C2 (denominator); C2 died (denominator exclusion); C1
    # left (numerator); a planned return within 1 h of a1 only (numerator exclusion).
    ev t1 C1 S1 TRIAGE 2025-01-05T10:05:00Z
    ev t2 C2 S2 TRIAGE 2025-01-06T10:05:00Z
    ev d2 C2 S2 DEATH 2025-01-06T12:00:00Z
    ev l1 C1 S1 LEFT 2025-01-08T12:00:00Z
    ev p1 C1 S1 PLANNED 2025-01-05T10:30:00Z
    # Costs: C1 100, C2 without a value, C3 300.
    ev c1 C1 S1 COST 2025-01-05T12:00:00Z 100
    ev c2 C2 S2 COST 2025-01-06T12:00:00Z
    ev c3 C3 S3 COST 2025-01-07T12:00:00Z 300
    # Stays: C5 from December (within 30 days) to Jan 3; C6 open since November; C7
    # Jan 10-12; C8 closed in December.
    ev m5 C5 S5 ADMIT 2024-12-20T00:00:00Z
    ev n5 C5 S5 DISCHARGE 2025-01-03T00:00:00Z
    ev m6 C6 S6 ADMIT 2024-11-01T00:00:00Z
    ev m7 C7 S7 ADMIT 2025-01-10T00:00:00Z
    ev n7 C7 S7 DISCHARGE 2025-01-12T00:00:00Z
    ev m8 C8 S8 ADMIT 2024-12-25T00:00:00Z
    ev n8 C8 S8 DISCHARGE 2024-12-28T00:00:00Z
} >"$KPID_WORK/inbox/events.ndjson"

cat >"$KPID_WORK/kpid.conf" <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = ( { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; } );
objectives = ( { id = "care"; name = "Care"; perspective = "patient"; } );
processes = (
  { id = "ward"; name = "Ward"; category = "main"; timezone = "UTC"; schedule = "@daily";
    kpis = (
      { id = "arrivals"; name = "Arrivals"; type = "count"; period = "month";
        direction = "higher"; objective = "care"; activity = "ARRIVAL";
        stratify = [ "ward" ]; },
      { id = "left_rate"; name = "Left rate"; type = "proportion"; period = "month";
        target = 0.1; direction = "lower"; objective = "care"; basis = "event";
        population = { activity = "ARRIVAL"; };
        denominator = { activity = "TRIAGE"; };
        denominator_exclusion = { activity = "DEATH"; };
        numerator = { activity = "LEFT"; };
        numerator_exclusion = { activity = "PLANNED"; within = "1h"; }; },
      { id = "left_case"; name = "Left rate per visit"; type = "proportion"; period = "month";
        target = 0.1; direction = "lower"; objective = "care"; stratify = [ "ward" ];
        population = { activity = "ARRIVAL"; };
        denominator = { activity = "TRIAGE"; };
        denominator_exclusion = { activity = "DEATH"; };
        numerator = { activity = "LEFT"; };
        numerator_exclusion = { activity = "PLANNED"; within = "1h"; }; },
      { id = "left_subject"; name = "Left rate per patient"; type = "proportion";
        period = "month"; target = 0.1; direction = "lower"; objective = "care";
        basis = "subject"; stratify = [ "ward" ];
        population = { activity = "ARRIVAL"; };
        numerator = { activity = "LEFT"; }; },
      { id = "seen_avg"; name = "Seen, mean"; unit = "min"; type = "duration"; period = "month";
        target = 30.0; direction = "lower"; objective = "care";
        from = "ARRIVAL"; to = "SEEN"; statistic = "avg"; },
      { id = "seen_30"; name = "Seen within 30 min"; type = "duration"; period = "month";
        target = 0.8; direction = "higher"; objective = "care";
        from = "ARRIVAL"; to = "SEEN"; statistic = "within"; within = "30m"; },
      { id = "cost"; name = "Cost"; type = "value"; period = "month"; target = 250.0;
        direction = "lower"; objective = "care"; activity = "COST"; statistic = "avg"; },
      { id = "beds"; name = "Bed days"; type = "census"; period = "month"; target = 1.0;
        direction = "higher"; objective = "care"; from = "ADMIT"; to = "DISCHARGE";
        statistic = "case_days"; lookback = "30d"; },
      { id = "beds365"; name = "Bed days, default lookback"; type = "census"; period = "month";
        target = 1.0; direction = "higher"; objective = "care"; from = "ADMIT";
        to = "DISCHARGE"; statistic = "case_days"; },
      { id = "per_bed"; name = "Arrivals per bed day"; type = "ratio"; period = "month";
        target = 1.0; direction = "lower"; objective = "care";
        numerator = "arrivals"; denominator = "beds"; }
    ); }
);
CONF
# The same with an sql KPI, which has no drill-down (never evaluated here).
sed 's|^    ); }$|      , { id = "by_sql"; name = "SQL"; type = "sql"; period = "month"; target = 1.0;\n        direction = "higher"; objective = "care"; query = "SELECT 1::float8 AS value"; }\n    ); }|' \
    "$KPID_WORK/kpid.conf" >"$KPID_WORK/sql.conf"
grep -q by_sql "$KPID_WORK/sql.conf" || fail "cannot make sql.conf"

kpid_run "$KPID_WORK/kpid.conf" --once || fail "--once exited with $KPID_EXIT"
assert_sql "SELECT count(*) FROM kpid.event" 22 "events"
kpid_run "$KPID_WORK/kpid.conf" backfill --from 2025-01-01 --to 2025-02-01 ||
    fail "backfill exited with $KPID_EXIT"

kp() { KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$KPID_WORK/kpid.conf" "$@"; }
# cases KPI [ARGS...]: the TSV rows of January, one "population case subject" per line.
cases() {
    local kpi=$1 out
    shift
    out=$(kp cases --kpi "$kpi" --period 2025-01-15 "$@" 2>"$KPID_WORK/cases.err") ||
        fail "kpid cases --kpi $kpi $* failed: $(cat "$KPID_WORK/cases.err")"
    [ "$(printf '%s\n' "$out" | head -n1)" = "$(printf 'population\tcase_id\tsubject_id')" ] ||
        fail "cases --kpi $kpi: no header: $out"
    printf '%s\n' "$out" | tail -n +2 | tr '\t' ' '
}
# fn KPI [POPULATION [STRATUM]]: the same from kpid.kpi_cases as kpid_analyst.
fn() {
    local pop=${2:+\'$2\'}
    sql "SET ROLE kpid_analyst; SELECT population || ' ' || case_id || ' ' || subject_id
         FROM kpid.kpi_cases('$1', '2025-01-01Z', '2025-02-01Z', ${pop:-NULL}, '${3:-{\}}')"
}
lines() { printf '%s\n' "$@"; }
# check KPI WANT...: both lists equal WANT (one argument per line).
check() {
    local kpi=$1
    shift
    local want
    want=$(lines "$@")
    assert_eq "$(cases "$kpi")" "$want" "kpid cases --kpi $kpi"
    assert_eq "$(fn "$kpi")" "$want" "kpid.kpi_cases('$kpi')"
}

# The values first: the members below are what these are computed over.
v() { sql "SELECT round(value::numeric, 6), n FROM kpid.kpi_value WHERE kpi_id = '$1'
           AND period_start = '2025-01-01Z' AND stratum = '${2:-{\}}'"; }
assert_eq "$(v arrivals)" "4.000000|4" "arrivals"
assert_eq "$(v arrivals '{"ward": "A"}')" "2.000000|2" "arrivals, ward A"
assert_eq "$(v left_rate)" "0.500000|4" "left rate: (2 - 1) / (3 - 1)"
# Per visit: C1 once, anchored at a1 (ward A, 10:00), so its planned return at 10:30 is
# within the hour: (1 - 1) / (2 - 1).
assert_eq "$(v left_case)" "0.000000|3" "left rate per visit"
assert_eq "$(v left_case '{"ward": "A"}')" "0.000000|2" "per visit, ward A: C1 and C3"
assert_eq "$(v left_case '{"ward": "B"}')" "|1" "per visit, ward B: C2 only (died)"
assert_eq "$(v left_subject)" "0.333333|3" "left rate per patient"
assert_eq "$(v seen_avg)" "40.000000|2" "seen, mean"
assert_eq "$(v seen_30)" "0.333333|3" "seen within 30 min"
assert_eq "$(v cost)" "200.000000|2" "cost"
# lookback 30d: C5 2 days, C7 2 days; C6 (opened in November) takes no part.
assert_eq "$(v beds)" "4.000000|2" "census with lookback 30d"
assert_eq "$(v beds365)" "35.000000|3" "census with the default lookback"
assert_eq "$(v per_bed)" "1.000000|" "ratio"

check arrivals "initial-population C1 S1" "initial-population C2 S2" "initial-population C3 S3"
assert_eq "$(cases arrivals --stratum '{"ward": "A"}')" \
    "$(lines "initial-population C1 S1" "initial-population C3 S3")" "arrivals, ward A"
assert_eq "$(fn arrivals initial-population '{"ward": "B"}')" \
    "$(lines "initial-population C1 S1" "initial-population C2 S2")" "kpi_cases, ward B"
check left_rate "denominator C1 S1" "denominator C2 S2" "denominator-exclusion C2 S2" \
    "initial-population C1 S1" "initial-population C2 S2" "initial-population C3 S3" \
    "numerator C1 S1" "numerator-exclusion C1 S1"
assert_eq "$(cases left_rate --population numerator)" "numerator C1 S1" "--population"
assert_eq "$(fn left_rate denominator-exclusion)" "denominator-exclusion C2 S2" "population_code"
check left_case "denominator C1 S1" "denominator C2 S2" "denominator-exclusion C2 S2" \
    "initial-population C1 S1" "initial-population C2 S2" "initial-population C3 S3" \
    "numerator C1 S1" "numerator-exclusion C1 S1"
# A visit is in the stratum of its first arrival only: C1 is not in ward B.
assert_eq "$(cases left_case --stratum '{"ward": "B"}')" \
    "$(lines "denominator C2 S2" "denominator-exclusion C2 S2" "initial-population C2 S2")" \
    "per visit, ward B"
assert_eq "$(fn left_subject initial-population '{"ward": "B"}')" "initial-population C2 S2" \
    "per patient, ward B"
check left_subject "denominator C1 S1" "denominator C2 S2" "denominator C3 S3" \
    "initial-population C1 S1" "initial-population C2 S2" "initial-population C3 S3" \
    "numerator C1 S1"
check seen_avg "initial-population C1 S1" "initial-population C2 S2" "initial-population C3 S3" \
    "measure-population C1 S1" "measure-population C2 S2"
check seen_30 "denominator C1 S1" "denominator C2 S2" "denominator C3 S3" \
    "initial-population C1 S1" "initial-population C2 S2" "initial-population C3 S3" \
    "numerator C1 S1"
check cost "initial-population C1 S1" "initial-population C2 S2" "initial-population C3 S3" \
    "measure-population C1 S1" "measure-population C3 S3"
check beds "initial-population C5 S5" "initial-population C7 S7"
check beds365 "initial-population C5 S5" "initial-population C6 S6" "initial-population C7 S7"
check per_bed "denominator C5 S5" "denominator C7 S7" \
    "numerator C1 S1" "numerator C2 S2" "numerator C3 S3"
# February: one arrival, C4.
assert_eq "$(kp cases --kpi arrivals --period 2025-02 | tail -n +2 | tr '\t' ' ')" \
    "initial-population C4 S4" "a month given as YYYY-MM"

# Errors: exit 64 with a clear message.
expect_usage() { # WANT_IN_STDERR CONF ARGS...
    local want=$1 conf=$2 rc=0
    shift 2
    KPID_PLUGIN_DIR=$KPID_PLUGIN_DIR "$KPID_BIN" -c "$conf" "$@" >/dev/null 2>"$KPID_WORK/err" || rc=$?
    assert_eq "$rc" 64 "exit status of $*"
    grep -qF -- "$want" "$KPID_WORK/err" || fail "$*: no \"$want\" in: $(cat "$KPID_WORK/err")"
}
C=$KPID_WORK/kpid.conf
expect_usage 'no KPI "nosuch"' "$C" cases --kpi nosuch --period 2025-01-01
expect_usage 'has no population "numerator"' "$C" cases --kpi arrivals --period 2025-01-01 \
    --population numerator
expect_usage 'must be a JSON object' "$C" cases --kpi arrivals --period 2025-01-01 --stratum '{"ward":'
expect_usage 'must be a JSON object' "$C" cases --kpi arrivals --period 2025-01-01 --stratum '[1]'
expect_usage 'not stratified by "bed"' "$C" cases --kpi arrivals --period 2025-01-01 --stratum '{"bed":"A"}'
expect_usage '--period is a date' "$C" cases --kpi arrivals --period January
expect_usage 'has no drill-down' "$KPID_WORK/sql.conf" cases --kpi by_sql --period 2025-01-01
expect_usage 'has no drill-down' "$KPID_WORK/sql.conf" measure-report --kpi by_sql --period 2025-01-01
expect_usage 'usage:' "$C" cases --kpi arrivals

# The function: only kpid_analyst may call it; it checks what it is given.
out=$(psql -X -A -t -q -c "SET ROLE kpid_reader; SELECT * FROM kpid.kpi_cases('arrivals',
      '2025-01-01Z', '2025-02-01Z')" 2>&1) && fail "kpid_reader could call kpi_cases: $out"
case $out in *"permission denied for function kpi_cases"*) ;;
*) fail "kpid_reader: want permission denied, got: $out" ;; esac
assert_sql "SELECT has_function_privilege('kpid_reader', 'kpid.kpi_cases(text, timestamptz,
            timestamptz, text, jsonb)', 'EXECUTE'), has_function_privilege('kpid_analyst',
            'kpid.kpi_cases(text, timestamptz, timestamptz, text, jsonb)', 'EXECUTE'),
            has_function_privilege('public', 'kpid.kpi_cases(text, timestamptz,
            timestamptz, text, jsonb)', 'EXECUTE')" "f|t|f" "EXECUTE privileges"
out=$(psql -X -A -t -q -c "SELECT * FROM kpid.kpi_cases('arrivals', '2025-01-01Z',
      '2025-02-01Z', 'numerator')" 2>&1) && fail "an unknown population was accepted: $out"
case $out in *'KPI "arrivals" has no population "numerator"'*) ;;
*) fail "unknown population: got: $out" ;; esac
# The stored statement passes the KPI's parameters as one text[]: no other '$'.
assert_sql "SELECT count(*) FROM kpid.kpi WHERE definition ? 'members_sql'
            AND definition ->> 'members_sql' ~ '\\\$([^123]|[0-9][0-9])'" 0 "only \$1 \$2 \$3 remain"
assert_sql "SELECT definition -> 'populations' FROM kpid.kpi WHERE id = 'seen_30'" \
    '["initial-population", "denominator", "numerator"]' "populations in the definition"

# measure-report: valid, its counts the sizes of the lists above, its score the value.
report() { # KPI -> $KPID_WORK/KPI.json, checked by the validator
    kp measure-report --kpi "$1" --period 2025-01-31 >"$KPID_WORK/$1.json" ||
        fail "measure-report --kpi $1 failed"
    "$MEASURE_REPORT_CHECK" "$KPID_WORK/$1.json" ||
        { cat "$KPID_WORK/$1.json" >&2; fail "the MeasureReport of $1 is not valid"; }
}
# counts KPI: "code=count ..." of group[0], in report order.
counts() {
    jq -r '[.group[0].population[] | "\(.code.coding[0].code)=\(.count)"] | join(" ")' \
        "$KPID_WORK/$1.json"
}
# count KPI CODE: the count of population CODE in the report of KPI.
count_of() {
    jq -r --arg c "$2" '.group[0].population[] | select(.code.coding[0].code == $c) | .count' \
        "$KPID_WORK/$1.json"
}
# stored KPI EXPR: EXPR of the whole population's stored value of KPI for January.
stored() {
    sql "SELECT ($2)::bigint FROM kpid.kpi_value WHERE kpi_id = '$1'
         AND period_start = '2025-01-01 00:00+00' AND stratum = '{}'"
}
for kpi in arrivals left_rate left_case left_subject seen_avg seen_30 cost beds beds365 per_bed; do
    report "$kpi"
done
# The counts are the members the stored values count.
assert_eq "$(count_of arrivals initial-population)" "$(stored arrivals value)" "arrivals: members"
assert_eq "$(count_of left_rate initial-population)" "$(stored left_rate n)" "left_rate: n"
assert_eq "$(($(count_of left_rate numerator) - $(count_of left_rate numerator-exclusion)))" \
    "$(stored left_rate numerator)" "left_rate: N - NX is the numerator"
assert_eq "$(($(count_of left_rate denominator) - $(count_of left_rate denominator-exclusion)))" \
    "$(stored left_rate denominator)" "left_rate: D - DX is the denominator"
assert_eq "$(count_of seen_avg measure-population)" "$(stored seen_avg n)" "seen_avg: n"
assert_eq "$(count_of seen_30 numerator)" "$(stored seen_30 numerator)" "seen_30: numerator"
assert_eq "$(count_of seen_30 denominator)" "$(stored seen_30 denominator)" "seen_30: denominator"
assert_eq "$(count_of cost measure-population)" "$(stored cost n)" "cost: n"
assert_eq "$(count_of beds initial-population)" "$(stored beds n)" "beds: n"
assert_eq "$(count_of beds365 initial-population)" "$(stored beds365 n)" "beds365: n"
# Members are distinct cases here, except in the event-based arrivals and left_rate
# (C1 arrived twice).
for kpi in seen_avg seen_30 cost beds beds365; do
    for pop in $(jq -r '.group[0].population[].code.coding[0].code' "$KPID_WORK/$kpi.json"); do
        assert_eq "$(count_of "$kpi" "$pop")" "$(cases "$kpi" --population "$pop" | wc -l)" \
            "$kpi $pop: members = listed cases"
    done
done
assert_eq "$(counts left_rate)" \
    "initial-population=4 denominator=3 denominator-exclusion=1 numerator=2 numerator-exclusion=1" \
    "left_rate counts"
assert_eq "$(counts per_bed)" "numerator=4 denominator=2" "per_bed counts: the members of arrivals and beds"
j() { jq -c "$2" "$KPID_WORK/$1.json"; }
assert_eq "$(j left_rate '[.resourceType, .status, .type, .measure, .period, .group[0].measureScore.value]')" \
    '["MeasureReport","complete","summary","#measure",{"start":"2025-01-01T00:00:00Z","end":"2025-02-01T00:00:00Z"},0.5]' \
    "left_rate report"
# The contained Measure: its canonical URL, scoring and population basis.
assert_eq "$(j left_rate '.contained[0] | [.resourceType, .id, .url, .status, .title, .scoring.coding[0].code]')" \
    '["Measure","measure","urn:kpid:measure:left_rate","active","Left rate","proportion"]' \
    "the contained Measure"
basis() { jq -r '.contained[0].extension // [] | map(select(.url ==
    "http://hl7.org/fhir/uv/cqm/StructureDefinition/cqm-populationBasis")) | .[0].valueCode // "none"' \
    "$KPID_WORK/$1.json"; }
assert_eq "$(basis left_case)" Encounter "populationBasis of a proportion per visit"
assert_eq "$(basis left_subject)" boolean "populationBasis of a proportion per patient"
assert_eq "$(basis left_rate)" Resource "populationBasis of a proportion per event"
assert_eq "$(basis seen_avg)" Encounter "populationBasis of a duration"
assert_eq "$(basis beds)" Encounter "populationBasis of a census"
assert_eq "$(basis arrivals)" Resource "populationBasis of a count"
assert_eq "$(basis cost)" Resource "populationBasis of a value"
assert_eq "$(basis per_bed)" none "a ratio has no population basis"
assert_eq "$(j seen_30 '.contained[0].scoring.coding[0].code')" '"proportion"' "a share within is a proportion"
assert_eq "$(j seen_avg '.contained[0].scoring.coding[0].code')" '"continuous-variable"' "a duration"
assert_eq "$(j per_bed '.contained[0].scoring.coding[0].code')" '"ratio"' "a ratio"
assert_eq "$(counts left_case)" \
    "initial-population=3 denominator=2 denominator-exclusion=1 numerator=1 numerator-exclusion=1" \
    "left_case counts: visits"
assert_eq "$(j left_rate '.improvementNotation.coding[0].code')" '"decrease"' "lower is better"
assert_eq "$(j arrivals '.improvementNotation.coding[0].code')" '"increase"' "higher is better"
assert_eq "$(j seen_avg '.group[0].measureScore')" '{"value":40,"unit":"min"}' "score with unit"
assert_eq "$(j arrivals '.group[0].stratifier | length')" 1 "one stratifier"
assert_eq "$(j arrivals '.group[0].stratifier[0].code')" '[{"text":"ward"}]' "stratifier code"
assert_eq "$(j arrivals '[.group[0].stratifier[0].stratum[] | [.value.text, .population[0].count, .measureScore.value]]')" \
    '[["A",2,2],["B",2,2]]' "strata: cases and values"
assert_eq "$(j arrivals '.id')" '"arrivals-2025-01"' "id"
# An open period is pending.
kp measure-report --kpi arrivals --period "$(date -u +%Y-%m-%d)" >"$KPID_WORK/now.json" ||
    fail "measure-report of the current month failed"
"$MEASURE_REPORT_CHECK" "$KPID_WORK/now.json" || fail "the current report is not valid"
assert_eq "$(jq -r .status "$KPID_WORK/now.json")" pending "open period"

# The validator rejects broken reports.
rejects() { # NAME JQ_FILTER WANT_IN_STDERR
    jq "$2" "$KPID_WORK/left_rate.json" >"$KPID_WORK/broken-$1.json"
    ! "$MEASURE_REPORT_CHECK" "$KPID_WORK/broken-$1.json" 2>"$KPID_WORK/broken.err" ||
        fail "the validator accepted a report with $1"
    grep -qF -- "$3" "$KPID_WORK/broken.err" || fail "validator, $1: $(cat "$KPID_WORK/broken.err")"
}
rejects "no status" 'del(.status)' 'MeasureReport.status: required'
rejects "a wrong status" '.status = "final"' 'is not complete | pending | error'
rejects "a wrong population code" '.group[0].population[1].code.coding[0].code = "denominatr"' \
    '"denominatr" is not a measure-population code'
rejects "a wrong system" '.group[0].population[0].code.coding[0].system = "http://x"' 'system: must be'
rejects "a negative count" '.group[0].population[0].count = -1' 'count: must be an integer >= 0'
rejects "a string score" '.group[0].measureScore.value = "0.5"' 'measureScore.value: must be a number'
rejects "an unknown element" '.score = 1' 'MeasureReport.score: not an element'
rejects "no period" 'del(.period)' 'MeasureReport.period: required'
rejects "no measure" 'del(.measure)' 'MeasureReport.measure: required'
rejects "a measure not contained" '.measure = "#other"' '"#other" names no contained resource'
rejects "an orphan contained resource" '.measure = "urn:kpid:measure:left_rate"' \
    'is not referred to from the report (dom-3)'
rejects "a relative measure" '.measure = "left_rate"' 'neither a canonical URL nor "#id"'
rejects "a basis that is a string" '.contained[0].extension[0] |= (del(.valueCode) | .valueString = "event")' \
    'cqm-populationBasis takes a valueCode'
rejects "a basis that is no type" '.contained[0].extension[0].valueCode = "event"' \
    'populationBasis "event" is not a FHIR type'
rejects "two bases" '.contained[0].extension += .contained[0].extension' 'a second'
rejects "an extension with two values" '.contained[0].extension[0].valueString = "x"' \
    'must have exactly one value[x], has 2'
rejects "a Measure without status" 'del(.contained[0].status)' 'contained[0].status: required'
rejects "a relative Measure url" '.contained[0].url = "left_rate"' 'is not an absolute URI'
rejects "a wrong scoring" '.contained[0].scoring.coding[0].code = "share"' 'scoring.coding[0]: not a code'
rejects "a contained id twice" '.contained += .contained' 'is used twice'

# A KPI synced without a members statement has no drill-down in the function either.
sql "UPDATE kpid.kpi SET definition = definition - 'members_sql' WHERE id = 'beds'" >/dev/null
out=$(psql -X -A -t -q -c "SELECT * FROM kpid.kpi_cases('beds', '2025-01-01Z', '2025-02-01Z')" 2>&1) &&
    fail "kpi_cases without members_sql: $out"
case $out in *'KPI "beds" has no drill-down'*) ;; *) fail "no drill-down: got: $out" ;; esac
