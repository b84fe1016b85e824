-- Quorum approvals: an approval may need several distinct approvers. quorum is how many
-- (1 for every approval stored before, which one click decided); approval_votes holds who has
-- approved so far, one row per person, so a second click by the same approver cannot count
-- twice. A Deny needs no vote: one Deny decides.
ALTER TABLE approvals ADD COLUMN quorum INTEGER NOT NULL DEFAULT 1;

CREATE TABLE approval_votes (
    approval_id TEXT    NOT NULL,
    approver    TEXT    NOT NULL,  -- Slack user id
    at          INTEGER NOT NULL,  -- unix milliseconds
    PRIMARY KEY (approval_id, approver)
) WITHOUT ROWID;
