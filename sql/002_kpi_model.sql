-- kpid warehouse, version 2: the management model and KPI values.
--
-- Objectives, processes and KPI definitions are synced from the configuration by the
-- daemon; KPI values are computed by it inside the warehouse, one row per KPI, period
-- and stratum. Dashboards read the views scorecard, perspective_score and
-- process_landscape, and kpi_value, through the role kpid_reader.

-- Strategic objectives, each in one balanced-scorecard perspective.
CREATE TABLE kpid.objective (
    id           text COLLATE "C" PRIMARY KEY,
    name         text        NOT NULL,
    perspective  text        NOT NULL
                 CHECK (perspective IN ('financial', 'patient', 'internal', 'learning')),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Processes of the process-oriented quality-management model.
CREATE TABLE kpid.process (
    id           text COLLATE "C" PRIMARY KEY,
    name         text        NOT NULL,
    category     text        NOT NULL
                 CHECK (category IN ('main', 'supporting', 'development', 'management')),
    owner        text,
    timezone     text        NOT NULL,
    schedule     text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- KPI definitions. definition is the whole configured definition; version_hash
-- changes with it, and values computed under another hash are recomputed.
CREATE TABLE kpid.kpi (
    id            text COLLATE "C" PRIMARY KEY,
    process_id    text COLLATE "C" NOT NULL REFERENCES kpid.process (id),
    objective_id  text COLLATE "C" NOT NULL REFERENCES kpid.objective (id),
    name          text             NOT NULL,
    unit          text,
    type          text             NOT NULL
                  CHECK (type IN ('count', 'proportion', 'duration', 'value', 'census',
                                  'ratio', 'sql')),
    period        text             NOT NULL,
    target        double precision,
    direction     text             NOT NULL CHECK (direction IN ('higher', 'lower')),
    weight        double precision NOT NULL DEFAULT 1 CHECK (weight > 0),
    bands         jsonb            NOT NULL DEFAULT '[]',
    definition    jsonb            NOT NULL,
    version_hash  text             NOT NULL,
    active        boolean          NOT NULL DEFAULT true,
    updated_at    timestamptz      NOT NULL DEFAULT now()
);
COMMENT ON COLUMN kpid.kpi.bands IS
    'Contiguous value ranges with a status: [{"from": 0, "to": 30, "status": "green"}, ...].';
COMMENT ON COLUMN kpid.kpi.active IS
    'false once the KPI is no longer configured; its values stay.';

-- One value per KPI, period and stratum ({} is the whole population). Numerator and
-- denominator are stored where the type has them (proportion, ratio), never only the
-- rate. partial marks a period that is still open.
CREATE TABLE kpid.kpi_value (
    kpi_id        text COLLATE "C" NOT NULL REFERENCES kpid.kpi (id),
    period_start  timestamptz      NOT NULL,
    period_end    timestamptz      NOT NULL,
    stratum       jsonb            NOT NULL DEFAULT '{}',
    value         double precision,
    numerator     double precision,
    denominator   double precision,
    n             bigint,
    status        text CHECK (status IN ('green', 'amber', 'red')),
    partial       boolean          NOT NULL DEFAULT false,
    version_hash  text             NOT NULL,
    computed_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (kpi_id, period_start, stratum),
    CHECK (period_end > period_start)
);

-- Every evaluation, with its duration and any error.
CREATE TABLE kpid.kpi_run (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    process_id      text COLLATE "C" NOT NULL,
    kpi_id          text COLLATE "C",
    period_start    timestamptz,
    period_end      timestamptz,
    reason          text        NOT NULL
                    CHECK (reason IN ('schedule', 'late', 'definition', 'backfill', 'catchup')),
    started_at      timestamptz NOT NULL DEFAULT now(),
    duration_ms     double precision,
    values_written  integer,
    error           text
);
CREATE INDEX kpi_run_process_idx ON kpid.kpi_run (process_id, started_at);

-- The latest complete value and the current (open-period) value per KPI and stratum,
-- with target, status, and the trend against the complete period before.
CREATE VIEW kpid.scorecard AS
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
       cur.status AS current_status
FROM kpid.kpi k
JOIN kpid.process p ON p.id = k.process_id
JOIN kpid.objective o ON o.id = k.objective_id
JOIN strata s ON s.kpi_id = k.id
LEFT JOIN ranked c ON c.kpi_id = k.id AND c.stratum = s.stratum AND NOT c.partial AND c.rn = 1
LEFT JOIN ranked prev ON prev.kpi_id = k.id AND prev.stratum = s.stratum
                     AND NOT prev.partial AND prev.rn = 2
LEFT JOIN ranked cur ON cur.kpi_id = k.id AND cur.stratum = s.stratum AND cur.partial AND cur.rn = 1
WHERE k.active;

-- Weighted scores per perspective and period, per process and overall (process_id
-- NULL). A KPI's score is 100 when green, 50 when amber, 0 when red; the score of a
-- group is the weighted mean over its KPIs' whole-population values of that period.
CREATE VIEW kpid.perspective_score AS
SELECT o.perspective, k.process_id, v.period_start, v.period_end,
       sum(k.weight * CASE v.status WHEN 'green' THEN 100 WHEN 'amber' THEN 50 ELSE 0 END)
           / sum(k.weight) AS score,
       count(*) AS kpis,
       bool_or(v.partial) AS partial
FROM kpid.kpi_value v
JOIN kpid.kpi k ON k.id = v.kpi_id
JOIN kpid.objective o ON o.id = k.objective_id
WHERE v.stratum = '{}' AND v.status IS NOT NULL AND k.active
GROUP BY GROUPING SETS ((o.perspective, k.process_id, v.period_start, v.period_end),
                        (o.perspective, v.period_start, v.period_end));

-- Processes by category, with how many of their KPIs are green, amber and red in
-- their latest complete period.
CREATE VIEW kpid.process_landscape AS
SELECT p.category, p.id AS process_id, p.name, p.owner,
       count(DISTINCT k.id) AS kpis,
       count(*) FILTER (WHERE s.status = 'green') AS green,
       count(*) FILTER (WHERE s.status = 'amber') AS amber,
       count(*) FILTER (WHERE s.status = 'red') AS red
FROM kpid.process p
LEFT JOIN kpid.kpi k ON k.process_id = p.id AND k.active
LEFT JOIN kpid.scorecard s ON s.kpi_id = k.id AND s.stratum = '{}'
GROUP BY p.category, p.id, p.name, p.owner;

-- Roles: dashboards read the views and kpi_value and nothing else (never raw events);
-- analysts get the drill-down. The roles and their grants are not a migration: they are
-- (re)applied at every start by sql/grants.sql, so that roles a DBA creates later are
-- granted too.
