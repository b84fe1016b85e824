package storage

import (
	"context"
	"fmt"
	"strings"
)

// ScoreSummary is a stored score without its card.
type ScoreSummary struct {
	Score float64
	Band  string
}

// summariesPerQuery bounds the names of one query: SQLite allows 32,766 parameters, and a
// round's services are a few hundred at most.
const summariesPerQuery = 500

// ScoreSummaries returns the stored score and band of each named service that has one, in one
// query per 500 names: a rescore listener asks for a round's services together, where one
// GetScore each waited on a network round trip apiece on PostgreSQL (BENCHMARKS.md).
func (db *DB) ScoreSummaries(ctx context.Context, names []string) (map[string]ScoreSummary, error) {
	out := make(map[string]ScoreSummary, len(names))
	for len(names) > 0 {
		part := names[:min(len(names), summariesPerQuery)]
		names = names[len(part):]
		args := make([]any, len(part))
		for i, n := range part {
			args[i] = n
		}
		rows, err := db.query(ctx, `SELECT service, score, band FROM scores WHERE service IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("scores of %d services: %w", len(part), err)
		}
		for rows.Next() {
			var name string
			var s ScoreSummary
			if err := rows.Scan(&name, &s.Score, &s.Band); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scores of %d services: %w", len(part), err)
			}
			out[name] = s
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("scores of %d services: %w", len(part), err)
		}
	}
	return out, nil
}
