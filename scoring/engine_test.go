package scoring

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// checkoutService is a well-run service with a few gaps.
func checkoutService() releaseops.Service {
	return releaseops.Service{
		Name: "checkout", Repo: "acme/checkout", Owner: "team-payments", Tier: 1,
		SlackChannel: "C0CHECKOUT", Approvers: []string{"U0ALICE", "U0BOB"}, PagerDutyServiceID: "PCHK123",
		RunbookURL: "https://wiki.example.com/checkout/runbook", SLOs: []releaseops.SLO{{Name: "availability", Objective: 99.9}},
		StructuredLogging: true, Stateful: true, RTOTargetSeconds: 300, ComplianceControls: []string{"SOC2-CC8.1"},
		TerraformWorkspaces: []string{"acme/checkout-prod"},
		TerraformModules:    []releaseops.Module{{Name: "db", RollbackPath: "docs/rollback-db.md"}, {Name: "cdn"}},
	}
}

// history generates n facts of realistic history for checkout, ending before now, with a
// fixed seed: deploys (with pairs), merged PRs and reviews, pushes, incidents, notifications,
// gate decisions, Terraform runs and assessments, and branch protection changes.
func history(n int) []releaseops.Fact {
	r := rand.New(rand.NewPCG(42, 7))
	var b fb
	b.protection(ago_(200*day), releaseops.BranchProtection{RequiredApprovingReviews: 1, RequireCodeOwnerReview: true, LinearHistory: true,
		RequiredStatusChecks: []string{"ci/test", "terraform plan"}})
	// One lapse around a push, 12 days ago.
	b.protection(ago_(12*day), releaseops.BranchProtection{Deleted: true, Action: "deleted"})
	b.push(ago_(12*day-5*time.Minute), releaseops.Push{After: "hotfix", Pusher: "mallory"})
	b.protection(ago_(12*day-30*time.Minute), releaseops.BranchProtection{RequiredApprovingReviews: 1, RequireCodeOwnerReview: true, LinearHistory: true,
		RequiredStatusChecks: []string{"ci/test", "terraform plan"}})
	b.add(releaseops.FactPagerDutyService, "pagerduty", "service.updated", ago_(300*day), func(f *releaseops.Fact) {
		f.PagerDutyService = &releaseops.PagerDutyService{ID: "PCHK123", EscalationLevels: 2}
	})
	b.deploy("rehearsal-1", ago_(20*day), 6*time.Minute, releaseops.DeploySucceeded, rehearsal(400))
	span := 85 * day
	for i := 0; len(b.facts) < n; i++ {
		at := ago_(time.Duration(r.Int64N(int64(span))) + time.Hour)
		switch k := r.IntN(20); {
		case k < 5: // a production deploy, its gate decision, release notes
			id := fmt.Sprintf("deploy-%d", i)
			status := releaseops.DeploySucceeded
			if r.IntN(12) == 0 {
				status = releaseops.DeployFailed
			}
			strategy := "canary"
			if r.IntN(6) == 0 {
				strategy = "big_bang"
			}
			if r.IntN(10) != 0 {
				b.add(releaseops.FactGateDecision, "releaseops", "gate_decision", at.Add(-10*time.Minute), func(f *releaseops.Fact) {
					f.GateDecision = &releaseops.GateDecision{Environment: "production", Version: "v-" + id, Decision: "allow", Score: 80}
				})
			}
			b.deploy(id, at, 12*time.Minute, status, func(d *releaseops.Deploy) {
				d.Strategy = strategy
				d.Snapshot = ptr(r.IntN(5) != 0)
				d.FeatureFlags = ptr(r.IntN(3) != 0)
			})
			if status == releaseops.DeploySucceeded && r.IntN(8) != 0 {
				b.add(releaseops.FactNotification, "releaseops", "notification", at.Add(13*time.Minute), func(f *releaseops.Fact) {
					f.Notification = &releaseops.Notification{Kind: "release_notes", Channel: "C0CHECKOUT", Ref: id}
				})
			}
		case k < 10: // a merged PR with (usually) an approval
			num := 1000 + i
			author := []string{"alice", "bob", "carol"}[r.IntN(3)]
			b.add(releaseops.FactPullRequest, "github", "pull_request", at, func(f *releaseops.Fact) {
				f.PullRequest = &releaseops.PullRequest{Repo: "acme/checkout", Number: num, Author: author, MergedAt: at, BaseRef: "main", Title: "change " + fmt.Sprint(num)}
			})
			if r.IntN(10) != 0 {
				b.add(releaseops.FactReview, "github", "pull_request_review", at.Add(-time.Hour), func(f *releaseops.Fact) {
					f.Review = &releaseops.Review{Repo: "acme/checkout", PRNumber: num, Reviewer: "dave", State: "approved"}
				})
			}
		case k < 14: // pushes
			b.push(at, releaseops.Push{After: fmt.Sprintf("c%d", i), TouchesRunbook: r.IntN(40) == 0, TouchesTerraform: r.IntN(10) == 0})
		case k < 16: // CI
			b.add(releaseops.FactCIRun, "github", "check_run", at, func(f *releaseops.Fact) {
				f.CIRun = &releaseops.CIRun{Repo: "acme/checkout", Kind: "check_run", Name: "terraform plan", Status: "completed", Conclusion: "success", PRNumbers: []int{i}}
			})
		case k < 17: // an incident, resolved after a while
			id := fmt.Sprintf("Q%d", i)
			b.add(releaseops.FactIncident, "pagerduty", "incident.triggered", at, func(f *releaseops.Fact) {
				f.Incident = &releaseops.Incident{ID: id, EventType: "incident.triggered", Status: "triggered", ServiceID: "PCHK123", CreatedAt: at}
			})
			res := at.Add(time.Duration(20+r.IntN(120)) * time.Minute)
			if res.Before(now) {
				b.add(releaseops.FactIncident, "pagerduty", "incident.resolved", res, func(f *releaseops.Fact) {
					f.Incident = &releaseops.Incident{ID: id, EventType: "incident.resolved", Status: "resolved", ServiceID: "PCHK123", CreatedAt: at}
				})
			}
		case k < 19: // assessments, sometimes drifted then applied
			drifted := r.IntN(6) == 0
			b.add(releaseops.FactAssessment, "terraform", "assessment", at, func(f *releaseops.Fact) {
				f.Assessment = &releaseops.TerraformAssessment{Workspace: "checkout-prod", Organization: "acme", Drifted: drifted, Succeeded: true}
			})
			if drifted {
				b.add(releaseops.FactTerraformRun, "terraform", "run:completed", at.Add(time.Duration(2+r.IntN(20))*time.Hour), func(f *releaseops.Fact) {
					f.TerraformRun = &releaseops.TerraformRun{RunID: fmt.Sprintf("run-%d", i), Workspace: "checkout-prod", Organization: "acme", Trigger: "run:completed", Status: "applied"}
				})
			}
		default: // a Terraform run
			b.add(releaseops.FactTerraformRun, "terraform", "run:completed", at, func(f *releaseops.Fact) {
				f.TerraformRun = &releaseops.TerraformRun{RunID: fmt.Sprintf("run-%d", i), Workspace: "checkout-prod", Organization: "acme", Trigger: "run:completed", Status: "applied"}
			})
		}
	}
	// A fresh assessment so the dimension is current.
	b.add(releaseops.FactAssessment, "terraform", "assessment", ago_(2*time.Hour), func(f *releaseops.Fact) {
		f.Assessment = &releaseops.TerraformAssessment{Workspace: "checkout-prod", Organization: "acme", Succeeded: true}
	})
	return b.facts
}

func goldenConfig() Config {
	cfg := DefaultConfig()
	cfg.Floors = map[string]Floor{"branch_governance": {Min: 0.5, Cap: "blocked"}, "observability": {Min: 0.8, Cap: "watch"}}
	cfg.Rules = []Rule{
		{ID: "lead-time-under-a-day", Description: "median lead time under 24 h", Dimension: "deployment_maturity",
			Expr: `dora.lead_time_samples > 0 && dora.lead_time_hours < 24.0`},
		{ID: "canary-share", Description: "share of production deploys that were canaries", Dimension: "deployment_maturity", Weight: 0.5,
			Expr: `cel.bind(prod, deploys.filter(d, d.production && d.kind == "deploy"), prod.size() == 0 ? 0.0 : double(prod.filter(d, d.strategy == "canary").size()) / double(prod.size()))`},
		{ID: "tier1-pagerduty", Description: "tier-1 services page through PagerDuty", Level: "silver",
			Expr: `service.tier != 1 || service.pagerduty_service_id != ""`},
	}
	cfg.Waivers = []Waiver{
		{Service: "checkout", Signal: "trace_correlation", Reason: "tracing rollout scheduled for Q1", Author: "alice", Expires: "2026-12-31"},
		{Service: "checkout", Signal: "status_page_linked", Reason: "old waiver", Author: "bob", Expires: "2026-11-01T00:00:00Z"},
	}
	return cfg
}

func goldenEngine(t testing.TB) *Engine {
	e, err := Compile(goldenConfig(), map[string]Thresholds{
		"default":    {BlockBelow: 60, ApprovalBelow: 75, MatureAt: 85},
		"production": {BlockBelow: 60, ApprovalBelow: 75, MatureAt: 85},
		"staging":    {BlockBelow: 40, ApprovalBelow: 50, MatureAt: 70},
	}, "https://releaseops.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func marshal(t testing.TB, card Scorecard) []byte {
	b, err := json.MarshalIndent(card, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./scoring -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("scorecard differs from %s (run with -update to accept):\n%s", path, firstDiff(want, got))
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return ""
}

func TestGoldenScorecards(t *testing.T) {
	e := goldenEngine(t)
	cases := []struct {
		name  string
		svc   releaseops.Service
		facts []releaseops.Fact
	}{
		{"checkout", checkoutService(), history(400)},
		{"empty", releaseops.Service{Name: "newsvc", Terraform: ptr(false), NotApplicable: []string{"release_communication"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			card := e.Score(Input{Service: c.svc, Facts: c.facts, Now: now})
			got := marshal(t, card)
			checkGolden(t, c.name, got)
			checkArithmetic(t, e, got)
		})
	}
}

// checkArithmetic recomputes the composite, the dimension scores and the band from the JSON
// alone.
func checkArithmetic(t *testing.T, e *Engine, js []byte) {
	t.Helper()
	var card struct {
		Score         float64 `json:"score"`
		Band          string  `json:"band"`
		FloorsApplied []struct {
			Dimension string  `json:"dimension"`
			Cap       string  `json:"cap"`
			Min       float64 `json:"min"`
			Score     float64 `json:"score"`
		} `json:"floors_applied"`
		Dimensions []struct {
			ID         string  `json:"id"`
			Score      float64 `json:"score"`
			Applicable bool    `json:"applicable"`
			NoData     bool    `json:"no_data"`
			Signals    []struct {
				Score   float64 `json:"score"`
				Weight  float64 `json:"weight"`
				Outcome string  `json:"outcome"`
			} `json:"signals"`
		} `json:"dimensions"`
	}
	if err := json.Unmarshal(js, &card); err != nil {
		t.Fatal(err)
	}
	if len(card.Dimensions) != 9 {
		t.Fatalf("%d dimensions", len(card.Dimensions))
	}
	var sum float64
	var n int
	for _, d := range card.Dimensions {
		var ws, w float64
		allNoData := true
		for _, s := range d.Signals {
			if s.Outcome == "not_applicable" {
				continue
			}
			ws += s.Score * s.Weight
			w += s.Weight
			allNoData = allNoData && s.Outcome == "no_data"
		}
		if !d.Applicable {
			if d.Score != 0 {
				t.Errorf("n/a dimension %s scores %v", d.ID, d.Score)
			}
			continue
		}
		want := 0.0
		if w > 0 {
			want = math.Round(ws/w*1000) / 1000
		}
		if math.Abs(d.Score-want) > 1e-9 {
			t.Errorf("dimension %s = %v, its signals give %v", d.ID, d.Score, want)
		}
		if d.NoData != allNoData {
			t.Errorf("dimension %s no_data = %v", d.ID, d.NoData)
		}
		sum += d.Score
		n++
	}
	want := 0.0
	if n > 0 {
		want = math.Round(100*sum/float64(n)*10) / 10
	}
	if math.Abs(card.Score-want) > 1e-9 {
		t.Errorf("composite %v, dimensions give %v", card.Score, want)
	}
	th := e.Thresholds("production")
	band := "blocked"
	switch {
	case card.Score >= th.MatureAt:
		band = "mature"
	case card.Score >= th.ApprovalBelow:
		band = "healthy"
	case card.Score >= th.BlockBelow:
		band = "watch"
	}
	for _, f := range card.FloorsApplied {
		if BandRank(f.Cap) < BandRank(band) {
			band = f.Cap
		}
	}
	if band != card.Band {
		t.Errorf("band %s, thresholds and floors give %s", card.Band, band)
	}
}

func TestDeterminism(t *testing.T) {
	e := goldenEngine(t)
	facts := history(2000)
	want := marshal(t, e.Score(Input{Service: checkoutService(), Facts: facts, Now: now}))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		shuffled := append([]releaseops.Fact(nil), facts...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got := marshal(t, e.Score(Input{Service: checkoutService(), Facts: shuffled, Now: now}))
		if !bytes.Equal(got, want) {
			t.Fatalf("shuffle %d changed the scorecard:\n%s", i, firstDiff(want, got))
		}
	}
	// Facts after now are ignored.
	var b fb
	b.deploy("future", now.Add(time.Hour), time.Minute, releaseops.DeployFailed, nil)
	got := marshal(t, e.Score(Input{Service: checkoutService(), Facts: append(append([]releaseops.Fact(nil), facts...), b.facts...), Now: now}))
	if !bytes.Equal(got, want) {
		t.Errorf("a fact after now changed the scorecard:\n%s", firstDiff(want, got))
	}
}

func TestNotApplicableLeavesTheMean(t *testing.T) {
	e := mustCompile(t, DefaultConfig())
	svc := baseService()
	with := e.Score(Input{Service: svc, Now: now})
	svc.Terraform = ptr(false)
	without := e.Score(Input{Service: svc, Now: now})
	for _, id := range []string{DimTerraformGovernance, DimInfrastructureDrift} {
		d := without.Dimension(id)
		if d.Applicable || d.Score != 0 || !strings.Contains(d.Reason, "terraform: false") {
			t.Errorf("%s: %+v", id, d)
		}
		if w := with.Dimension(id); !w.Applicable || !w.NoData || w.Score != 0 {
			t.Errorf("with terraform, %s should be applicable with no data: %+v", id, w)
		}
	}
	// Same applicable scores, smaller denominator: 7 dimensions instead of 9.
	var sum float64
	for _, d := range without.Dimensions {
		if d.Applicable {
			sum += d.Score
		}
	}
	if want := round(100*sum/7, 1); without.Score != want || without.Score < with.Score {
		t.Errorf("composite without terraform %v, want %v (with terraform %v)", without.Score, want, with.Score)
	}
	svc.NotApplicable = []string{DimObservability}
	c := e.Score(Input{Service: svc, Now: now})
	if d := c.Dimension(DimObservability); d.Applicable {
		t.Errorf("not_applicable ignored: %+v", d)
	}
}

func TestWaivers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Waivers = []Waiver{{Service: "checkout", Signal: "slo_defined", Reason: "SLOs being drafted", Author: "alice", Expires: "2026-11-30"}}
	e := mustCompile(t, cfg)
	s := signal(t, e.Score(Input{Service: baseService(), Now: now}), "slo_defined")
	if !s.Waived || s.Outcome != OutcomeWaived || s.Score != 1 || s.Waiver == nil || s.Waiver.Author != "alice" ||
		!s.Waiver.Expires.Equal(time.Date(2026, 11, 30, 23, 59, 59, 999999999, time.UTC)) || !strings.Contains(s.Reason, "SLOs being drafted") {
		t.Errorf("waived signal: %+v", s)
	}
	// Another service is not waived.
	other := baseService()
	other.Name = "search"
	if s := signal(t, e.Score(Input{Service: other, Now: now}), "slo_defined"); s.Waived {
		t.Errorf("waiver leaked to another service")
	}
	// After expiry the signal is scored again and says the waiver expired.
	s = signal(t, e.Score(Input{Service: baseService(), Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}), "slo_defined")
	if s.Waived || s.Score != 0 || !strings.Contains(s.Reason, "expired") {
		t.Errorf("expired waiver: %+v", s)
	}
}

func TestFloorsCapTheBand(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Floors = map[string]Floor{DimObservability: {Min: 0.5, Cap: BandBlocked}, DimOperationalCoordination: {Min: 0.9, Cap: BandWatch}}
	e := mustCompile(t, cfg)
	card := Scorecard{Dimensions: []DimensionScore{
		{ID: DimObservability, Applicable: true, Score: 0.75},
		{ID: DimOperationalCoordination, Applicable: true, Score: 0.8},
	}}
	band, floor := e.Band(90, "production", &card)
	if band != BandWatch || floor == nil || floor.Dimension != DimOperationalCoordination {
		t.Errorf("got %s %+v", band, floor)
	}
	card.Dimensions[0].Score = 0.25
	band, floor = e.Band(90, "production", &card)
	if band != BandBlocked || floor == nil || floor.Dimension != DimObservability || floor.Min != 0.5 {
		t.Errorf("got %s %+v", band, floor)
	}
	// A band already at or below the cap is not changed by the floor.
	if band, floor := e.Band(30, "production", &card); band != BandBlocked || floor != nil {
		t.Errorf("got %s %+v", band, floor)
	}
	// A not-applicable dimension never triggers its floor.
	card.Dimensions[0].Applicable = false
	card.Dimensions[1].Score = 1
	if band, floor := e.Band(90, "production", &card); band != BandMature || floor != nil {
		t.Errorf("got %s %+v", band, floor)
	}
	// The scorecard says which floor applied.
	full := e.Score(Input{Service: baseService(), Now: now})
	if len(full.FloorsApplied) == 0 || full.FloorsApplied[0].Dimension != DimObservability {
		t.Errorf("floors_applied = %+v", full.FloorsApplied)
	}
}

func TestBandThresholdsPerEnvironment(t *testing.T) {
	e, err := Compile(DefaultConfig(), map[string]Thresholds{"default": {50, 70, 90}, "staging": {10, 20, 30}}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		score float64
		env   string
		want  string
	}{
		{49.9, "production", BandBlocked}, {50, "production", BandWatch}, {70, "production", BandHealthy}, {90, "production", BandMature},
		{25, "staging", BandHealthy}, {30, "staging", BandMature}, {9.9, "staging", BandBlocked},
	} {
		if got, _ := e.Band(c.score, c.env, nil); got != c.want {
			t.Errorf("Band(%v, %s) = %s, want %s", c.score, c.env, got, c.want)
		}
	}
	e2 := mustCompile(t, DefaultConfig())
	if e2.Thresholds("anything") != (Thresholds{BlockBelow: 60, ApprovalBelow: 75, MatureAt: 85}) {
		t.Errorf("default thresholds not used")
	}
}

func TestLevels(t *testing.T) {
	e := goldenEngine(t)
	card := e.Score(Input{Service: checkoutService(), Facts: history(400), Now: now})
	if len(card.Levels) != 3 || card.Levels[0].Level != LevelBronze {
		t.Fatalf("levels: %+v", card.Levels)
	}
	want := LevelNone
	for _, l := range card.Levels {
		if l.Achieved {
			want = l.Level
		}
	}
	if card.Level != want {
		t.Errorf("level %s, levels say %s", card.Level, want)
	}
	// A level needs the one below it.
	cfg := DefaultConfig()
	cfg.Levels = map[string]LevelConfig{
		LevelBronze: {Rules: []LevelRule{{ID: "never", Expr: "false"}}},
		LevelSilver: {Rules: []LevelRule{{ID: "always", Expr: "true"}}},
		LevelGold:   {Rules: []LevelRule{{ID: "always", Expr: "true"}}},
	}
	e2 := mustCompile(t, cfg)
	c2 := e2.Score(Input{Service: baseService(), Now: now})
	if c2.Level != LevelNone || !c2.Levels[1].Passed || c2.Levels[1].Achieved {
		t.Errorf("level %s, levels %+v", c2.Level, c2.Levels)
	}
	cfg.Levels[LevelBronze] = LevelConfig{Rules: []LevelRule{{ID: "always", Expr: "true"}}}
	cfg.Levels[LevelGold] = LevelConfig{Rules: []LevelRule{{ID: "composite", Expr: "score >= 99.0"}}}
	if c := mustCompile(t, cfg).Score(Input{Service: baseService(), Now: now}); c.Level != LevelSilver {
		t.Errorf("level %s", c.Level)
	}
}

func TestCustomRules(t *testing.T) {
	e := goldenEngine(t)
	card := e.Score(Input{Service: checkoutService(), Facts: history(400), Now: now})
	s := signal(t, card, "canary-share")
	if !s.Custom || s.Weight != 0.5 || s.Score <= 0 || s.Score >= 1 || s.Outcome != OutcomePartial {
		t.Errorf("canary-share: %+v", s)
	}
	if len(card.Rules) != 3 || card.Rules[0].ID != "lead-time-under-a-day" || card.Rules[2].ID != "tier1-pagerduty" || !card.Rules[2].Passed {
		t.Errorf("rules: %+v", card.Rules)
	}
	silver := card.Levels[1]
	if last := silver.Rules[len(silver.Rules)-1]; last.ID != "tier1-pagerduty" || !last.Custom {
		t.Errorf("silver rules: %+v", silver.Rules)
	}
	// A runtime error fails the rule and says why.
	cfg := DefaultConfig()
	cfg.Rules = []Rule{{ID: "missing-key", Dimension: DimObservability, Expr: `signals["nope"] > 0.5`}}
	s = signal(t, mustCompile(t, cfg).Score(Input{Service: baseService(), Now: now}), "missing-key")
	if s.Outcome != OutcomeFail || !strings.Contains(s.Reason, "could not be evaluated") {
		t.Errorf("error rule: %+v", s)
	}
}

func TestCompileErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Signals = map[string]SignalConfig{
		"requried_reviewers": {Target: 2},
		"pr_approval_share":  {Target: 1.5},
		"slo_defined":        {Window: releaseops.Duration(time.Hour)},
	}
	cfg.Floors = map[string]Floor{"observability": {Min: 0.5, Cap: "red"}, "observabilty": {Min: 0.5, Cap: "watch"}}
	cfg.Levels = map[string]LevelConfig{"platinum": {}}
	cfg.Rules = []Rule{
		{ID: "ok", Dimension: "observability", Expr: "true"},
		{ID: "bad-name", Dimension: "observability", Expr: "foo > 1"},
		{ID: "not-bool", Level: "gold", Expr: "score"},
		{ID: "ok", Dimension: "nowhere", Expr: "true"},
		{ID: "both", Dimension: "observability", Level: "gold", Expr: "true"},
		{ID: "wrong-field", Dimension: "observability", Expr: "service.ownr == ''"},
	}
	cfg.Waivers = []Waiver{{Service: "checkout", Signal: "slo_defined", Reason: "r", Author: "a", Expires: "next week"}}
	_, err := Compile(cfg, map[string]Thresholds{"production": {BlockBelow: 80, ApprovalBelow: 70, MatureAt: 90}}, "")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`scoring.signals.requried_reviewers: unknown signal id "requried_reviewers" (did you mean "required_reviewers"?)`,
		`scoring.signals.pr_approval_share.target: a share is between 0 and 1, got 1.5`,
		`scoring.signals.slo_defined.window: signal slo_defined has no window`,
		`scoring.floors.observability.cap: want watch or blocked, got "red"`,
		`scoring.floors.observabilty: unknown dimension id "observabilty" (did you mean "observability"?)`,
		`scoring.levels.platinum: unknown level "platinum"`,
		`scoring.rules[1].expr: rule "bad-name": ERROR: <input>:1:1: undeclared reference to 'foo'`,
		`scoring.rules[2].expr: rule "not-bool": the expression gives double; a level rule must give a bool`,
		`scoring.rules[3].id: duplicate rule id "ok"`,
		`scoring.rules[3].dimension: rule "ok": unknown dimension id "nowhere"`,
		`scoring.rules[4]: rule "both": set exactly one of dimension or level`,
		`scoring.rules[5].expr: rule "wrong-field": ERROR: <input>:1:8: undefined field 'ownr'`,
		`scoring.waivers[0].expires: "next week" is neither an RFC 3339 time`,
		`gate.thresholds.production: want 0 ≤ block_below ≤ approval_below ≤ mature_at ≤ 100, got 80, 70, 90`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q", want)
		}
	}
	// Each problem is its own line, starting with its path.
	for _, line := range strings.Split(msg, "\n") {
		if !strings.HasPrefix(line, "scoring.") && !strings.HasPrefix(line, "gate.") {
			t.Errorf("problem without a path: %q", line)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Log(msg)
	}
}

func TestCompileDefaults(t *testing.T) {
	e, err := Compile(Config{}, nil, "https://x.example/")
	if err != nil {
		t.Fatal(err)
	}
	if e.TrendWindow() != 720*time.Hour || e.RegressionAlertPoints() != 5 || e.RescoreInterval() != time.Hour {
		t.Errorf("defaults: %v %v %v", e.TrendWindow(), e.RegressionAlertPoints(), e.RescoreInterval())
	}
	if e.Lookback() != 90*day {
		t.Errorf("lookback %v", e.Lookback())
	}
	if got := e.Playbook("observability"); got != "https://x.example/playbooks/observability" {
		t.Errorf("playbook %s", got)
	}
	cfg := DefaultConfig()
	cfg.Signals = map[string]SignalConfig{"rollback_exercised": {Window: releaseops.Duration(200 * day)}}
	if e := mustCompile(t, cfg); e.Lookback() != 200*day {
		t.Errorf("lookback %v", e.Lookback())
	}
}

func TestDORA(t *testing.T) {
	var b fb
	merged := ago_(10 * day)
	b.add(releaseops.FactPullRequest, "github", "pull_request", merged, func(f *releaseops.Fact) {
		f.PullRequest = &releaseops.PullRequest{Repo: "acme/checkout", Number: 1, MergedAt: merged}
	})
	b.deploy("1", merged.Add(2*time.Hour), time.Hour, releaseops.DeploySucceeded, nil) // lead time 3 h
	b.deploy("2", ago_(5*day), time.Hour, releaseops.DeployRolledBack, nil)
	b.deploy("3", ago_(4*day), time.Hour, releaseops.DeploySucceeded, nil)
	b.add(releaseops.FactIncident, "pagerduty", "incident.triggered", ago_(3*day), func(f *releaseops.Fact) {
		f.Incident = &releaseops.Incident{ID: "I1", EventType: "incident.triggered", Status: "triggered"}
	})
	b.add(releaseops.FactIncident, "pagerduty", "incident.resolved", ago_(3*day-90*time.Minute), func(f *releaseops.Fact) {
		f.Incident = &releaseops.Incident{ID: "I1", EventType: "incident.resolved", Status: "resolved"}
	})
	d := mustCompile(t, DefaultConfig()).Score(Input{Service: baseService(), Facts: b.facts, Now: now}).DORA
	if d.Deploys != 3 || d.SuccessfulDeploys != 2 || d.DeploysPerWeek != metric(2/(30.0/7)) || d.ChangeFailures != 1 ||
		*d.ChangeFailureRate != 0.33 || *d.LeadTimeHours != 3 || d.LeadTimeSamples != 1 || *d.MTTRHours != 1.5 || d.MTTRSamples != 1 || d.WindowDays != 30 {
		js, _ := json.Marshal(d)
		t.Errorf("dora %s", js)
	}
	empty := mustCompile(t, DefaultConfig()).Score(Input{Service: baseService(), Now: now})
	js, _ := json.Marshal(empty.DORA)
	if !strings.Contains(string(js), `"lead_time_hours":null`) || !strings.Contains(string(js), `"change_failure_rate":null`) {
		t.Errorf("empty dora %s", js)
	}
}

func TestTrend(t *testing.T) {
	h := []Point{{At: ago_(40 * day), Score: 50}, {At: ago_(30 * day), Score: 60}, {At: ago_(10 * day), Score: 70}}
	for _, c := range []struct {
		hist    []Point
		current float64
		delta   float64
		dir     string
	}{
		{h, 66.1, 6.1, TrendUp},
		{h, 61, 1, TrendFlat},
		{h, 59, -1, TrendFlat},
		{h, 58.9, -1.1, TrendDown},
		{h[2:], 72, 2, TrendUp}, // younger than the window: oldest snapshot
		{nil, 80, 0, TrendFlat},
	} {
		got := ComputeTrend(c.hist, c.current, now, 30*day)
		if got.Delta != c.delta || got.Direction != c.dir || got.WindowDays != 30 {
			t.Errorf("ComputeTrend(%v, %v) = %+v, want %v %s", c.hist, c.current, got, c.delta, c.dir)
		}
	}
}

func TestDetectRegression(t *testing.T) {
	e := goldenEngine(t)
	facts := history(400)
	prev := e.Score(Input{Service: checkoutService(), Facts: facts, Now: now})
	// Protection removed and a push lands: branch governance drops.
	var b fb
	b.n = 100000
	b.protection(now.Add(time.Hour), releaseops.BranchProtection{Deleted: true})
	b.push(now.Add(2*time.Hour), releaseops.Push{After: "x"})
	svc := checkoutService()
	svc.SLOs = nil
	cur := e.Score(Input{Service: svc, Facts: append(append([]releaseops.Fact(nil), facts...), b.facts...), Now: now.Add(3 * time.Hour)})
	reg := DetectRegression(&prev, &cur, 5)
	if reg == nil {
		t.Fatalf("no regression: %v → %v", prev.Score, cur.Score)
	}
	if reg.Drop < 5 || len(reg.Dimensions) == 0 || reg.Dimensions[0].ID != DimBranchGovernance {
		t.Fatalf("regression %+v", reg)
	}
	bg := reg.Dimensions[0]
	if len(bg.Signals) == 0 || bg.Signals[0].ID != "default_branch_protected" || bg.Playbook != "https://releaseops.example.com/playbooks/branch_governance" || bg.Signals[0].Reason == "" {
		t.Errorf("branch governance drop %+v", bg)
	}
	if DetectRegression(&prev, &prev, 5) != nil || DetectRegression(nil, &cur, 5) != nil {
		t.Error("regression without a drop")
	}
	// A fall into a lower band is a regression even when small.
	a, c := Scorecard{Score: 75.2, Band: BandHealthy}, Scorecard{Score: 74.9, Band: BandWatch}
	if r := DetectRegression(&a, &c, 5); r == nil || !r.BandFell {
		t.Errorf("band fall not detected: %+v", r)
	}
	a.Band = BandWatch
	if r := DetectRegression(&a, &c, 5); r != nil {
		t.Errorf("small drop in the same band: %+v", r)
	}
}

func BenchmarkScore10kFacts(b *testing.B) {
	e := goldenEngine(b)
	facts := history(10000)
	svc := checkoutService()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.Score(Input{Service: svc, Facts: facts, Now: now})
	}
}

func BenchmarkScore10kFactsDefaultConfig(b *testing.B) {
	e := mustCompile(b, DefaultConfig())
	facts := history(10000)
	svc := checkoutService()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.Score(Input{Service: svc, Facts: facts, Now: now})
	}
}

func TestEngineIsSafeForConcurrentUse(t *testing.T) {
	e := goldenEngine(t)
	facts := history(500)
	want := marshal(t, e.Score(Input{Service: checkoutService(), Facts: facts, Now: now}))
	done := make(chan []byte)
	for range 4 {
		go func() { done <- marshal(t, e.Score(Input{Service: checkoutService(), Facts: facts, Now: now})) }()
	}
	for range 4 {
		if got := <-done; !bytes.Equal(got, want) {
			t.Error("concurrent Score differs")
		}
	}
}
