-- Exemption requests made in Slack (see the SQLite migration 0014).
CREATE TABLE exemptions (
    id           TEXT COLLATE "C" PRIMARY KEY,
    service      TEXT COLLATE "C" NOT NULL,
    signal       TEXT COLLATE "C" NOT NULL,
    days         BIGINT NOT NULL,
    reason       TEXT NOT NULL,
    requested_by TEXT COLLATE "C" NOT NULL,
    origin_key   TEXT COLLATE "C" NOT NULL UNIQUE,
    channel      TEXT COLLATE "C" NOT NULL DEFAULT '',
    state        TEXT COLLATE "C" NOT NULL,
    decided_by   TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    decided_at   BIGINT,
    expires_at   BIGINT,
    reminded_at  BIGINT,
    lapsed_at    BIGINT
);
CREATE INDEX exemptions_approved ON exemptions (expires_at) WHERE state = 'approved';
