package terraform

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
	"github.com/releaseops/releaseops/syncer"
)

const fakeToken = "atlas-test-token.atlasv1.0123456789abcdef"

// syncNow is the tests' clock at the start: the recorded answers are from the days before.
var syncNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// testClock is the injected clock: Sleep advances it instead of waiting.
type testClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *testClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// fakeAnswer is a canned answer given before the normal one.
type fakeAnswer struct {
	status int
	header http.Header
	body   []byte
	hang   bool // never answer (until the request's context ends)
}

// fakeWorkspace is one workspace's recorded answers.
type fakeWorkspace struct {
	id, org, name               string
	workspace, assessment, runs []byte
}

// fakeTFE answers like HCP Terraform's API v2 (JSON:API documents, its error shapes, its
// rate-limit headers) from recorded answers. Unknown paths get its 404.
type fakeTFE struct {
	t     testing.TB
	srv   *httptest.Server
	token string
	delay time.Duration // per answer, for the benchmark
	// unlimited leaves X-RateLimit-Limit out of the ping, so go-tfe does not pace its calls
	// (HCP Terraform allows 30 a second per token, which go-tfe keeps below).
	unlimited bool

	mu     sync.Mutex
	orgs   map[string][]byte
	byName map[string]*fakeWorkspace // lower "org/name"
	byID   map[string]*fakeWorkspace
	queue  map[string][]fakeAnswer // by path: answers to give first
	hits   []string                // path?query of each request, ping included
}

func newFakeTFE(t testing.TB) *fakeTFE {
	f := &fakeTFE{t: t, token: fakeToken, orgs: map[string][]byte{}, byName: map[string]*fakeWorkspace{},
		byID: map[string]*fakeWorkspace{}, queue: map[string][]fakeAnswer{}}
	f.orgs["acme"] = readSyncdata(t, "organization.acme.json")
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// addRecorded adds a workspace of organisation acme from testdata/sync/NAME.
func (f *fakeTFE) addRecorded(name, id string) *fakeWorkspace {
	w := &fakeWorkspace{id: id, org: "acme", name: name,
		workspace: readSyncdata(f.t, name+"/workspace.json"), runs: readSyncdata(f.t, name+"/runs.json")}
	if b, err := os.ReadFile(filepath.Join("testdata", "sync", name, "assessment.json")); err == nil {
		w.assessment = b
	}
	f.add(w)
	return w
}

func (f *fakeTFE) add(w *fakeWorkspace) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byName[strings.ToLower(w.org+"/"+w.name)] = w
	f.byID[w.id] = w
}

// set replaces one of a workspace's answers (what: workspace, assessment, runs).
func (f *fakeTFE) set(name, what string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.byName["acme/"+name]
	switch what {
	case "workspace":
		w.workspace = body
	case "assessment":
		w.assessment = body
	case "runs":
		w.runs = body
	}
}

// enqueue makes the next requests to path get answers first.
func (f *fakeTFE) enqueue(path string, answers ...fakeAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue[path] = append(f.queue[path], answers...)
}

func (f *fakeTFE) Hits() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.hits...)
}

func (f *fakeTFE) resetHits() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits = nil
}

func (f *fakeTFE) serve(w http.ResponseWriter, r *http.Request) {
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	path := r.URL.Path
	f.mu.Lock()
	f.hits = append(f.hits, r.URL.RequestURI())
	var canned *fakeAnswer
	if q := f.queue[path]; len(q) > 0 {
		canned, f.queue[path] = &q[0], q[1:]
	}
	f.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/vnd.api+json")
	h.Set("X-RateLimit-Limit", "30")
	h.Set("X-RateLimit-Remaining", "29")
	h.Set("X-RateLimit-Reset", "0.066")
	if canned != nil {
		if canned.hang {
			<-r.Context().Done()
			return
		}
		for k, v := range canned.header {
			h[k] = v
		}
		w.WriteHeader(canned.status)
		_, _ = w.Write(canned.body)
		return
	}
	if path == "/api/v2/ping" {
		// What go-tfe's NewClient reads to size its own rate limiter.
		h.Set("TFP-API-Version", "2.6")
		h.Set("TFP-AppName", "HCP Terraform")
		if f.unlimited {
			h.Del("X-RateLimit-Limit")
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(readSyncdata(f.t, "error.401.json"))
		return
	}
	if r.Method != http.MethodGet {
		f.t.Errorf("sync sent %s %s: it only reads", r.Method, path)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body := f.route(path)
	if body == nil {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(readSyncdata(f.t, "error.404.json"))
		return
	}
	_, _ = w.Write(body)
}

func (f *fakeTFE) route(path string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := strings.Split(strings.TrimPrefix(path, "/api/v2/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "organizations":
		return f.orgs[parts[1]]
	case len(parts) == 4 && parts[0] == "organizations" && parts[2] == "workspaces":
		if f.orgs[parts[1]] == nil {
			return nil
		}
		if ws := f.byName[strings.ToLower(parts[1]+"/"+parts[3])]; ws != nil {
			return ws.workspace
		}
	case len(parts) == 3 && parts[0] == "workspaces" && parts[2] == "current-assessment-result":
		if ws := f.byID[parts[1]]; ws != nil {
			return ws.assessment
		}
	case len(parts) == 3 && parts[0] == "workspaces" && parts[2] == "runs":
		if ws := f.byID[parts[1]]; ws != nil {
			return ws.runs
		}
	}
	return nil
}

func readSyncdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sync", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The recorded workspaces and the services that map them, as the catalog would.
const (
	checkoutID = "ws-CkPr0dX7v2LmQ9sT"
	searchID   = "ws-SrCh9pRdA4bC6dE8"
	legacyID   = "ws-LgCy1nFr2aB3cD4e"
)

func recordedFake(t testing.TB) *fakeTFE {
	f := newFakeTFE(t)
	f.addRecorded("checkout-prod", checkoutID)
	f.addRecorded("search-prod", searchID)
	f.addRecorded("legacy-infra", legacyID)
	return f
}

// subject is a catalogued workspace as app.terraformSubjects lists it.
func subject(key, service string) syncer.Subject {
	return syncer.Subject{Key: key, Service: service, Subject: releaseops.Subject{Kind: releaseops.SubjectWorkspace, Key: key}}
}

func recordedSubjects() []syncer.Subject {
	return []syncer.Subject{subject("acme/checkout-prod", "checkout"), subject("acme/search-prod", "search"), subject("acme/legacy-infra", "legacy")}
}

// harness is a Syncer against a fake, run by the framework's Runner on a real database.
type harness struct {
	fake     *fakeTFE
	clock    *testClock
	sync     *Syncer
	db       *storage.DB
	runner   *syncer.Runner
	subjects []syncer.Subject
}

func newHarness(t testing.TB, fake *fakeTFE, subjects []syncer.Subject) *harness {
	t.Helper()
	h := &harness{fake: fake, clock: &testClock{t: syncNow}, subjects: subjects}
	s, err := NewSyncer(SyncOptions{Token: fakeToken, Address: fake.srv.URL, Organization: "acme", HTTPClient: fake.srv.Client(),
		List: func(context.Context) ([]syncer.Subject, error) { return h.subjects, nil }, Now: h.clock.Now, Sleep: h.clock.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	h.sync = s
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "sync.db"), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h.db = db
	h.runner = &syncer.Runner{DB: db, Now: h.clock.Now, Concurrency: 4, Timeout: 30 * time.Second, Sleep: h.clock.Sleep}
	return h
}

func (h *harness) run(t testing.TB) syncer.Summary {
	t.Helper()
	sum, err := h.runner.Run(context.Background(), h.sync, syncer.Options{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func (h *harness) facts(t testing.TB, service string) []releaseops.Fact {
	t.Helper()
	stored, err := h.db.FactsForService(context.Background(), service, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]releaseops.Fact, len(stored))
	for i, f := range stored {
		out[i] = f.Fact
	}
	return out
}

// factRows is the highest fact row id: it moves only when a fact row is written.
func (h *harness) factRows(t testing.TB) int64 {
	t.Helper()
	n, err := h.db.MaxFactID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}
