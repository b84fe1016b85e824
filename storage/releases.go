package storage

import (
	"context"
	"fmt"
	"time"
)

// NoteRelease records that service was seen shipping under release at at.
func NoteRelease(t *Tx, release, service string, at time.Time) error {
	if _, err := t.Exec(`INSERT INTO release_members (release, service, at) VALUES (?, ?, ?)
		ON CONFLICT (release, service) DO UPDATE SET at = CASE WHEN excluded.at > release_members.at THEN excluded.at ELSE release_members.at END`, release, service, at.UTC().UnixMilli()); err != nil {
		return fmt.Errorf("note release %s of %s: %w", release, service, err)
	}
	return nil
}

// ReleaseServices returns the services other than except seen under release at or after
// since, by name.
func (db *DB) ReleaseServices(ctx context.Context, release, except string, since time.Time) ([]string, error) {
	rows, err := db.query(ctx, releaseServicesSQL, release, except, since.UTC().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("services of release %s: %w", release, err)
	}
	defer rows.Close()
	out, err := readStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("services of release %s: %w", release, err)
	}
	return out, nil
}

const releaseServicesSQL = `SELECT service FROM release_members WHERE release = ? AND service <> ? AND at >= ? ORDER BY service`

// readStrings reads rows of one text column; nil when there are none.
func readStrings(rows rowReader) ([]string, error) {
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
