-- Weekly digests, once per period (see the SQLite migration 0015).
CREATE TABLE digest_runs (
    scope      TEXT COLLATE "C" NOT NULL,
    team       TEXT COLLATE "C" NOT NULL,
    period     TEXT COLLATE "C" NOT NULL,
    channel    TEXT COLLATE "C" NOT NULL,
    slot_at    BIGINT NOT NULL,
    outcome    TEXT NOT NULL,
    outbox_key TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, team, period)
);
