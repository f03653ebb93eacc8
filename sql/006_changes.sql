-- kpid warehouse, version 6: change tracking for late and corrected events.
--
-- A scheduler tick re-evaluates the periods that events committed since its last tick
-- affect (daemon/kpi_dirty.c). It finds those events by the transaction that wrote
-- them: every new event row carries its transaction id, and every update or delete of
-- an event leaves the old and the new version in kpid.event_change. Which transactions
-- a tick has seen is its snapshot (pg_current_snapshot()), kept per process in
-- kpid.process_watermark.

-- No default at ADD COLUMN, so the existing rows are not rewritten: NULL means "written
-- before tracking began", which no tick reads as a change.
ALTER TABLE kpid.event ADD COLUMN ingest_xid xid8;
ALTER TABLE kpid.event ALTER COLUMN ingest_xid SET DEFAULT pg_current_xact_id();
COMMENT ON COLUMN kpid.event.ingest_xid IS
    'The transaction that inserted the row; NULL for rows written before version 6.';
-- Increasing keys: inserts touch the rightmost leaf only. Partial, so that an upgraded
-- warehouse indexes no history.
CREATE INDEX event_ingest_xid_idx ON kpid.event (ingest_xid) WHERE ingest_xid IS NOT NULL;

-- The versions of events that were updated (old and new) or deleted (old), written by
-- the triggers below, whatever wrote kpid.event: the writer's corrections, retractions
-- and origin replacements, or an operator's SQL. Only what decides a KPI's period is
-- kept. Rows that every process's watermark has passed are deleted by the scheduler.
CREATE TABLE kpid.event_change (
    ingest_xid  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    case_id     text,
    subject_id  text,
    activity    text        NOT NULL,
    time        timestamptz NOT NULL
);
CREATE INDEX event_change_xid_idx ON kpid.event_change (ingest_xid);

-- Statement-level, with transition tables: one INSERT per statement, nothing per row,
-- and nothing at all for a COPY or INSERT of new events.
CREATE FUNCTION kpid.event_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kpid.event_change (case_id, subject_id, activity, time)
    SELECT case_id, subject_id, activity, time FROM old_rows
    UNION ALL
    SELECT case_id, subject_id, activity, time FROM new_rows;
    RETURN NULL;
END
$$;
CREATE FUNCTION kpid.event_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kpid.event_change (case_id, subject_id, activity, time)
    SELECT case_id, subject_id, activity, time FROM old_rows;
    RETURN NULL;
END
$$;
CREATE TRIGGER event_updated AFTER UPDATE ON kpid.event
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpid.event_updated();
CREATE TRIGGER event_deleted AFTER DELETE ON kpid.event
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpid.event_deleted();

-- Per process, the snapshot of its last complete tick: the transactions whose events
-- it has taken into account.
CREATE TABLE kpid.process_watermark (
    process_id  text COLLATE "C" PRIMARY KEY,
    snapshot    pg_snapshot NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
