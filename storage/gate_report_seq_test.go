package storage

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" for the raw connection below

	"github.com/releaseops/releaseops/internal/pgtest"
)

func observationAt(key string, at time.Time) Observation {
	return Observation{OriginKey: key, At: at, Service: "checkout", Environment: "production", ModeFrom: "gate.mode",
		WouldDecision: "block", Band: "blocked", Reasons: []byte(`[]`)}
}

// readAfter returns the origin keys ObservationsAfter gives and the seq it returns.
func readAfter(t *testing.T, db *DB, after int64, since time.Time) ([]string, []int64, int64) {
	t.Helper()
	var keys []string
	var seqs []int64
	last, err := db.ObservationsAfter(context.Background(), after, since, func(o *Observation) error {
		keys, seqs = append(keys, o.OriginKey), append(seqs, o.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, seqs, last
}

// ObservationsAfter reads in commit order what was stored after a seq and in the window, and
// returns the highest seq stored even when that row is older than the window, so that the
// next read does not see it again.
func TestObservationsAfter(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		if keys, _, last := readAfter(t, db, 0, t0); len(keys) != 0 || last != 0 {
			t.Fatalf("empty table: %v, last %d", keys, last)
		}
		// Committed out of time order, as two replicas' decisions can be.
		write(t, db, func(tx *Tx) error { return InsertObservation(tx, observationAt("b", t0.Add(time.Minute))) })
		write(t, db, func(tx *Tx) error { return InsertObservation(tx, observationAt("a", t0)) })
		write(t, db, func(tx *Tx) error {
			if err := InsertObservation(tx, observationAt("a", t0.Add(time.Hour))); err != nil { // a replay: stored once
				return err
			}
			return InsertObservation(tx, observationAt("old", t0.Add(-400*24*time.Hour)))
		})
		keys, seqs, last := readAfter(t, db, 0, t0.Add(-time.Hour))
		if fmt.Sprint(keys) != "[b a]" || seqs[0] >= seqs[1] || last <= seqs[1] {
			t.Fatalf("read %v seqs %v last %d; want b then a, and the old row's seq as the last", keys, seqs, last)
		}
		if keys, _, again := readAfter(t, db, last, t0.Add(-time.Hour)); len(keys) != 0 || again != last {
			t.Fatalf("nothing new: read %v, last %d (was %d)", keys, again, last)
		}
		write(t, db, func(tx *Tx) error { return InsertObservation(tx, observationAt("c", t0.Add(2*time.Minute))) })
		if keys, seqs, next := readAfter(t, db, last, t0.Add(-time.Hour)); fmt.Sprint(keys) != "[c]" || seqs[0] <= last || next != seqs[0] {
			t.Fatalf("after %d: read %v seqs %v, last %d", last, keys, seqs, next)
		}
	})
}

// Rows stored before seq existed are numbered by the migration (SQLite 0019, PostgreSQL 0012):
// the report reads them like any other, and new rows are numbered after them.
func TestObservationsNumberedByMigration(t *testing.T) {
	check := func(t *testing.T, raw *sql.DB, d *dialect, before int, open func() *DB) {
		ctx := context.Background()
		conn, err := raw.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, d.schemaMigrations); err != nil {
			t.Fatal(err)
		}
		ms, err := migrations(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.version < before {
				if err := applyMigration(ctx, conn, d, m); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, key := range []string{"z-first", "a-second", "m-third"} {
			if _, err := conn.ExecContext(ctx, d.sql(`INSERT INTO gate_observations (origin_key, at, service, environment, mode_from, would_decision, band, score, reasons)
				VALUES (?, ?, 'checkout', 'production', 'gate.mode', 'block', 'blocked', NULL, ?)`), key, t0.Add(time.Duration(i)*time.Minute).UnixMilli(), []byte(`[]`)); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
		db := open() // applies the rest
		keys, seqs, last := readAfter(t, db, 0, t0.Add(-time.Hour))
		if fmt.Sprint(keys) != "[z-first a-second m-third]" || last != seqs[2] {
			t.Fatalf("after the migration: read %v seqs %v last %d", keys, seqs, last)
		}
		write(t, db, func(tx *Tx) error { return InsertObservation(tx, observationAt("new", t0)) })
		if keys, _, _ := readAfter(t, db, last, t0.Add(-time.Hour)); fmt.Sprint(keys) != "[new]" {
			t.Fatalf("after the numbered rows: %v", keys)
		}
	}
	t.Run(DriverSQLite, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		check(t, raw, sqliteDialect, 18, func() *DB { return openAt(t, path) })
	})
	t.Run(DriverPostgres, func(t *testing.T) {
		url := pgtest.URL(t)
		raw, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		check(t, raw, postgresDialect, 11, func() *DB { return openPG(t, url) })
	})
}

func openAt(t *testing.T, path string) *DB {
	t.Helper()
	opts := DefaultOptions()
	opts.AllowSharedFile = true // created by the raw connection above, with the umask's mode
	db, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// migrate-db carries seq over, and moves PostgreSQL's identity past it: a report reading
// after the copied rows sees the next observation.
func TestObservationSeqCopiedIntoPostgres(t *testing.T) {
	url := pgtest.URL(t)
	src := openSQLite(t)
	write(t, src, func(tx *Tx) error {
		for i := range 3 {
			if err := InsertObservation(tx, observationAt(fmt.Sprint("gr_", i), t0.Add(time.Duration(i)*time.Second))); err != nil {
				return err
			}
		}
		return nil
	})
	_, srcSeqs, srcLast := readAfter(t, src, 0, t0.Add(-time.Hour))
	dst := openPG(t, url)
	rep, err := CopyInto(context.Background(), src, dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range rep.Tables {
		if tc.Table == "gate_observations" && (tc.Source != 3 || tc.Copied != 3) {
			t.Errorf("gate_observations: %+v", tc)
		}
	}
	_, dstSeqs, dstLast := readAfter(t, dst, 0, t0.Add(-time.Hour))
	if fmt.Sprint(dstSeqs) != fmt.Sprint(srcSeqs) || dstLast != srcLast {
		t.Fatalf("seq on the target %v (last %d), on the source %v (last %d)", dstSeqs, dstLast, srcSeqs, srcLast)
	}
	write(t, dst, func(tx *Tx) error { return InsertObservation(tx, observationAt("next", t0.Add(time.Hour))) })
	if keys, seqs, _ := readAfter(t, dst, dstLast, t0.Add(-time.Hour)); fmt.Sprint(keys) != "[next]" || seqs[0] <= dstLast {
		t.Fatalf("the first observation after the copy: %v %v", keys, seqs)
	}
}

// The observation insert must stay under PostgreSQL's exclusive writer lock: that is what
// makes seq follow commit order (ObservationsAfter).
func TestObservationInsertTakesTheExclusiveLock(t *testing.T) {
	for q := range sharedStatements {
		if strings.Contains(q, "gate_observations") {
			t.Fatalf("a shared statement writes gate_observations: %s", q)
		}
	}
}
