package scoring

import (
	"fmt"
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
