-- An initiative's burn-up, one point per past day: recorded from the stored cards just after
-- the day ended, or replayed from the stored facts for the days before the first recorded one.
-- (initiative, day) is written once: a second writer (another replica, a restart) leaves the
-- first one's point, unless the fingerprint (the initiative's filter and target) differs,
-- which means the point counted something else and is replaced. The teams' counts of a point
-- are written in the same transaction as the point.
CREATE TABLE initiative_days (
    initiative  TEXT    NOT NULL,
    day         TEXT    NOT NULL, -- YYYY-MM-DD, UTC
    fingerprint TEXT    NOT NULL,
    source      TEXT    NOT NULL, -- recorded or replayed
    done        INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    at          INTEGER NOT NULL, -- the moment judged, unix milliseconds
    PRIMARY KEY (initiative, day)
) WITHOUT ROWID;

CREATE TABLE initiative_day_teams (
    initiative TEXT    NOT NULL,
    day        TEXT    NOT NULL,
    owner      TEXT    NOT NULL, -- '' for services whose catalog entry names no owner
    done       INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    PRIMARY KEY (initiative, day, owner)
) WITHOUT ROWID;

-- Today's progress of an initiative re-reads only the scorecards written since its last look
-- (storage.ScoreStamps, by updated_at). It also covers the scan of every stamp: the scores
-- rows carry the card before updated_at, so without it that scan reads every card.
CREATE INDEX scores_stamp ON scores (updated_at, service);
