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
