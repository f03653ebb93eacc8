-- kpid warehouse, version 5: the drill-down behind a KPI value.

-- The cases behind a KPI's value of the period [period_start, period_end): the distinct
-- (case_id, subject_id) of the members of each population (all of the KPI's
-- populations when population_code is NULL; the parameter cannot be called population,
-- the name of the result's column) whose stratum is the given one ('{}': the whole
-- population), sorted. It runs the members statement the daemon compiled and synced
-- into kpid.kpi.definition (members_sql, with the KPI's parameters as the text[] $3,
-- members_params, and the population codes, populations; see docs/kpi-semantics.md).
-- It reads raw events, so it runs as the migration's owner (SECURITY DEFINER) and only
-- kpid_analyst may call it, never kpid_reader.
CREATE FUNCTION kpid.kpi_cases(kpi_id text, period_start timestamptz, period_end timestamptz,
                               population_code text DEFAULT NULL,
                               stratum jsonb DEFAULT '{}')
RETURNS TABLE (population text, case_id text, subject_id text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, kpid
AS $$
DECLARE
    def    jsonb;
    codes  text[];
BEGIN
    SELECT k.definition INTO def FROM kpid.kpi k WHERE k.id = kpi_cases.kpi_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no KPI "%"', kpi_cases.kpi_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF def ->> 'members_sql' IS NULL THEN
        RAISE EXCEPTION 'KPI "%" has no drill-down', kpi_cases.kpi_id
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'an sql KPI, or a ratio over one, has no members to list';
    END IF;
    codes := ARRAY(SELECT jsonb_array_elements_text(def -> 'populations'));
    IF kpi_cases.population_code IS NOT NULL THEN
        IF NOT kpi_cases.population_code = ANY (codes) THEN
            RAISE EXCEPTION 'KPI "%" has no population "%"', kpi_cases.kpi_id,
                            kpi_cases.population_code
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'its populations are ' || array_to_string(codes, ', ');
        END IF;
        codes := ARRAY[kpi_cases.population_code];
    END IF;
    IF period_end <= period_start THEN
        RAISE EXCEPTION 'the period''s end must be after its start'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE
        'SELECT d.code, d.case_id, d.subject_id FROM (SELECT DISTINCT c.code, m.case_id,'
        ' m.subject_id FROM (' || (def ->> 'members_sql')
        || ') m CROSS JOIN LATERAL unnest($4) AS c (code)'
           ' WHERE (to_jsonb(m) ->> c.code)::boolean AND ($5 = ''{}''::jsonb OR m.stratum = $5)) d'
           ' ORDER BY d.code COLLATE "C", d.case_id COLLATE "C", d.subject_id COLLATE "C"'
        USING kpi_cases.period_start, kpi_cases.period_end,
              ARRAY(SELECT jsonb_array_elements_text(def -> 'members_params')), codes,
              coalesce(kpi_cases.stratum, '{}'::jsonb);
END
$$;

REVOKE EXECUTE ON FUNCTION kpid.kpi_cases(text, timestamptz, timestamptz, text, jsonb)
    FROM PUBLIC;
-- kpid_analyst gets EXECUTE from sql/grants.sql, at every start.
