-- Sync: what each source's API said the last time each subject (a repository, a PagerDuty
-- service, a workspace) was read. A read commits its observations (as deliveries of event
-- type 'sync'), its ETags and this record in one transaction, so a sync killed mid-way resumes
-- where the last committed subject left it, without duplicate facts.
CREATE TABLE sync_subjects (
    source       TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    service      TEXT    NOT NULL DEFAULT '',
    last_attempt INTEGER NOT NULL DEFAULT 0, -- unix milliseconds, UTC; 0: never
    last_success INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0, -- consecutive failed attempts
    last_error   TEXT    NOT NULL DEFAULT '',
    state        BLOB    NOT NULL DEFAULT '{}', -- JSON of syncer.State: ETags, hashes, the source's memory
    PRIMARY KEY (source, subject)
) WITHOUT ROWID;
CREATE INDEX sync_subjects_service ON sync_subjects (service);

-- One row per run of a source's sync (scheduled, at start, triggered or from the command line).
CREATE TABLE sync_runs (
    id           INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    trigger      TEXT    NOT NULL,           -- start, schedule, event, cli
    full         INTEGER NOT NULL,           -- 1: every subject was due
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL,
    subjects     INTEGER NOT NULL,
    observations INTEGER NOT NULL,           -- observations recorded (changed)
    facts        INTEGER NOT NULL,           -- fact rows written
    requests     INTEGER NOT NULL,
    not_modified INTEGER NOT NULL,
    rate_waits   INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    error        TEXT    NOT NULL DEFAULT '' -- a run that could not start (listing subjects failed)
);
CREATE INDEX sync_runs_source ON sync_runs (source, id);
