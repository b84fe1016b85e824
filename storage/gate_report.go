package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Observation is one gate request answered in observe mode: what enforcement would have
// answered and why.
type Observation struct {
	// Seq numbers the observations in the order they were committed (see ObservationsAfter);
	// set when read, ignored by InsertObservation.
	Seq           int64
	OriginKey     string
	At            time.Time
	Service       string
	Environment   string
	ModeFrom      string
	WouldDecision string
	Band          string
	Score         *float64
	Reasons       []byte // JSON array of gate.Reason
}

// InsertObservation records an observe-mode decision inside the gate's transaction. A replayed
// request (same origin key) is stored once. The statement is not one of sharedStatements, and
// must not become one: ObservationsAfter relies on it running under PostgreSQL's exclusive
// writer lock, which hands out seq in commit order.
func InsertObservation(t *Tx, o Observation) error {
	var score sql.NullFloat64
	if o.Score != nil {
		score = sql.NullFloat64{Float64: *o.Score, Valid: true}
	}
	_, err := t.Exec(`INSERT INTO gate_observations (origin_key, at, service, environment, mode_from, would_decision, band, score, reasons)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (origin_key) DO NOTHING`,
		o.OriginKey, o.At.UTC().UnixMilli(), o.Service, o.Environment, o.ModeFrom, o.WouldDecision, o.Band, score, o.Reasons)
	if err != nil {
		return fmt.Errorf("record observation of %s: %w", o.Service, err)
	}
	return nil
}

// Observations returns the observe-mode decisions made at or after since, oldest first: every
// row of the window, as the gate report read them on each call before it kept a summary
// (gate/report_index.go). Its tests compare the summary's report with the one built from these.
func (db *DB) Observations(ctx context.Context, since time.Time) ([]Observation, error) {
	rows, err := db.query(ctx, `SELECT origin_key, at, service, environment, mode_from, would_decision, band, score, reasons
		FROM gate_observations WHERE at >= ? ORDER BY at, origin_key`, since.UTC().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("read observations: %w", err)
	}
	defer rows.Close()
	out := []Observation{}
	for rows.Next() {
		var o Observation
		var at int64
		var score sql.NullFloat64
		if err := rows.Scan(&o.OriginKey, &at, &o.Service, &o.Environment, &o.ModeFrom, &o.WouldDecision, &o.Band, &score, &o.Reasons); err != nil {
			return nil, fmt.Errorf("read observations: %w", err)
		}
		o.At = time.UnixMilli(at).UTC()
		if score.Valid {
			s := score.Float64
			o.Score = &s
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read observations: %w", err)
	}
	return out, nil
}

// ObservationsAfter calls fn with each observation committed after the one numbered after (0:
// from the first) whose at is at or after since, in seq order, and returns the highest seq
// stored, so that the next call starts there. Only what the gate report needs is read: not
// band or score. The highest seq is read first and the rows up to it then: every observation
// is inserted under the writer lock (SQLite's one writer, PostgreSQL's exclusive lock), which
// a transaction holds from before it takes its seq until it is committed and visible, so once
// a seq is visible every lower one is committed or rolled back, and no row is missed or read
// twice across calls. When nothing is new that is one index lookup. fn must not keep o or its
// Reasons: both are reused for the next row.
func (db *DB) ObservationsAfter(ctx context.Context, after int64, since time.Time, fn func(*Observation) error) (int64, error) {
	var last sql.NullInt64
	if err := db.queryRow(ctx, `SELECT max(seq) FROM gate_observations`).Scan(&last); err != nil {
		return after, fmt.Errorf("read observations after %d: %w", after, err)
	}
	if !last.Valid || last.Int64 <= after {
		return after, nil
	}
	rows, err := db.query(ctx, `SELECT seq, origin_key, at, service, environment, mode_from, would_decision, reasons
		FROM gate_observations WHERE seq > ? AND seq <= ? AND at >= ? ORDER BY seq`, after, last.Int64, since.UTC().UnixMilli())
	if err != nil {
		return after, fmt.Errorf("read observations after %d: %w", after, err)
	}
	defer rows.Close()
	var o Observation
	for rows.Next() {
		var at int64
		if err := rows.Scan(&o.Seq, &o.OriginKey, &at, &o.Service, &o.Environment, &o.ModeFrom, &o.WouldDecision, &o.Reasons); err != nil {
			return after, fmt.Errorf("read observations after %d: %w", after, err)
		}
		o.At = time.UnixMilli(at).UTC()
		if err := fn(&o); err != nil {
			return after, err
		}
	}
	if err := rows.Err(); err != nil {
		return after, fmt.Errorf("read observations after %d: %w", after, err)
	}
	return last.Int64, nil
}
