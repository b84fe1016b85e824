package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The outbox's insert (deduped by its key) and its update of one message by id. PostgreSQL
// runs them under the shared writer lock (writer_lock.go): the sender takes each target's
// lowest waiting id afresh on every pass and follows no cursor, so a message committed after
// a higher id is sent in its turn, and a message queued after another one committed has the
// higher id (a sequence only moves up). Which message is sent by whom is the sender's lease's
// business, as before.
const (
	insertOutboxSQL = `INSERT INTO outbox (key, kind, target, service, payload, state, created_at, next_attempt)
		VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO NOTHING`
	updateOutboxSQL = `UPDATE outbox SET state = ?, attempts = ?, last_error = ?, ref = CASE WHEN ? = '' THEN ref ELSE ? END,
		next_attempt = ?, sent_at = coalesce(?, sent_at) WHERE id = ?`
	foldOutboxSQL = `UPDATE outbox SET state = 'sent', last_error = '', ref = ?, next_attempt = ?, sent_at = ? WHERE id = ? AND state IN ('pending', 'sending')`
)

// ErrOutboxNotWaiting is FoldOutbox's answer for a message no longer waiting.
var ErrOutboxNotWaiting = errors.New("storage: the message is no longer waiting")

// FoldOutbox marks a waiting message sent as part of another one's post (ref), and fails with
// ErrOutboxNotWaiting, so that the caller's transaction rolls back, when it is not waiting any
// more: a former sender whose write commits late (after a lease handover) must not post what
// the new sender has posted already.
func FoldOutbox(t *Tx, id int64, ref string, now time.Time) error {
	res, err := t.Exec(foldOutboxSQL, ref, now.UTC().UnixMilli(), now.UTC().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("fold message %d into %s: %w", id, ref, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("fold message %d into %s: %w", id, ref, err)
	} else if n == 0 {
		return fmt.Errorf("fold message %d into %s: %w", id, ref, ErrOutboxNotWaiting)
	}
	return nil
}

// OutboxRow is one stored outgoing message.
type OutboxRow struct {
	ID          int64
	Key         string
	Kind        string
	Target      string
	Service     string
	Payload     []byte
	State       string
	Attempts    int
	LastError   string
	Ref         string
	CreatedAt   time.Time
	NextAttempt time.Time
	SentAt      time.Time
}

const outboxCols = `id, key, kind, target, service, payload, state, attempts, last_error, ref, created_at, next_attempt, coalesce(sent_at, 0)`

func scanOutbox(sc interface{ Scan(...any) error }) (OutboxRow, error) {
	var r OutboxRow
	var created, next, sent int64
	err := sc.Scan(&r.ID, &r.Key, &r.Kind, &r.Target, &r.Service, &r.Payload, &r.State, &r.Attempts, &r.LastError, &r.Ref, &created, &next, &sent)
	r.CreatedAt, r.NextAttempt = time.UnixMilli(created).UTC(), time.UnixMilli(next).UTC()
	if sent > 0 {
		r.SentAt = time.UnixMilli(sent).UTC()
	}
	return r, err
}

// InsertOutbox queues a message in t. inserted is false when the key was queued before.
func InsertOutbox(t *Tx, r OutboxRow) (inserted bool, err error) {
	res, err := t.Exec(insertOutboxSQL,
		r.Key, r.Kind, r.Target, r.Service, r.Payload, r.CreatedAt.UTC().UnixMilli(), r.CreatedAt.UTC().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("queue message %s: %w", r.Key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("queue message %s: %w", r.Key, err)
	}
	return n == 1, nil
}

// DueOutbox returns, for each target, its oldest undelivered message if that one is due: a
// message waits behind an earlier one to the same target, so each channel sees them in order.
func (db *DB) DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxRow, error) {
	rows, err := db.query(ctx, `SELECT `+outboxCols+` FROM outbox o
		WHERE state IN ('pending', 'sending') AND next_attempt <= ?
		  AND `+isHead+`
		ORDER BY id LIMIT ?`, now.UTC().UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("due messages: %w", err)
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		r, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("due messages: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// NextOutboxAttempt returns when the earliest deliverable message is due, and false if none
// is. Only each target's oldest undelivered message counts: the ones behind it wait for it
// whatever their own time, and counting them made the sender poll every 10 ms while a
// target's head waited out a retry.
func (db *DB) NextOutboxAttempt(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := db.queryRow(ctx, `SELECT min(next_attempt) FROM outbox o WHERE state IN ('pending', 'sending')
		AND `+isHead).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("next message: %w", err)
	}
	return time.UnixMilli(v.Int64).UTC(), v.Valid, nil
}

// GetOutbox returns a message by key, or ErrNotFound.
func (db *DB) GetOutbox(ctx context.Context, key string) (OutboxRow, error) {
	r, err := scanOutbox(db.queryRow(ctx, `SELECT `+outboxCols+` FROM outbox WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("message %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("message %s: %w", key, err)
	}
	return r, nil
}

// ListOutbox returns messages newest first, optionally of one state.
func (db *DB) ListOutbox(ctx context.Context, state string, limit int) ([]OutboxRow, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q, args := `SELECT `+outboxCols+` FROM outbox`, []any{}
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, state)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	out := []OutboxRow{}
	for rows.Next() {
		r, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DisableWaitingOutbox marks every waiting (pending or sending) message of kind disabled, with
// why as its last error, and returns how many there were.
func DisableWaitingOutbox(t *Tx, kind, why string, now time.Time) (int64, error) {
	res, err := t.Exec(`UPDATE outbox SET state = 'disabled', last_error = ?, next_attempt = ?
		WHERE state IN ('pending', 'sending') AND kind = ?`, why, now.UTC().UnixMilli(), kind)
	if err != nil {
		return 0, fmt.Errorf("disable waiting %s messages: %w", kind, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// UpdateOutbox records the outcome of an attempt. state is the new state; ref and sentAt are
// kept only when non-zero.
func UpdateOutbox(t *Tx, id int64, state string, attempts int, lastErr, ref string, next, sentAt time.Time) error {
	var sent any
	if !sentAt.IsZero() {
		sent = sentAt.UTC().UnixMilli()
	}
	if _, err := t.Exec(updateOutboxSQL,
		state, attempts, lastErr, ref, ref, next.UTC().UnixMilli(), sent, id); err != nil {
		return fmt.Errorf("update message %d: %w", id, err)
	}
	return nil
}

// NextOutboxFor returns the target's oldest undelivered message if it is due, and false if
// there is none or it is not due yet: the sender keeps going down one target's queue
// without waiting for the next round.
func (db *DB) NextOutboxFor(ctx context.Context, target string, now time.Time) (OutboxRow, bool, error) {
	r, err := scanOutbox(db.queryRow(ctx, `SELECT `+outboxCols+` FROM outbox WHERE id = (SELECT min(m) FROM (`+headOf+`) AS heads)`, target, target))
	if errors.Is(err, sql.ErrNoRows) {
		return OutboxRow{}, false, nil
	}
	if err != nil {
		return OutboxRow{}, false, fmt.Errorf("next message to %s: %w", target, err)
	}
	return r, !r.NextAttempt.After(now), nil
}
