package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// The web pages' reads of the gate's approvals: what is waiting and what was decided. The
// gate itself reads approvals one at a time (GetApproval); a page lists them.

// PendingApprovals returns up to limit pending approvals, the soonest to expire first: the
// partial index on pending approvals answers it without touching decided ones.
func (db *DB) PendingApprovals(ctx context.Context, limit int) ([]ApprovalRow, error) {
	rows, err := db.query(ctx, `SELECT `+approvalCols+` FROM approvals WHERE state = 'pending' ORDER BY expires_at, id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending approvals: %w", err)
	}
	return scanApprovals(rows, "pending approvals")
}

// PendingApprovalCounts returns how many approvals are pending, by service.
func (db *DB) PendingApprovalCounts(ctx context.Context) (map[string]int, error) {
	rows, err := db.query(ctx, `SELECT service, count(*) FROM approvals WHERE state = 'pending' GROUP BY service`)
	if err != nil {
		return nil, fmt.Errorf("pending approvals by service: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("pending approvals by service: %w", err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending approvals by service: %w", err)
	}
	return out, nil
}

// DecisionCursor is where a page of decided approvals ends: the last one's decision time and
// id. The zero cursor starts from the newest decision.
type DecisionCursor struct {
	DecidedAt time.Time
	ID        string
}

// DecidedApprovals returns up to limit approved, denied or expired approvals decided before
// the cursor, newest decision first; ties on the millisecond are ordered by id, so a page
// boundary never skips or repeats one. The partial index approvals_decided holds them in this
// order, and the cursor is a row-value bound on it, so a page reads its own rows however
// many were decided before (BenchmarkDecidedApprovals).
func (db *DB) DecidedApprovals(ctx context.Context, before DecisionCursor, limit int) ([]ApprovalRow, error) {
	q, args := `SELECT `+approvalCols+` FROM approvals WHERE state <> 'pending'`, []any{}
	if !before.DecidedAt.IsZero() {
		q += ` AND (decided_at, id) < (?, ?)`
		args = append(args, before.DecidedAt.UTC().UnixMilli(), before.ID)
	}
	q += ` ORDER BY decided_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("decided approvals: %w", err)
	}
	return scanApprovals(rows, "decided approvals")
}

// VotesOn returns the votes on each of the approvals, oldest first, in one query; an approval
// without votes has no key.
func (db *DB) VotesOn(ctx context.Context, ids []string) (map[string][]Vote, error) {
	out := map[string][]Vote{}
	if len(ids) == 0 {
		return out, nil
	}
	marks := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		marks[i], args[i] = "?", id
	}
	rows, err := db.query(ctx, `SELECT approval_id, approver, at FROM approval_votes WHERE approval_id IN (`+strings.Join(marks, ", ")+`)
		ORDER BY approval_id, at, approver`, args...)
	if err != nil {
		return nil, fmt.Errorf("votes on %d approvals: %w", len(ids), err)
	}
	defer rows.Close()
	for rows.Next() {
		var v Vote
		var at int64
		if err := rows.Scan(&v.ApprovalID, &v.Approver, &at); err != nil {
			return nil, fmt.Errorf("votes on %d approvals: %w", len(ids), err)
		}
		v.At = time.UnixMilli(at).UTC()
		out[v.ApprovalID] = append(out[v.ApprovalID], v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("votes on %d approvals: %w", len(ids), err)
	}
	return out, nil
}

func scanApprovals(rows *sql.Rows, what string) ([]ApprovalRow, error) {
	defer rows.Close()
	out := []ApprovalRow{}
	for rows.Next() {
		r, err := scanApproval(rows)
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
