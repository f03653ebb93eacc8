-- kpid warehouse, version 12: rejected input is kept for a bounded time.
--
-- kpid.rejected.raw holds input a source could not use: a line of a file, an HL7
-- message, which may be patient data. Each source's rejected_retention (default 14 days,
-- at most 365) says how long: then kpid sets raw to NULL (daemon/warehouse/retention.c,
-- at start, hourly and at --once). The row stays, with its source, locator, reason and
-- rejected_at, so that data-quality reports still count rejections and their reasons.

-- The retention each source had when kpid last purged. A source that is no longer
-- configured, or that another kpid instance on this warehouse reads, is purged with the
-- retention recorded here, or with the default of 14 days when none ever was.
CREATE TABLE kpid.rejected_retention (
    source      text        PRIMARY KEY,
    retention   interval    NOT NULL CHECK (retention > interval '0'),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE kpid.rejected_retention IS
    'How long kpid.rejected.raw of each source is kept: its rejected_retention, as last configured.';
COMMENT ON COLUMN kpid.rejected.raw IS
    'The input as the source''s rejected_raw allows; set to NULL after its rejected_retention.';

-- The purge finds, per source, the rows whose raw is older than the retention; only rows
-- that still hold raw input are indexed, so the index stays as small as the input kept.
CREATE INDEX rejected_raw_idx ON kpid.rejected (source, rejected_at) WHERE raw IS NOT NULL;
