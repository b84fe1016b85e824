-- The large values (webhook bodies, scorecards, outbox payloads, audit details) are
-- compressed with lz4 instead of the server's default pglz. Measured with 3 replicas on a
-- 2-core machine, pglz_compress was 15% of the server's CPU in the deploy phase (every 4 KB
-- body is compressed in the ingest statement); lz4 compresses JSON several times faster, at
-- a slightly lower ratio. Only values written from here on change; older ones stay readable.
-- A server built without lz4 (or older than 14, which has no per-column compression) keeps
-- pglz: the migration then records itself and changes nothing.
DO $$
BEGIN
    IF current_setting('server_version_num')::int < 140000 THEN
        RAISE NOTICE 'releaseops: PostgreSQL older than 14, keeping pglz';
        RETURN;
    END IF;
    EXECUTE 'ALTER TABLE deliveries ALTER COLUMN body SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE scores ALTER COLUMN card SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE outbox ALTER COLUMN payload SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE audit_log ALTER COLUMN detail SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'releaseops: this server has no lz4, keeping pglz: %', SQLERRM;
END $$;
