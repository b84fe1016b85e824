-- Exemption requests made in Slack (/readiness exempt). An approved request is a waiver of one
-- signal of one service until expires_at; the scoring engine reads the approved ones next to
-- the waivers of the config. A request is decided once: the decision is a conditional UPDATE
-- on state = 'pending'.
CREATE TABLE exemptions (
    id           TEXT    PRIMARY KEY,
    service      TEXT    NOT NULL,
    signal       TEXT    NOT NULL,
    days         INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    requested_by TEXT    NOT NULL,           -- Slack user id
    origin_key   TEXT    NOT NULL UNIQUE,    -- the command invocation: one request per /readiness exempt
    channel      TEXT    NOT NULL DEFAULT '', -- where the request was posted to its approvers
    state        TEXT    NOT NULL,           -- pending, approved, denied
    decided_by   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,           -- unix milliseconds
    decided_at   INTEGER,
    expires_at   INTEGER,                    -- set on approval: decided_at + days
    reminded_at  INTEGER,                    -- when the owner's channel was told it expires soon
    lapsed_at    INTEGER                     -- when its expiry was audited and the service rescored
);
CREATE INDEX exemptions_approved ON exemptions (expires_at) WHERE state = 'approved';
