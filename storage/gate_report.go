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
// request (same origin key) is stored once.
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

// Observations returns the observe-mode decisions made at or after since, oldest first.
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
