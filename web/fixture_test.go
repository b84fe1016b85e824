package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// now is the fixed clock of every test: nothing here reads the wall clock.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func before(d time.Duration) time.Time { return now.Add(-d) }

func ptr[T any](v T) *T { return &v }

// fixture is a real SQLite database filled through the storage functions with the deliveries,
// scorecards and history of a few services, scored by the real engine at fixed times.
type fixture struct {
	DB      *storage.DB
	Catalog *catalog.Catalog
	Engine  *scoring.Engine
	Echo    *echo.Echo
}

// factSet builds a service's facts; each fact gets its own stored delivery, so every
// evidence link on the pages resolves.
type factSet struct {
	service string
	repo    string
	n       int
	facts   []releaseops.Fact
	dels    []*storage.NewDelivery
	sync    []releaseops.SyncCoverage // what the sync framework knows of the service's subjects
}

func (b *factSet) add(kind releaseops.FactKind, source, event string, at time.Time, set func(*releaseops.Fact)) {
	b.n++
	id := fmt.Sprintf("%s-%s-%03d", b.service, source, b.n)
	f := releaseops.Fact{Kind: kind, At: at, Service: b.service,
		Subject:  releaseops.Subject{Kind: releaseops.SubjectService, Key: b.service},
		Evidence: releaseops.Evidence{Source: source, Event: event, Delivery: id, At: at}}
	set(&f)
	b.facts = append(b.facts, f)
	payload, _ := json.Marshal(f)
	headers := map[string]string{"Content-Type": "application/json", "User-Agent": source + "-hookshot/1.0"}
	switch source {
	case releaseops.SourceGitHub:
		headers["X-GitHub-Delivery"], headers["X-GitHub-Event"] = id, event
		headers["X-Hub-Signature-256"] = "sha256=5f2b0c1e9d8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918070f6"
	case releaseops.SourceDeploy:
		headers["X-Releaseops-Signature"] = "sha256=0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	}
	b.dels = append(b.dels, &storage.NewDelivery{Source: source, DeliveryID: id, Type: event, Subject: f.Subject,
		Service: b.service, Outcome: releaseops.OutcomeStored, ReceivedAt: at.Add(2 * time.Second), Headers: headers,
		Body: fmt.Appendf(nil, `{"delivery":%q,"event":%q,"fact":%s}`, id, event, payload)})
}

func (b *factSet) protection(at time.Time, p releaseops.BranchProtection) {
	p.Repo, p.Pattern, p.Action = b.repo, "main", "edited"
	if p.Deleted {
		p.Action = "deleted"
	}
	b.add(releaseops.FactBranchProtection, releaseops.SourceGitHub, "branch_protection_rule", at, func(f *releaseops.Fact) { f.BranchProtection = &p })
}

// read records a sync observation of the repository, stored the way the sync runner stores
// one: a delivery of type sync whose id carries the subject (a "/" the event link escapes).
func (b *factSet) read(at time.Time, st releaseops.RepoState) {
	st.Repo, st.DefaultBranch = b.repo, "main"
	id := fmt.Sprintf("sync:%s:repo_state:%d", b.repo, at.UnixMilli())
	path := "/repos/" + b.repo + "/rules/branches/main"
	subj := releaseops.Subject{Kind: releaseops.SubjectRepo, Key: b.repo}
	f := releaseops.Fact{Kind: releaseops.FactRepoState, At: at, Service: b.service, Subject: subj, RepoState: &st,
		Evidence: releaseops.Evidence{Source: releaseops.SourceGitHub, Event: releaseops.EventSync, Delivery: id, At: at, Path: path}}
	b.facts = append(b.facts, f)
	payload, _ := json.Marshal(f)
	b.dels = append(b.dels, &storage.NewDelivery{Source: releaseops.SourceGitHub, DeliveryID: id, Type: releaseops.EventSync, Subject: subj,
		Service: b.service, Outcome: releaseops.OutcomeStored, ReceivedAt: at, Headers: map[string]string{"X-ReleaseOps-Sync-Path": path},
		Body: fmt.Appendf(nil, `{"subject":%q,"key":"repo_state","fact":%s}`, b.repo, payload)})
}

func (b *factSet) pr(n int, at time.Time, title string, approved bool) {
	b.add(releaseops.FactPullRequest, releaseops.SourceGitHub, "pull_request", at, func(f *releaseops.Fact) {
		f.PullRequest = &releaseops.PullRequest{Repo: b.repo, Number: n, Title: title, Author: "dev", MergedAt: at, BaseRef: "main",
			MergeCommitSHA: fmt.Sprintf("%040d", n)}
	})
	if approved {
		b.add(releaseops.FactReview, releaseops.SourceGitHub, "pull_request_review", at.Add(-time.Hour), func(f *releaseops.Fact) {
			f.Review = &releaseops.Review{Repo: b.repo, PRNumber: n, Reviewer: "reviewer", State: "approved", Action: "submitted"}
		})
	}
}

// deploy records a production deploy's start and final events.
func (b *factSet) deploy(id string, start time.Time, status string, mod func(*releaseops.Deploy)) {
	d := releaseops.Deploy{ID: id, Environment: "production", Kind: releaseops.KindDeploy, Version: "v1." + id, CommitSHA: "c0ffee" + id,
		Strategy: "canary", Phases: 3, HealthChecks: ptr(true), FeatureFlags: ptr(true), Snapshot: ptr(true), Actor: "deploy-bot"}
	if mod != nil {
		mod(&d)
	}
	s := d
	s.Status = releaseops.DeployStarted
	b.add(releaseops.FactDeploy, releaseops.SourceDeploy, "deploy", start, func(f *releaseops.Fact) { f.Deploy = &s })
	fin := d
	fin.Status = status
	end := start.Add(12 * time.Minute)
	fin.FinishedAt = &end
	if d.Kind != releaseops.KindDeploy {
		fin.RTOSeconds = ptr(420.0)
	}
	b.add(releaseops.FactDeploy, releaseops.SourceDeploy, "deploy", end, func(f *releaseops.Fact) { f.Deploy = &fin })
}

func (b *factSet) pagerduty(at time.Time, levels int) {
	b.add(releaseops.FactPagerDutyService, releaseops.SourcePagerDuty, "service.updated", at, func(f *releaseops.Fact) {
		f.PagerDutyService = &releaseops.PagerDutyService{ID: "P" + b.service, EventType: "service.updated", EscalationLevels: levels}
	})
}

// notes records that ReleaseOps posted release notes for a deploy.
func (b *factSet) notes(at time.Time, deployID string) {
	b.add(releaseops.FactNotification, releaseops.SourceInternal, "notification", at, func(f *releaseops.Fact) {
		f.Notification = &releaseops.Notification{Kind: "release_notes", Channel: "C0STAKE", Ref: deployID}
	})
}

// services are the catalog of the fixture: one in each band, more or less, so the list,
// filters and heat map have something to show.
func services() []releaseops.Service {
	no := false
	return []releaseops.Service{
		{Name: "checkout", Repo: "acme/checkout", Owner: "team-payments", Tier: 1, Approvers: []string{"U0ALICE"},
			PagerDutyServiceID: "Pcheckout", RunbookURL: "https://wiki.example.com/checkout/runbook",
			SLOs: []releaseops.SLO{{Name: "availability", Objective: 99.9}}, StructuredLogging: true, Stateful: true,
			Codeowners: true, StakeholderChannel: "C0STAKE", Terraform: &no},
		{Name: "payments-api", Repo: "acme/payments-api", Owner: "team-payments", Tier: 1, Approvers: []string{"U0ALICE", "U0BOB"},
			PagerDutyServiceID: "Ppayments-api", RunbookURL: "https://wiki.example.com/payments/runbook", EscalationLevels: 3,
			SLOs: []releaseops.SLO{{Name: "latency", Objective: 99}}, StructuredLogging: true, TraceCorrelation: true,
			Codeowners: true, StakeholderChannel: "C0PAY", StatusPageURL: "https://status.example.com", Terraform: &no,
			ComplianceControls: []string{"SOC2-CC8.1"}},
		{Name: "search", Repo: "acme/search", Owner: "team-discovery", Tier: 3},
		{Name: "ledger", Repo: "acme/ledger", Owner: "team-finance", Tier: 2, Approvers: []string{"U0CAROL", "U0DAN"},
			PagerDutyServiceID: "Pledger", SLOs: []releaseops.SLO{{Name: "availability", Objective: 99.95}},
			RunbookURL: "https://wiki.example.com/ledger/runbook", StakeholderChannel: "C0FIN", ComplianceControls: []string{"SOX-404"},
			StructuredLogging: true, TraceCorrelation: true, Codeowners: true, Terraform: &no},
	}
}

func facts(svc releaseops.Service) *factSet {
	b := &factSet{service: svc.Name, repo: svc.Repo}
	switch svc.Name {
	case "checkout":
		// A good month followed by a worse one: protection loosened, a failed big-bang deploy.
		b.protection(before(60*day), releaseops.BranchProtection{RequiredApprovingReviews: 2, RequireCodeOwnerReview: true, LinearHistory: true})
		for i, at := range []time.Duration{50 * day, 44 * day, 38 * day} {
			id := fmt.Sprintf("q%d", i+1)
			b.deploy(id, before(at), releaseops.DeploySucceeded, nil)
			b.notes(before(at-time.Hour), id)
		}
		b.protection(before(5*day), releaseops.BranchProtection{RequiredApprovingReviews: 1, RequireCodeOwnerReview: true})
		// Sync read the same settings since, and has failed for a day: still fresh, so the
		// score holds, but the page warns.
		b.read(before(3*day), releaseops.RepoState{Codeowners: true, CodeownersPath: ".github/CODEOWNERS",
			Classic: &releaseops.BranchProtection{Repo: b.repo, Pattern: "main", Action: "sync", RequiredApprovingReviews: 1, RequireCodeOwnerReview: true}})
		b.sync = []releaseops.SyncCoverage{{Source: releaseops.SourceGitHub, Subject: b.repo, LastAttempt: before(3 * time.Hour),
			LastSuccess: before(26 * time.Hour), Failures: 9, Error: "401 bad credentials: the token was revoked or the App uninstalled"}}
		b.pagerduty(before(50*day), 1)
		for i, title := range []string{"Add idempotency keys to charges", "Fix rounding in tax lines", "Bump go to 1.26", "Retry card declines once", "Cache shipping quotes"} {
			b.pr(100+i, before(time.Duration(27-5*i)*day), title, i != 2)
		}
		b.deploy("r1", before(26*day), releaseops.DeploySucceeded, nil)
		b.deploy("r2", before(19*day), releaseops.DeployFailed, func(d *releaseops.Deploy) { d.Strategy, d.Phases = "all_at_once", 1 })
		b.deploy("r3", before(15*day), releaseops.DeploySucceeded, func(d *releaseops.Deploy) { d.Snapshot = ptr(false) })
		b.deploy("r4", before(8*day), releaseops.DeploySucceeded, nil)
		b.deploy("rb1", before(21*day), releaseops.DeploySucceeded, func(d *releaseops.Deploy) { d.Kind, d.Environment = releaseops.KindRehearsal, "staging" })
		b.deploy("r5", before(2*day), releaseops.DeploySucceeded, nil)
		b.notes(before(2*day-time.Hour), "r5")
	case "payments-api":
		b.protection(before(80*day), releaseops.BranchProtection{RequiredApprovingReviews: 2, RequireCodeOwnerReview: true, LinearHistory: true, SignedCommits: true})
		b.pagerduty(before(40*day), 3)
		for i := range 4 {
			b.pr(200+i, before(time.Duration(25-6*i)*day), fmt.Sprintf("Payments change %d", i+1), true)
		}
		for i, at := range []time.Duration{24 * day, 17 * day, 10 * day, 3 * day} {
			id := fmt.Sprintf("p%d", i+1)
			b.deploy(id, before(at), releaseops.DeploySucceeded, nil)
			b.notes(before(at-time.Hour), id)
		}
		b.deploy("pb1", before(30*day), releaseops.DeploySucceeded, func(d *releaseops.Deploy) { d.Kind = releaseops.KindRollback })
	case "search":
		// Protected once, then the rule was deleted: the score falls inside the window.
		b.protection(before(70*day), releaseops.BranchProtection{RequiredApprovingReviews: 1, LinearHistory: true})
		b.protection(before(10*day), releaseops.BranchProtection{Deleted: true})
		b.pr(300, before(12*day), "Tune ranking weights", false)
	case "ledger":
		b.protection(before(45*day), releaseops.BranchProtection{RequiredApprovingReviews: 1, LinearHistory: true})
		b.pagerduty(before(30*day), 2)
		b.pr(400, before(9*day), "Reconcile FX rates nightly", true)
		b.deploy("l1", before(20*day), releaseops.DeploySucceeded, func(d *releaseops.Deploy) { d.Strategy, d.Phases = "rolling", 2 })
		b.deploy("l2", before(6*day), releaseops.DeploySucceeded, func(d *releaseops.Deploy) { d.Strategy, d.Phases = "rolling", 2 })
		b.deploy("lb1", before(14*day), releaseops.DeploySucceeded, func(d *releaseops.Deploy) { d.Kind, d.Environment = releaseops.KindRehearsal, "staging" })
		b.notes(before(20*day-time.Hour), "l1")
		b.notes(before(6*day-time.Hour), "l2")
	}
	return b
}

func scoringConfig() scoring.Config {
	cfg := scoring.DefaultConfig()
	cfg.Waivers = []scoring.Waiver{{Service: "checkout", Signal: "signed_commits", Reason: "commit signing rolls out with the new CI runners",
		Author: "alice", Expires: "2027-01-31"}}
	cfg.Floors = map[string]scoring.Floor{scoring.DimBranchGovernance: {Min: 0.5, Cap: scoring.BandWatch}}
	return cfg
}

// snapshotDays are the days before now at which each service was rescored: one before the
// 30-day window (the score the chart opens with) and several inside it.
var snapshotDays = []time.Duration{40, 24, 18, 12, 7, 3, 1}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "web.db"), storage.DefaultOptions())
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	engine, err := scoring.Compile(scoringConfig(), map[string]scoring.Thresholds{"default": scoring.DefaultThresholds}, "https://releaseops.example.com")
	if err != nil {
		t.Fatalf("compile scoring: %v", err)
	}
	svcs := services()
	for _, svc := range svcs {
		storeService(t, db, engine, svc, facts(svc))
	}
	f := &fixture{DB: db, Catalog: catalog.New(svcs), Engine: engine, Echo: echo.New()}
	Register(f.Echo, f.deps())
	return f
}

func (f *fixture) deps() Deps {
	return Deps{DB: f.DB, Catalog: f.Catalog, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now }, Thresholds: f.Engine.Thresholds("production"), Deploy: fakeDeploy{}}
}

// storeService stores the deliveries, then scores the service as the rescoring worker would
// have at each snapshot time (with the facts known then), so the history is the engine's own.
func storeService(t testing.TB, db *storage.DB, engine *scoring.Engine, svc releaseops.Service, b *factSet) {
	t.Helper()
	ctx := context.Background()
	var history []scoring.Point
	// put rescores at a time; like the worker, it appends a snapshot only when the score changed.
	put := func(at time.Time) {
		var known []releaseops.Fact
		for _, f := range b.facts {
			if !f.At.After(at) {
				known = append(known, f)
			}
		}
		card := engine.Score(scoring.Input{Service: svc, Facts: known, Now: at, Sync: b.sync})
		card.Trend = scoring.ComputeTrend(history, card.Score, at, scoring.DefaultTrendWindow)
		snapshot := len(history) == 0 || history[len(history)-1].Score != card.Score
		if snapshot {
			history = append(history, scoring.Point{At: at, Score: card.Score})
		}
		raw, err := json.Marshal(card)
		if err != nil {
			t.Fatalf("encode card: %v", err)
		}
		trend, _ := json.Marshal(card.Trend)
		row := storage.ScoreRow{Service: svc.Name, Score: card.Score, Band: card.Band, Level: card.Level, Card: raw, Trend: trend, UpdatedAt: at}
		if err := db.Writer.Do(ctx, func(tx *storage.Tx) error { return storage.PutScore(tx, row, snapshot) }); err != nil {
			t.Fatalf("put score: %v", err)
		}
	}
	if err := db.Writer.Do(ctx, func(tx *storage.Tx) error {
		for _, d := range b.dels {
			if _, _, err := storage.InsertDelivery(tx, d); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("insert deliveries: %v", err)
	}
	for _, d := range snapshotDays {
		put(before(d * day))
	}
	put(before(2 * time.Hour))
}

// get serves one request through the router, as a browser would send it.
func (f *fixture) get(t testing.TB, path string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	f.Echo.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}
