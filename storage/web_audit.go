package storage

import (
	"context"
	"fmt"
)

// AuditAfter returns up to limit audit entries with seq above after, oldest first: a walk of
// the chain in steps, so checking it never holds one long read open or re-reads what a
// previous step checked.
func (db *DB) AuditAfter(ctx context.Context, after int64, limit int) ([]AuditRow, error) {
	rows, err := db.query(ctx, `SELECT `+auditCols+` FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("audit entries after %d: %w", after, err)
	}
	defer rows.Close()
	out := []AuditRow{}
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("audit entries after %d: %w", after, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit entries after %d: %w", after, err)
	}
	return out, nil
}
