-- Services seen shipping under one release id (see the SQLite migration 0010).
CREATE TABLE release_members (
    release TEXT COLLATE "C" NOT NULL,
    service TEXT COLLATE "C" NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (release, service)
);
