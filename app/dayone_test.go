package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/demo"
	"github.com/releaseops/releaseops/internal/fakegithub"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/syncer"
)

// Day one: what a new install of the demo organisation scores before anything happened, after
// one sync of its GitHub, and after the 45 days of events `serve --demo` sends. The fake
// GitHub holds what those events say of each repository at their end (protection, default
// branch, merged pull requests and their reviews, releases; CODEOWNERS where the catalog
// declares one): one sync should learn from it what weeks of webhooks taught.
//
//	go test ./app -run TestDayOne -v     # prints the table
func TestDayOneScoresBeforeAfterOneSyncAndEvented(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds the demo's 45 days of events (-short)")
	}
	ctx := context.Background()
	end := syncNow.Add(time.Minute) // when the sync reads, and scores what it read
	evented, events := seedDemo(t, end)

	var services []releaseops.Service
	cfg := config.Default()
	demo.Apply(&cfg, end)
	services = cfg.Services
	repos, settingsOnly := demoGitHub(t, events, services, end)
	gh := newSyncGitHub(t, repos...)
	w := newSyncWorld(t, gh, worldOpts{mutate: func(c *config.Config) { demo.Apply(c, end) }})
	w.rescoreAll()
	fresh := map[string]*scoring.Scorecard{}
	for _, s := range services {
		fresh[s.Name] = w.card(s.Name)
	}
	sum := w.sync(ctx, syncer.Options{})
	if len(sum.Failures) != 0 || sum.Subjects != len(services) {
		t.Fatalf("sync of the demo's GitHub: %+v", sum)
	}

	var table strings.Builder
	fmt.Fprintf(&table, "%-16s %15s %15s %15s   %s\n", "service", "fresh install", "after 1 sync", "45 days evented", "branch_governance fresh / sync / evented")
	names := make([]string, 0, len(services))
	for _, s := range services {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	// The comparison below means something only if the demo has services whose governance is
	// settings alone, and the sync moved them.
	compared, raised := 0, 0
	for _, name := range names {
		if settingsOnly[name] {
			compared++
		}
	}
	if compared < 5 {
		t.Fatalf("only %d of %d demo services have settings-only governance; the day-one comparison checks too little", compared, len(names))
	}
	for _, name := range names {
		f, s, e := fresh[name], w.card(name), evented[name]
		if s.Score > f.Score {
			raised++
		}
		gov := func(c *scoring.Scorecard) float64 { return c.Dimension(scoring.DimBranchGovernance).Score }
		fmt.Fprintf(&table, "%-16s %6.1f %-8s %6.1f %-8s %6.1f %-8s   %.2f / %.2f / %.2f\n", name, f.Score, f.Band, s.Score, s.Band, e.Score, e.Band, gov(f), gov(s), gov(e))
		if s.Score < f.Score {
			t.Errorf("%s scores %.1f after a sync, below the %.1f of a fresh install", name, s.Score, f.Score)
		}
		if settingsOnly[name] && math.Abs(gov(s)-gov(e)) > 1e-9 {
			t.Errorf("%s branch_governance: %.3f after one sync, %.3f from 45 days of events; its governance is settings GitHub holds", name, gov(s), gov(e))
			for _, sig := range s.Dimension(scoring.DimBranchGovernance).Signals {
				t.Logf("  sync    %-26s %-8s %s", sig.ID, sig.Outcome, sig.Reason)
			}
			for _, sig := range e.Dimension(scoring.DimBranchGovernance).Signals {
				t.Logf("  evented %-26s %-8s %s", sig.ID, sig.Outcome, sig.Reason)
			}
		}
	}
	if raised < compared {
		t.Errorf("one sync raised %d services' scores; at least the %d with settings-only governance should move", raised, compared)
	}
	c := gh.Counts()
	fmt.Fprintf(&table, "one sync of %d repositories: %d requests, %d facts written\n", len(repos), c.Requests, sum.Facts)
	t.Logf("day one of the demo catalog (scores at %s):\n%s", end.Format(time.RFC3339), table.String())
}

// seedDemo seeds another database as `serve --demo` does and returns each service's card and
// every GitHub delivery the seed sent.
func seedDemo(t *testing.T, end time.Time) (map[string]*scoring.Scorecard, []demoEvent) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(t.TempDir(), "demo.db")
	demo.Apply(&cfg, end)
	clock := &demo.Clock{}
	a, err := New(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(ctx)
	p := a.ReplayPipeline()
	capture := &captureSource{Source: p.Sources[releaseops.SourceGitHub]}
	p.Sources[releaseops.SourceGitHub] = capture
	if _, err := demo.Seed(ctx, a.DB, p, a.Worker, clock, end); err != nil {
		t.Fatal(err)
	}
	cards := map[string]*scoring.Scorecard{}
	for _, s := range cfg.Services {
		row, err := a.DB.GetScore(ctx, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		var c scoring.Scorecard
		if err := json.Unmarshal(row.Card, &c); err != nil {
			t.Fatal(err)
		}
		cards[s.Name] = &c
	}
	return cards, capture.events
}

type demoEvent struct {
	event string
	body  map[string]any
}

// captureSource keeps each GitHub delivery the seed sends on its way to the real parser.
type captureSource struct {
	releaseops.Source
	mu     sync.Mutex
	events []demoEvent
}

func (c *captureSource) Parse(h http.Header, body []byte) (releaseops.Parsed, error) {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		c.mu.Lock()
		c.events = append(c.events, demoEvent{event: h.Get("X-GitHub-Event"), body: m})
		c.mu.Unlock()
	}
	return c.Source.Parse(h, body)
}

// demoGitHub is the GitHub the demo's events describe, as it stands at their end. It also
// says which services' governance rests only on settings GitHub holds now: protected from
// the start and never deleted (a lapse is history that only events saw).
func demoGitHub(t *testing.T, events []demoEvent, services []releaseops.Service, end time.Time) ([]fakegithub.Repo, map[string]bool) {
	t.Helper()
	repos := map[string]*fakegithub.Repo{}
	byName := map[string]string{}
	for _, s := range services {
		repos[s.Repo] = &fakegithub.Repo{FullName: s.Repo, DefaultBranch: s.DefaultBranch, CreatedAt: end.AddDate(-2, 0, 0)}
		if s.Codeowners {
			repos[s.Repo].CodeownersAt = ".github/CODEOWNERS"
		}
		byName[s.Repo] = s.Name
	}
	lapsed := map[string]bool{}
	protected := map[string]bool{}
	pulls := map[string]map[int]*fakegithub.Pull{}
	reviews := map[string]map[int][]fakegithub.Review{}
	for _, ev := range events {
		repo, _ := ev.body["repository"].(map[string]any)
		r := repos[str(repo["full_name"])]
		if r == nil {
			continue
		}
		if b := str(repo["default_branch"]); b != "" {
			r.DefaultBranch = b
		}
		switch ev.event {
		case "branch_protection_rule":
			rule, _ := ev.body["rule"].(map[string]any)
			if str(ev.body["action"]) == "deleted" {
				r.Classic, lapsed[r.FullName] = nil, true
				continue
			}
			protected[r.FullName] = true
			on := func(k string) bool { v := str(rule[k]); return v != "" && v != "off" }
			p := &fakegithub.Protection{CodeOwnerReview: rule["require_code_owner_review"] == true, DismissStale: rule["dismiss_stale_reviews_on_push"] == true,
				SignedCommits: on("signature_requirement_enforcement_level"), LinearHistory: on("linear_history_requirement_enforcement_level"),
				EnforceAdmins: rule["admin_enforced"] == true, AllowForcePushes: on("allow_force_pushes_enforcement_level"),
				AllowDeletions: on("allow_deletions_enforcement_level")}
			if on("pull_request_reviews_enforcement_level") {
				p.RequirePullRequest, p.RequiredReviews = true, int(num(rule["required_approving_review_count"]))
			}
			for _, c := range list(rule["required_status_checks"]) {
				p.StatusChecks = append(p.StatusChecks, str(c))
			}
			r.Classic = p
		case "pull_request":
			pr, _ := ev.body["pull_request"].(map[string]any)
			if str(ev.body["action"]) != "closed" || pr["merged"] != true {
				continue
			}
			merged := when(t, pr["merged_at"])
			p := &fakegithub.Pull{Number: int(num(pr["number"])), Title: str(pr["title"]), Author: login(pr["user"]), MergedBy: login(pr["merged_by"]),
				Base: str(pr["base"].(map[string]any)["ref"]), CreatedAt: merged.Add(-3 * time.Hour), MergedAt: merged, MergeCommitSHA: str(pr["merge_commit_sha"])}
			if pulls[r.FullName] == nil {
				pulls[r.FullName] = map[int]*fakegithub.Pull{}
			}
			pulls[r.FullName][p.Number] = p
		case "pull_request_review":
			rv, _ := ev.body["review"].(map[string]any)
			n := int(num(ev.body["pull_request"].(map[string]any)["number"]))
			if reviews[r.FullName] == nil {
				reviews[r.FullName] = map[int][]fakegithub.Review{}
			}
			reviews[r.FullName][n] = append(reviews[r.FullName][n], fakegithub.Review{User: login(rv["user"]),
				State: strings.ToUpper(str(rv["state"])), SubmittedAt: when(t, rv["submitted_at"])})
		case "release":
			rel, _ := ev.body["release"].(map[string]any)
			if str(ev.body["action"]) == "published" {
				r.Releases = append(r.Releases, fakegithub.Release{ID: int64(num(rel["id"])), TagName: str(rel["tag_name"]), Name: str(rel["name"]),
					Prerelease: rel["prerelease"] == true, CreatedAt: when(t, rel["created_at"]), PublishedAt: when(t, rel["published_at"])})
			}
		}
	}
	settingsOnly := map[string]bool{}
	var out []fakegithub.Repo
	for full, r := range repos {
		for n, p := range pulls[full] {
			p.Reviews = reviews[full][n]
			r.Pulls = append(r.Pulls, *p)
		}
		sort.Slice(r.Pulls, func(i, j int) bool { return r.Pulls[i].Number < r.Pulls[j].Number })
		settingsOnly[byName[full]] = protected[full] && !lapsed[full]
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullName < out[j].FullName })
	return out, settingsOnly
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func login(v any) string {
	m, _ := v.(map[string]any)
	return str(m["login"])
}

func when(t *testing.T, v any) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, str(v))
	if err != nil {
		t.Fatalf("demo event time %v: %v", v, err)
	}
	return at
}
