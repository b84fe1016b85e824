package gate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/storage"
)

const (
	benchObservations = 100_000
	benchReportSvcs   = 1_000
)

// seedObservations stores n observe-mode decisions over the last 30 days for 1,000 services,
// as a gate in every pipeline of a large organisation would: a third would have been blocked
// (the band and one to three weak dimensions, often the risk factors), a third held for
// approval (the watch band, sometimes a release window), a third allowed. Many rows per
// statement: the setup is not what is measured.
func seedObservations(b *testing.B, db *storage.DB, n int, now time.Time) {
	rng := rand.New(rand.NewPCG(1, 2))
	dims := []string{"Observability", "Rollback readiness", "Branch governance", "Incident response", "Security", "Testing", "Documentation", "On-call"}
	const perStmt = 500
	for start := 0; start < n; start += perStmt {
		var q strings.Builder
		q.WriteString(`INSERT INTO gate_observations (origin_key, at, service, environment, mode_from, would_decision, band, score, reasons) VALUES `)
		var args []any
		for i := start; i < min(n, start+perStmt); i++ {
			env := []string{"production", "staging"}[rng.IntN(2)]
			score := float64(rng.IntN(1000)) / 10
			var rs []gate.Reason
			would := []string{gate.Block, gate.NeedsApproval, gate.Allow}[rng.IntN(3)]
			switch would {
			case gate.Block:
				rs = append(rs, gate.Reason{Kind: "band", Text: fmt.Sprintf("score %.1f is in the blocked band for %s (below 60)", score, env)})
				for range 1 + rng.IntN(3) {
					d := dims[rng.IntN(len(dims))]
					rs = append(rs, gate.Reason{Kind: "dimension", Dimension: strings.ToLower(d), Name: d,
						Text: fmt.Sprintf("%s 0.%02d: no rollback or rehearsal in 90 days", d, rng.IntN(100)), Playbook: "https://example.com/playbooks/" + d})
				}
				if rng.IntN(2) == 0 {
					rs = append(rs, gate.Reason{Kind: "risk_factors", Text: "risk 40: a large change on a Friday"})
				}
			case gate.NeedsApproval:
				rs = append(rs, gate.Reason{Kind: "band", Text: fmt.Sprintf("score %.1f is in the watch band for %s (below 80)", score, env)})
				if rng.IntN(4) == 0 {
					rs = append(rs, gate.Reason{Kind: "window", Text: "outside the release windows (Mon-Thu 09:00-16:00 Europe/Paris)"})
				}
			}
			raw, _ := json.Marshal(rs)
			if rs == nil {
				raw = []byte(`[]`)
			}
			if i > start {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			at := now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).UnixMilli()
			args = append(args, fmt.Sprintf("gr_%07d", i), at, fmt.Sprintf("svc-%04d", rng.IntN(benchReportSvcs)), env,
				"gate.mode_by_environment."+env, would, "blocked", score, raw)
		}
		err := db.Writer.Do(context.Background(), func(tx *storage.Tx) error {
			_, err := tx.Exec(q.String(), args...)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGateReport measures the report for days=30 with 100,000 observations over 1,000
// services stored, on each driver: before, every row of the window read and aggregated on
// each call (BuildReport, as the report was computed until the summary); after, the gate's
// report from its summary, one new observation stored before each call so that each reads
// what is new. The summary's first load (reading and decoding the whole window once, at the
// first report after a start) is reported as first-ms.
func BenchmarkGateReport(b *testing.B) {
	b.Run(storage.DriverSQLite, func(b *testing.B) {
		db, err := storage.Open(context.Background(), filepath.Join(b.TempDir(), "report.db"), storage.DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		benchReport(b, db)
	})
	b.Run(storage.DriverPostgres, func(b *testing.B) {
		url := pgtest.URL(b)
		db, err := storage.OpenPostgres(context.Background(), url, storage.DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		benchReport(b, db)
	})
}

func benchReport(b *testing.B, db *storage.DB) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	seedObservations(b, db, benchObservations, now)
	g := &gate.Gate{DB: db, Now: func() time.Time { return now }}
	ctx := context.Background()
	b.Run("before", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			since := now.Add(-30 * 24 * time.Hour)
			rows, err := db.Observations(ctx, since)
			if err != nil {
				b.Fatal(err)
			}
			r, err := gate.BuildReport(rows, 30, since, now)
			if err != nil || r.Totals.Requests < benchObservations {
				b.Fatalf("report of %d requests: %v", r.Totals.Requests, err)
			}
			lat = append(lat, time.Since(start))
		}
		reportPercentiles(b, lat)
	})
	b.Run("after", func(b *testing.B) {
		start := time.Now()
		if _, err := g.Report(ctx, 30); err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		lat := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			b.StopTimer()
			i++
			if err := db.Writer.Do(ctx, func(tx *storage.Tx) error {
				return storage.InsertObservation(tx, storage.Observation{OriginKey: fmt.Sprintf("gr_new_%d", i), At: now.Add(-time.Minute),
					Service: "svc-0001", Environment: "production", ModeFrom: "gate.mode", WouldDecision: gate.Block, Band: "blocked",
					Reasons: []byte(`[{"kind":"band","text":"score 41.0 is in the blocked band for production (below 60)"}]`)})
			}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			r, err := g.Report(ctx, 30)
			if err != nil || r.Totals.Requests < benchObservations {
				b.Fatalf("report of %d requests: %v", r.Totals.Requests, err)
			}
			lat = append(lat, time.Since(start))
		}
		reportPercentiles(b, lat)
		b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
	})
}
