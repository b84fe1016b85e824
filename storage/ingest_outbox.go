package storage

import (
	"context"
	"fmt"
)

// WaitingOutboxAfter returns up to limit pending messages to target queued after the message
// afterID, oldest first: the release-notes composer folds the jobs of later deploys of the
// same service into the post it is composing instead of composing and posting each one.
// It reads the (target, state, id) index, never the whole queue.
func (db *DB) WaitingOutboxAfter(ctx context.Context, target string, afterID int64, limit int) ([]OutboxRow, error) {
	rows, err := db.query(ctx, `SELECT `+outboxCols+` FROM outbox WHERE target = ? AND state = 'pending' AND id > ? ORDER BY id LIMIT ?`,
		target, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("messages waiting for %s: %w", target, err)
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		r, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("messages waiting for %s: %w", target, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// headOf and isHead find a target's oldest undelivered message through the (target, state,
// id) index, one seek per state. The form they replace, min(id) over state IN ('pending',
// 'sending') with ORDER BY, read and sorted every waiting message of the target, payload
// included, on each call: NextOutboxFor was 4.3% of the bench's CPU with release notes
// waiting (64% of the outbox's own).
const (
	// headOf takes the target twice; it yields the ids of the oldest pending and oldest
	// sending message (either may be NULL).
	headOf = `SELECT min(id) AS m FROM outbox WHERE target = ? AND state = 'pending'
		UNION ALL SELECT min(id) FROM outbox WHERE target = ? AND state = 'sending'`
	// isHead holds for a waiting message o that nothing waits before it to its target.
	isHead = `NOT EXISTS (SELECT 1 FROM outbox e WHERE e.target = o.target AND e.state IN ('pending', 'sending') AND e.id < o.id)`
)
