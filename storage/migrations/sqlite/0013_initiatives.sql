-- Initiatives created at run time through POST /api/v1/initiatives (those in the config file
-- live there). spec is the initiative as posted (initiative.Spec, JSON); deleting one removes
-- its row, and the audit log keeps both the creation and the deletion. Nudges need no table:
-- the outbox key (nudge:<id>:<slot>:<owner>:<channel>) makes each one once.
CREATE TABLE initiatives (
    id         TEXT    NOT NULL PRIMARY KEY,
    spec       TEXT    NOT NULL,
    created_by TEXT    NOT NULL, -- the API token's name
    created_at INTEGER NOT NULL  -- unix milliseconds
) WITHOUT ROWID;
