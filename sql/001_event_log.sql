-- kpid warehouse, version 1: the event log, source cursors and rejected input.
-- Applied by kpid --migrate (and at start-up) in one transaction; recorded in
-- kpid.schema_version, which the migration runner creates before this file runs.

-- One row per event, in the sense of process mining: (case_id, activity, time).
-- Keys compare bytewise (COLLATE "C"): identity needs no linguistic order, and the
-- primary key's lookups and inserts are much cheaper so in any database locale.
CREATE TABLE kpid.event (
    source       text COLLATE "C" NOT NULL,
    event_key    text COLLATE "C" NOT NULL,
    case_id      text,
    subject_id   text,
    activity     text             NOT NULL,
    time         timestamptz      NOT NULL,
    value        double precision,
    attrs        jsonb            NOT NULL DEFAULT '{}',
    origin       text,
    ingested_at  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_key)
);
COMMENT ON TABLE kpid.event IS
    'Normalized event log. Upserted by (source, event_key); newer content replaces older.';
COMMENT ON COLUMN kpid.event.subject_id IS
    'The patient, pseudonymized with HMAC-SHA256 unless pseudonymization is off.';
COMMENT ON COLUMN kpid.event.origin IS
    'The source record (e.g. one FHIR resource) this event derives from, for replacement as a set.';

-- Origin replacements delete by (source, origin); only events that have one are indexed.
CREATE INDEX event_origin_idx ON kpid.event (source, origin) WHERE origin IS NOT NULL;

-- The position of each source, written in the same transaction as its events.
CREATE TABLE kpid.cursor (
    source      text        PRIMARY KEY,
    cursor      text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Input that could not become events: malformed lines, rows PostgreSQL refused.
CREATE TABLE kpid.rejected (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       text        NOT NULL,
    locator      text        NOT NULL,
    reason       text        NOT NULL,
    raw          text,
    rejected_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, locator)
);
COMMENT ON COLUMN kpid.rejected.locator IS
    'Where the input came from: "path:line" for files, "key:<event_key>" for refused rows.';
