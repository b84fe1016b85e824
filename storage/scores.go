package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ScoreRow is a service's latest score with its scorecard JSON.
type ScoreRow struct {
	Service   string
	Score     float64
	Band      string
	Level     string
	Card      []byte
	Trend     []byte // JSON of the scorecard's trend
	UpdatedAt time.Time
}

// HistoryPoint is one snapshot of a service's score.
type HistoryPoint struct {
	At    time.Time `json:"at"`
	Score float64   `json:"score"`
	Band  string    `json:"band"`
	Level string    `json:"level"`
}

// The statements of PutScore: an upsert by service and an append that nothing follows by id,
// written by the rescoring worker (under its lease) and a sync's rescore. Neither needs
// another transaction's writes to be ordered before it, so PostgreSQL runs them under the
// shared writer lock; two writers of one service's row still take its row lock.
const (
	putScoreSQL = `INSERT INTO scores (service, score, band, level, card, trend, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (service) DO UPDATE SET score = excluded.score, band = excluded.band, level = excluded.level, card = excluded.card,
		trend = excluded.trend, updated_at = excluded.updated_at`
	putHistorySQL = `INSERT INTO score_history (service, at, score, band, level) VALUES (?, ?, ?, ?, ?)`
)

// PutScore saves the latest scorecard and, when snapshot is true, appends a history point.
func PutScore(t *Tx, r ScoreRow, snapshot bool) error {
	at := r.UpdatedAt.UTC().UnixMilli()
	trend := string(r.Trend)
	if trend == "" {
		trend = "null"
	}
	if _, err := t.Exec(putScoreSQL,
		r.Service, r.Score, r.Band, r.Level, r.Card, trend, at); err != nil {
		return fmt.Errorf("save score of %s: %w", r.Service, err)
	}
	if snapshot {
		if _, err := t.Exec(putHistorySQL,
			r.Service, at, r.Score, r.Band, r.Level); err != nil {
			return fmt.Errorf("save history of %s: %w", r.Service, err)
		}
	}
	return nil
}

// putScoresPGSQL is PutScores on PostgreSQL: every row and its history point in one
// statement, the rows as arrays, so that a round's scores cost one round trip, not two per
// service. The services of one call must differ (an upsert cannot touch a row twice).
const putScoresPGSQL = `WITH r AS (SELECT * FROM unnest(?::text[], ?::float8[], ?::text[], ?::text[], ?::bytea[], ?::text[], ?::bigint[], ?::bool[])
			AS r(service, score, band, level, card, trend, at, snapshot)),
		s AS (INSERT INTO scores (service, score, band, level, card, trend, updated_at)
			SELECT service, score, band, level, card, trend, at FROM r
			ON CONFLICT (service) DO UPDATE SET score = excluded.score, band = excluded.band, level = excluded.level, card = excluded.card,
			trend = excluded.trend, updated_at = excluded.updated_at)
		INSERT INTO score_history (service, at, score, band, level) SELECT service, at, score, band, level FROM r WHERE snapshot`

// PutScores saves several services' scorecards, each as PutScore does: one statement on
// PostgreSQL, one PutScore each on SQLite (whose statements do not wait for a network).
func PutScores(t *Tx, rows []ScoreRow, snapshot []bool) error {
	if t.w.d.name != DriverPostgres {
		for i, r := range rows {
			if err := PutScore(t, r, snapshot[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := t.Exec(putScoresPGSQL, putScoresPGArgs(rows, snapshot)...); err != nil {
		return fmt.Errorf("save scores of %d services: %w", len(rows), err)
	}
	return nil
}

// putScoresPGArgs are putScoresPGSQL's arguments: one array a column.
func putScoresPGArgs(rows []ScoreRow, snapshot []bool) []any {
	n := len(rows)
	svc, band, level, trend := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	score, at, card := make([]float64, n), make([]int64, n), make([][]byte, n)
	for i, r := range rows {
		svc[i], score[i], band[i], level[i], card[i], at[i] = r.Service, r.Score, r.Band, r.Level, r.Card, r.UpdatedAt.UTC().UnixMilli()
		if trend[i] = string(r.Trend); trend[i] == "" {
			trend[i] = "null"
		}
	}
	return []any{svc, score, band, level, card, trend, at, snapshot}
}

// StoreScores saves a round of scorecards as PutScores does and, when cursor is not nil, sets
// the named cursor in the same write. On PostgreSQL it is one piped write (writer_pipe.go) on
// the express lane (DoExpress): the shared lock, the scores and the cursor in one pgx batch,
// one round trip, where a transaction of its own cost BEGIN, the lock, the statements and
// COMMIT, queued behind the replica's deliveries (measured: a round's stores took 100–300 ms
// so with 3 replicas under load, 50–145 ms piped on the express lane; BENCHMARKS.md).
func (w *Writer) StoreScores(ctx context.Context, rows []ScoreRow, snapshot []bool, cursorName string, cursor *int64) error {
	if len(rows) != len(snapshot) {
		return fmt.Errorf("storage: %d scores with %d snapshot flags", len(rows), len(snapshot))
	}
	fn := func(t *Tx) error {
		if err := PutScores(t, rows, snapshot); err != nil {
			return err
		}
		if cursor != nil {
			return SetCursor(t, cursorName, *cursor)
		}
		return nil
	}
	var stmts []pipeStmt
	if len(rows) > 0 {
		stmts = append(stmts, pipeStmt{query: putScoresPGSQL, args: putScoresPGArgs(rows, snapshot)})
	}
	if cursor != nil {
		stmts = append(stmts, pipeStmt{query: setCursorSQL, args: []any{cursorName, *cursor}})
	}
	if len(stmts) == 0 {
		return nil
	}
	return w.doPiped(ctx, true, fn, stmts...)
}

// GetScore returns a service's latest score, or ErrNotFound.
func (db *DB) GetScore(ctx context.Context, service string) (ScoreRow, error) {
	r := ScoreRow{Service: service}
	var at int64
	err := db.queryRow(ctx, getScoreSQL, service).Scan(&r.Score, &r.Band, &r.Level, &r.Card, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("score of %s: %w", service, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("score of %s: %w", service, err)
	}
	r.UpdatedAt = time.UnixMilli(at).UTC()
	return r, nil
}

const getScoreSQL = `SELECT score, band, level, card, updated_at FROM scores WHERE service = ?`

// ListScores returns every service's latest score and trend without the scorecard, by name.
func (db *DB) ListScores(ctx context.Context) ([]ScoreRow, error) {
	rows, err := db.query(ctx, `SELECT service, score, band, level, trend, updated_at FROM scores ORDER BY service`)
	if err != nil {
		return nil, fmt.Errorf("list scores: %w", err)
	}
	defer rows.Close()
	var out []ScoreRow
	for rows.Next() {
		var r ScoreRow
		var at int64
		var trend string
		if err := rows.Scan(&r.Service, &r.Score, &r.Band, &r.Level, &trend, &at); err != nil {
			return nil, fmt.Errorf("list scores: %w", err)
		}
		r.Trend = []byte(trend)
		r.UpdatedAt = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// History returns a service's snapshots at or after since, oldest first.
func (db *DB) History(ctx context.Context, service string, since time.Time) ([]HistoryPoint, error) {
	rows, err := db.query(ctx, historySQL, service, since.UTC().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", service, err)
	}
	defer rows.Close()
	out, err := readHistory(rows)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", service, err)
	}
	return out, nil
}

const historySQL = `SELECT at, score, band, level FROM score_history WHERE service = ? AND at >= ? ORDER BY at, id`

// readHistory reads rows of (at, score, band, level); never nil.
func readHistory(rows rowReader) ([]HistoryPoint, error) {
	out := []HistoryPoint{}
	for rows.Next() {
		var p HistoryPoint
		var at int64
		if err := rows.Scan(&at, &p.Score, &p.Band, &p.Level); err != nil {
			return nil, err
		}
		p.At = time.UnixMilli(at).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// ScoreAt returns the last snapshot at or before t, and false if there is none.
func (db *DB) ScoreAt(ctx context.Context, service string, t time.Time) (HistoryPoint, bool, error) {
	var p HistoryPoint
	var at int64
	err := db.queryRow(ctx, `SELECT at, score, band, level FROM score_history WHERE service = ? AND at <= ? ORDER BY at DESC, id DESC LIMIT 1`,
		service, t.UTC().UnixMilli()).Scan(&at, &p.Score, &p.Band, &p.Level)
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("score of %s at %s: %w", service, t.Format(time.RFC3339), err)
	}
	p.At = time.UnixMilli(at).UTC()
	return p, true, nil
}
