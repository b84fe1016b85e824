package storage

import (
	"context"
	"fmt"
)

// ScoreStamps returns, by service, when its stored scorecard was last written (unix
// milliseconds), for the cards written at or after since (0: every card). The initiatives
// keep their judgement of each card and re-read only the cards whose stamp moved, so today's
// progress of thousands of services costs a short range of the scores_stamp index.
func (db *DB) ScoreStamps(ctx context.Context, since int64) (map[string]int64, error) {
	rows, err := db.query(ctx, `SELECT service, updated_at FROM scores WHERE updated_at >= ?`, since)
	if err != nil {
		return nil, fmt.Errorf("score stamps: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var at int64
		if err := rows.Scan(&s, &at); err != nil {
			return nil, fmt.Errorf("score stamps: %w", err)
		}
		out[s] = at
	}
	return out, rows.Err()
}
