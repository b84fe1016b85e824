package storage

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// CompareScores compares the scores tables of a and b row by row (service, score, band,
// level, card, trend, updated_at) and describes each difference; none means identical.
func CompareScores(ctx context.Context, a, b *DB) ([]string, error) {
	ra, err := a.allScores(ctx)
	if err != nil {
		return nil, err
	}
	rb, err := b.allScores(ctx)
	if err != nil {
		return nil, err
	}
	var diffs []string
	for svc, x := range ra {
		y, ok := rb[svc]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing from %s", svc, b.path))
			continue
		}
		var fields []string
		if x.Score != y.Score {
			fields = append(fields, fmt.Sprintf("score %v vs %v", x.Score, y.Score))
		}
		if x.Band != y.Band {
			fields = append(fields, fmt.Sprintf("band %s vs %s", x.Band, y.Band))
		}
		if x.Level != y.Level {
			fields = append(fields, fmt.Sprintf("level %s vs %s", x.Level, y.Level))
		}
		if !bytes.Equal(x.Card, y.Card) {
			fields = append(fields, "card differs")
		}
		if !bytes.Equal(x.Trend, y.Trend) {
			fields = append(fields, "trend differs")
		}
		if !x.UpdatedAt.Equal(y.UpdatedAt) {
			fields = append(fields, fmt.Sprintf("updated_at %s vs %s", x.UpdatedAt.Format(time.RFC3339Nano), y.UpdatedAt.Format(time.RFC3339Nano)))
		}
		if len(fields) > 0 {
			diffs = append(diffs, svc+": "+strings.Join(fields, ", "))
		}
	}
	for svc := range rb {
		if _, ok := ra[svc]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing from %s", svc, a.path))
		}
	}
	sort.Strings(diffs)
	return diffs, nil
}

func (db *DB) allScores(ctx context.Context) (map[string]ScoreRow, error) {
	rows, err := db.query(ctx, `SELECT service, score, band, level, card, trend, updated_at FROM scores`)
	if err != nil {
		return nil, fmt.Errorf("read scores of %s: %w", db.path, err)
	}
	defer rows.Close()
	out := map[string]ScoreRow{}
	for rows.Next() {
		var r ScoreRow
		var trend string
		var at int64
		if err := rows.Scan(&r.Service, &r.Score, &r.Band, &r.Level, &r.Card, &trend, &at); err != nil {
			return nil, fmt.Errorf("read scores of %s: %w", db.path, err)
		}
		r.Trend, r.UpdatedAt = []byte(trend), time.UnixMilli(at).UTC()
		out[r.Service] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read scores of %s: %w", db.path, err)
	}
	return out, nil
}
