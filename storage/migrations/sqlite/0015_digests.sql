-- One row per weekly digest and period: the digest's once-per-week guarantee. It is inserted
-- in the same transaction as the digest's outbox message, so a restart or a second replica
-- finds the week taken. A week whose slot was missed by more than digests.catch_up is
-- recorded as skipped, so the skip is logged once and can be seen later.
CREATE TABLE digest_runs (
    scope      TEXT    NOT NULL, -- team or org
    team       TEXT    NOT NULL, -- the owner; '' for the organisation digest
    period     TEXT    NOT NULL, -- ISO week in the schedule's zone, 2026-W49
    channel    TEXT    NOT NULL,
    slot_at    INTEGER NOT NULL, -- unix milliseconds, UTC
    outcome    TEXT    NOT NULL, -- queued or skipped
    outbox_key TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, team, period)
);
