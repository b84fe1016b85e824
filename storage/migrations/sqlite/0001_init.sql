-- Every webhook delivery, verified and kept verbatim: the audit trail of what arrived and the
-- input for re-scoring. (source, delivery_id) is the dedupe key of SPEC §3.1.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    delivery_id  TEXT    NOT NULL,
    event_type   TEXT    NOT NULL,
    subject_kind TEXT    NOT NULL DEFAULT '',
    subject_key  TEXT    NOT NULL DEFAULT '',
    service      TEXT    NOT NULL DEFAULT '',
    outcome      TEXT    NOT NULL,
    received_at  INTEGER NOT NULL, -- unix milliseconds, UTC
    headers      TEXT    NOT NULL DEFAULT '{}',
    body         BLOB    NOT NULL,
    UNIQUE (source, delivery_id)
);
CREATE INDEX deliveries_received ON deliveries (received_at);
CREATE INDEX deliveries_service ON deliveries (service, id);

-- Normalised observations. service is '' until the catalog maps the subject.
CREATE TABLE facts (
    id           INTEGER PRIMARY KEY,
    delivery     INTEGER NOT NULL REFERENCES deliveries (id),
    service      TEXT    NOT NULL DEFAULT '',
    subject_kind TEXT    NOT NULL,
    subject_key  TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    at           INTEGER NOT NULL, -- unix milliseconds, UTC
    data         BLOB    NOT NULL  -- JSON of releaseops.Fact
);
CREATE INDEX facts_service_at ON facts (service, at);
CREATE INDEX facts_unmapped ON facts (subject_kind, subject_key) WHERE service = '';

-- Services seen in events but not named by the catalog (repository org/name → name).
CREATE TABLE discovered_services (
    name       TEXT PRIMARY KEY,
    subject    TEXT    NOT NULL,
    first_seen INTEGER NOT NULL
);

-- Progress markers of background workers, so a restart resumes where the last run stopped.
CREATE TABLE cursors (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

-- The latest scorecard of each service, and every change of score.
CREATE TABLE scores (
    service    TEXT PRIMARY KEY,
    score      REAL    NOT NULL,
    band       TEXT    NOT NULL,
    level      TEXT    NOT NULL,
    card       BLOB    NOT NULL, -- scorecard JSON
    updated_at INTEGER NOT NULL
);
CREATE TABLE score_history (
    id      INTEGER PRIMARY KEY,
    service TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    score   REAL    NOT NULL,
    band    TEXT    NOT NULL,
    level   TEXT    NOT NULL
);
CREATE INDEX score_history_service ON score_history (service, at);
