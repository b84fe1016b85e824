package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AuditRow is one entry of the append-only, hash-chained audit log.
type AuditRow struct {
	Seq        int64
	At         time.Time
	Kind       string
	Service    string
	Actor      string
	ApprovalID string
	Detail     []byte // JSON object
	PrevHash   string
	Hash       string
}

// LastAudit returns the sequence number and hash of the newest entry, inside the writer's
// transaction so that appends made earlier in the same batch are seen. Both are zero values
// when the log is empty.
func LastAudit(t *Tx) (seq int64, hash string, err error) {
	seq, hash, _, err = LastAuditKind(t)
	return seq, hash, err
}

const auditCols = `seq, at, kind, service, actor, approval_id, detail, prev_hash, hash`

func scanAudit(sc interface{ Scan(...any) error }) (AuditRow, error) {
	var r AuditRow
	var at int64
	err := sc.Scan(&r.Seq, &at, &r.Kind, &r.Service, &r.Actor, &r.ApprovalID, &r.Detail, &r.PrevHash, &r.Hash)
	r.At = time.UnixMilli(at).UTC()
	return r, err
}

// ListAudit returns up to limit entries, newest first, optionally of one service and only
// those with seq below before (0: from the newest).
func (db *DB) ListAudit(ctx context.Context, service string, before int64, limit int) ([]AuditRow, error) {
	q, args := `SELECT `+auditCols+` FROM audit_log WHERE 1 = 1`, []any{}
	if service != "" {
		q += ` AND service = ?`
		args = append(args, service)
	}
	if before > 0 {
		q += ` AND seq < ?`
		args = append(args, before)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditRow{}
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit log: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// EachAudit calls fn with every entry in sequence order, streaming, until fn returns an error.
func (db *DB) EachAudit(ctx context.Context, fn func(AuditRow) error) error {
	rows, err := db.query(ctx, `SELECT `+auditCols+` FROM audit_log ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return fmt.Errorf("read audit log: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	return nil
}

// LastAuditKind is LastAudit with the newest entry's kind ("" when the log is empty).
func LastAuditKind(t *Tx) (seq int64, hash, kind string, err error) {
	err = t.QueryRow(`SELECT seq, hash, kind FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", "", nil
	}
	if err != nil {
		return 0, "", "", fmt.Errorf("read audit head: %w", err)
	}
	return seq, hash, kind, nil
}
