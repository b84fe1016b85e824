-- Work that must run on one process at a time runs while it holds its lease row (storage/lease.go).
-- One process uses one SQLite file, so it always holds them; the table is here so that both
-- engines run the same code.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    token      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
