-- Observe mode: each gate request answered in observe mode, with what enforcement would have
-- answered and why, so GET /api/v1/gate/report can show what switching to enforce would
-- change without re-reading and re-parsing the audit log. origin_key is the gate request's
-- (the request id, or "github:" + the delivery id): a replayed delivery is stored once.
CREATE TABLE gate_observations (
    origin_key     TEXT    NOT NULL PRIMARY KEY,
    at             INTEGER NOT NULL,  -- unix milliseconds
    service        TEXT    NOT NULL,
    environment    TEXT    NOT NULL,
    mode_from      TEXT    NOT NULL,  -- the setting that chose observe mode
    would_decision TEXT    NOT NULL,  -- allow, needs_approval or block
    band           TEXT    NOT NULL,
    score          REAL,              -- NULL when the service had no score
    reasons        BLOB    NOT NULL   -- JSON array of gate.Reason: why enforcement would have decided so
) WITHOUT ROWID;

CREATE INDEX gate_observations_at ON gate_observations (at);
