-- kpid warehouse, version 13: one active instance per pull source.
--
-- A hospital runs kpid on two servers for availability. A source with `exclusive = true`
-- (the default of poll sources: files on a shared folder, HIS databases, FHIR) is read by
-- one instance at a time. The instances elect its reader with a session advisory lock,
-- key hashtextextended('kpid.source:' || source, 0), held on a connection of its own (the
-- lease connection); the instance that holds it is the source's holder. Each time an
-- instance takes a source it raises the source's epoch here. Every transaction that
-- writes batches of an exclusive source checks, with kpid.lease_check just before its
-- COMMIT, that the epoch its batches were read under is still the source's epoch, and
-- logs the commit in kpid.source_commit: a batch read by an instance that has since lost
-- the source, and another instance took it, can never commit (fencing), whichever of its
-- connections the writer uses.
CREATE TABLE kpid.source_lease (
    source       text COLLATE "C" PRIMARY KEY,
    epoch        bigint      NOT NULL,
    holder       text        NOT NULL,
    acquired_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE kpid.source_lease IS
    'The holder of each exclusive source: the kpid instance (host:pid) that reads it, since when, and the epoch it took it under (raised at every take-over).';

-- One row per transaction that committed batches of an exclusive source: who committed
-- under which epoch, and when (within the transaction, before COMMIT). Epochs never
-- interleave: a take-over waits for the transactions of the last holder that passed
-- their check. Purged after 7 days with rejected input (warehouse/retention.c).
CREATE TABLE kpid.source_commit (
    source  text COLLATE "C" NOT NULL,
    epoch   bigint      NOT NULL,
    holder  text        NOT NULL,
    at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX source_commit_source_at_idx ON kpid.source_commit (source, at);
COMMENT ON TABLE kpid.source_commit IS
    'A line per transaction that wrote batches of an exclusive source: its holder and epoch then (kpid.lease_check).';

-- Raises SQLSTATE KP001 unless every source in sources still has the epoch at the same
-- place in epochs; keeps those lease rows share-locked until the transaction ends, so a
-- take-over (which updates the row) waits for this transaction to commit or abort.
CREATE FUNCTION kpid.lease_check(sources text[], epochs bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stale text;
BEGIN
    SELECT string_agg(u.s, ',' ORDER BY u.s) INTO stale
    FROM unnest(sources, epochs) AS u (s, e)
    WHERE NOT EXISTS (SELECT FROM kpid.source_lease l WHERE l.source = u.s AND l.epoch = u.e);
    IF stale IS NOT NULL THEN
        RAISE EXCEPTION 'kpid: another instance holds the source now: %', stale
            USING ERRCODE = 'KP001';
    END IF;
    PERFORM FROM kpid.source_lease l WHERE l.source = ANY (sources) FOR SHARE;
    -- Checked again under the lock: a take-over may have committed in between.
    SELECT string_agg(u.s, ',' ORDER BY u.s) INTO stale
    FROM unnest(sources, epochs) AS u (s, e)
    WHERE NOT EXISTS (SELECT FROM kpid.source_lease l WHERE l.source = u.s AND l.epoch = u.e);
    IF stale IS NOT NULL THEN
        RAISE EXCEPTION 'kpid: another instance holds the source now: %', stale
            USING ERRCODE = 'KP001';
    END IF;
    INSERT INTO kpid.source_commit (source, epoch, holder)
    SELECT l.source, l.epoch, l.holder FROM kpid.source_lease l WHERE l.source = ANY (sources);
END
$$;

-- Which instance reads each exclusive source, and whether it holds the source's lock now
-- (active = false: its holder is gone, and another instance takes it over within
-- warehouse.takeover).
CREATE VIEW kpid.source_holder AS
SELECT l.source, l.holder, l.epoch, l.acquired_at,
       EXISTS (SELECT FROM pg_catalog.pg_locks k
               WHERE k.locktype = 'advisory' AND k.objsubid = 1 AND k.granted
                 AND k.database = (SELECT d.oid FROM pg_catalog.pg_database d
                                   WHERE d.datname = pg_catalog.current_database())
                 AND ((k.classid::bigint << 32) | k.objid::bigint)
                     = pg_catalog.hashtextextended('kpid.source:' || l.source, 0)) AS active
FROM kpid.source_lease l;
COMMENT ON VIEW kpid.source_holder IS
    'The holder of each exclusive source, and whether it holds the source now.';
