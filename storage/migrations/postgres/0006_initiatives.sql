-- Initiatives created at run time (see the SQLite migration 0013).
CREATE TABLE initiatives (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    spec       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
