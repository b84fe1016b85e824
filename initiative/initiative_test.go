package initiative

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/scoring"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const day = 24 * time.Hour

// t0 is the fixed clock of the tests: a Wednesday.
var t0 = time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func compile(t *testing.T, s Spec) *Initiative {
	t.Helper()
	in, ps := Compile(s, KnownFrom(scoring.DefaultConfig()))
	if len(ps) > 0 {
		t.Fatalf("compile %s: %v", s.ID, ps)
	}
	return in
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./initiative -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s; run go test ./initiative -update and review the diff\n--- want\n%s\n--- got\n%s", name, path, want, got)
	}
}

func TestCompileRefusesBadInput(t *testing.T) {
	good := Spec{ID: "protect-main", Name: "Protect main", Target: Target{Signal: "default_branch_protected"}, Deadline: "2027-01-15"}
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"unknown signal", func(s *Spec) { s.Target.Signal = "default_branch_protectd" }, `target.signal: unknown signal "default_branch_protectd" (did you mean "default_branch_protected"?)`},
		{"unknown dimension", func(s *Spec) { s.Target = Target{Dimension: "observabilty", Min: 0.8} }, `target.dimension: unknown dimension "observabilty" (did you mean "observability"?)`},
		{"dimension without min", func(s *Spec) { s.Target = Target{Dimension: "observability"} }, `target.min: the dimension score to reach, in (0, 1]`},
		{"min as a percentage", func(s *Spec) { s.Target = Target{Dimension: "observability", Min: 80} }, `target.min: the dimension score to reach, in (0, 1] as floors are written (0.8 for 80%), got 80`},
		{"min alone", func(s *Spec) { s.Target.Min = 0.5 }, `target.min: only meaningful with target.dimension`},
		{"unknown level", func(s *Spec) { s.Target = Target{Level: "platinum"} }, `target.level: unknown level "platinum"; levels are bronze, silver and gold`},
		{"no target", func(s *Spec) { s.Target = Target{} }, `target: required: one of signal, dimension (with min) or level`},
		{"two targets", func(s *Spec) { s.Target.Level = "gold" }, `target: name one of signal, dimension or level, not several`},
		{"no deadline", func(s *Spec) { s.Deadline = "" }, `deadline: required`},
		{"bad deadline", func(s *Spec) { s.Deadline = "15/01/2027" }, `deadline: want a date YYYY-MM-DD, got "15/01/2027"`},
		{"start after deadline", func(s *Spec) { s.Start = "2027-02-01" }, `start: must be before the deadline 2027-01-15, got 2027-02-01`},
		{"bad id", func(s *Spec) { s.ID = "Protect Main" }, `id: want lower-case letters`},
		{"no name", func(s *Spec) { s.Name = " " }, `name: required`},
		{"control character in name", func(s *Spec) { s.Name = "a\x1bb" }, `name: at most 200 characters and no control characters`},
		{"bad tier", func(s *Spec) { s.Filter.Tier = ptr(9) }, `filter.tier: must be between 0 and 5, got 9`},
		{"empty service", func(s *Spec) { s.Filter.Services = []string{"a", ""} }, `filter.services[1]: empty service name`},
		{"bad weekday", func(s *Spec) { s.Reminders.Weekday = "mondy" }, `reminders.weekday: want a day of the week`},
		{"bad hour", func(s *Spec) { s.Reminders.Hour = ptr(24) }, `reminders.hour: want an hour of the day, 0 to 23 (UTC), got 24`},
		{"bad days_before", func(s *Spec) { s.Reminders.DaysBefore = []int{7, 0} }, `reminders.days_before[1]: want a number of days from 1 to 365, got 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.edit(&s)
			in, ps := Compile(s, KnownFrom(scoring.DefaultConfig()))
			if in != nil || len(ps) == 0 {
				t.Fatalf("compiled, want the problem %q", tc.want)
			}
			var lines []string
			for _, p := range ps {
				lines = append(lines, p.String())
			}
			if !strings.Contains(strings.Join(lines, "\n"), tc.want) {
				t.Errorf("problems %q, want one containing %q", lines, tc.want)
			}
		})
	}
	if _, ps := Compile(good, KnownFrom(scoring.DefaultConfig())); len(ps) > 0 {
		t.Fatalf("the good spec: %v", ps)
	}
	// A custom dimension rule is a signal a target may name.
	cfg := scoring.DefaultConfig()
	cfg.Rules = []scoring.Rule{{ID: "has_slo_doc", Expr: "true", Dimension: "observability"}}
	s := good
	s.Target.Signal = "has_slo_doc"
	if _, ps := Compile(s, KnownFrom(cfg)); len(ps) > 0 {
		t.Errorf("custom rule as target: %v", ps)
	}
}

func TestPastDeadline(t *testing.T) {
	in := compile(t, Spec{ID: "x", Name: "X", Target: Target{Level: "bronze"}, Deadline: "2026-12-01"})
	p := PastDeadline(in, t0)
	if p == nil || p.String() != "deadline: 2026-12-01 has already passed (today is 2026-12-02, UTC)" {
		t.Fatalf("past deadline = %v", p)
	}
	// The deadline day itself is not past: the work is due by its end.
	in = compile(t, Spec{ID: "x", Name: "X", Target: Target{Level: "bronze"}, Deadline: "2026-12-02"})
	if p := PastDeadline(in, t0); p != nil || in.Overdue(t0) || DaysLeft(in.Due, t0) != 1 {
		t.Fatalf("deadline today: %v overdue=%v days left %d", p, in.Overdue(t0), DaysLeft(in.Due, t0))
	}
}

func TestScheduleDefaults(t *testing.T) {
	// Deadline Friday 2027-01-15; weekly on Mondays at 09:00 UTC, and 7 and 1 days before.
	in := compile(t, Spec{ID: "x", Name: "X", Target: Target{Level: "bronze"}, Deadline: "2027-01-15"})
	var got []string
	for _, s := range in.Slots(t0, in.Due.Add(30*day)) {
		got = append(got, s.At.Format("Mon 2006-01-02 15:04")+" "+string(rune('0'+s.DaysBefore)))
	}
	want := []string{"Mon 2026-12-07 09:00 0", "Mon 2026-12-14 09:00 0", "Mon 2026-12-21 09:00 0", "Mon 2026-12-28 09:00 0",
		"Mon 2027-01-04 09:00 0", "Fri 2027-01-08 09:00 7", "Mon 2027-01-11 09:00 0", "Thu 2027-01-14 09:00 1"}
	if !slices.Equal(got, want) {
		t.Errorf("slots\n got %q\nwant %q", got, want)
	}
	// Configured: no weekly, 3 days before at 14:00; a days_before moment on the weekly day is one slot.
	in = compile(t, Spec{ID: "x", Name: "X", Target: Target{Level: "bronze"}, Deadline: "2027-01-15",
		Reminders: Reminders{Weekly: ptr(false), Hour: ptr(14), DaysBefore: []int{3}}})
	if s := in.Slots(t0, in.Due); len(s) != 1 || s[0].At != time.Date(2027, 1, 12, 14, 0, 0, 0, time.UTC) || s[0].DaysBefore != 3 {
		t.Errorf("configured slots = %+v", s)
	}
	in = compile(t, Spec{ID: "x", Name: "X", Target: Target{Level: "bronze"}, Deadline: "2027-01-18", Reminders: Reminders{DaysBefore: []int{7}}})
	s := in.Slots(time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC), in.DeadlineDay())
	if len(s) != 1 || s[0].At != time.Date(2027, 1, 11, 9, 0, 0, 0, time.UTC) || s[0].DaysBefore != 7 {
		t.Errorf("coinciding slots = %+v", s)
	}
	// Nothing before creation; DueSlot takes the latest within the grace only.
	in = compile(t, Spec{ID: "x", Name: "X", Target: Target{Level: "bronze"}, Deadline: "2027-01-15"})
	in.CreatedAt = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	if s := in.Slots(t0, time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)); len(s) != 0 {
		t.Errorf("a slot before creation: %+v", s)
	}
	if s, ok := in.DueSlot(time.Date(2026, 12, 14, 9, 30, 0, 0, time.UTC), 12*time.Hour); !ok || s.Key() != "20261214T0900Z" {
		t.Errorf("due slot = %+v %v", s, ok)
	}
	if _, ok := in.DueSlot(time.Date(2026, 12, 15, 9, 30, 0, 0, time.UTC), 12*time.Hour); ok {
		t.Error("a slot a day old is still due")
	}
}

// history is four services' branch protection over twelve days, as webhooks delivered it.
func history() ([]releaseops.Service, map[string][]releaseops.Fact) {
	start := t0.Add(-12 * day).Truncate(day)
	services := []releaseops.Service{
		{Name: "alpha", Repo: "acme/alpha", Owner: "payments", Tier: 1},
		{Name: "beta", Repo: "acme/beta", Owner: "payments", Tier: 1},
		{Name: "gamma", Repo: "acme/gamma", Owner: "search", Tier: 1},
		{Name: "delta", Repo: "acme/delta", Owner: "search", Tier: 2}, // left out by tier
	}
	facts := map[string][]releaseops.Fact{}
	protect := func(svc, repo string, at time.Time, deleted bool) {
		action := "created"
		if deleted {
			action = "deleted"
		}
		facts[svc] = append(facts[svc], releaseops.Fact{Kind: releaseops.FactBranchProtection, At: at, Service: svc,
			Subject:  releaseops.Subject{Kind: releaseops.SubjectRepo, Key: repo},
			Evidence: releaseops.Evidence{Source: releaseops.SourceGitHub, Event: "branch_protection_rule", Delivery: svc + at.Format("0102"), At: at},
			BranchProtection: &releaseops.BranchProtection{Repo: repo, Pattern: "main", Action: action, Deleted: deleted,
				RequiredApprovingReviews: 1}})
	}
	protect("alpha", "acme/alpha", start.Add(2*day+10*time.Hour), false)
	protect("beta", "acme/beta", start.Add(1*day), true) // a rule removed: known, unprotected
	protect("beta", "acme/beta", start.Add(6*day+15*time.Hour), false)
	protect("gamma", "acme/gamma", start.Add(4*day), false)
	protect("gamma", "acme/gamma", start.Add(9*day), true) // protection removed again
	protect("delta", "acme/delta", start.Add(3*day), false)
	return services, facts
}

// The burn-up of an initiative is replayed from the stored history, day by day, through the
// real engine: each point is what the services' cards said at the end of that day.
func TestBurnUpFromReplayedHistory(t *testing.T) {
	e, err := scoring.Compile(scoring.DefaultConfig(), nil, "https://ro.example")
	if err != nil {
		t.Fatal(err)
	}
	services, facts := history()
	in := compile(t, Spec{ID: "protect-main", Name: "Protect main everywhere", Filter: Filter{Tier: ptr(1)},
		Target: Target{Signal: "default_branch_protected"}, Deadline: "2026-12-20", Start: t0.Add(-12 * day).Format("2006-01-02")})
	at := in.BurnUpDays(t0)
	if len(at) != 13 || at[len(at)-1] != t0 {
		t.Fatalf("days = %v", at)
	}
	cards := map[string][]*scoring.Scorecard{}
	for _, svc := range services {
		cards[svc.Name] = Replay(e, svc, facts[svc.Name], nil, at)
	}
	points := in.BurnUp(services, at, cards)
	golden(t, "burnup_signal", points)

	// The latest replayed cards give today's progress, per team, with the playbook to follow.
	latest := func(name string) *scoring.Scorecard { return cards[name][len(at)-1] }
	rep := in.Progress(services, latest, t0)
	if rep.Done != points[len(points)-1].Done || rep.Total != points[len(points)-1].Total {
		t.Errorf("progress %d/%d differs from the burn-up's last point %+v", rep.Done, rep.Total, points[len(points)-1])
	}
	golden(t, "progress_signal", rep)

	dim := compile(t, Spec{ID: "governance", Name: "Branch governance at 50%", Target: Target{Dimension: scoring.DimBranchGovernance, Min: 0.5},
		Deadline: "2026-12-20", Start: t0.Add(-12 * day).Format("2006-01-02")})
	golden(t, "burnup_dimension", dim.BurnUp(services, at, cards))
}

func TestEvaluateLevelAndUnscored(t *testing.T) {
	in := compile(t, Spec{ID: "silver", Name: "Silver", Target: Target{Level: "silver"}, Deadline: "2027-01-15"})
	card := &scoring.Scorecard{Level: "bronze", Dimensions: []scoring.DimensionScore{
		{ID: "observability", Name: "Observability", Score: 0.5, Applicable: true, Playbook: "https://ro/playbooks/observability"}},
		Levels: []scoring.LevelResult{
			{Level: "bronze", Passed: true, Achieved: true, Rules: []scoring.RuleResult{{ID: "owner", Passed: true}}},
			{Level: "silver", Rules: []scoring.RuleResult{{ID: "observability", Description: "observability at least 0.75", Expr: "dimensions.observability >= 0.75"}}},
			{Level: "gold", Rules: []scoring.RuleResult{{ID: "composite", Expr: "score >= 85.0"}}},
		}}
	state, steps := in.Evaluate(card)
	if state != StateTodo || len(steps) != 1 || steps[0].What != "silver.observability" || steps[0].Playbook != "https://ro/playbooks/observability" {
		t.Errorf("level = %s %+v", state, steps)
	}
	card.Level = "gold"
	if state, _ := in.Evaluate(card); state != StateDone {
		t.Errorf("gold meets silver: %s", state)
	}
	if state, steps := in.Evaluate(nil); state != StateUnscored || len(steps) != 1 {
		t.Errorf("unscored = %s %+v", state, steps)
	}
}

func TestDueForAndOrgProgress(t *testing.T) {
	services, _ := history()
	card := func(done bool) *scoring.Scorecard {
		o := scoring.OutcomeFail
		if done {
			o = scoring.OutcomePass
		}
		return &scoring.Scorecard{Dimensions: []scoring.DimensionScore{{ID: scoring.DimBranchGovernance, Applicable: true, Playbook: "pb",
			Signals: []scoring.SignalResult{{ID: "default_branch_protected", Name: "Default branch protected", Outcome: o, Reason: "main is not protected"}}}}}
	}
	cards := map[string]*scoring.Scorecard{"alpha": card(true), "beta": card(true), "gamma": card(false), "delta": card(false)}
	a := compile(t, Spec{ID: "a", Name: "A", Target: Target{Signal: "default_branch_protected"}, Deadline: "2026-12-10"})
	b := compile(t, Spec{ID: "b", Name: "B", Filter: Filter{Owner: "search"}, Target: Target{Signal: "default_branch_protected"}, Deadline: "2026-12-05"})
	c := compile(t, Spec{ID: "c", Name: "C", Target: Target{Signal: "default_branch_protected"}, Deadline: "2027-03-01"})
	var reports []Report
	for _, in := range []*Initiative{a, b, c} {
		reports = append(reports, in.Progress(services, func(n string) *scoring.Scorecard { return cards[n] }, t0))
	}
	from, to := t0.Truncate(day), t0.Truncate(day).Add(14*day)
	pay := DueFor(reports, "payments", from, to)
	if len(pay) != 1 || pay[0].ID != "a" || len(pay[0].Team.Remaining) != 0 || pay[0].Team.Done != 2 {
		t.Errorf("payments due = %+v", pay)
	}
	search := DueFor(reports, "search", from, to)
	if len(search) != 2 || search[0].ID != "b" || search[1].ID != "a" || len(search[0].Team.Remaining) != 2 {
		t.Errorf("search due = %+v", search)
	}
	if got := DueFor(reports, "nobody", from, to); len(got) != 0 {
		t.Errorf("an owner with no service: %+v", got)
	}
	org := OrgProgress(reports)
	if len(org) != 3 || org[0].ID != "b" || org[0].Percent != 0 || org[1].Percent != 50 || org[1].TeamsLeft != 1 {
		t.Errorf("org = %+v", org)
	}
}
