package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// ApprovalRow is one stored approval of a watch-band deploy.
type ApprovalRow struct {
	ID          string
	Service     string
	Environment string
	Version     string
	CommitSHA   string
	RequestedBy string
	Origin      string // api or github
	OriginKey   string // the request id, or the GitHub delivery id
	Channel     string
	Score       *float64
	Band        string
	Reasons     []byte // JSON array
	Callback    []byte // JSON, nil unless GitHub waits for the answer
	State       string
	DecidedBy   string
	CreatedAt   time.Time
	DecidedAt   time.Time // zero while pending
	ExpiresAt   time.Time
	// Quorum is how many distinct approvers must approve; below 1 is stored as 1.
	Quorum int
}

const approvalCols = `id, service, environment, version, commit_sha, requested_by, origin, origin_key, channel, score, band,
	reasons, callback, state, decided_by, created_at, coalesce(decided_at, 0), expires_at, quorum`

func scanApproval(sc interface{ Scan(...any) error }) (ApprovalRow, error) {
	var r ApprovalRow
	var score sql.NullFloat64
	var created, decided, expires, quorum int64
	err := sc.Scan(&r.ID, &r.Service, &r.Environment, &r.Version, &r.CommitSHA, &r.RequestedBy, &r.Origin, &r.OriginKey, &r.Channel,
		&score, &r.Band, &r.Reasons, &r.Callback, &r.State, &r.DecidedBy, &created, &decided, &expires, &quorum)
	r.Quorum = int(quorum)
	if score.Valid {
		r.Score = &score.Float64
	}
	r.CreatedAt, r.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
	if decided > 0 {
		r.DecidedAt = time.UnixMilli(decided).UTC()
	}
	return r, err
}

// InsertApproval stores a new pending approval. inserted is false when an approval with the
// same origin key exists (a replayed GitHub delivery): nothing is written then.
func InsertApproval(t *Tx, r ApprovalRow) (inserted bool, err error) {
	var score any
	if r.Score != nil {
		score = *r.Score
	}
	res, err := t.Exec(`INSERT INTO approvals (id, service, environment, version, commit_sha, requested_by, origin, origin_key, channel,
		score, band, reasons, callback, state, created_at, expires_at, quorum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
		ON CONFLICT (origin_key) DO NOTHING`,
		r.ID, r.Service, r.Environment, r.Version, r.CommitSHA, r.RequestedBy, r.Origin, r.OriginKey, r.Channel,
		score, r.Band, r.Reasons, r.Callback, r.CreatedAt.UTC().UnixMilli(), r.ExpiresAt.UTC().UnixMilli(), int64(max(r.Quorum, 1)))
	if err != nil {
		return false, fmt.Errorf("store approval %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store approval %s: %w", r.ID, err)
	}
	return n == 1, nil
}

// GetApprovalTx reads an approval inside a write transaction, so a decision sees every write
// committed or staged before it.
func GetApprovalTx(t *Tx, id string) (ApprovalRow, error) {
	r, err := scanApproval(t.QueryRow(`SELECT `+approvalCols+` FROM approvals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("approval %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("approval %s: %w", id, err)
	}
	return r, nil
}

// GetApproval returns an approval, or ErrNotFound.
func (db *DB) GetApproval(ctx context.Context, id string) (ApprovalRow, error) {
	r, err := scanApproval(db.queryRow(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("approval %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("approval %s: %w", id, err)
	}
	return r, nil
}

// DecideApproval moves a pending approval to state. It changes nothing and returns false when
// the approval is no longer pending: of concurrent deciders exactly one gets true.
func DecideApproval(t *Tx, id, state, by string, at time.Time) (bool, error) {
	res, err := t.Exec(`UPDATE approvals SET state = ?, decided_by = ?, decided_at = ? WHERE id = ? AND state = 'pending'`,
		state, by, at.UTC().UnixMilli(), id)
	if err != nil {
		return false, fmt.Errorf("decide approval %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("decide approval %s: %w", id, err)
	}
	return n == 1, nil
}

// ExpiredApprovals returns pending approvals whose expiry is at or before now, oldest first.
func (db *DB) ExpiredApprovals(ctx context.Context, now time.Time, limit int) ([]ApprovalRow, error) {
	rows, err := db.query(ctx, `SELECT `+approvalCols+` FROM approvals WHERE state = 'pending' AND expires_at <= ?
		ORDER BY expires_at LIMIT ?`, now.UTC().UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("expired approvals: %w", err)
	}
	defer rows.Close()
	var out []ApprovalRow
	for rows.Next() {
		r, err := scanApproval(rows)
		if err != nil {
			return nil, fmt.Errorf("expired approvals: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// NextApprovalExpiry returns when the earliest pending approval expires, and false if none is
// pending.
func (db *DB) NextApprovalExpiry(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := db.queryRow(ctx, `SELECT min(expires_at) FROM approvals WHERE state = 'pending'`).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("next approval expiry: %w", err)
	}
	return time.UnixMilli(v.Int64).UTC(), v.Valid, nil
}

// LastEventAt returns when the latest webhook event about the service was received, and false
// if none ever was. ReleaseOps' own records (source "releaseops": gate decisions, posts) do
// not count: asking the gate must not make stale data look fresh. exclude, if not 0, is the
// row id of a delivery to leave out (the GitHub protection rule request being decided).
func (db *DB) LastEventAt(ctx context.Context, service string, exclude int64) (time.Time, bool, error) {
	q, args := lastEventSQL(service, exclude)
	var v sql.NullInt64
	if err := db.queryRow(ctx, q, args...).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("last event of %s: %w", service, err)
	}
	return time.UnixMilli(v.Int64).UTC(), v.Valid, nil
}

// lastEventSQL is LastEventAt's query and arguments: one seek per source on delivery_index,
// and the tail the indexer has not reached yet.
func lastEventSQL(service string, exclude int64) (string, []any) {
	q := `SELECT max(m) FROM (
		SELECT max(received_at) AS m FROM delivery_index WHERE service = ?1 AND source = ?2 AND delivery <> ?6
		UNION ALL SELECT max(received_at) FROM delivery_index WHERE service = ?1 AND source = ?3 AND delivery <> ?6
		UNION ALL SELECT max(received_at) FROM delivery_index WHERE service = ?1 AND source = ?4 AND delivery <> ?6
		UNION ALL SELECT max(received_at) FROM delivery_index WHERE service = ?1 AND source = ?5 AND delivery <> ?6
		UNION ALL SELECT max(received_at) FROM deliveries WHERE ` + inDeliveriesTail + `
			AND +service = ?1 AND +source IN (?2, ?3, ?4, ?5) AND id <> ?6) latest`
	if exclude == 0 {
		q = strings.NewReplacer(" AND id <> ?6", "", " AND delivery <> ?6", "").Replace(q)
	}
	args := []any{service, releaseops.SourceGitHub, releaseops.SourcePagerDuty, releaseops.SourceDeploy, releaseops.SourceTerraform}
	if exclude != 0 {
		args = append(args, exclude)
	}
	return q, args
}
