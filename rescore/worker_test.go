package rescore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

type observer struct {
	mu       sync.Mutex
	rescored int
	lags     int
}

func (o *observer) Rescored(string, time.Duration) { o.mu.Lock(); o.rescored++; o.mu.Unlock() }
func (o *observer) Lag(time.Duration)              { o.mu.Lock(); o.lags++; o.mu.Unlock() }

func setup(t *testing.T) (*Worker, *storage.DB, *time.Time, *[]*scoring.Regression) {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	engine, err := scoring.Compile(scoring.DefaultConfig(), nil, "https://releaseops.example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var regs []*scoring.Regression
	cat := catalog.New([]releaseops.Service{{Name: "checkout", Owner: "team", RunbookURL: "https://wiki/x", Approvers: []string{"U1"},
		SLOs: []releaseops.SLO{{Name: "a", Objective: 99}}, StructuredLogging: true, TraceCorrelation: true, EscalationLevels: 2}})
	w := &Worker{DB: db, Catalog: cat, Engine: engine, Scoring: scoring.DefaultConfig(), Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Observer: &observer{},
		Regression: func(_ context.Context, r *scoring.Regression, _ *scoring.Scorecard) error {
			regs = append(regs, r)
			return nil
		}}
	return w, db, &now, &regs
}

func deploy(t *testing.T, db *storage.DB, id, status string, at time.Time) {
	t.Helper()
	subj := releaseops.Subject{Kind: releaseops.SubjectService, Key: "checkout"}
	yes := true
	d := &storage.NewDelivery{Source: "deploy", DeliveryID: id, Type: "deploy", Subject: subj, Service: "checkout", Outcome: "stored",
		ReceivedAt: at, Headers: map[string]string{}, Body: []byte(`{}`), Facts: []releaseops.Fact{{Kind: releaseops.FactDeploy, Subject: subj,
			Service: "checkout", At: at, Evidence: releaseops.Evidence{Source: "deploy", Event: "deploy", Delivery: id, At: at},
			Deploy: &releaseops.Deploy{ID: id, Environment: "production", Status: status, Kind: "deploy", Strategy: "canary", Phases: 3,
				HealthChecks: &yes, FeatureFlags: &yes, StartedAt: &at, FinishedAt: &at}}}}
	if err := db.Writer.Do(context.Background(), func(t *storage.Tx) error { _, _, err := storage.InsertDelivery(t, d); return err }); err != nil {
		t.Fatal(err)
	}
}

func TestStepScoresAdvancesTheCursorAndRecordsHistoryOnChange(t *testing.T) {
	w, db, now, _ := setup(t)
	ctx := context.Background()
	var heard int
	var storedAfter int64 = -1 // the cursor when Stored was called
	w.Listeners = []Listener{func(_ context.Context, fs []storage.StoredFact) { heard += len(fs) }}
	w.Stored = func() { storedAfter, _ = db.Cursor(ctx, cursorName) }
	deploy(t, db, "d1", releaseops.DeploySucceeded, now.Add(-time.Hour))
	w.Wake()
	if n, err := w.Step(ctx); err != nil || n != 1 {
		t.Fatalf("step: %d, %v", n, err)
	}
	if heard != 1 {
		t.Fatalf("listeners heard %d facts", heard)
	}
	if storedAfter != 1 {
		t.Fatalf("Stored saw the cursor at %d, want 1: it must run after the round is stored", storedAfter)
	}
	row, err := db.GetScore(ctx, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := db.Cursor(ctx, "rescore"); cur == 0 {
		t.Fatal("cursor did not move with the stored score")
	}
	if n, _ := w.Step(ctx); n != 0 {
		t.Fatal("a second step re-read facts already covered")
	}
	// A rescore that changes nothing adds no history point; a change adds one.
	w.RescoreAll(ctx)
	hist, _ := db.History(ctx, "checkout", time.Time{})
	if len(hist) != 1 || hist[0].Score != row.Score {
		t.Fatalf("history = %+v", hist)
	}
	deploy(t, db, "d2", releaseops.DeployFailed, now.Add(-30*time.Minute))
	w.Step(ctx)
	hist, _ = db.History(ctx, "checkout", time.Time{})
	if len(hist) != 2 {
		t.Fatalf("a changed score made %d history points, want 2", len(hist))
	}
	o := w.Observer.(*observer)
	if o.rescored < 3 || o.lags < 1 {
		t.Fatalf("observer: %+v", o)
	}
}

func TestRegressionIsRecordedOnTheDropNotWhileLow(t *testing.T) {
	w, db, now, regs := setup(t)
	w.Scoring.RegressionAlertPoints = 2
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c"} {
		deploy(t, db, id, releaseops.DeploySucceeded, now.Add(-time.Duration(10-i)*time.Hour))
	}
	w.Step(ctx)
	for i, id := range []string{"f1", "f2", "f3", "f4", "f5", "f6"} {
		deploy(t, db, id, releaseops.DeployFailed, now.Add(-time.Duration(6-i)*time.Minute))
	}
	w.Step(ctx)
	if len(*regs) != 1 || (*regs)[0].Drop < 2 {
		t.Fatalf("regressions = %+v, want one drop of at least 2 points", *regs)
	}
	*now = now.Add(time.Hour)
	w.RescoreAll(ctx)
	w.RescoreAll(ctx)
	if len(*regs) != 1 {
		t.Fatalf("a service that stays low was reported again: %d regressions", len(*regs))
	}
}

func TestTrimKeepsSettingsAndRecentMoments(t *testing.T) {
	cutoff := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fs := []releaseops.Fact{
		{Kind: releaseops.FactBranchProtection, At: cutoff.Add(-1000 * time.Hour)},
		{Kind: releaseops.FactDeploy, At: cutoff.Add(-time.Hour)},
		{Kind: releaseops.FactDeploy, At: cutoff},
	}
	got := trim(fs, cutoff)
	if len(got) != 2 || got[0].Kind != releaseops.FactBranchProtection || !got[1].At.Equal(cutoff) {
		t.Fatalf("trim = %+v", got)
	}
	fresh := fs[2:]
	if out := trim(fresh, cutoff); &out[0] != &fresh[0] || cap(out) != len(out) {
		t.Fatal("nothing to drop: the slice is returned as is, capped")
	}
}

// A service loaded while the cache is full of services scored within the last minute is not
// cached in their place (they would only be loaded again next round); once they sit idle, it
// is.
func TestCacheKeepsBusyServicesAndAdmitsNewOnesInPlaceOfIdleOnes(t *testing.T) {
	w, _, now := cacheSetup(t, 3)
	ctx := context.Background()
	cached := func() []string { return cachedServices(w) }
	load := func(svc string, at time.Time) {
		t.Helper()
		if fs, err := w.facts(ctx, svc, at, true); err != nil || len(fs) != 2 {
			t.Fatalf("facts of %s: %d, %v", svc, len(fs), err)
		}
	}
	load("checkout", *now)
	load("billing", now.Add(time.Second))
	if got := cached(); !slices.Equal(got, []string{"checkout"}) {
		t.Fatalf("cached %v: billing must not evict checkout, scored a second ago", got)
	}
	load("billing", now.Add(2*time.Minute))
	if got := cached(); !slices.Equal(got, []string{"billing"}) {
		t.Fatalf("cached %v: checkout, idle for two minutes, should have made room for billing", got)
	}
}

// cacheSetup is a worker with a cache of capFacts facts and two deploys each of checkout and
// billing stored.
func cacheSetup(t *testing.T, capFacts int) (*Worker, *storage.DB, *time.Time) {
	t.Helper()
	w, db, now, _ := setup(t)
	w.CacheFacts = capFacts
	w.init()
	storeDeploys(t, db, *now, "checkout", "checkout", "billing", "billing")
	return w, db, now
}

// storeDeploys stores one production deploy fact per name in names, an hour apart before now.
func storeDeploys(t *testing.T, db *storage.DB, now time.Time, names ...string) {
	t.Helper()
	for i, svc := range names {
		subj := releaseops.Subject{Kind: releaseops.SubjectService, Key: svc}
		id := fmt.Sprintf("%s-%d-%d", svc, i, now.UnixNano())
		at := now.Add(-time.Duration(i+1) * time.Hour)
		d := &storage.NewDelivery{Source: "deploy", DeliveryID: id, Type: "deploy", Subject: subj, Service: svc, Outcome: "stored",
			ReceivedAt: at, Headers: map[string]string{}, Body: []byte(`{}`), Facts: []releaseops.Fact{{Kind: releaseops.FactDeploy, Subject: subj,
				Service: svc, At: at, Deploy: &releaseops.Deploy{ID: id, Environment: "production", Status: releaseops.DeploySucceeded}}}}
		if err := db.Writer.Do(context.Background(), func(t *storage.Tx) error { _, _, err := storage.InsertDelivery(t, d); return err }); err != nil {
			t.Fatal(err)
		}
	}
}

func cachedServices(w *Worker) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for k := range w.cache {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// When cached services grow past the cap with new facts, the least recently scored go.
func TestCacheShrinksToItsCapWhenCachedServicesGrow(t *testing.T) {
	w, db, now := cacheSetup(t, 4)
	ctx := context.Background()
	last, err := db.MaxFactID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Writer.Do(ctx, func(t *storage.Tx) error { return storage.SetCursor(t, cursorName, last) }); err != nil {
		t.Fatal(err)
	}
	for i, svc := range []string{"billing", "checkout"} {
		if _, err := w.facts(ctx, svc, now.Add(time.Duration(i)*time.Second), true); err != nil {
			t.Fatal(err)
		}
	}
	if got := cachedServices(w); len(got) != 2 {
		t.Fatalf("cached %v, want both (4 facts, cap 4)", got)
	}
	storeDeploys(t, db, now.Add(time.Minute), "checkout")
	w.Wake()
	if _, err := w.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := cachedServices(w); !slices.Equal(got, []string{"checkout"}) || w.cached > w.CacheFacts {
		t.Fatalf("cached %v holding %d facts: billing, scored least recently, should have made room (cap %d)", got, w.cached, w.CacheFacts)
	}
}

// On SQLite a small round keeps cores free for ingestion; a large one takes every core.
func TestParallelScalesWithTheRound(t *testing.T) {
	w, _, _, _ := setup(t)
	cores := runtime.GOMAXPROCS(0)
	for _, c := range []struct{ n, want int }{
		{1, 1}, {50, 1}, {smallRound, 1},
		{smallRound + 1, min(cores, 2)}, {10000, cores},
	} {
		if got := w.parallel(c.n, true); got != c.want {
			t.Errorf("parallel(%d) = %d on %d cores, want %d", c.n, got, cores, c.want)
		}
	}
}

// A miss with every cached service busy skips the scan until one can have gone idle, and a
// service that went idle meanwhile still gives way then.
func TestEvictIdleSkipsScansUntilAServiceCanBeIdle(t *testing.T) {
	w := &Worker{CacheFacts: 2}
	w.init()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for i, name := range []string{"a", "b"} {
		w.cache[name] = []releaseops.Fact{{}}
		w.used[name] = t0.Add(time.Duration(i) * time.Second)
		w.cached++
	}
	if w.evictIdle(1, t0.Add(10*time.Second)) {
		t.Fatal("a busy cache made room")
	}
	if want := t0.Add(cacheIdle); !w.noIdleBefore.Equal(want) {
		t.Fatalf("noIdleBefore = %v, want %v (the oldest use plus cacheIdle)", w.noIdleBefore, want)
	}
	w.used["a"] = t0.Add(20 * time.Second) // used again: still no idle service before b's turn
	if w.evictIdle(1, t0.Add(cacheIdle-time.Millisecond)) {
		t.Fatal("made room before any service could be idle")
	}
	if !w.evictIdle(1, t0.Add(cacheIdle+time.Second)) {
		t.Fatal("b has been idle for cacheIdle and did not give way")
	}
	if _, ok := w.cache["b"]; ok || len(w.cache) != 1 {
		t.Fatalf("cache after eviction: %v, want only a", w.cache)
	}
}

// On PostgreSQL a round that reads every service from the database keeps four scorers a core.
func TestParallelOnPostgres(t *testing.T) {
	db, err := storage.OpenPostgres(context.Background(), pgtest.URL(t), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w := &Worker{DB: db}
	cores := runtime.GOMAXPROCS(0)
	for _, c := range []struct {
		n         int
		cacheable bool
		want      int
	}{{50, true, cores}, {smallRound + 1, true, min(4*cores, 2*cores)}, {10000, true, 4 * cores}, {50, false, 4 * cores}} {
		if got := w.parallel(c.n, c.cacheable); got != c.want {
			t.Errorf("parallel(%d, cacheable %v) = %d on %d cores, want %d", c.n, c.cacheable, got, cores, c.want)
		}
	}
}
