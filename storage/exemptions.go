package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Exemption states as stored. An approved exemption whose expiry has passed stays approved
// in the table: ExemptionRow.Status says expired, so the record of who approved it is kept.
const (
	ExemptionPending  = "pending"
	ExemptionApproved = "approved"
	ExemptionDenied   = "denied"
	ExemptionExpired  = "expired" // a status, never a stored state
)

// ExemptionRow is one exemption request made in Slack, and once approved, the waiver it
// became.
type ExemptionRow struct {
	ID          string
	Service     string
	Signal      string
	Days        int
	Reason      string
	RequestedBy string // Slack user id
	OriginKey   string // the command invocation
	Channel     string // where the approvers were asked
	State       string // pending, approved, denied
	DecidedBy   string
	CreatedAt   time.Time
	DecidedAt   time.Time // zero while pending
	ExpiresAt   time.Time // zero unless approved
	RemindedAt  time.Time // zero until the expiry reminder was queued
	LapsedAt    time.Time // zero until the expiry was audited
	// Config marks a waiver of scoring.waivers shown among the requests; it is never stored.
	Config bool
}

// Status is the state as people read it at now: an approved exemption past its expiry is
// expired.
func (r ExemptionRow) Status(now time.Time) string {
	if r.State == ExemptionApproved && !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
		return ExemptionExpired
	}
	return r.State
}

const exemptionCols = `id, service, signal, days, reason, requested_by, origin_key, channel, state, decided_by, created_at,
	coalesce(decided_at, 0), coalesce(expires_at, 0), coalesce(reminded_at, 0), coalesce(lapsed_at, 0)`

func scanExemption(sc interface{ Scan(...any) error }) (ExemptionRow, error) {
	var r ExemptionRow
	var days, created, decided, expires, reminded, lapsed int64
	err := sc.Scan(&r.ID, &r.Service, &r.Signal, &days, &r.Reason, &r.RequestedBy, &r.OriginKey, &r.Channel, &r.State, &r.DecidedBy,
		&created, &decided, &expires, &reminded, &lapsed)
	r.Days = int(days)
	r.CreatedAt = time.UnixMilli(created).UTC()
	r.DecidedAt, r.ExpiresAt, r.RemindedAt, r.LapsedAt = msOrZero(decided), msOrZero(expires), msOrZero(reminded), msOrZero(lapsed)
	return r, err
}

func msOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// InsertExemption stores a new pending request. inserted is false when a request with the
// same origin key exists (the same invocation answered twice): nothing is written then.
func InsertExemption(t *Tx, r ExemptionRow) (inserted bool, err error) {
	res, err := t.Exec(`INSERT INTO exemptions (id, service, signal, days, reason, requested_by, origin_key, channel, state, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (origin_key) DO NOTHING`,
		r.ID, r.Service, r.Signal, int64(r.Days), r.Reason, r.RequestedBy, r.OriginKey, r.Channel, r.CreatedAt.UTC().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store exemption request %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store exemption request %s: %w", r.ID, err)
	}
	return n == 1, nil
}

// ExemptionByOriginTx returns the request made by an invocation, inside a write transaction.
func ExemptionByOriginTx(t *Tx, originKey string) (ExemptionRow, error) {
	r, err := scanExemption(t.QueryRow(`SELECT `+exemptionCols+` FROM exemptions WHERE origin_key = ?`, originKey))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("exemption request of invocation %s: %w", originKey, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("exemption request of invocation %s: %w", originKey, err)
	}
	return r, nil
}

// GetExemptionTx reads a request inside a write transaction, so a decision sees every write
// committed or staged before it.
func GetExemptionTx(t *Tx, id string) (ExemptionRow, error) {
	r, err := scanExemption(t.QueryRow(`SELECT `+exemptionCols+` FROM exemptions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("exemption %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("exemption %s: %w", id, err)
	}
	return r, nil
}

// GetExemption returns a request, or ErrNotFound.
func (db *DB) GetExemption(ctx context.Context, id string) (ExemptionRow, error) {
	r, err := scanExemption(db.queryRow(ctx, `SELECT `+exemptionCols+` FROM exemptions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("exemption %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("exemption %s: %w", id, err)
	}
	return r, nil
}

// DecideExemption moves a pending request to approved (with its expiry) or denied. It changes
// nothing and returns false when the request is no longer pending: of concurrent deciders,
// on one replica or several, exactly one gets true.
func DecideExemption(t *Tx, id, state, by string, at, expires time.Time) (bool, error) {
	var exp any
	if state == ExemptionApproved {
		exp = expires.UTC().UnixMilli()
	}
	res, err := t.Exec(`UPDATE exemptions SET state = ?, decided_by = ?, decided_at = ?, expires_at = ? WHERE id = ? AND state = 'pending'`,
		state, by, at.UTC().UnixMilli(), exp, id)
	if err != nil {
		return false, fmt.Errorf("decide exemption %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("decide exemption %s: %w", id, err)
	}
	return n == 1, nil
}

// MarkExemptionReminded records that the expiry reminder was queued; false when it already
// was (another replica, or a replayed transaction).
func MarkExemptionReminded(t *Tx, id string, at time.Time) (bool, error) {
	return markExemption(t, "reminded_at", id, at)
}

// MarkExemptionLapsed records that the expiry was audited and acted on; false when it
// already was.
func MarkExemptionLapsed(t *Tx, id string, at time.Time) (bool, error) {
	return markExemption(t, "lapsed_at", id, at)
}

func markExemption(t *Tx, col, id string, at time.Time) (bool, error) {
	res, err := t.Exec(`UPDATE exemptions SET `+col+` = ? WHERE id = ? AND state = 'approved' AND `+col+` IS NULL`, at.UTC().UnixMilli(), id)
	if err != nil {
		return false, fmt.Errorf("mark exemption %s (%s): %w", id, col, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark exemption %s (%s): %w", id, col, err)
	}
	return n == 1, nil
}

// ListExemptions returns every request, newest first, at most limit.
func (db *DB) ListExemptions(ctx context.Context, limit int) ([]ExemptionRow, error) {
	return db.exemptions(ctx, "list exemptions", `SELECT `+exemptionCols+` FROM exemptions ORDER BY created_at DESC, id DESC LIMIT ?`, limit)
}

// ExemptionsEndingAfter returns the approved exemptions whose expiry is after t: with t a
// while before now, the waivers in force and those that ended lately, which the scoring
// engine shows as expired.
func (db *DB) ExemptionsEndingAfter(ctx context.Context, t time.Time) ([]ExemptionRow, error) {
	return db.exemptions(ctx, "approved exemptions", `SELECT `+exemptionCols+` FROM exemptions
		WHERE state = 'approved' AND expires_at > ? ORDER BY service, signal, expires_at`, t.UTC().UnixMilli())
}

// ExemptionsExpiringBetween returns the approved exemptions whose expiry is in [from, to),
// soonest first (digests, reminders).
func (db *DB) ExemptionsExpiringBetween(ctx context.Context, from, to time.Time) ([]ExemptionRow, error) {
	return db.exemptions(ctx, "exemptions expiring", `SELECT `+exemptionCols+` FROM exemptions
		WHERE state = 'approved' AND expires_at >= ? AND expires_at < ? ORDER BY expires_at, id`, from.UTC().UnixMilli(), to.UTC().UnixMilli())
}

// ExemptionsToRemind returns approved exemptions expiring within before of now, not yet
// expired, whose reminder has not been queued. One granted for before or less gets none: it
// would be reminded the moment it was approved.
func (db *DB) ExemptionsToRemind(ctx context.Context, now time.Time, before time.Duration) ([]ExemptionRow, error) {
	return db.exemptions(ctx, "exemptions to remind", `SELECT `+exemptionCols+` FROM exemptions
		WHERE state = 'approved' AND reminded_at IS NULL AND expires_at > ? AND expires_at <= ? AND expires_at - decided_at > ?
		ORDER BY expires_at, id`, now.UTC().UnixMilli(), now.Add(before).UTC().UnixMilli(), before.Milliseconds())
}

// ExemptionsLapsed returns approved exemptions expired at or before now whose expiry has not
// been acted on.
func (db *DB) ExemptionsLapsed(ctx context.Context, now time.Time) ([]ExemptionRow, error) {
	return db.exemptions(ctx, "lapsed exemptions", `SELECT `+exemptionCols+` FROM exemptions
		WHERE state = 'approved' AND lapsed_at IS NULL AND expires_at <= ? ORDER BY expires_at, id`, now.UTC().UnixMilli())
}

// NextExemptionEvent returns the earliest time at which an approved exemption needs its
// reminder (remindBefore ahead of its expiry) or its expiry acted on; false when none does.
func (db *DB) NextExemptionEvent(ctx context.Context, remindBefore time.Duration) (time.Time, bool, error) {
	var remind, lapse sql.NullInt64
	err := db.queryRow(ctx, `SELECT min(CASE WHEN reminded_at IS NULL AND lapsed_at IS NULL AND expires_at - decided_at > ? THEN expires_at END),
		min(CASE WHEN lapsed_at IS NULL THEN expires_at END) FROM exemptions WHERE state = 'approved'`, remindBefore.Milliseconds()).Scan(&remind, &lapse)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next exemption event: %w", err)
	}
	var next time.Time
	if remind.Valid {
		next = time.UnixMilli(remind.Int64).UTC().Add(-remindBefore)
	}
	if lapse.Valid {
		if l := time.UnixMilli(lapse.Int64).UTC(); next.IsZero() || l.Before(next) {
			next = l
		}
	}
	return next, !next.IsZero(), nil
}

func (db *DB) exemptions(ctx context.Context, what, q string, args ...any) ([]ExemptionRow, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := []ExemptionRow{}
	for rows.Next() {
		r, err := scanExemption(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// PendingExemptionTx returns the oldest pending request for a service's signal, inside a
// write transaction; false when there is none.
func PendingExemptionTx(t *Tx, service, signal string) (ExemptionRow, bool, error) {
	r, err := scanExemption(t.QueryRow(`SELECT `+exemptionCols+` FROM exemptions WHERE service = ? AND signal = ? AND state = 'pending'
		ORDER BY created_at, id LIMIT 1`, service, signal))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("pending exemption of %s %s: %w", service, signal, err)
	}
	return r, true, nil
}

// ServicesWithStaleWaivers returns the services, by name, whose stored card was computed
// before an exemption decided or ended in [since, now] changed their input: scored before
// the approval, or before the expiry of one that has ended. A rescoring round that read the
// waivers before such a change and stored its cards after the change's own rescore leaves
// one; the card's time says so.
func (db *DB) ServicesWithStaleWaivers(ctx context.Context, since, now time.Time) ([]string, error) {
	s, n := since.UTC().UnixMilli(), now.UTC().UnixMilli()
	rows, err := db.query(ctx, `SELECT DISTINCT e.service FROM exemptions e JOIN scores s ON s.service = e.service
		WHERE e.state = 'approved' AND (e.decided_at >= ? OR (e.expires_at >= ? AND e.expires_at <= ?))
		AND s.updated_at < CASE WHEN e.expires_at <= ? THEN e.expires_at ELSE e.decided_at END ORDER BY e.service`, s, s, n, n)
	if err != nil {
		return nil, fmt.Errorf("services with stale waivers: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("services with stale waivers: %w", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("services with stale waivers: %w", err)
	}
	return out, nil
}
