-- Observe mode (see the SQLite migration 0012).
CREATE TABLE gate_observations (
    origin_key     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    at             BIGINT NOT NULL,
    service        TEXT COLLATE "C" NOT NULL,
    environment    TEXT COLLATE "C" NOT NULL,
    mode_from      TEXT   NOT NULL,
    would_decision TEXT   NOT NULL,
    band           TEXT   NOT NULL,
    score          DOUBLE PRECISION,
    reasons        BYTEA  NOT NULL
);

CREATE INDEX gate_observations_at ON gate_observations (at);
