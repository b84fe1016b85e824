-- Every outgoing message (Slack posts and updates, GitHub deployment callbacks), written in the
-- same transaction as the state change that caused it and delivered by the outbox worker.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    key          TEXT    NOT NULL UNIQUE, -- idempotency key: a message is queued once, ever
    kind         TEXT    NOT NULL,
    target       TEXT    NOT NULL,        -- channel or URL; delivered in id order per target
    service      TEXT    NOT NULL DEFAULT '',
    payload      BLOB    NOT NULL,
    state        TEXT    NOT NULL,        -- pending, sending, sent, dead, disabled
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    ref          TEXT    NOT NULL DEFAULT '', -- what the receiver returned, e.g. a Slack ts
    created_at   INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    sent_at      INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt);
CREATE INDEX outbox_target ON outbox (target, state, id);
