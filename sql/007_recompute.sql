-- kpid warehouse, version 7: recomputing history when a KPI's definition changes.
--
-- The model sync sets recompute_from when it writes a KPI whose version_hash differs
-- from the stored one, or a KPI that is new: the start of the configured
-- recompute_horizon before now. The KPI's process evaluates every period from there at
-- its next tick, under its advisory lock (reason "definition" in kpid.kpi_run), and then
-- clears it, unless the definition changed again meanwhile.
ALTER TABLE kpid.kpi ADD COLUMN recompute_from timestamptz;
COMMENT ON COLUMN kpid.kpi.recompute_from IS
    'Set when the definition changed: its periods from here on are to be recomputed.';
