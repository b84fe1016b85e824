package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const stampServices = 10000

// stampDBs are two SQLite databases of stampServices scorecards of 6 KB, one with the
// scores_stamp index and one without; put stores n cards from the from-th service, stamped at,
// in one transaction and says how long it took.
func stampDBs(b *testing.B) (with, without *DB, put func(db *DB, from, n int, at time.Time) time.Duration) {
	b.Helper()
	card := []byte(`{"service":"svc","note":"` + strings.Repeat("x", 6000) + `"}`)
	ctx := context.Background()
	open := func(index bool) *DB {
		db, err := Open(ctx, filepath.Join(b.TempDir(), fmt.Sprintf("index-%v.db", index)), DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		if !index {
			if err := db.Writer.Do(ctx, func(t *Tx) error {
				_, err := t.Exec(`DROP INDEX scores_stamp`)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
		return db
	}
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	put = func(db *DB, from, n int, at time.Time) time.Duration {
		rows, snap := make([]ScoreRow, n), make([]bool, n)
		for k := range rows {
			rows[k] = ScoreRow{Service: fmt.Sprintf("svc-%05d", (from+k)%stampServices), Score: 71.5, Band: "silver", Level: "bronze",
				Card: card, Trend: []byte("null"), UpdatedAt: at}
		}
		start := time.Now()
		if err := db.Writer.Do(ctx, func(t *Tx) error { return PutScores(t, rows, snap) }); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	with, without = open(true), open(false)
	for _, db := range []*DB{with, without} {
		for i := 0; i < stampServices; i += 500 {
			put(db, i, 500, at)
		}
	}
	return with, without, put
}

// BenchmarkPutScoresStampIndex is what the scores_stamp index (updated_at, service), added for
// the initiatives' live progress, costs the rescoring write path on SQLite: a chunk of 16
// scorecards (rescore's perTx) overwriting existing rows of a 10,000-service table, with and
// without the index, in one run. Each rewrite moves the row's entry in the index (its
// updated_at changes), which is the cost measured. No history point is written, so the
// ratio is that of the scores write alone.
func BenchmarkPutScoresStampIndex(b *testing.B) {
	const perTx = 16
	with, without, put := stampDBs(b)
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	// The two databases take turns, so that the machine's load falls on both alike.
	var tWith, tWithout time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A round rescoring services in name order, as RescoreAll does, each chunk a
		// millisecond later than the last: the rows' stamps move, as they do live.
		stamp := at.Add(time.Duration(i+1) * time.Millisecond)
		if i%2 == 0 {
			tWith += put(with, i*perTx, perTx, stamp)
			tWithout += put(without, i*perTx, perTx, stamp)
		} else {
			tWithout += put(without, i*perTx, perTx, stamp)
			tWith += put(with, i*perTx, perTx, stamp)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(tWith.Nanoseconds())/float64(b.N), "ns/chunk-with")
	b.ReportMetric(float64(tWithout.Nanoseconds())/float64(b.N), "ns/chunk-without")
	b.ReportMetric(float64(tWith)/float64(tWithout), "with/without")
}

// BenchmarkScoreStampsStampIndex is what the index buys: the initiatives' read of every stamp
// (once a minute per replica, and a replica's first look) and of the stamps moved since the
// last look (every initiatives request, nudge round and digest), with and without it.
func BenchmarkScoreStampsStampIndex(b *testing.B) {
	with, without, put := stampDBs(b)
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	put(with, 0, 16, at.Add(time.Second))
	put(without, 0, 16, at.Add(time.Second))
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		since int64
		want  int
	}{{"all", 0, stampServices}, {"moved", at.Add(time.Second).UnixMilli(), 16}} {
		for _, d := range []struct {
			name string
			db   *DB
		}{{"with_index", with}, {"without_index", without}} {
			b.Run(c.name+"/"+d.name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					got, err := d.db.ScoreStamps(ctx, c.since)
					if err != nil || len(got) != c.want {
						b.Fatalf("ScoreStamps(%d) = %d stamps, %v; want %d", c.since, len(got), err, c.want)
					}
				}
			})
		}
	}
}
