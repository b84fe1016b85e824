package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/releaseops/releaseops"
)

// RescoreInput is what rescoring reads for a service besides its facts: its sync coverage and
// the score history its trend is drawn from.
type RescoreInput struct {
	Coverage []releaseops.SyncCoverage
	Base     *HistoryPoint  // the last snapshot at or before since (ScoreAt), if any
	History  []HistoryPoint // the snapshots from since on, oldest first (History)
}

// RescoreInputs reads the RescoreInput of every named service in three queries, for a round's
// services together: on PostgreSQL each of SyncCoverage, ScoreAt and History per service is a
// network round trip, and a round of 50 services waited on 150 of them in turn (BENCHMARKS.md,
// "PostgreSQL"). On SQLite, whose reads are local, it returns nil: each service's reads then
// run beside its scoring, in parallel.
func (db *DB) RescoreInputs(ctx context.Context, names []string, since time.Time) (map[string]*RescoreInput, error) {
	if db.d.name != DriverPostgres || len(names) == 0 {
		return nil, nil
	}
	out := make(map[string]*RescoreInput, len(names))
	for _, n := range names {
		out[n] = &RescoreInput{History: []HistoryPoint{}}
	}
	if err := db.coverageOf(ctx, names, out); err != nil {
		return nil, err
	}
	if err := db.historyOf(ctx, names, since, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (db *DB) coverageOf(ctx context.Context, names []string, out map[string]*RescoreInput) error {
	rows, err := db.query(ctx, `SELECT service, source, subject, last_attempt, last_success, failures, last_error
		FROM sync_subjects WHERE service = ANY(?::text[]) ORDER BY service, source, subject`, names)
	if err != nil {
		return fmt.Errorf("sync coverage of %d services: %w", len(names), err)
	}
	defer rows.Close()
	for rows.Next() {
		var svc string
		var c releaseops.SyncCoverage
		var attempt, success int64
		if err := rows.Scan(&svc, &c.Source, &c.Subject, &attempt, &success, &c.Failures, &c.Error); err != nil {
			return fmt.Errorf("sync coverage of %d services: %w", len(names), err)
		}
		c.LastAttempt, c.LastSuccess = fromMillis(attempt), fromMillis(success)
		if in := out[svc]; in != nil {
			in.Coverage = append(in.Coverage, c)
		}
	}
	return rows.Err()
}

func (db *DB) historyOf(ctx context.Context, names []string, since time.Time, out map[string]*RescoreInput) error {
	ms := since.UTC().UnixMilli()
	// One query for both: each service's last snapshot at or before since (an index seek per
	// service through the lateral join), then its snapshots after.
	rows, err := db.query(ctx, `SELECT n.service, h.at, h.id, h.score, h.band, h.level, true AS base
		FROM unnest(?::text[]) AS n(service)
		CROSS JOIN LATERAL (SELECT id, at, score, band, level FROM score_history
			WHERE service = n.service AND at <= ? ORDER BY at DESC, id DESC LIMIT 1) h
		UNION ALL
		SELECT service, at, id, score, band, level, false FROM score_history WHERE service = ANY(?::text[]) AND at >= ?
		ORDER BY 1, 2, 3`, names, ms, names, ms)
	if err != nil {
		return fmt.Errorf("score history of %d services: %w", len(names), err)
	}
	defer rows.Close()
	for rows.Next() {
		var svc string
		var p HistoryPoint
		var at, id int64
		var base bool
		if err := rows.Scan(&svc, &at, &id, &p.Score, &p.Band, &p.Level, &base); err != nil {
			return fmt.Errorf("score history of %d services: %w", len(names), err)
		}
		p.At = time.UnixMilli(at).UTC()
		in := out[svc]
		switch {
		case in == nil:
		case base:
			in.Base = &p
		default:
			in.History = append(in.History, p)
		}
	}
	return rows.Err()
}
