-- The deploy gate: approvals of watch-band deploys and the hash-chained audit log.

-- An approval asked of a service's approvers. state moves once, from pending to approved,
-- denied or expired, by a conditional UPDATE (... WHERE state = 'pending'), so concurrent clicks
-- and the expiry loop cannot both win.
CREATE TABLE approvals (
    id           TEXT    PRIMARY KEY,
    service      TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    version      TEXT    NOT NULL DEFAULT '',
    commit_sha   TEXT    NOT NULL DEFAULT '',
    requested_by TEXT    NOT NULL DEFAULT '',
    origin       TEXT    NOT NULL,           -- api or github
    origin_key   TEXT    NOT NULL UNIQUE,    -- request id, or the GitHub delivery id: one approval per delivery
    channel      TEXT    NOT NULL DEFAULT '',
    score        REAL,                       -- NULL when the service had no score
    band         TEXT    NOT NULL DEFAULT '',
    reasons      BLOB    NOT NULL,           -- JSON array of gate.Reason
    callback     BLOB,                       -- JSON of the GitHub protection rule to answer, if any
    state        TEXT    NOT NULL,           -- pending, approved, denied, expired
    decided_by   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    decided_at   INTEGER,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX approvals_pending ON approvals (expires_at) WHERE state = 'pending';

-- Append-only audit log. Each entry carries the SHA-256 of the previous entry (prev_hash) and
-- of its own canonical content (hash); editing, inserting or deleting a row breaks the chain.
-- The triggers stop accidental changes through SQL; the chain catches deliberate ones.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    service     TEXT    NOT NULL DEFAULT '',
    actor       TEXT    NOT NULL DEFAULT '',
    approval_id TEXT    NOT NULL DEFAULT '',
    detail      BLOB    NOT NULL,            -- JSON object
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_service ON audit_log (service, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- The gate treats a service with no event for gate.stale_after as unknown; this index answers
-- "latest event of each source for the service" with one seek per source.
CREATE INDEX deliveries_service_source_received ON deliveries (service, source, received_at);
