# The KPI warehouse schema (migrations 2 and 10): scorecard with status, trend, current
# value and the data-quality count of members left out;
# weighted perspective scores per process and overall; the process landscape; the
# role kpid_reader sees the views and kpid.kpi_value and nothing else.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init warehouse_views

mkdir "$KPID_WORK/inbox"
write_conf "$KPID_WORK/kpid.conf" "$KPID_WORK/inbox/*.ndjson"
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "--migrate exited with $KPID_EXIT"
assert_sql "SELECT max(version) >= 2 FROM kpid.schema_version" t "schema version"

sql "INSERT INTO kpid.objective VALUES
       ('timely', 'Timely care', 'patient'), ('cost', 'Cost control', 'financial');
     INSERT INTO kpid.process (id, name, category, owner, timezone, schedule) VALUES
       ('ed', 'Emergency care', 'main', 'Head of ED', 'Asia/Almaty', '*/15 * * * *'),
       ('fin', 'Finance', 'management', NULL, 'Asia/Almaty', '@daily');
     INSERT INTO kpid.kpi (id, process_id, objective_id, name, type, period, target,
                           direction, weight, definition, version_hash) VALUES
       ('d2d', 'ed', 'timely', 'Door to doctor', 'duration', 'month', 30, 'lower', 2, '{}', 'h1'),
       ('lwbs', 'ed', 'timely', 'LWBS rate', 'proportion', 'month', 0.02, 'lower', 1, '{}', 'h1'),
       ('cpc', 'fin', 'cost', 'Cost per case', 'value', 'month', 1000, 'lower', 1, '{}', 'h1');
     INSERT INTO kpid.kpi_value (kpi_id, period_start, period_end, stratum, value,
                                 numerator, denominator, status, partial, version_hash) VALUES
       ('d2d', '2025-01-01', '2025-02-01', '{}', 40, NULL, NULL, 'amber', false, 'h1'),
       ('d2d', '2025-02-01', '2025-03-01', '{}', 35, NULL, NULL, 'amber', false, 'h1'),
       ('d2d', '2025-03-01', '2025-04-01', '{}', 28, NULL, NULL, 'green', true, 'h1'),
       ('d2d', '2025-02-01', '2025-03-01', '{\"triage_level\": \"1\"}', 12, NULL, NULL, 'green', false, 'h1'),
       ('lwbs', '2025-01-01', '2025-02-01', '{}', 0.01, 10, 1000, 'green', false, 'h1'),
       ('lwbs', '2025-02-01', '2025-03-01', '{}', 0.03, 30, 1000, 'red', false, 'h1'),
       ('lwbs', '2025-03-01', '2025-04-01', '{}', 0.05, 5, 100, 'red', true, 'h1'),
       ('cpc', '2025-02-01', '2025-03-01', '{}', 900, NULL, NULL, 'green', false, 'h1');
     UPDATE kpid.kpi_value SET excluded_incomplete = 7 WHERE kpi_id = 'lwbs'
       AND period_start = '2025-02-01';
     UPDATE kpid.kpi_value SET excluded_incomplete = 2 WHERE kpi_id = 'lwbs'
       AND period_start = '2025-03-01'" >/dev/null

# Latest complete value, its trend against the one before, the open period beside it.
assert_sql "SELECT period_start::date, value, status, previous_value, trend, current_value, current_status
            FROM kpid.scorecard WHERE kpi_id = 'd2d' AND stratum = '{}'" \
    "2025-02-01|35|amber|40|better|28|green" "d2d on the scorecard"
assert_sql "SELECT value, numerator, denominator, trend FROM kpid.scorecard
            WHERE kpi_id = 'lwbs'" "0.03|30|1000|worse" "lwbs on the scorecard"
# The members left out for missing data, of the complete and of the current value.
assert_sql "SELECT excluded_incomplete, current_excluded_incomplete FROM kpid.scorecard
            WHERE kpi_id = 'lwbs'" "7|2" "data-quality counts on the scorecard"
assert_sql "SELECT excluded_incomplete IS NULL FROM kpid.scorecard WHERE kpi_id = 'cpc'" t \
    "no count where none was stored"
# Migration 10 replaced the view: the columns of version 2 keep their places, the new
# ones come last.
assert_sql "SELECT string_agg(column_name, ',' ORDER BY ordinal_position)
            FROM information_schema.columns WHERE table_schema = 'kpid' AND table_name = 'scorecard'" \
    "perspective,category,process_id,process_name,objective_id,objective_name,kpi_id,kpi_name,unit,stratum,period_start,period_end,value,numerator,denominator,n,target,direction,status,weight,previous_value,trend,current_period_start,current_value,current_status,excluded_incomplete,current_excluded_incomplete" \
    "scorecard columns"
assert_sql "SELECT value, trend IS NULL FROM kpid.scorecard
            WHERE kpi_id = 'd2d' AND stratum ->> 'triage_level' = '1'" "12|t" "a stratum"
# February, patient perspective, process ed: (2 x 50 + 1 x 0) / 3.
assert_sql "SELECT round(score::numeric, 4), kpis FROM kpid.perspective_score
            WHERE perspective = 'patient' AND process_id = 'ed' AND period_start = '2025-02-01'" \
    "33.3333|2" "weighted perspective score"
assert_sql "SELECT score, kpis FROM kpid.perspective_score
            WHERE perspective = 'financial' AND process_id IS NULL AND period_start = '2025-02-01'" \
    "100|1" "overall financial score"
assert_sql "SELECT category, process_id, kpis, green, amber, red FROM kpid.process_landscape
            ORDER BY process_id" "main|ed|2|0|1|1
management|fin|1|1|0|0" "process landscape"

# kpid_reader: the views and kpi_value, nothing else.
assert_sql "SET ROLE kpid_reader; SELECT count(*) FROM kpid.scorecard" 4 "reader reads the scorecard"
assert_sql "SET ROLE kpid_reader; SELECT count(*) FROM kpid.kpi_value" 8 "reader reads kpi_value"
assert_sql "SET ROLE kpid_reader; SELECT count(*) FROM kpid.process_landscape" 2 "reader reads the landscape"
for t in event rejected cursor kpi process objective kpi_run; do
    out=$(psql -X -A -t -q -c "SET ROLE kpid_reader; SELECT count(*) FROM kpid.$t" 2>&1) &&
        fail "kpid_reader can read kpid.$t"
    case "$out" in *"permission denied"*) ;; *) fail "unexpected error for kpid.$t: $out" ;; esac
done
# Migrating again (another database in the same cluster, roles already there) is fine.
kpid_run "$KPID_WORK/kpid.conf" --migrate || fail "second --migrate exited with $KPID_EXIT"
