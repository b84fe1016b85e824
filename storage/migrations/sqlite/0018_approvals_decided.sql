-- /approvals lists decided approvals newest decision first, a page at a time from a cursor
-- (decided_at, id). Without this index every page sorted all decided approvals.
CREATE INDEX approvals_decided ON approvals (decided_at, id) WHERE state <> 'pending';
