-- Work that must run on one replica at a time (rescoring, the outbox sender, approval expiry,
-- the sync scheduler, the indexer) runs while its replica holds the lease row: taken when it
-- is free or expired, renewed well inside its TTL, released at shutdown. expires_at is in the
-- database's clock, so replicas whose clocks disagree still agree on who holds it.
CREATE TABLE leases (
    name       TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT COLLATE "C" NOT NULL,
    token      BIGINT NOT NULL,  -- raised on every change of holder
    expires_at BIGINT NOT NULL   -- unix milliseconds
);
