package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// LastOutboxWithPrefix returns the newest queued message whose key starts with prefix, and
// false if there is none. The Slack bot uses it to find a service's last regression post.
// The key range keeps it on the key index.
func (db *DB) LastOutboxWithPrefix(ctx context.Context, prefix string) (OutboxRow, bool, error) {
	if prefix == "" {
		return OutboxRow{}, false, fmt.Errorf("last message: empty prefix")
	}
	// Keys are compared bytewise: every key with the prefix sorts below the prefix with its
	// last byte raised by one.
	upper := []byte(prefix)
	upper[len(upper)-1]++
	r, err := scanOutbox(db.queryRow(ctx, `SELECT `+outboxCols+` FROM outbox WHERE key >= ? AND key < ? ORDER BY id DESC LIMIT 1`,
		prefix, string(upper)))
	if errors.Is(err, sql.ErrNoRows) {
		return OutboxRow{}, false, nil
	}
	if err != nil {
		return OutboxRow{}, false, fmt.Errorf("last message %s…: %w", prefix, err)
	}
	return r, true, nil
}
