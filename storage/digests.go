package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/releaseops/releaseops"
)

// LeaseDigests is the lease of the weekly digest scheduler.
const LeaseDigests = "digests"

// Digest outcomes.
const (
	DigestQueued  = "queued"
	DigestSkipped = "skipped"
)

// DigestRun records that a digest's week was dealt with: queued (its message is in the
// outbox under OutboxKey) or skipped (its slot was missed by too much).
type DigestRun struct {
	Scope     string    `json:"scope"`
	Team      string    `json:"team,omitempty"`
	Period    string    `json:"period"`
	Channel   string    `json:"channel"`
	SlotAt    time.Time `json:"slot_at"`
	Outcome   string    `json:"outcome"`
	OutboxKey string    `json:"outbox_key,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ClaimDigest records the run in t. claimed is false when the week was dealt with before
// (by this process before a restart, or by another replica): the caller must then queue
// nothing.
func ClaimDigest(t *Tx, r DigestRun) (claimed bool, err error) {
	res, err := t.Exec(`INSERT INTO digest_runs (scope, team, period, channel, slot_at, outcome, outbox_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, team, period) DO NOTHING`,
		r.Scope, r.Team, r.Period, r.Channel, r.SlotAt.UTC().UnixMilli(), r.Outcome, r.OutboxKey, r.CreatedAt.UTC().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("record %s digest %s of %q: %w", r.Scope, r.Period, r.Team, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record %s digest %s of %q: %w", r.Scope, r.Period, r.Team, err)
	}
	return n == 1, nil
}

// DigestRuns returns the runs of one scope and period, by team.
func (db *DB) DigestRuns(ctx context.Context, scope, period string) (map[string]DigestRun, error) {
	rows, err := db.query(ctx, `SELECT team, channel, slot_at, outcome, outbox_key, created_at FROM digest_runs WHERE scope = ? AND period = ?`, scope, period)
	if err != nil {
		return nil, fmt.Errorf("list %s digests of %s: %w", scope, period, err)
	}
	defer rows.Close()
	out := map[string]DigestRun{}
	for rows.Next() {
		r := DigestRun{Scope: scope, Period: period}
		var slot, created int64
		if err := rows.Scan(&r.Team, &r.Channel, &slot, &r.Outcome, &r.OutboxKey, &created); err != nil {
			return nil, fmt.Errorf("list %s digests of %s: %w", scope, period, err)
		}
		r.SlotAt, r.CreatedAt = time.UnixMilli(slot).UTC(), time.UnixMilli(created).UTC()
		out[r.Team] = r
	}
	return out, rows.Err()
}

// RegressionEvent is a regression the rescoring worker recorded (an internal delivery of
// type "regression"); Body is its scoring.Regression JSON.
type RegressionEvent struct {
	Service string
	At      time.Time
	Body    json.RawMessage
}

// RegressionsBetween returns the regressions recorded in [from, to), oldest first.
func (db *DB) RegressionsBetween(ctx context.Context, from, to time.Time) ([]RegressionEvent, error) {
	rows, err := db.query(ctx, `SELECT service, received_at, body FROM deliveries
		WHERE received_at >= ? AND received_at < ? AND source = ? AND event_type = 'regression' ORDER BY received_at, id`,
		from.UTC().UnixMilli(), to.UTC().UnixMilli(), releaseops.SourceInternal)
	if err != nil {
		return nil, fmt.Errorf("regressions from %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var out []RegressionEvent
	for rows.Next() {
		var e RegressionEvent
		var at int64
		var body []byte
		if err := rows.Scan(&e.Service, &at, &body); err != nil {
			return nil, fmt.Errorf("regressions: %w", err)
		}
		e.At, e.Body = time.UnixMilli(at).UTC(), body
		out = append(out, e)
	}
	return out, rows.Err()
}

// ListDigestRuns returns the latest runs, newest slot first, at most limit.
func (db *DB) ListDigestRuns(ctx context.Context, limit int) ([]DigestRun, error) {
	rows, err := db.query(ctx, `SELECT scope, team, period, channel, slot_at, outcome, outbox_key, created_at FROM digest_runs
		ORDER BY slot_at DESC, scope, team LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list digests: %w", err)
	}
	defer rows.Close()
	out := []DigestRun{}
	for rows.Next() {
		var r DigestRun
		var slot, created int64
		if err := rows.Scan(&r.Scope, &r.Team, &r.Period, &r.Channel, &slot, &r.Outcome, &r.OutboxKey, &created); err != nil {
			return nil, fmt.Errorf("list digests: %w", err)
		}
		r.SlotAt, r.CreatedAt = time.UnixMilli(slot).UTC(), time.UnixMilli(created).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
