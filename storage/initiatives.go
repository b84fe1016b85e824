package storage

import (
	"context"
	"fmt"
	"time"
)

// InitiativeRow is an initiative created at run time: its spec as JSON, who and when.
type InitiativeRow struct {
	ID        string
	Spec      []byte
	CreatedBy string
	CreatedAt time.Time
}

// InsertInitiative stores a new initiative. inserted is false when one with the id exists
// already (two replicas creating the same id: one wins, the other is told).
func InsertInitiative(t *Tx, r InitiativeRow) (inserted bool, err error) {
	res, err := t.Exec(`INSERT INTO initiatives (id, spec, created_by, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		r.ID, string(r.Spec), r.CreatedBy, r.CreatedAt.UTC().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store initiative %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store initiative %s: %w", r.ID, err)
	}
	return n == 1, nil
}

// DeleteInitiative removes an initiative created at run time; deleted is false when there
// was none with the id.
func DeleteInitiative(t *Tx, id string) (deleted bool, err error) {
	res, err := t.Exec(`DELETE FROM initiatives WHERE id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("delete initiative %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete initiative %s: %w", id, err)
	}
	return n == 1, nil
}

// ListInitiatives returns the initiatives created at run time, by id.
func (db *DB) ListInitiatives(ctx context.Context) ([]InitiativeRow, error) {
	rows, err := db.query(ctx, `SELECT id, spec, created_by, created_at FROM initiatives ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list initiatives: %w", err)
	}
	defer rows.Close()
	out := []InitiativeRow{}
	for rows.Next() {
		var r InitiativeRow
		var spec string
		var at int64
		if err := rows.Scan(&r.ID, &spec, &r.CreatedBy, &at); err != nil {
			return nil, fmt.Errorf("list initiatives: %w", err)
		}
		r.Spec, r.CreatedAt = []byte(spec), time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
