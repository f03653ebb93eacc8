# A late period whose evaluation fails (sql/014_kpi_retry.sql): the process's watermark
# moves on all the same, so that the next tick neither reads the changes again nor
# evaluates again the periods of the other KPIs they made dirty; the failed period is
# evaluated again at each tick until it succeeds, and then the ratio that divides it is
# evaluated again for that period too. The values end as a full backfill computes them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init late_retry

mkdir "$KPID_WORK/inbox"
{
    ev l1 L1 P1 LAB_ORDER 2025-01-05T10:00:00Z
    ev l2 L2 P2 LAB_ORDER 2025-02-10T10:00:00Z
} >"$KPID_WORK/inbox/a.ndjson"

# "fragile" counts the period's lab orders, but divides by zero in January while
# public.toggle holds 0: a query that fails for one period only, as an operator's can.
sql "CREATE TABLE public.toggle (v int); INSERT INTO public.toggle VALUES (1);
     GRANT SELECT ON public.toggle TO kpid_sql" >/dev/null
cat >"$KPID_WORK/kpid.conf" <<CONF
pseudonymize = false;
recompute_horizon = "0s";
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = ( { name = "events"; plugin = "file"; path = "$KPID_WORK/inbox/*.ndjson"; } );
objectives = ( { id = "care"; name = "Care"; perspective = "patient"; } );
processes = (
  { id = "lab"; name = "Laboratory"; category = "supporting"; timezone = "UTC";
    schedule = "0 0 1 1 *";
    kpis = (
      { id = "labs"; name = "Lab orders"; type = "count"; period = "month";
        direction = "higher"; objective = "care"; activity = "LAB_ORDER"; },
      { id = "fragile"; name = "Lab orders, by hand"; type = "sql"; period = "month"; target = 1.0;
        direction = "higher"; objective = "care";
        query = "SELECT (CASE WHEN \$1 < '2025-02-01'::timestamptz THEN 1 / (SELECT v FROM public.toggle) ELSE 1 END * (SELECT count(*) FROM kpid.event WHERE activity = 'LAB_ORDER' AND time >= \$1 AND time < \$2))::float8 AS value"; },
      { id = "fragile_per_lab"; name = "By hand per lab order"; type = "ratio";
        period = "month"; target = 1.0; direction = "higher"; objective = "care";
        numerator = "fragile"; denominator = "labs"; }
    ); }
);
CONF

backfill() { backfill_months "$KPID_WORK/kpid.conf" 2025-01-01 2025-03-01; }
values() {
    sql "SELECT kpi_id, to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM'), value
         FROM kpid.kpi_value WHERE period_start < '2026-01-01' ORDER BY 1, 2"
}
# The runs since mark: "kpi month error?" per late run, in order.
late_runs() {
    sql "SELECT string_agg(kpi_id || ' ' || to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM')
                           || CASE WHEN error IS NULL THEN '' ELSE ' failed' END, ', ' ORDER BY id)
         FROM kpid.kpi_run WHERE id > $1 AND reason = 'late'"
}
# tick [STATUS]: one --once, which exits with STATUS (0; 1 when an evaluation failed).
mark=0
tick() {
    [ "$mark" = 0 ] && [ "$(sql "SELECT to_regclass('kpid.kpi_run') IS NULL")" = t ] ||
        mark=$(sql "SELECT coalesce(max(id), 0) FROM kpid.kpi_run")
    kpid_run "$KPID_WORK/kpid.conf" --once || true
    assert_eq "$KPID_EXIT" "${1:-0}" "--once's exit status"
}

# 1. The first tick sets the watermark; the history is backfill's.
tick
backfill
assert_eq "$(values | tr '\n' ' ')" \
    "fragile|2025-01|1 fragile|2025-02|1 fragile_per_lab|2025-01|1 fragile_per_lab|2025-02|1 labs|2025-01|1 labs|2025-02|1 " \
    "values before"

# 2. A late January order while fragile fails for January: labs and the ratio are
#    evaluated, fragile fails and its period is kept; the watermark moves on.
sql "UPDATE public.toggle SET v = 0" >/dev/null
ev l3 L3 P3 LAB_ORDER 2025-01-20T10:00:00Z >"$KPID_WORK/late.tmp"
mv "$KPID_WORK/late.tmp" "$KPID_WORK/inbox/b.ndjson"
watermark=$(sql "SELECT snapshot FROM kpid.process_watermark WHERE process_id = 'lab'")
tick 1
assert_eq "$(late_runs "$mark")" "labs 2025-01, fragile 2025-01 failed, fragile_per_lab 2025-01" \
    "late runs with fragile failing"
assert_sql "SELECT kpi_id || ' ' || to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM') || ' '
                   || to_char(period_end AT TIME ZONE 'UTC', 'YYYY-MM')
            FROM kpid.kpi_retry" "fragile 2025-01 2025-02" "the kept period"
assert_sql "SELECT snapshot::text <> '$watermark' FROM kpid.process_watermark
            WHERE process_id = 'lab'" t "the watermark moved on"
assert_eq "$(month_value labs 2025-01)" 2 "labs, January"
assert_eq "$(month_value fragile 2025-01)" 1 "fragile, January: the value before its failure"

# 3. Nothing new: only the kept period is evaluated again (and fails again); labs's
#    January, which the changes made dirty, is not.
tick 1
assert_eq "$(late_runs "$mark")" "fragile 2025-01 failed" "late runs at the tick after"
assert_sql "SELECT count(*) FROM kpid.kpi_retry" 1 "kept periods after a second failure"

# 4. Mended: the kept period succeeds and is dropped, and the ratio follows it.
sql "UPDATE public.toggle SET v = 1" >/dev/null
tick
assert_eq "$(late_runs "$mark")" "fragile 2025-01, fragile_per_lab 2025-01" \
    "late runs once fragile succeeds"
assert_sql "SELECT count(*) FROM kpid.kpi_retry" 0 "kept periods after the success"
assert_eq "$(month_value fragile 2025-01)" 2 "fragile, January, after"
assert_eq "$(month_value fragile_per_lab 2025-01)" 1 "the ratio, January, after"
after=$(values)
backfill
assert_eq "$(values)" "$after" "the values after the retries differ from a full backfill"

# 5. Then nothing is late any more.
tick
assert_eq "$(late_runs "$mark")" "" "late runs after everything succeeded"

# 6. A kept period that is no period of the KPI any more (its period or its process's
#    time zone changed since) is dropped without an evaluation.
sql "INSERT INTO kpid.kpi_retry (kpi_id, period_start, period_end)
     VALUES ('fragile', '2025-01-05 00:00:00+00', '2025-02-05 00:00:00+00')" >/dev/null
tick
assert_eq "$(late_runs "$mark")" "" "late runs of a kept period that is no period"
assert_sql "SELECT count(*) FROM kpid.kpi_retry" 0 "kept periods after the tick"
assert_sql "SELECT count(*) FROM kpid.kpi_value WHERE period_start = '2025-01-05 00:00:00+00'" 0 \
    "values of a kept period that is no period"
