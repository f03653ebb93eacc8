-- kpid warehouse, version 4: the status of a KPI value.

-- The status of v under a KPI's bands ([{"from": a, "to": b, "status": s}, ...], from
-- inclusive, to exclusive, null = open), or, without bands, under its target and
-- direction: green when v meets the target, red otherwise. NULL for no value.
CREATE FUNCTION kpid.kpi_status(v double precision, bands jsonb,
                                target double precision, direction text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN v IS NULL THEN NULL
        WHEN jsonb_array_length(coalesce(bands, '[]')) > 0 THEN (
            SELECT b.band ->> 'status' FROM jsonb_array_elements(bands) AS b (band)
            WHERE (jsonb_typeof(b.band -> 'from') IS DISTINCT FROM 'number'
                   OR v >= (b.band ->> 'from')::double precision)
              AND (jsonb_typeof(b.band -> 'to') IS DISTINCT FROM 'number'
                   OR v < (b.band ->> 'to')::double precision)
            LIMIT 1)
        WHEN target IS NULL THEN NULL
        WHEN (direction = 'higher' AND v >= target) OR (direction = 'lower' AND v <= target)
            THEN 'green'
        ELSE 'red'
    END
$$;
