-- kpid warehouse, version 11: an event log that is cheap to write.
--
-- Which index each KPI shape reads (docs/kpi-semantics.md has the shapes):
--
--   ev_time_<activity> (time) WHERE activity = <activity>: the anchors, events of one
--     activity in a period: count, value, the population of a proportion, the `from`
--     of a duration, the openings of a census and their lookback.
--   ev_case_<activity> (case_id, time) WHERE activity = <activity> AND case_id IS NOT
--     NULL (so that only a probe by case, never an anchor, can use it): looking inside one
--     case for events of that activity: the `from` and `to` of a duration and of a
--     census (the case's first opening, its closing); the conditions of a proportion
--     linked by case, and its population activity when its basis is case or a
--     condition is linked by case (late events make its cases' members dirty).
--   ev_subject_<activity> (subject_id, time) WHERE activity = <activity> AND subject_id
--     IS NOT NULL: the same across one patient's cases: proportion conditions linked by
--     subject (a readmission within 30 days), and the population activity when the
--     basis is subject or a condition is linked by subject.
--   ev_activity_time (activity, time), every event: only while the model has an sql
--     KPI, whose query may read any activity.
--   event_ingest_xid_brin (ingest_xid): the events a tick has not seen yet (late
--     events), by the transaction that wrote them.
--
-- The ev_* indexes are not created here: model sync creates those the configured KPIs
-- read (CREATE INDEX CONCURRENTLY, never blocking ingestion) and drops those no KPI
-- reads any more (daemon/event_index.c). An event of an activity no KPI reads costs the
-- primary key and a BRIN summary, nothing more.

-- Every event was in these three, whatever the model read.
DROP INDEX kpid.event_activity_time_idx;
DROP INDEX kpid.event_case_idx;
DROP INDEX kpid.event_subject_idx;

-- Identifiers compare bytewise: no KPI needs a linguistic order of case numbers,
-- pseudonyms or activities, and comparisons in a database's locale (ICU, glibc) cost
-- more on every index insert. (The views and functions order and show them as text.)
ALTER TABLE kpid.event
    ALTER COLUMN case_id TYPE text COLLATE "C",
    ALTER COLUMN subject_id TYPE text COLLATE "C",
    ALTER COLUMN activity TYPE text COLLATE "C";
ALTER TABLE kpid.event_change
    ALTER COLUMN case_id TYPE text COLLATE "C",
    ALTER COLUMN subject_id TYPE text COLLATE "C",
    ALTER COLUMN activity TYPE text COLLATE "C";

-- The writing transaction as a bigint, summarized by a BRIN index: ingest_xid only
-- grows, so block ranges hold narrow ranges of it, and the index costs next to nothing
-- to maintain (xid8 has no BRIN operator class).
DROP INDEX kpid.event_ingest_xid_idx;
ALTER TABLE kpid.event
    ALTER COLUMN ingest_xid DROP DEFAULT,
    ALTER COLUMN ingest_xid TYPE bigint USING ingest_xid::text::bigint,
    ALTER COLUMN ingest_xid SET DEFAULT pg_current_xact_id()::text::bigint;
COMMENT ON COLUMN kpid.event.ingest_xid IS
    'The transaction that inserted the row (its xid8 as a bigint); NULL for rows written before version 6.';
CREATE INDEX event_ingest_xid_brin ON kpid.event USING brin (ingest_xid);

-- Each version in kpid.event_change names its event and says whether it is the old one,
-- so that a tick can rebuild a case as it was before the changes (a census's stays:
-- daemon/kpi_dirty.c) instead of assuming the worst. Versions from before this migration
-- have no event and count as old.
ALTER TABLE kpid.event_change
    ADD COLUMN source text COLLATE "C",
    ADD COLUMN event_key text COLLATE "C",
    ADD COLUMN is_old boolean NOT NULL DEFAULT true;
CREATE OR REPLACE FUNCTION kpid.event_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kpid.event_change (source, event_key, is_old, case_id, subject_id, activity, time)
    SELECT source, event_key, true, case_id, subject_id, activity, time FROM old_rows
    UNION ALL
    SELECT source, event_key, false, case_id, subject_id, activity, time FROM new_rows;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION kpid.event_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kpid.event_change (source, event_key, is_old, case_id, subject_id, activity, time)
    SELECT source, event_key, true, case_id, subject_id, activity, time FROM old_rows;
    RETURN NULL;
END
$$;
