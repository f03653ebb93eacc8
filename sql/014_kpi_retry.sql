-- kpid warehouse, version 14: late periods whose evaluation failed, retried at each tick.
--
-- A tick evaluates the periods that late and corrected events made dirty (sql/006). When
-- one of those evaluations fails (an sql KPI's query that errors for that period, a
-- statement timeout), the period is kept here and the process's watermark moves on all
-- the same. Before, the watermark stayed where it was: every later tick of the process
-- read all the changes since and evaluated every period they had made dirty, for every
-- KPI of the process, again, and kpid.event_change kept every version since, for as long
-- as the one KPI kept failing. Each tick of the KPI's process evaluates the periods kept
-- here first and drops those that succeed; a success also queues the same period of
-- every ratio that divides the KPI, which read its value while it was missing or stale.
CREATE TABLE kpid.kpi_retry (
    kpi_id        text COLLATE "C" NOT NULL REFERENCES kpid.kpi (id),
    period_start  timestamptz      NOT NULL,
    period_end    timestamptz      NOT NULL,
    failed_at     timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (kpi_id, period_start)
);
COMMENT ON TABLE kpid.kpi_retry IS
    'Periods whose evaluation after late events failed (or whose parts changed since): retried at each tick.';
