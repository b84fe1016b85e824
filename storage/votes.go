package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Vote is one approver's Approve on an approval that needs a quorum.
type Vote struct {
	ApprovalID string
	Approver   string // Slack user id
	At         time.Time
}

// AddVote records an approver's vote. added is false when that approver had already voted:
// the primary key makes a second click by the same person count once, whichever replica
// took it.
func AddVote(t *Tx, approvalID, approver string, at time.Time) (added bool, err error) {
	res, err := t.Exec(`INSERT INTO approval_votes (approval_id, approver, at) VALUES (?, ?, ?)
		ON CONFLICT (approval_id, approver) DO NOTHING`, approvalID, approver, at.UTC().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("vote of %s on approval %s: %w", approver, approvalID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("vote of %s on approval %s: %w", approver, approvalID, err)
	}
	return n == 1, nil
}

// ApproveOnQuorum moves a pending approval to approved, by the voter who completed it, only
// if its stored votes from eligible (the approvers who may vote now) reach its quorum. The
// count is part of the conditional update, so the database itself refuses an approval short
// of its quorum, and of concurrent last voters exactly one gets true.
func ApproveOnQuorum(t *Tx, id, by string, eligible []string, at time.Time) (bool, error) {
	if len(eligible) == 0 {
		return false, nil
	}
	args := []any{by, at.UTC().UnixMilli(), id, id}
	marks := make([]string, len(eligible))
	for i, e := range eligible {
		marks[i] = "?"
		args = append(args, e)
	}
	res, err := t.Exec(`UPDATE approvals SET state = 'approved', decided_by = ?, decided_at = ?
		WHERE id = ? AND state = 'pending'
		  AND quorum <= (SELECT count(*) FROM approval_votes WHERE approval_id = ? AND approver IN (`+strings.Join(marks, ", ")+`))`, args...)
	if err != nil {
		return false, fmt.Errorf("approve approval %s on quorum: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("approve approval %s on quorum: %w", id, err)
	}
	return n == 1, nil
}

// Approval ids are unique and votes few (at most the service's approvers), so the primary
// key answers both reads; the order is the order the votes were cast.
const votesQuery = `SELECT approval_id, approver, at FROM approval_votes WHERE approval_id = ? ORDER BY at, approver`

// VotesTx returns an approval's votes inside a write transaction, so a click counts every vote
// committed or staged before it.
func VotesTx(t *Tx, approvalID string) ([]Vote, error) {
	rows, err := t.Query(votesQuery, approvalID)
	if err != nil {
		return nil, fmt.Errorf("votes on approval %s: %w", approvalID, err)
	}
	return scanVotes(rows, approvalID)
}

// Votes returns an approval's votes, oldest first; none is an empty list.
func (db *DB) Votes(ctx context.Context, approvalID string) ([]Vote, error) {
	rows, err := db.query(ctx, votesQuery, approvalID)
	if err != nil {
		return nil, fmt.Errorf("votes on approval %s: %w", approvalID, err)
	}
	return scanVotes(rows, approvalID)
}

func scanVotes(rows *sql.Rows, approvalID string) ([]Vote, error) {
	defer rows.Close()
	out := []Vote{}
	for rows.Next() {
		var v Vote
		var at int64
		if err := rows.Scan(&v.ApprovalID, &v.Approver, &at); err != nil {
			return nil, fmt.Errorf("votes on approval %s: %w", approvalID, err)
		}
		v.At = time.UnixMilli(at).UTC()
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("votes on approval %s: %w", approvalID, err)
	}
	return out, nil
}
