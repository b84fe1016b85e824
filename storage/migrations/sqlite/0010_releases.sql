-- Services seen shipping under one release id (gate requests and deploy events that carry
-- one), so the release risk can count the others in the same release.
CREATE TABLE release_members (
    release TEXT    NOT NULL,
    service TEXT    NOT NULL,
    at      INTEGER NOT NULL, -- unix milliseconds, the latest sighting
    PRIMARY KEY (release, service)
) WITHOUT ROWID;
