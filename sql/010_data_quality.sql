-- kpid warehouse, version 10: how many members a KPI value had to leave out.
--
-- A member whose case or subject a rule needs is missing (an ED arrival registered
-- before its visit number exists, a discharge without a patient) cannot be followed:
-- it takes part in none of the populations, and the number of such members is stored
-- beside the value, so that a dashboard can flag a value computed over incomplete data
-- (docs/kpi-semantics.md, "Members a rule cannot follow"). NULL for the types whose
-- members need neither (count, value, ratio, sql) and for values computed before
-- version 10.
ALTER TABLE kpid.kpi_value ADD COLUMN excluded_incomplete bigint
    CHECK (excluded_incomplete >= 0);
COMMENT ON COLUMN kpid.kpi_value.excluded_incomplete IS
    'Members left out of every population because the case or subject a rule needs is missing.';

-- The scorecard as in version 2, with the data-quality count of the latest complete
-- value and of the current value added at the end (the columns before keep their order).
CREATE OR REPLACE VIEW kpid.scorecard AS
WITH ranked AS (
    SELECT v.*, row_number() OVER (PARTITION BY v.kpi_id, v.stratum, v.partial
                                   ORDER BY v.period_start DESC) AS rn
    FROM kpid.kpi_value v
), strata AS (
    SELECT DISTINCT kpi_id, stratum FROM kpid.kpi_value
)
SELECT o.perspective, p.category, k.process_id, p.name AS process_name,
       k.objective_id, o.name AS objective_name,
       k.id AS kpi_id, k.name AS kpi_name, k.unit, s.stratum,
       c.period_start, c.period_end, c.value, c.numerator, c.denominator, c.n,
       k.target, k.direction, c.status, k.weight,
       prev.value AS previous_value,
       CASE WHEN c.value IS NULL OR prev.value IS NULL THEN NULL
            WHEN c.value = prev.value THEN 'flat'
            WHEN (c.value > prev.value) = (k.direction = 'higher') THEN 'better'
            ELSE 'worse' END AS trend,
       cur.period_start AS current_period_start, cur.value AS current_value,
       cur.status AS current_status,
       c.excluded_incomplete, cur.excluded_incomplete AS current_excluded_incomplete
FROM kpid.kpi k
JOIN kpid.process p ON p.id = k.process_id
JOIN kpid.objective o ON o.id = k.objective_id
JOIN strata s ON s.kpi_id = k.id
LEFT JOIN ranked c ON c.kpi_id = k.id AND c.stratum = s.stratum AND NOT c.partial AND c.rn = 1
LEFT JOIN ranked prev ON prev.kpi_id = k.id AND prev.stratum = s.stratum
                     AND NOT prev.partial AND prev.rn = 2
LEFT JOIN ranked cur ON cur.kpi_id = k.id AND cur.stratum = s.stratum AND cur.partial AND cur.rn = 1
WHERE k.active;
