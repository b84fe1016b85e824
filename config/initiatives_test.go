package config

import (
	"strings"
	"testing"
	"time"
)

func TestInitiativeMistakesNameTheirPath(t *testing.T) {
	const head = "services:\n  - {name: checkout, owner: payments, tier: 1}\ninitiatives:\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown signal", "  - {id: a, name: A, deadline: 2027-01-15, target: {signal: oncall_configurd}}\n",
			`initiatives[0].target.signal: unknown signal "oncall_configurd"`},
		{"unknown dimension", "  - {id: a, name: A, deadline: 2027-01-15, target: {dimension: observabilty, min: 0.8}}\n",
			`initiatives[0].target.dimension: unknown dimension "observabilty" (did you mean "observability"?)`},
		{"unknown level", "  - {id: a, name: A, deadline: 2027-01-15, target: {level: platinum}}\n",
			`initiatives[0].target.level: unknown level "platinum"`},
		{"unknown key", "  - {id: a, name: A, deadline: 2027-01-15, target: {level: gold}, deadlin: x}\n",
			`initiatives[0].deadlin: unknown key (did you mean "deadline"?)`},
		{"bad deadline", "  - {id: a, name: A, deadline: next week, target: {level: gold}}\n",
			`initiatives[0].deadline: want a date YYYY-MM-DD, got "next week"`},
		{"bad reminder", "  - {id: a, name: A, deadline: 2027-01-15, target: {level: gold}, reminders: {days_before: [0]}}\n",
			`initiatives[0].reminders.days_before[0]: want a number of days from 1 to 365, got 0`},
		{"duplicate id", "  - {id: a, name: A, deadline: 2027-01-15, target: {level: gold}}\n  - {id: a, name: B, deadline: 2027-01-15, target: {level: gold}}\n",
			`initiatives[1].id: "a" is already initiatives[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(problems(t, head+tc.yaml), "\n")
			if !strings.Contains(got, tc.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
}

// A deadline already past and a filter that matches nothing load, with a warning each.
func TestInitiativeWarnings(t *testing.T) {
	cfg, err := Parse([]byte(`services:
  - {name: checkout, owner: payments, tier: 1}
initiatives:
  - {id: late, name: Late, deadline: 2026-11-30, target: {level: bronze}}
  - {id: nobody, name: Nobody, deadline: 2027-01-15, target: {level: bronze}, filter: {owner: search}}
  - {id: fine, name: Fine, deadline: 2027-01-15, target: {signal: default_branch_protected}, filter: {tier: 1}}
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	got := cfg.InitiativeWarnings(now, cfg.Services)
	want := []string{
		"initiatives[0].deadline: 2026-11-30 has already passed (today is 2026-12-02, UTC); the initiative is shown as overdue",
		"initiatives[1].filter: matches none of the 1 catalogued services; the initiative covers nothing until one matches",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ins := cfg.ConfiguredInitiatives(); len(ins) != 3 || ins[0].Source != "config" || !ins[0].Overdue(now) {
		t.Errorf("configured initiatives = %+v", ins)
	}
}
