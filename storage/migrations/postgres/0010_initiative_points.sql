-- An initiative's burn-up, one point per past day (see the SQLite migration 0017).
CREATE TABLE initiative_days (
    initiative  TEXT COLLATE "C" NOT NULL,
    day         TEXT COLLATE "C" NOT NULL,
    fingerprint TEXT NOT NULL,
    source      TEXT NOT NULL,
    done        INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (initiative, day)
);

CREATE TABLE initiative_day_teams (
    initiative TEXT COLLATE "C" NOT NULL,
    day        TEXT COLLATE "C" NOT NULL,
    owner      TEXT COLLATE "C" NOT NULL,
    done       INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    PRIMARY KEY (initiative, day, owner)
);

-- The stamps of the scorecards (see the SQLite migration 0017).
CREATE INDEX scores_stamp ON scores (updated_at, service);
