package scoring

import (
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

// FuzzCompileRule compiles arbitrary CEL expressions as a custom dimension rule and as a
// level rule. Compile must not panic: it accepts the rule or returns an error. An accepted
// rule must then score a service without panicking, on no facts and on a few.
func FuzzCompileRule(f *testing.F) {
	for _, s := range []string{
		"service.tier != 1 || size(service.approvers) >= 2",
		"score >= 85.0",
		"dora.deploys > 0 && dora.change_failure_rate <= 0.15",
		"true",
		"1 / 0 == 1",
		"size(service.name) > 3 && service.name.startsWith('a')",
		"[1, 2, 3].all(x, x > 0)",
		"service.nonexistent == 1",
		"'a' + 1",
		"score",
		"))((",
		"",
		"\x00",
	} {
		f.Add(s)
	}
	thresholds := map[string]Thresholds{"default": {BlockBelow: 60, ApprovalBelow: 75, MatureAt: 85}}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	facts := []releaseops.Fact{{
		Kind: releaseops.FactDeploy, Service: "svc", At: now.Add(-time.Hour),
		Deploy: &releaseops.Deploy{Environment: "production", Status: releaseops.DeploySucceeded, Kind: releaseops.KindDeploy, Strategy: "canary", Phases: 3},
	}}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, rule := range []Rule{
			{ID: "fuzz_dimension", Description: "fuzz", Expr: expr, Dimension: "observability"},
			{ID: "fuzz_level", Description: "fuzz", Expr: expr, Level: "gold"},
		} {
			cfg := DefaultConfig()
			cfg.Rules = []Rule{rule}
			e, err := Compile(cfg, thresholds, "https://releaseops.example.com")
			if err != nil {
				continue
			}
			svc := releaseops.Service{Name: "svc", Tier: 1, Approvers: []string{"U1"}}
			_ = e.Score(Input{Service: svc, Now: now})
			_ = e.Score(Input{Service: svc, Facts: facts, Now: now})
		}
	})
}
