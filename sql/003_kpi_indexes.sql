-- kpid warehouse, version 3: the indexes KPI evaluation needs, so that each KPI is an
-- index range scan over its period (see docs/kpi-semantics.md for the shapes).

-- The anchor of every KPI type: events of one activity in a period.
-- count, value; proportion (initial population); duration (first `from`);
-- census (cases opened before the period's end).
CREATE INDEX event_activity_time_idx ON kpid.event (activity, time);

-- Looking inside one case: proportion conditions with link = case; duration (the
-- first `to` after the anchor, and "no earlier `from`"); census (the closing event).
CREATE INDEX event_case_idx ON kpid.event (case_id, activity, time)
    WHERE case_id IS NOT NULL;

-- Looking across one subject's cases: proportion conditions with link = subject
-- (a readmission within 30 days of a discharge).
CREATE INDEX event_subject_idx ON kpid.event (subject_id, activity, time)
    WHERE subject_id IS NOT NULL;
