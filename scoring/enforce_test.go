package scoring

import (
	"strings"
	"testing"
	"time"
)

// enforceConfig has every level pass, so a pending level rule that fails shows whether it
// counts; withPending adds rules that fail, with enforce_from 2027-01-15.
func enforceConfig(withPending bool) Config {
	cfg := DefaultConfig()
	always := []LevelRule{{ID: "always", Expr: "true"}}
	cfg.Levels = map[string]LevelConfig{LevelBronze: {Rules: always}, LevelSilver: {Rules: always}, LevelGold: {Rules: always}}
	if withPending {
		cfg.Levels[LevelBronze] = LevelConfig{Rules: append(always, LevelRule{ID: "slo-reviewed", Description: "the SLO was reviewed this quarter",
			Expr: "false", EnforceFrom: "2027-01-15"})}
		cfg.Rules = []Rule{
			{ID: "error-budget", Description: "an error budget policy is linked", Dimension: DimObservability, Expr: "false", EnforceFrom: "2027-01-15"},
			{ID: "tier-declared", Level: LevelSilver, Expr: "service.tier > 0", EnforceFrom: "2027-01-15T06:00:00Z"},
		}
	}
	return cfg
}

func TestEnforceFromBeforeAndAfterTheDate(t *testing.T) {
	base, pending := mustCompile(t, enforceConfig(false)), mustCompile(t, enforceConfig(true))
	svc := checkoutService()
	svc.Tier = 0 // fails tier-declared
	score := func(e *Engine, at time.Time) Scorecard {
		return e.Score(Input{Service: svc, Facts: history(400), Now: at})
	}

	before := time.Date(2027, 1, 14, 23, 59, 59, 0, time.UTC)
	want, got := score(base, before), score(pending, before)
	if got.Score != want.Score || got.Level != LevelGold || got.Band != want.Band || got.Dimension(DimObservability).Score != want.Dimension(DimObservability).Score {
		t.Fatalf("before the date the pending rules counted: score %v level %s, want %v %s", got.Score, got.Level, want.Score, want.Level)
	}
	s := signal(t, got, "error-budget")
	if s.Outcome != OutcomeUpcoming || !strings.HasPrefix(s.Reason, "fails from 2027-01-15: custom rule error-budget does not hold: an error budget policy is linked") {
		t.Errorf("pending dimension rule: %+v", s)
	}
	up := got.Upcoming()
	if len(up) != 3 || up[0] != "fails from 2027-01-15: the SLO was reviewed this quarter (level bronze)" ||
		up[1] != "fails from 2027-01-15 06:00 UTC: tier-declared (level silver)" || !strings.HasPrefix(up[2], "fails from 2027-01-15: an error budget policy is linked") {
		t.Errorf("upcoming %q", up)
	}
	if r := got.Levels[0].Rules[1]; r.EnforceFrom == nil || r.Passed || !got.Levels[0].Passed {
		t.Errorf("pending bronze rule %+v, bronze passed %v", r, got.Levels[0].Passed)
	}

	// From the date (the engine's clock, UTC) the rules count.
	at := time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
	want, got = score(base, at), score(pending, at)
	if got.Level != LevelNone || got.Dimension(DimObservability).Score >= want.Dimension(DimObservability).Score || got.Score >= want.Score {
		t.Fatalf("from the date the rules did not count: level %s, observability %v (without the rule %v), score %v (%v)",
			got.Level, got.Dimension(DimObservability).Score, want.Dimension(DimObservability).Score, got.Score, want.Score)
	}
	if s := signal(t, got, "error-budget"); s.Outcome != OutcomeFail || strings.Contains(s.Reason, "fails from") {
		t.Errorf("enforced dimension rule: %+v", s)
	}
	// tier-declared counts from 06:00: at midnight it is still pending, silver still passes.
	if up := got.Upcoming(); len(up) != 1 || !strings.Contains(up[0], "tier-declared") || !got.Levels[1].Passed {
		t.Errorf("at midnight: upcoming %q, silver passed %v", up, got.Levels[1].Passed)
	}
	if got := score(pending, at.Add(6*time.Hour)); len(got.Upcoming()) != 0 || got.Levels[1].Passed {
		t.Errorf("at 06:00: upcoming %q, silver passed %v", got.Upcoming(), got.Levels[1].Passed)
	}
	// The card says when a passing pending rule will count, without listing it as upcoming.
	svc.Tier = 1
	if c := score(pending, before); c.Rules[1].EnforceFrom == nil || !c.Rules[1].Passed || !strings.HasPrefix(c.Rules[1].Upcoming, "counts from 2027-01-15 06:00 UTC (holds now)") {
		t.Errorf("passing pending rule %+v", c.Rules[1])
	}
}

func TestEnforceFromBadDatesNameTheirPath(t *testing.T) {
	cfg := enforceConfig(true)
	cfg.Rules[0].EnforceFrom = "2027-13-01"
	cfg.Rules[1].EnforceFrom = "next quarter"
	cfg.Levels[LevelBronze].Rules[1].EnforceFrom = "15/01/2027"
	_, err := Compile(cfg, nil, "")
	if err == nil {
		t.Fatal("bad enforce_from dates compiled")
	}
	var lines []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		lines = append(lines, e.Error())
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		`scoring.rules[0].enforce_from: rule "error-budget": want a date such as 2027-01-15`,
		`got "2027-13-01"`,
		`scoring.rules[1].enforce_from: rule "tier-declared": want a date`,
		`scoring.levels.bronze.rules[1].enforce_from: rule "slo-reviewed": want a date`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems %q lack %q", lines, want)
		}
	}
}
