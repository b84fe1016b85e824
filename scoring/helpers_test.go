package scoring

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

// now is the fixed clock of the tests.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func ago_(d time.Duration) time.Time { return now.Add(-d) }

// fb builds facts with unique deliveries.
type fb struct {
	n     int
	facts []releaseops.Fact
}

func (b *fb) add(kind releaseops.FactKind, source, event string, at time.Time, set func(*releaseops.Fact)) *releaseops.Fact {
	b.n++
	f := releaseops.Fact{Kind: kind, At: at, Service: "checkout",
		Evidence: releaseops.Evidence{Source: source, Event: event, Delivery: fmt.Sprintf("d-%04d", b.n), At: at}}
	set(&f)
	b.facts = append(b.facts, f)
	return &b.facts[len(b.facts)-1]
}

func (b *fb) protection(at time.Time, p releaseops.BranchProtection) {
	if p.Repo == "" {
		p.Repo = "acme/checkout"
	}
	if p.Pattern == "" {
		p.Pattern = "main"
	}
	b.add(releaseops.FactBranchProtection, "github", "branch_protection_rule", at, func(f *releaseops.Fact) { f.BranchProtection = &p })
}

func (b *fb) push(at time.Time, p releaseops.Push) {
	if p.Repo == "" {
		p.Repo = "acme/checkout"
	}
	if p.Ref == "" {
		p.Ref = "refs/heads/main"
		p.DefaultBranch = true
	}
	b.add(releaseops.FactPush, "github", "push", at, func(f *releaseops.Fact) { f.Push = &p })
}

// deploy adds a started and a final event for a production deploy.
func (b *fb) deploy(id string, start time.Time, dur time.Duration, status string, mod func(*releaseops.Deploy)) {
	d := releaseops.Deploy{ID: id, Environment: "production", Kind: releaseops.KindDeploy, Version: "v-" + id, CommitSHA: "sha" + id,
		Strategy: "canary", Phases: 3, HealthChecks: ptr(true), FeatureFlags: ptr(true), Snapshot: ptr(true)}
	if mod != nil {
		mod(&d)
	}
	s := d
	s.Status = releaseops.DeployStarted
	b.add(releaseops.FactDeploy, "deploy", "deploy", start, func(f *releaseops.Fact) { f.Deploy = &s })
	if status == releaseops.DeployStarted {
		return
	}
	fin := d
	fin.Status = status
	end := start.Add(dur)
	fin.FinishedAt = &end
	b.add(releaseops.FactDeploy, "deploy", "deploy", end, func(f *releaseops.Fact) { f.Deploy = &fin })
}

func mustCompile(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := Compile(cfg, map[string]Thresholds{"default": DefaultThresholds}, "https://releaseops.example.com")
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return e
}

func baseService() releaseops.Service {
	return releaseops.Service{Name: "checkout", Repo: "acme/checkout", Owner: "team-payments"}
}

func signal(t *testing.T, card Scorecard, id string) SignalResult {
	t.Helper()
	for _, d := range card.Dimensions {
		for _, s := range d.Signals {
			if s.ID == id {
				return s
			}
		}
	}
	t.Fatalf("signal %s not in card", id)
	return SignalResult{}
}

func releaseopsBP() releaseops.BranchProtection {
	return releaseops.BranchProtection{RequiredApprovingReviews: 1}
}

func scoreAt(e *Engine, svc releaseops.Service, facts []releaseops.Fact, at time.Time) Scorecard {
	return e.Score(Input{Service: svc, Facts: facts, Now: at})
}

func approx(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestKindIndex(t *testing.T) {
	payloads := map[releaseops.FactKind]func(*releaseops.Fact){
		releaseops.FactDeploy:           func(f *releaseops.Fact) { f.Deploy = &releaseops.Deploy{} },
		releaseops.FactPullRequest:      func(f *releaseops.Fact) { f.PullRequest = &releaseops.PullRequest{} },
		releaseops.FactReview:           func(f *releaseops.Fact) { f.Review = &releaseops.Review{} },
		releaseops.FactBranchProtection: func(f *releaseops.Fact) { f.BranchProtection = &releaseops.BranchProtection{} },
		releaseops.FactRuleset:          func(f *releaseops.Fact) { f.Ruleset = &releaseops.Ruleset{} },
		releaseops.FactPush:             func(f *releaseops.Fact) { f.Push = &releaseops.Push{} },
		releaseops.FactCIRun:            func(f *releaseops.Fact) { f.CIRun = &releaseops.CIRun{} },
		releaseops.FactRelease:          func(f *releaseops.Fact) { f.Release = &releaseops.Release{} },
		releaseops.FactVulnerability:    func(f *releaseops.Fact) { f.Vulnerability = &releaseops.Vulnerability{} },
		releaseops.FactIncident:         func(f *releaseops.Fact) { f.Incident = &releaseops.Incident{} },
		releaseops.FactPagerDutyService: func(f *releaseops.Fact) { f.PagerDutyService = &releaseops.PagerDutyService{} },
		releaseops.FactTerraformRun:     func(f *releaseops.Fact) { f.TerraformRun = &releaseops.TerraformRun{} },
		releaseops.FactAssessment:       func(f *releaseops.Fact) { f.Assessment = &releaseops.TerraformAssessment{} },
		releaseops.FactProtectionRule:   func(f *releaseops.Fact) { f.ProtectionRule = &releaseops.ProtectionRule{} },
		releaseops.FactGateDecision:     func(f *releaseops.Fact) { f.GateDecision = &releaseops.GateDecision{} },
		releaseops.FactNotification:     func(f *releaseops.Fact) { f.Notification = &releaseops.Notification{} },
		releaseops.FactRepoState:        func(f *releaseops.Fact) { f.RepoState = &releaseops.RepoState{} },
	}
	payloads[releaseops.FactTerraformWorkspace] = func(f *releaseops.Fact) { f.Workspace = &releaseops.TerraformWorkspace{} }
	payloads[releaseops.FactOnCall] = func(f *releaseops.Fact) { f.OnCall = &releaseops.OnCall{} }
	if len(payloads) != numKinds {
		t.Fatalf("%d payloads for %d kinds", len(payloads), numKinds)
	}
	for k, set := range payloads {
		f := releaseops.Fact{Kind: k}
		if kindIndex(&f) != -1 {
			t.Errorf("%s without payload accepted", k)
		}
		set(&f)
		if i := kindIndex(&f); i < 0 || kinds[i] != k {
			t.Errorf("kindIndex(%s) = %d", k, i)
		}
	}
	if kindIndex(&releaseops.Fact{Kind: "other", Deploy: &releaseops.Deploy{}}) != -1 {
		t.Error("unknown kind accepted")
	}
}

func TestFactOrderMatchesFactCmp(t *testing.T) {
	var b fb
	times := []time.Time{{}, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), now, ago_(time.Hour), now, ago_(time.Hour), time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), now.Add(-time.Nanosecond)}
	for i, at := range times {
		for j := range 3 {
			id := fmt.Sprintf("x%d-%d", i, j)
			b.add(releaseops.FactDeploy, "deploy", "deploy", at, func(f *releaseops.Fact) { f.Deploy = &releaseops.Deploy{ID: id, Status: "started"} })
		}
	}
	b.add(releaseops.FactDeploy, "deploy", "deploy", now, func(*releaseops.Fact) {}) // no payload: dropped
	got := newFacts(&Input{Facts: b.facts, Now: now}).all
	want := make([]*releaseops.Fact, 0, len(b.facts))
	for i := range b.facts[:len(b.facts)-1] {
		want = append(want, &b.facts[i])
	}
	slices.SortFunc(want, factCmp)
	if len(got) != len(want) {
		t.Fatalf("%d facts, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("position %d: %v, want %v", i, got[i].Evidence, want[i].Evidence)
		}
	}
}

// The user documentation names every signal, dimension and level rule.
func TestDocsCoverRegistry(t *testing.T) {
	b, err := os.ReadFile("../docs/scoring.md")
	if err != nil {
		t.Skipf("docs/scoring.md not found: %v", err)
	}
	doc := string(b)
	for _, s := range Registry() {
		if !strings.Contains(doc, "`"+s.ID+"`") {
			t.Errorf("docs/scoring.md does not document signal %s", s.ID)
		}
	}
	for _, d := range Dimensions {
		if !strings.Contains(doc, "`"+d.ID+"`") {
			t.Errorf("docs/scoring.md does not name dimension %s", d.ID)
		}
	}
	for _, l := range LevelOrder {
		for _, r := range DefaultLevels()[l].Rules {
			if !strings.Contains(doc, strings.ReplaceAll(r.Expr, "||", `\|\|`)) {
				t.Errorf("docs/scoring.md does not show the default %s rule %s", l, r.ID)
			}
		}
	}
}
