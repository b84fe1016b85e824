package gate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/storage"
)

// reportDBs opens a database of each engine for the report's tests.
func reportDBs(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Run(storage.DriverSQLite, func(t *testing.T) {
		db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "report.db"), storage.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
	t.Run(storage.DriverPostgres, func(t *testing.T) {
		url := pgtest.URL(t)
		db, err := storage.OpenPostgres(context.Background(), url, storage.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
}

// randomObservations are observations a report must tell apart: few services, environments and
// settings so that groups fill; times from a few values so that ties in at are common (the
// example is then the greatest origin key's); reasons repeated within a request, reasons that
// are no reason (risk factors), more than five labels for one decision, and times before the
// window.
func randomObservations(rng *rand.Rand, n int, now time.Time) []storage.Observation {
	services := []string{"checkout", "ledger", "search", "payments", "a-β"}
	decisions := []string{gate.Block, gate.NeedsApproval, gate.Allow}
	envs := []string{"production", "staging", "eu (west)"}
	modes := []string{"gate.mode", "gate.mode_by_environment.staging", "gate_mode of service search (backstage:x/catalog-info.yaml)"}
	reason := func() gate.Reason {
		score := fmt.Sprintf("%d.%d", rng.IntN(100), rng.IntN(10))
		switch rng.IntN(12) {
		case 0:
			return gate.Reason{Kind: "band", Text: "score " + score + " is in the blocked band for " + envs[rng.IntN(3)] + " (below 60)"}
		case 1:
			return gate.Reason{Kind: "band", Text: "score " + score + " is in the watch band for production (below 80)"}
		case 2:
			return gate.Reason{Kind: "band", Text: "no band wording " + score}
		case 3:
			return gate.Reason{Kind: "dimension", Dimension: "observability", Name: "Observability", Text: "Observability " + score}
		case 4:
			return gate.Reason{Kind: "dimension", Dimension: "rollback_readiness", Text: "rollback " + score}
		case 5:
			return gate.Reason{Kind: "floor", Dimension: "security", Text: "floor " + score}
		case 6:
			return gate.Reason{Kind: []string{"unknown", "stale", "blackout", "window", "risk", "trust_ladder"}[rng.IntN(6)], Text: "why " + score}
		case 7:
			return gate.Reason{Kind: []string{"risk_factors", "break_glass", "observe", ""}[rng.IntN(4)], Text: "not counted " + score}
		case 8:
			return gate.Reason{Kind: "custom_" + fmt.Sprint(rng.IntN(4)), Text: "custom " + score}
		default:
			return gate.Reason{Kind: "dimension", Dimension: fmt.Sprintf("dim_%d", rng.IntN(8)), Name: fmt.Sprintf("Dim %d", rng.IntN(8)), Text: "dim " + score}
		}
	}
	out := make([]storage.Observation, n)
	for i := range out {
		var rs []gate.Reason
		for range rng.IntN(7) {
			rs = append(rs, reason())
		}
		raw, _ := json.Marshal(rs)
		if rs == nil {
			raw = []byte(`[]`)
		}
		// Mostly within 40 days before now (windows of 1, 7 and 30 days cut through them),
		// some far older, some a little after now (another replica's clock).
		at := now.Add(-time.Duration(rng.IntN(40*24)) * time.Hour)
		if rng.IntN(2) == 0 {
			at = now.Add(-time.Duration(rng.IntN(40)) * 24 * time.Hour) // ties
		}
		switch rng.IntN(20) {
		case 0:
			at = now.Add(-400 * 24 * time.Hour)
		case 1:
			at = now.Add(time.Duration(rng.IntN(60)) * time.Second)
		}
		out[i] = storage.Observation{OriginKey: fmt.Sprintf("k%04d", rng.IntN(100000)), At: at.Truncate(time.Millisecond),
			Service: services[rng.IntN(len(services))], Environment: envs[rng.IntN(len(envs))], ModeFrom: modes[rng.IntN(len(modes))],
			WouldDecision: decisions[rng.IntN(len(decisions))], Band: "blocked", Reasons: raw}
	}
	return out
}

func insertObservations(t *testing.T, db *storage.DB, obs []storage.Observation) {
	t.Helper()
	err := db.Writer.Do(context.Background(), func(tx *storage.Tx) error {
		for _, o := range obs {
			if err := storage.InsertObservation(tx, o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sameAsRowByRow compares the gate's report with the old computation over the same rows.
func sameAsRowByRow(t *testing.T, g *gate.Gate, db *storage.DB, days int) {
	t.Helper()
	got, err := g.Report(context.Background(), days)
	if err != nil {
		t.Fatal(err)
	}
	until := g.Now().UTC()
	since := until.Add(-time.Duration(days) * 24 * time.Hour)
	rows, err := db.Observations(context.Background(), since)
	if err != nil {
		t.Fatal(err)
	}
	want, err := gate.BuildReport(rows, days, since, until)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("days=%d at %s: the report differs from the row-by-row one\ngot  %s\nwant %s", days, until, g, w)
	}
}

// The report from the in-memory summary is the one computed row by row from the window, field
// for field, on both drivers: over random observations stored in several commits (each
// report reads what was stored since the last one, rows coming out of time order), windows of
// 1 to 365 days, replays, and a clock that moves on and is set back.
func TestReportMatchesRowByRow(t *testing.T) {
	reportDBs(t, func(t *testing.T, db *storage.DB) {
		for seed := range uint64(4) {
			t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 14))
				now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).Add(time.Duration(seed) * 1000 * 24 * time.Hour)
				start := now
				g := &gate.Gate{DB: db, Now: func() time.Time { return now }}
				sameAsRowByRow(t, g, db, 30) // nothing stored in this seed's years yet
				for step := range 6 {
					batch := randomObservations(rng, 40+rng.IntN(80), now)
					if step > 0 {
						batch = append(batch, batch[0]) // a replay: stored once
					}
					insertObservations(t, db, batch)
					for _, days := range []int{1, 7, 30, 365} {
						sameAsRowByRow(t, g, db, days)
					}
					now = now.Add(time.Duration(rng.IntN(48)) * time.Hour)
				}
				// Stored now, older than anything held (the summary skips it) ...
				insertObservations(t, db, []storage.Observation{{OriginKey: fmt.Sprint("old-", seed), At: start.Add(-370 * 24 * time.Hour),
					Service: "ledger", Environment: "production", ModeFrom: "gate.mode", WouldDecision: gate.Block, Band: "blocked", Reasons: []byte(`[]`)}})
				sameAsRowByRow(t, g, db, 365)
				// ... and in the longest window once the clock is set back: read again.
				now = now.Add(-20 * 24 * time.Hour)
				sameAsRowByRow(t, g, db, 365)
				sameAsRowByRow(t, g, db, 30)
			})
		}
	})
}

// Reports asked while gate decisions store observations: each sees a consistent set, and the
// last one matches the row-by-row report. Run with -race.
func TestReportWhileObserving(t *testing.T) {
	reportDBs(t, func(t *testing.T, db *storage.DB) {
		now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		g := &gate.Gate{DB: db, Now: func() time.Time { return now }}
		rng := rand.New(rand.NewPCG(7, 7))
		batches := make([][]storage.Observation, 20)
		for i := range batches {
			batches[i] = randomObservations(rng, 20, now)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					r, err := g.Report(context.Background(), 30)
					if err != nil {
						t.Error(err)
						return
					}
					n := 0
					for _, s := range r.Services {
						n += s.Requests
					}
					if n != r.Totals.Requests {
						t.Errorf("services hold %d requests, totals %d", n, r.Totals.Requests)
						return
					}
				}
			}()
		}
		for _, b := range batches {
			insertObservations(t, db, b)
		}
		close(stop)
		wg.Wait()
		sameAsRowByRow(t, g, db, 30)
	})
}

// A stored row whose reasons are not JSON fails the report, naming the row, as it did row by
// row; the next report reads again rather than serving what the failed one had read.
func TestReportUndecodableReasons(t *testing.T) {
	reportDBs(t, func(t *testing.T, db *storage.DB) {
		now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		g := &gate.Gate{DB: db, Now: func() time.Time { return now }}
		insertObservations(t, db, []storage.Observation{{OriginKey: "gr_bad", At: now.Add(-time.Hour), Service: "checkout", Environment: "production",
			ModeFrom: "gate.mode", WouldDecision: gate.Block, Band: "blocked", Reasons: []byte(`{not json`)}})
		for range 2 {
			if _, err := g.Report(context.Background(), 30); err == nil || !strings.Contains(err.Error(), "decode observed reasons of gr_bad") {
				t.Fatalf("report over an undecodable row: %v", err)
			}
		}
	})
}
