-- kpid warehouse, version 8: keyed source state (plugin SDK ABI 1.1).
--
-- Small values a source plugin keeps per key besides its cursor: the file source's
-- position in each file ("f:DEV:INO"), later the committed HL7 control ids or Kafka
-- partition offsets. The writer upserts and deletes them in the transaction of the batch
-- that carries them, after its events and before its cursor, so they are exactly as
-- durable as the cursor. Keys compare bytewise (COLLATE "C"): a plugin loads them in
-- that order. Only kpid itself reads this table: no dashboard role is granted anything.
CREATE TABLE kpid.source_state (
    source      text COLLATE "C" NOT NULL,
    key         text COLLATE "C" NOT NULL,
    value       text             NOT NULL,
    updated_at  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (source, key)
);
COMMENT ON TABLE kpid.source_state IS
    'Keyed state of source plugins (e.g. the file source''s position per file), written in the same transaction as the events and the cursor of the batch that carries it.';
COMMENT ON COLUMN kpid.source_state.key IS
    'The plugin''s own key, 1 to 256 bytes; the file source uses "f:DEV:INO" per followed file.';
COMMENT ON COLUMN kpid.source_state.value IS
    'The plugin''s own value, at most 4096 bytes; the file source stores JSON {off, line, fp, fplen, path}.';
