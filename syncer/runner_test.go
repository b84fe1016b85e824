package syncer

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
)

// fakeSource answers each subject with the repo_state in states (or the error in errs).
type fakeSource struct {
	mu     sync.Mutex
	states map[string]releaseops.RepoState
	errs   map[string]error
	reads  int
}

func (f *fakeSource) Name() string { return releaseops.SourceGitHub }

func (f *fakeSource) Subjects(context.Context) ([]Subject, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Subject
	for _, k := range []string{"acme/api", "acme/web", "acme/db"} {
		out = append(out, Subject{Key: k, Service: filepath.Base(k), Subject: releaseops.Subject{Kind: releaseops.SubjectRepo, Key: k}})
	}
	return out, nil
}

func (f *fakeSource) Read(ctx context.Context, s Subject, prev State) (Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	CountRequest(ctx, false)
	if err := f.errs[s.Key]; err != nil {
		return Result{}, err
	}
	st := f.states[s.Key]
	return Result{
		State: State{ETags: map[string]string{"/repos/" + s.Key: fmt.Sprintf("W/%q", st.DefaultBranch)}},
		Observations: []Observation{{Key: "branch",
			Requests: []Request{{Path: "/repos/" + s.Key, Status: 200, FetchedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}},
			Facts:    []releaseops.Fact{{Kind: releaseops.FactRepoState, RepoState: &st}}}},
	}, nil
}

func openDB(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "sync.db"), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func protected(repo string, reviews int) releaseops.RepoState {
	return releaseops.RepoState{Repo: repo, DefaultBranch: "main",
		Classic: &releaseops.BranchProtection{Repo: repo, Pattern: "main", Action: "sync", RequiredApprovingReviews: reviews}}
}

func TestRunRecordsOnlyChanges(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	src := &fakeSource{states: map[string]releaseops.RepoState{
		"acme/api": protected("acme/api", 2), "acme/web": protected("acme/web", 1), "acme/db": {Repo: "acme/db", DefaultBranch: "main"},
	}, errs: map[string]error{}}
	var covered []string
	r := &Runner{DB: db, Now: clock, Concurrency: 2, Covered: func(_ context.Context, s []string) { covered = s }}

	sum, err := r.Run(ctx, src, Options{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Subjects != 3 || sum.Observations != 3 || sum.Facts != 3 || len(sum.Failures) != 0 || sum.Requests != 3 || !sum.Full {
		t.Fatalf("first run: %+v", sum)
	}
	if fmt.Sprint(covered) != "[api db web]" {
		t.Errorf("covered = %v", covered)
	}
	d, err := db.CountDeliveries(ctx)
	if err != nil || d != 3 {
		t.Fatalf("deliveries after first run = %d, %v", d, err)
	}
	facts, err := db.FactsForService(ctx, "api", time.Time{})
	if err != nil || len(facts) != 1 {
		t.Fatalf("facts of api: %v %v", facts, err)
	}
	ev := facts[0].Evidence
	if ev.Source != "github" || ev.Event != "sync" || ev.Path != "/repos/acme/api" || !ev.At.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("evidence = %+v", ev)
	}
	if got := ev.Describe(); got != "read from the GitHub API (/repos/acme/api) at 2026-12-01 10:00 UTC" {
		t.Errorf("Describe() = %q", got)
	}
	rec, ok, err := db.SyncRecordOf(ctx, "github", "acme/api")
	if err != nil || !ok || !rec.LastSuccess.Equal(now) || rec.Service != "api" {
		t.Fatalf("record: %+v %v %v", rec, ok, err)
	}

	// Unchanged: a second run reads everything again and writes no delivery or fact.
	now = now.Add(time.Hour)
	sum, err = r.Run(ctx, src, Options{Trigger: "cli"})
	if err != nil || sum.Observations != 0 || sum.Facts != 0 {
		t.Fatalf("second run: %+v %v", sum, err)
	}
	if d, _ := db.CountDeliveries(ctx); d != 3 {
		t.Fatalf("deliveries after unchanged run = %d", d)
	}
	rec, _, _ = db.SyncRecordOf(ctx, "github", "acme/api")
	if !rec.LastSuccess.Equal(now) {
		t.Errorf("last success not moved: %v", rec.LastSuccess)
	}
	if len(covered) != 3 {
		t.Errorf("covered after the unchanged run = %v; the first run's list should be the last one reported", covered)
	}
	covered = nil
	if _, err := r.Run(ctx, src, Options{Trigger: "cli"}); err != nil || covered != nil {
		t.Errorf("an unchanged, still-successful read asked to rescore %v (%v)", covered, err)
	}

	// A change, then back: both are recorded (the newer observation must win in scoring).
	src.states["acme/api"] = protected("acme/api", 1)
	now = now.Add(time.Hour)
	if sum, _ = r.Run(ctx, src, Options{}); sum.Facts != 1 {
		t.Fatalf("changed run: %+v", sum)
	}
	src.states["acme/api"] = protected("acme/api", 2)
	now = now.Add(time.Hour)
	if sum, _ = r.Run(ctx, src, Options{}); sum.Facts != 1 {
		t.Fatalf("changed back: %+v", sum)
	}
	if d, _ := db.CountDeliveries(ctx); d != 5 {
		t.Fatalf("deliveries after two changes = %d", d)
	}
}

func TestRunFailureStoresNothingAndOthersGoOn(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	src := &fakeSource{states: map[string]releaseops.RepoState{
		"acme/api": protected("acme/api", 2), "acme/web": protected("acme/web", 1), "acme/db": protected("acme/db", 1),
	}, errs: map[string]error{}}
	r := &Runner{DB: db, Now: func() time.Time { return now }, Concurrency: 4}
	if _, err := r.Run(ctx, src, Options{}); err != nil {
		t.Fatal(err)
	}
	// The token is revoked for one repository: its record says so and keeps its last success.
	src.errs["acme/web"] = errors.New("acme/web: GET /repos/acme/web: 401 Bad credentials: the token was revoked or the App uninstalled")
	src.states["acme/web"] = protected("acme/web", 0)
	src.states["acme/db"] = protected("acme/db", 3)
	first := now
	now = now.Add(time.Hour)
	sum, err := r.Run(ctx, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Failures) != 1 || sum.Failures[0].Subject != "acme/web" || sum.Facts != 1 {
		t.Fatalf("summary: %+v", sum)
	}
	rec, _, _ := db.SyncRecordOf(ctx, "github", "acme/web")
	if rec.Failures != 1 || rec.LastError == "" || !rec.LastSuccess.Equal(first) || !rec.LastAttempt.Equal(now) {
		t.Fatalf("failed record: %+v", rec)
	}
	cov, err := db.SyncCoverage(ctx, "web")
	if err != nil || len(cov) != 1 || !cov[0].Failing() {
		t.Fatalf("coverage: %+v %v", cov, err)
	}
	if d, _ := db.CountDeliveries(ctx); d != 4 {
		t.Fatalf("deliveries = %d, want 3 + 1 (db changed, web failed)", d)
	}
	// Recovered: the failure clears, and the ETags kept from the last success are offered.
	delete(src.errs, "acme/web")
	now = now.Add(time.Hour)
	if _, err := r.Run(ctx, src, Options{}); err != nil {
		t.Fatal(err)
	}
	rec, _, _ = db.SyncRecordOf(ctx, "github", "acme/web")
	if rec.Failures != 0 || rec.LastError != "" || !rec.LastSuccess.Equal(now) {
		t.Fatalf("recovered record: %+v", rec)
	}
}

func TestRunFiltersAndDryRun(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	src := &fakeSource{states: map[string]releaseops.RepoState{"acme/api": protected("acme/api", 2)}, errs: map[string]error{}}
	r := &Runner{DB: db, Concurrency: 1}
	sum, err := r.Run(ctx, src, Options{DryRun: true})
	if err != nil || sum.Facts != 3 || sum.Full != true {
		t.Fatalf("dry run: %+v %v", sum, err)
	}
	if d, _ := db.CountDeliveries(ctx); d != 0 {
		t.Fatalf("dry run stored %d deliveries", d)
	}
	if _, ok, _ := db.SyncRecordOf(ctx, "github", "acme/api"); ok {
		t.Fatal("dry run stored a sync record")
	}
	sum, err = r.Run(ctx, src, Options{Services: []string{"api"}})
	if err != nil || sum.Subjects != 1 || sum.Full {
		t.Fatalf("service filter: %+v %v", sum, err)
	}
	sum, _ = r.Run(ctx, src, Options{NeverSynced: true})
	if sum.Subjects != 2 {
		t.Fatalf("never synced: %+v", sum)
	}
	sum, _ = r.Run(ctx, src, Options{Keys: []string{"ACME/DB"}})
	if sum.Subjects != 1 {
		t.Fatalf("keys: %+v", sum)
	}
	run, ok, err := db.LastSyncRun(ctx, "github", true)
	if err != nil || ok {
		t.Fatalf("a full run was recorded though none ran without filters: %+v %v %v", run, ok, err)
	}
}

// limitedError is a read that hit a rate limit resetting later than the read could wait.
type limitedError struct{ at time.Time }

func (e limitedError) Error() string      { return "403 API rate limit exceeded" }
func (e limitedError) RetryAt() time.Time { return e.at }

type limitedSource struct {
	fakeSource
	until time.Time
	now   func() time.Time
}

func (l *limitedSource) Read(ctx context.Context, s Subject, prev State) (Result, error) {
	if err := ctx.Err(); err != nil { // a read whose time ran out, waits included, fails
		return Result{}, err
	}
	if l.now().Before(l.until) {
		return Result{}, limitedError{l.until}
	}
	return l.fakeSource.Read(ctx, s, prev)
}

func TestRunWaitsForARateLimitOutsideTheReadTimeout(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var slept []time.Duration
	src := &limitedSource{fakeSource: fakeSource{states: map[string]releaseops.RepoState{}, errs: map[string]error{}},
		until: now.Add(20 * time.Minute), now: clock}
	r := &Runner{DB: db, Now: clock, Concurrency: 1, Timeout: time.Minute,
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			slept = append(slept, d)
			now = now.Add(d)
			return nil
		}}
	sum, err := r.Run(ctx, src, Options{Keys: []string{"acme/api"}})
	if err != nil || len(sum.Failures) != 0 || sum.Facts != 1 || sum.RateWaits != 1 {
		t.Fatalf("summary: %+v %v", sum, err)
	}
	if len(slept) != 1 || slept[0] != 20*time.Minute {
		t.Errorf("slept %v, want one wait of 20m", slept)
	}
	// A limit further away than the hour GitHub resets within is a failure, not a wait.
	src.until = now.Add(3 * time.Hour)
	sum, _ = r.Run(ctx, src, Options{Keys: []string{"acme/web"}})
	if len(sum.Failures) != 1 || len(slept) != 1 {
		t.Fatalf("far limit: %+v, slept %v", sum, slept)
	}
}

// A subject remapped to another service is recorded again for it: what was recorded went to
// the old service.
func TestRunRecordsAgainForARemappedSubject(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	src := &renamingSource{fakeSource: fakeSource{states: map[string]releaseops.RepoState{"acme/api": protected("acme/api", 2)}, errs: map[string]error{}}, service: "api"}
	r := &Runner{DB: db, Now: func() time.Time { return now }, Concurrency: 1}
	if sum, _ := r.Run(ctx, src, Options{Keys: []string{"acme/api"}}); sum.Facts != 1 {
		t.Fatalf("first run: %+v", sum)
	}
	now = now.Add(time.Hour)
	src.service = "api-gateway"
	sum, _ := r.Run(ctx, src, Options{Keys: []string{"acme/api"}})
	if sum.Facts != 1 {
		t.Fatalf("after the rename: %+v, want the state recorded again", sum)
	}
	facts, _ := db.FactsForService(ctx, "api-gateway", time.Time{})
	if len(facts) != 1 {
		t.Fatalf("the renamed service has %d facts", len(facts))
	}
}

// renamingSource maps every subject to one service, which the test changes.
type renamingSource struct {
	fakeSource
	service string
}

func (f *renamingSource) Subjects(ctx context.Context) ([]Subject, error) {
	subs, _ := f.fakeSource.Subjects(ctx)
	for i := range subs {
		subs[i].Service = f.service
	}
	return subs, nil
}

// Two runs over the same subject at once (serve's scheduler and `releaseops sync` on one
// database) record its observations once: the second to commit sees the first's record.
func TestRunConcurrentRunsRecordOnce(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	gate := make(chan struct{})
	src := &slowSource{fakeSource: fakeSource{states: map[string]releaseops.RepoState{"acme/api": protected("acme/api", 2)}, errs: map[string]error{}}, gate: gate}
	r := &Runner{DB: db, Now: func() time.Time { return now }, Concurrency: 1}
	var wg sync.WaitGroup
	sums := make([]Summary, 2)
	for i := range sums {
		wg.Go(func() { sums[i], _ = r.Run(ctx, src, Options{Keys: []string{"acme/api"}}) })
	}
	for src.waiting() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if d, _ := db.CountDeliveries(ctx); d != 1 {
		t.Fatalf("%d deliveries from two overlapping runs, want 1 (summaries %+v)", d, sums)
	}
}

type slowSource struct {
	fakeSource
	gate chan struct{}
	mu   sync.Mutex
	n    int
}

func (s *slowSource) waiting() int { s.mu.Lock(); defer s.mu.Unlock(); return s.n }

func (s *slowSource) Read(ctx context.Context, sub Subject, prev State) (Result, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	<-s.gate
	return s.fakeSource.Read(ctx, sub, prev)
}

// A subject the source no longer lists (removed from the catalog) is forgotten by the next
// full run, so its failure does not stay on cards and in GET /api/v1/sync.
func TestFullRunForgetsSubjectsNoLongerListed(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	src := &fakeSource{states: map[string]releaseops.RepoState{}, errs: map[string]error{"acme/db": errors.New("acme/db: 404")}}
	r := &Runner{DB: db, Concurrency: 2}
	if _, err := r.Run(ctx, src, Options{}); err != nil {
		t.Fatal(err)
	}
	recs, _ := db.SyncRecords(ctx, "github")
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	// acme/db leaves the catalog; a filtered run keeps its record, a full one forgets it.
	gone := &listingSource{fakeSource: src, keys: []string{"acme/api", "acme/web"}}
	if _, err := r.Run(ctx, gone, Options{Keys: []string{"acme/api"}}); err != nil {
		t.Fatal(err)
	}
	if recs, _ = db.SyncRecords(ctx, "github"); len(recs) != 3 {
		t.Fatalf("a filtered run forgot records: %d left", len(recs))
	}
	if _, err := r.Run(ctx, gone, Options{}); err != nil {
		t.Fatal(err)
	}
	recs, _ = db.SyncRecords(ctx, "github")
	if _, ok := recs["acme/db"]; ok || len(recs) != 2 {
		t.Fatalf("after a full run: %v", recs)
	}
}

type listingSource struct {
	*fakeSource
	keys []string
}

func (l *listingSource) Subjects(context.Context) ([]Subject, error) {
	var out []Subject
	for _, k := range l.keys {
		out = append(out, Subject{Key: k, Service: filepath.Base(k), Subject: releaseops.Subject{Kind: releaseops.SubjectRepo, Key: k}})
	}
	return out, nil
}

// hangingSource never answers: sync.timeout must end the read and name itself.
type hangingSource struct{ fakeSource }

func (h *hangingSource) Read(ctx context.Context, s Subject, prev State) (Result, error) {
	<-ctx.Done()
	return Result{}, fmt.Errorf("%s: GET /repos/%s: %w", s.Key, s.Key, ctx.Err())
}

func TestRunTimeoutEndsAHangingRead(t *testing.T) {
	db := openDB(t)
	r := &Runner{DB: db, Concurrency: 3, Timeout: 50 * time.Millisecond}
	sum, err := r.Run(context.Background(), &hangingSource{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Failures) != 3 || !strings.Contains(sum.Failures[0].Error, "timed out after 50ms (sync.timeout)") {
		t.Fatalf("failures: %+v", sum.Failures)
	}
	if d, _ := db.CountDeliveries(context.Background()); d != 0 {
		t.Fatalf("a timed-out read stored %d deliveries", d)
	}
}

// The wait for a rate limit is not part of sync.timeout: a wait three times the timeout
// (a real one here) is followed by a read that succeeds.
func TestRunRateLimitWaitIsOutsideTheTimeout(t *testing.T) {
	db := openDB(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	src := &limitedSource{fakeSource: fakeSource{states: map[string]releaseops.RepoState{}, errs: map[string]error{}},
		until: now.Add(150 * time.Millisecond), now: clock}
	r := &Runner{DB: db, Now: clock, Concurrency: 1, Timeout: 50 * time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error {
			if err := Sleep(ctx, 150*time.Millisecond); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(d)
			return nil
		}}
	sum, err := r.Run(context.Background(), src, Options{Keys: []string{"acme/api"}})
	if err != nil || len(sum.Failures) != 0 || sum.RateWaits != 1 || sum.Facts != 1 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
}
