package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/releaseops/releaseops"
)

// SyncRecord is a subject's row in sync_subjects.
type SyncRecord struct {
	Source      string
	Subject     string
	Service     string
	LastAttempt time.Time
	LastSuccess time.Time
	Failures    int
	LastError   string
	State       []byte // JSON, owned by the syncer package
}

// Coverage returns the record as scoring and the gate read it.
func (r SyncRecord) Coverage() releaseops.SyncCoverage {
	return releaseops.SyncCoverage{Source: r.Source, Subject: r.Subject, LastAttempt: r.LastAttempt,
		LastSuccess: r.LastSuccess, Failures: r.Failures, Error: r.LastError}
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UTC().UnixMilli()
}

func fromMillis(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

const syncCols = `source, subject, service, last_attempt, last_success, failures, last_error, state`

func scanSync(sc interface{ Scan(...any) error }) (SyncRecord, error) {
	var r SyncRecord
	var attempt, success int64
	err := sc.Scan(&r.Source, &r.Subject, &r.Service, &attempt, &success, &r.Failures, &r.LastError, &r.State)
	r.LastAttempt, r.LastSuccess = fromMillis(attempt), fromMillis(success)
	return r, err
}

// SyncRecords returns every record of a source, by subject.
func (db *DB) SyncRecords(ctx context.Context, source string) (map[string]SyncRecord, error) {
	rows, err := db.query(ctx, `SELECT `+syncCols+` FROM sync_subjects WHERE source = ?`, source)
	if err != nil {
		return nil, fmt.Errorf("sync records of %s: %w", source, err)
	}
	defer rows.Close()
	out := map[string]SyncRecord{}
	for rows.Next() {
		r, err := scanSync(rows)
		if err != nil {
			return nil, fmt.Errorf("sync records of %s: %w", source, err)
		}
		out[r.Subject] = r
	}
	return out, rows.Err()
}

// SyncRecordOf returns one subject's record; ok is false when it was never attempted.
func (db *DB) SyncRecordOf(ctx context.Context, source, subject string) (SyncRecord, bool, error) {
	r, err := scanSync(db.queryRow(ctx, `SELECT `+syncCols+` FROM sync_subjects WHERE source = ? AND subject = ?`, source, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return SyncRecord{}, false, nil
	}
	if err != nil {
		return SyncRecord{}, false, fmt.Errorf("sync record of %s %s: %w", source, subject, err)
	}
	return r, true, nil
}

// SyncCoverage returns the coverage of every subject that feeds the service, sorted by
// source and subject.
func (db *DB) SyncCoverage(ctx context.Context, service string) ([]releaseops.SyncCoverage, error) {
	// Every rescore asks this: the state blob (ETags, hashes, memory) is left on disk.
	rows, err := db.query(ctx, `SELECT source, subject, last_attempt, last_success, failures, last_error
		FROM sync_subjects WHERE service = ? ORDER BY source, subject`, service)
	if err != nil {
		return nil, fmt.Errorf("sync coverage of %s: %w", service, err)
	}
	defer rows.Close()
	var out []releaseops.SyncCoverage
	for rows.Next() {
		var c releaseops.SyncCoverage
		var attempt, success int64
		if err := rows.Scan(&c.Source, &c.Subject, &attempt, &success, &c.Failures, &c.Error); err != nil {
			return nil, fmt.Errorf("sync coverage of %s: %w", service, err)
		}
		c.LastAttempt, c.LastSuccess = fromMillis(attempt), fromMillis(success)
		out = append(out, c)
	}
	return out, rows.Err()
}

// LastSyncSuccess returns the latest successful read of any subject feeding the service.
func (db *DB) LastSyncSuccess(ctx context.Context, service string) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := db.queryRow(ctx, lastSyncSQL, service).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("last sync of %s: %w", service, err)
	}
	return fromMillis(v.Int64), v.Valid, nil
}

const lastSyncSQL = `SELECT max(last_success) FROM sync_subjects WHERE service = ? AND last_success > 0`

// SyncAttemptOf returns the subject's last attempt as stored now, in the transaction: a
// runner compares it with what it read when its run started, to notice another run (serve's
// scheduler and `releaseops sync` on one database) that read the subject meanwhile.
func SyncAttemptOf(t *Tx, source, subject string) (time.Time, error) {
	var v int64
	err := t.QueryRow(`SELECT last_attempt FROM sync_subjects WHERE source = ? AND subject = ?`, source, subject).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("sync record of %s %s: %w", source, subject, err)
	}
	return fromMillis(v), nil
}

// PutSyncSuccess records a successful read with its new state, in the transaction that
// stores its observations.
func PutSyncSuccess(t *Tx, source, subject, service string, at time.Time, state []byte) error {
	_, err := t.Exec(`INSERT INTO sync_subjects (`+syncCols+`) VALUES (?, ?, ?, ?, ?, 0, '', ?)
		ON CONFLICT (source, subject) DO UPDATE SET service = excluded.service, last_attempt = excluded.last_attempt,
			last_success = excluded.last_success, failures = 0, last_error = '', state = excluded.state`,
		source, subject, service, millis(at), millis(at), state)
	if err != nil {
		return fmt.Errorf("record sync of %s %s: %w", source, subject, err)
	}
	return nil
}

// PutSyncFailure records a failed read. The state (ETags, memory) and the last success are
// kept: nothing of a failed read is stored.
func PutSyncFailure(t *Tx, source, subject, service string, at time.Time, reason string) error {
	_, err := t.Exec(`INSERT INTO sync_subjects (`+syncCols+`) VALUES (?, ?, ?, ?, 0, 1, ?, '{}')
		ON CONFLICT (source, subject) DO UPDATE SET service = excluded.service, last_attempt = excluded.last_attempt,
			failures = sync_subjects.failures + 1, last_error = excluded.last_error`,
		source, subject, service, millis(at), reason)
	if err != nil {
		return fmt.Errorf("record failed sync of %s %s: %w", source, subject, err)
	}
	return nil
}

// SyncRun is one run of a source's sync.
type SyncRun struct {
	ID           int64     `json:"id"`
	Source       string    `json:"source"`
	Trigger      string    `json:"trigger"`
	Full         bool      `json:"full"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
	Subjects     int       `json:"subjects"`
	Observations int       `json:"observations"`
	Facts        int       `json:"facts"`
	Requests     int64     `json:"requests"`
	NotModified  int64     `json:"not_modified"`
	RateWaits    int64     `json:"rate_waits"`
	Failures     int       `json:"failures"`
	Error        string    `json:"error,omitempty"`
}

// InsertSyncRun records a finished run.
func InsertSyncRun(t *Tx, r SyncRun) error {
	full := 0
	if r.Full {
		full = 1
	}
	_, err := t.Exec(`INSERT INTO sync_runs (source, trigger, "full", started_at, finished_at, subjects, observations, facts, requests,
		not_modified, rate_waits, failures, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Source, r.Trigger, full, millis(r.StartedAt), millis(r.FinishedAt), r.Subjects, r.Observations, r.Facts, r.Requests,
		r.NotModified, r.RateWaits, r.Failures, r.Error)
	if err != nil {
		return fmt.Errorf("record sync run of %s: %w", r.Source, err)
	}
	return nil
}

// LastSyncRun returns the source's latest run (full only, if full), and false if none.
func (db *DB) LastSyncRun(ctx context.Context, source string, fullOnly bool) (SyncRun, bool, error) {
	q := `SELECT id, source, trigger, "full", started_at, finished_at, subjects, observations, facts, requests, not_modified,
		rate_waits, failures, error FROM sync_runs WHERE source = ?`
	if fullOnly {
		q += ` AND "full" = 1`
	}
	q += ` ORDER BY id DESC LIMIT 1`
	var r SyncRun
	var started, finished int64
	err := db.queryRow(ctx, q, source).Scan(&r.ID, &r.Source, &r.Trigger, &r.Full, &started, &finished, &r.Subjects,
		&r.Observations, &r.Facts, &r.Requests, &r.NotModified, &r.RateWaits, &r.Failures, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return SyncRun{}, false, nil
	}
	if err != nil {
		return SyncRun{}, false, fmt.Errorf("last sync run of %s: %w", source, err)
	}
	r.StartedAt, r.FinishedAt = fromMillis(started), fromMillis(finished)
	return r, true, nil
}

// DeleteSyncRecords forgets the records of subjects a source no longer lists (a repository
// removed from the catalog): their failures would otherwise stay on cards and in
// GET /api/v1/sync for ever. The facts they recorded stay: they are history.
func DeleteSyncRecords(t *Tx, source string, subjects []string) error {
	for _, s := range subjects {
		if _, err := t.Exec(`DELETE FROM sync_subjects WHERE source = ? AND subject = ?`, source, s); err != nil {
			return fmt.Errorf("forget sync record of %s %s: %w", source, s, err)
		}
	}
	return nil
}
