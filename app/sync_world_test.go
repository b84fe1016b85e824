package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/internal/fakegithub"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
	"github.com/releaseops/releaseops/syncer"
)

// A syncWorld is a fresh install of ReleaseOps (SQLite in t.TempDir(), app.New on a config
// parsed from YAML as `serve` parses it) whose GitHub is a fakegithub.Server: the sync reads
// it through the same clients, transports and runner as `releaseops sync`.

const (
	syncAppID          = 4242
	syncInstallationID = 77
	syncPAT            = "github_pat_sync_tests"
)

// syncNow is the install's clock on day one.
var syncNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

type worldOpts struct {
	services string // YAML items of services:, each starting "  - "
	extra    string // more top-level YAML
	token    bool   // authenticate with github.token instead of the App
	wall     bool   // the wall clock rather than syncNow (the scheduler's timers are wall time)
	dbPath   string // reuse a database ("": a new one)
	// mutate changes the parsed config before app.New, as serve --demo adds its catalog.
	mutate func(*config.Config)
}

type syncWorld struct {
	t     testing.TB
	gh    *fakegithub.Server
	app   *App
	clock *testClock // nil on the wall clock
	opts  worldOpts
}

// newSyncGitHub is a fake holding repos, with the App installed on acme and the personal
// token accepted.
func newSyncGitHub(t testing.TB, repos ...fakegithub.Repo) *fakegithub.Server {
	t.Helper()
	key, _, err := fakegithub.AppKey()
	if err != nil {
		t.Fatal(err)
	}
	gh := fakegithub.New(fakegithub.Options{})
	t.Cleanup(gh.Close)
	gh.AddRepo(repos...)
	gh.SetApp(fakegithub.App{ID: syncAppID, PublicKey: &key.PublicKey,
		Installations: []fakegithub.Installation{fakegithub.InstalledOn(syncInstallationID, "acme")}})
	gh.AddToken(syncPAT)
	return gh
}

func (o worldOpts) yaml(t testing.TB, gh *fakegithub.Server) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "storage:\n  sqlite_path: %s\n", o.dbPath)
	fmt.Fprintf(&b, "github:\n  webhook_secret: %s\n  api_url: %s\n", ghSecret, gh.APIURL())
	if o.token {
		fmt.Fprintf(&b, "  token: %s\n", syncPAT)
	} else {
		_, pemKey, err := fakegithub.AppKey()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  app_id: %d\n  private_key: |\n", syncAppID)
		for _, line := range strings.Split(strings.TrimSpace(string(pemKey)), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	fmt.Fprintf(&b, "api:\n  tokens:\n    - {name: reader, token: %s, scopes: [read]}\n    - {name: ci, token: %s, scopes: [read, gate]}\n", readToken, gateToken)
	if o.services != "" {
		b.WriteString("services:\n" + o.services)
	}
	b.WriteString(o.extra)
	return b.String()
}

func newSyncWorld(t testing.TB, gh *fakegithub.Server, o worldOpts) *syncWorld {
	t.Helper()
	if o.dbPath == "" {
		o.dbPath = filepath.Join(t.TempDir(), "releaseops.db")
	}
	w := &syncWorld{t: t, gh: gh, opts: o}
	if !o.wall {
		w.clock = &testClock{t: syncNow}
	}
	w.open()
	return w
}

func (w *syncWorld) open() {
	w.t.Helper()
	cfg, err := config.Parse([]byte(w.opts.yaml(w.t, w.gh)))
	if err != nil {
		w.t.Fatal(err)
	}
	if w.opts.mutate != nil {
		w.opts.mutate(cfg)
	}
	var opts Options
	if w.clock != nil {
		opts.Now = w.clock.Now
	}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	if err != nil {
		w.t.Fatal(err)
	}
	w.app = a
	w.t.Cleanup(func() { a.Shutdown(context.Background()) })
}

// restart closes the app and opens a new one on the same database, as a process restart
// would (the fake keeps its state, as GitHub would).
func (w *syncWorld) restart() {
	w.t.Helper()
	if err := w.app.Shutdown(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	w.open()
}

// source is the GitHub sync source, as `releaseops sync` finds it.
func (w *syncWorld) source() syncer.Source {
	w.t.Helper()
	srcs, err := w.app.SyncSources()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, s := range srcs {
		if s.Name() == releaseops.SourceGitHub {
			return s
		}
	}
	w.t.Fatalf("no github sync source among %d", len(srcs))
	return nil
}

// sync runs the GitHub sync once as `releaseops sync` does, then lets the rescoring worker
// catch up. The clock moves a minute first: two reads at the same instant would name their
// observations alike.
func (w *syncWorld) sync(ctx context.Context, opts syncer.Options) syncer.Summary {
	w.t.Helper()
	if w.clock != nil {
		w.clock.Advance(time.Minute)
	}
	if opts.Trigger == "" {
		opts.Trigger = "cli"
	}
	sum, err := w.app.SyncRunner().Run(ctx, w.source(), opts)
	if err != nil && ctx.Err() == nil {
		w.t.Fatalf("sync: %v", err)
	}
	w.settle()
	return sum
}

func (w *syncWorld) settle() {
	w.t.Helper()
	for {
		n, err := w.app.Worker.Step(context.Background())
		if err != nil {
			w.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (w *syncWorld) rescoreAll() {
	w.t.Helper()
	if err := w.app.Worker.RescoreAll(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *syncWorld) card(service string) *scoring.Scorecard {
	w.t.Helper()
	row, err := w.app.DB.GetScore(context.Background(), service)
	if err != nil {
		w.t.Fatal(err)
	}
	var c scoring.Scorecard
	if err := json.Unmarshal(row.Card, &c); err != nil {
		w.t.Fatal(err)
	}
	return &c
}

func cardSignal(t *testing.T, c *scoring.Scorecard, id string) scoring.SignalResult {
	t.Helper()
	for _, d := range c.Dimensions {
		for _, s := range d.Signals {
			if s.ID == id {
				return s
			}
		}
	}
	t.Fatalf("%s: no signal %s", c.Service, id)
	return scoring.SignalResult{}
}

// request calls the HTTP API through the app's own server.
func (w *syncWorld) request(method, path, token string, body []byte, h map[string]string) (int, []byte) {
	w.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	w.app.Server.Echo().ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// stored counts what the database holds: deliveries, and every fact.
func (w *syncWorld) stored() (int64, []storage.StoredFact) {
	w.t.Helper()
	n, err := w.app.DB.CountDeliveries(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	facts, err := w.app.DB.FactsAfter(context.Background(), 0, 1<<30)
	if err != nil {
		w.t.Fatal(err)
	}
	return n, facts
}

// threeRepos are the repositories of the day-one story: acme/checkout with classic
// protection (2 reviews, code-owner review) and CODEOWNERS in .github/, acme/payments with a
// ruleset (linear history, signed commits, 1 review), acme/search unprotected. Each merged
// two reviewed pull requests in the last weeks.
func threeRepos(now time.Time) []fakegithub.Repo {
	pulls := func(base int) []fakegithub.Pull {
		var out []fakegithub.Pull
		for k := range 2 {
			merged := now.Add(-time.Duration(48+72*k) * time.Hour)
			out = append(out, fakegithub.Pull{Number: base + k, Title: fmt.Sprintf("change %d", base+k), Author: "dev",
				CreatedAt: merged.Add(-5 * time.Hour), MergedAt: merged, MergedBy: "lead",
				Reviews: []fakegithub.Review{{User: "reviewer", State: "APPROVED", SubmittedAt: merged.Add(-time.Hour)}}})
		}
		return out
	}
	return []fakegithub.Repo{
		{FullName: "acme/checkout", CodeownersAt: ".github/CODEOWNERS", Pulls: pulls(10),
			Classic: &fakegithub.Protection{RequiredReviews: 2, CodeOwnerReview: true, DismissStale: true, EnforceAdmins: true, StatusChecks: []string{"ci"}}},
		{FullName: "acme/payments", Pulls: pulls(20), Rulesets: []fakegithub.Ruleset{{Name: "main",
			Rules: []fakegithub.Rule{fakegithub.LinearHistoryRule(), fakegithub.SignedCommitsRule(), fakegithub.PullRequestRule(1, false)}}}},
		{FullName: "acme/search", Pulls: pulls(30)},
	}
}

const threeServices = `  - {name: checkout, repo: acme/checkout, owner: team-payments}
  - {name: payments, repo: acme/payments, owner: team-payments}
  - {name: search, repo: acme/search, owner: team-discovery}
`

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
