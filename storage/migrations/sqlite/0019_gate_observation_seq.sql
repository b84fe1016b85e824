-- The gate report keeps a summary of the observations in memory and reads only the rows
-- stored since its last read (gate/report_index.go): it needs a number that grows in commit
-- order. The table becomes a rowid table whose rowid, seq, is that number (SQLite has one
-- writer, so rowids are handed out in commit order; rows are never deleted, so none is
-- reused). origin_key stays unique: a replayed delivery is still stored once. Existing rows
-- are numbered here, oldest first.
CREATE TABLE gate_observations_seq (
    seq            INTEGER PRIMARY KEY,
    origin_key     TEXT    NOT NULL UNIQUE,
    at             INTEGER NOT NULL,  -- unix milliseconds
    service        TEXT    NOT NULL,
    environment    TEXT    NOT NULL,
    mode_from      TEXT    NOT NULL,  -- the setting that chose observe mode
    would_decision TEXT    NOT NULL,  -- allow, needs_approval or block
    band           TEXT    NOT NULL,
    score          REAL,              -- NULL when the service had no score
    reasons        BLOB    NOT NULL   -- JSON array of gate.Reason: why enforcement would have decided so
);

INSERT INTO gate_observations_seq (origin_key, at, service, environment, mode_from, would_decision, band, score, reasons)
    SELECT origin_key, at, service, environment, mode_from, would_decision, band, score, reasons
    FROM gate_observations ORDER BY at, origin_key;

DROP TABLE gate_observations;
ALTER TABLE gate_observations_seq RENAME TO gate_observations;
CREATE INDEX gate_observations_at ON gate_observations (at);
