package storage

import (
	"context"
	"fmt"
	"time"
)

// InitiativeDayRow is one day's point of an initiative's burn-up (see migration 0017).
type InitiativeDayRow struct {
	Initiative  string
	Day         string // YYYY-MM-DD, UTC
	Fingerprint string
	Source      string // recorded or replayed
	Done, Total int
	At          time.Time
	Teams       []InitiativeTeamCount // written with the point; read by InitiativeDayTeams
}

// InitiativeTeamCount is one owning team's part of a day's point.
type InitiativeTeamCount struct {
	Owner       string
	Done, Total int
}

// PutInitiativeDay stores a day's point and its teams' counts, unless the day has a point of
// the same fingerprint already: the first writer wins, whichever replica or restart comes
// second, so a point is never counted twice nor mixed from two writers' teams. A point of
// another fingerprint is replaced. written says whether this call stored it.
func PutInitiativeDay(t *Tx, r InitiativeDayRow) (written bool, err error) {
	res, err := t.Exec(`INSERT INTO initiative_days (initiative, day, fingerprint, source, done, total, at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (initiative, day) DO UPDATE SET fingerprint = excluded.fingerprint, source = excluded.source,
			done = excluded.done, total = excluded.total, at = excluded.at
		WHERE initiative_days.fingerprint <> excluded.fingerprint`,
		r.Initiative, r.Day, r.Fingerprint, r.Source, r.Done, r.Total, r.At.UTC().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store point %s of initiative %s: %w", r.Day, r.Initiative, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store point %s of initiative %s: %w", r.Day, r.Initiative, err)
	}
	if n == 0 {
		return false, nil
	}
	if _, err := t.Exec(`DELETE FROM initiative_day_teams WHERE initiative = ? AND day = ?`, r.Initiative, r.Day); err != nil {
		return false, fmt.Errorf("replace teams of point %s of initiative %s: %w", r.Day, r.Initiative, err)
	}
	for _, tc := range r.Teams {
		if _, err := t.Exec(`INSERT INTO initiative_day_teams (initiative, day, owner, done, total) VALUES (?, ?, ?, ?, ?)`,
			r.Initiative, r.Day, tc.Owner, tc.Done, tc.Total); err != nil {
			return false, fmt.Errorf("store team %q of point %s of initiative %s: %w", tc.Owner, r.Day, r.Initiative, err)
		}
	}
	return true, nil
}

// DeleteInitiativeDays removes an initiative's points, as its deletion does: an initiative
// created again with the id starts its own burn-up.
func DeleteInitiativeDays(t *Tx, initiative string) error {
	for _, q := range []string{`DELETE FROM initiative_day_teams WHERE initiative = ?`, `DELETE FROM initiative_days WHERE initiative = ?`} {
		if _, err := t.Exec(q, initiative); err != nil {
			return fmt.Errorf("delete points of initiative %s: %w", initiative, err)
		}
	}
	return nil
}

// InitiativeDays returns an initiative's points from day from to day to (both YYYY-MM-DD,
// inclusive), by day, without their teams.
func (db *DB) InitiativeDays(ctx context.Context, initiative, from, to string) ([]InitiativeDayRow, error) {
	rows, err := db.query(ctx, `SELECT day, fingerprint, source, done, total, at FROM initiative_days
		WHERE initiative = ? AND day >= ? AND day <= ? ORDER BY day`, initiative, from, to)
	if err != nil {
		return nil, fmt.Errorf("points of initiative %s: %w", initiative, err)
	}
	defer rows.Close()
	out := []InitiativeDayRow{}
	for rows.Next() {
		r := InitiativeDayRow{Initiative: initiative}
		var at int64
		if err := rows.Scan(&r.Day, &r.Fingerprint, &r.Source, &r.Done, &r.Total, &at); err != nil {
			return nil, fmt.Errorf("points of initiative %s: %w", initiative, err)
		}
		r.At = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// InitiativeFingerprintsOn returns, by initiative, the fingerprint of each point stored for day.
func (db *DB) InitiativeFingerprintsOn(ctx context.Context, day string) (map[string]string, error) {
	rows, err := db.query(ctx, `SELECT initiative, fingerprint FROM initiative_days WHERE day = ?`, day)
	if err != nil {
		return nil, fmt.Errorf("points of %s: %w", day, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, fp string
		if err := rows.Scan(&id, &fp); err != nil {
			return nil, fmt.Errorf("points of %s: %w", day, err)
		}
		out[id] = fp
	}
	return out, rows.Err()
}

// InitiativeDayTeams returns the teams' counts of an initiative's point of day, by owner.
func (db *DB) InitiativeDayTeams(ctx context.Context, initiative, day string) ([]InitiativeTeamCount, error) {
	rows, err := db.query(ctx, `SELECT owner, done, total FROM initiative_day_teams WHERE initiative = ? AND day = ? ORDER BY owner`, initiative, day)
	if err != nil {
		return nil, fmt.Errorf("teams of point %s of initiative %s: %w", day, initiative, err)
	}
	defer rows.Close()
	out := []InitiativeTeamCount{}
	for rows.Next() {
		var tc InitiativeTeamCount
		if err := rows.Scan(&tc.Owner, &tc.Done, &tc.Total); err != nil {
			return nil, fmt.Errorf("teams of point %s of initiative %s: %w", day, initiative, err)
		}
		out = append(out, tc)
	}
	return out, rows.Err()
}
