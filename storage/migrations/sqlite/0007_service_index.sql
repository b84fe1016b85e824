-- The service indexes move out of the ingest transaction. A SQLite index keyed by service
-- costs, in every group commit, one page write per distinct service in the batch: with events
-- spread over many services that was half of all the pages the ingest path wrote (measured:
-- 23.6 of 47.6 WAL frames per commit of 12.6 deploy events over 50 services). These two
-- tables hold the same entries but are filled in bulk by the indexer a moment after the commit
-- (storage/service_index.go), so each service's page is written once per indexing round
-- instead of once per commit. Readers add the short tail the indexer has not reached yet
-- (rows above the cursors 'index.facts' and 'index.deliveries'), in the same statement, so
-- nothing committed is ever missing from a read.
CREATE TABLE fact_index (
    service TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    fact    INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    PRIMARY KEY (service, at, fact)
) WITHOUT ROWID;

CREATE TABLE delivery_index (
    service     TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    delivery    INTEGER NOT NULL,
    PRIMARY KEY (service, source, received_at, delivery)
) WITHOUT ROWID;

INSERT INTO fact_index (service, at, fact, kind) SELECT service, at, id, kind FROM facts WHERE service <> '';
INSERT INTO delivery_index (service, source, received_at, delivery) SELECT service, source, received_at, id FROM deliveries WHERE service <> '';
INSERT INTO cursors (name, value) VALUES ('index.facts', (SELECT coalesce(max(id), 0) FROM facts))
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
INSERT INTO cursors (name, value) VALUES ('index.deliveries', (SELECT coalesce(max(id), 0) FROM deliveries))
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;

DROP INDEX IF EXISTS facts_service_at;
DROP INDEX IF EXISTS deliveries_service_source_received;

-- Claiming an unmapped subject finds its deliveries here; mapped deliveries (nearly all) are
-- not in this partial index and cost nothing on ingest.
CREATE INDEX deliveries_unmapped ON deliveries (subject_kind, subject_key) WHERE service = '';
