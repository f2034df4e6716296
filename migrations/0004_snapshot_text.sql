-- 0004_snapshot_text.sql — snapshot states stored as the worker's JSON text.
--
-- The state column was jsonb, so every read converted it back to text
-- (about 100 ms for a 10,000-stroke whiteboard: 8.9 MB with jsonb's spacing)
-- and the API then parsed and serialized it again. The worker now writes the
-- state's canonical text (compact, sorted keys, reals in their shortest
-- round-trip form: docs/reducers.md) and reads it back as is, so the API can
-- serve a row that is already current without parsing it.
--
-- Rows written before this migration keep jsonb's text form (the same JSON
-- values, with spaces) until newer snapshots replace them. Values are
-- compressed with lz4 where the server was built with it (cheaper to write
-- and read than the default pglz); elsewhere the default stays.
ALTER TABLE snapshots ALTER COLUMN state TYPE text USING state::text;

DO $$
BEGIN
    ALTER TABLE snapshots ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;
