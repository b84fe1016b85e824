-- Quorum approvals (see the SQLite migration 0011).
ALTER TABLE approvals ADD COLUMN quorum BIGINT NOT NULL DEFAULT 1;

CREATE TABLE approval_votes (
    approval_id TEXT COLLATE "C" NOT NULL,
    approver    TEXT COLLATE "C" NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (approval_id, approver)
);
