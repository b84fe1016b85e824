package bot

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/initiative"
)

func testNudge() Nudge {
	return Nudge{Initiative: "protect-main", Name: "Protect main <!channel>", Target: "Default branch protected (default_branch_protected) passing",
		Deadline: "2027-01-15", DaysLeft: 7, Owner: "team-<@U0MALLORY>", DaysBefore: 7, Done: 1, Total: 3,
		Remaining: []initiative.Status{
			{Service: "checkout", Owner: "team-payments", State: initiative.StateTodo, Steps: []initiative.Step{{What: "default_branch_protected",
				Name: "Default branch protected", Detail: "main is not protected: add a rule <https://evil.example|here> (fail)", Playbook: testPublicURL + "/playbooks/branch_governance"}}},
			{Service: "ledger", State: initiative.StateUnscored, Steps: []initiative.Step{{What: "score", Name: "Not scored yet", Detail: "no event about the service has arrived"}}},
		}}
}

func TestGoldenNudges(t *testing.T) {
	weekly := testNudge()
	weekly.DaysBefore, weekly.DaysLeft = 0, 44
	overdue := testNudge()
	overdue.DaysBefore, overdue.Overdue, overdue.DaysLeft, overdue.Owner = 0, true, -3, ""
	many := testNudge()
	for i := range 60 {
		many.Remaining = append(many.Remaining, initiative.Status{Service: "svc-" + strings.Repeat("x", i%5), Steps: many.Remaining[0].Steps})
	}
	for name, n := range map[string]Nudge{"nudge_days_before": testNudge(), "nudge_weekly": weekly, "nudge_overdue": overdue, "nudge_many": many} {
		t.Run(name, func(t *testing.T) {
			m := NudgeMessage(n, testPublicURL)
			if err := m.Validate(); err != nil {
				t.Fatalf("over Slack's limits: %v", err)
			}
			got, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			assertNoInjection(t, got)
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./bot -run TestGoldenNudges -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; run go test ./bot -run TestGoldenNudges -update and review the diff\n%s", name, got)
			}
		})
	}
}
