package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/storage"
)

// TestDigestsCarryInitiativesAndSlackExemptions: the team digest names an initiative due
// within its horizon with the team's services still short of it, and an exemption approved in
// Slack that lapses soon; the organisation digest carries the initiative's progress.
func TestDigestsCarryInitiativesAndSlackExemptions(t *testing.T) {
	slack := newDigestSlack(t)
	cfg := digestConfig(slack, filepath.Join(t.TempDir(), "releaseops.db"))
	cfg.Initiatives = []initiative.Spec{{
		ID: "protect-main", Name: "Protect main before the freeze",
		Filter: initiative.Filter{Owner: "team-payments"}, Target: initiative.Target{Signal: "default_branch_protected"},
		Deadline: "2026-12-10",
	}}
	clock := &testClock{}
	clock.Set(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	a := openDigestApp(t, cfg, clock)
	defer a.Shutdown(context.Background())
	seedWeek(t, a, clock)

	decided := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	err := a.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
		if _, err := storage.InsertExemption(tx, storage.ExemptionRow{ID: "ex-1", Service: "ledger", Signal: "runbook_fresh", Days: 7,
			Reason: "runbook rewrite in review", RequestedBy: "U0REQ", OriginKey: "test:ex-1", Channel: "C0APPROVE", State: "pending", CreatedAt: decided.Add(-time.Hour)}); err != nil {
			return err
		}
		_, err := storage.DecideExemption(tx, "ex-1", "approved", "U0BOSS", decided, decided.AddDate(0, 0, 7))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	clock.Set(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	runDigests(t, a)
	var team, org string
	for _, p := range slack.taken() {
		switch p.Channel {
		case "C0PAY":
			team = p.Blocks
		case "C0ORG":
			org = p.Blocks
		}
	}
	if team == "" || org == "" {
		t.Fatalf("want the team-payments and organisation digests; team %q org %q", team, org)
	}
	for _, want := range []string{"Protect main before the freeze", "runbook_fresh", "runbook rewrite in review"} {
		if !strings.Contains(team, want) {
			t.Errorf("team digest lacks %q:\n%s", want, team)
		}
	}
	if !strings.Contains(org, "Protect main before the freeze") {
		t.Errorf("organisation digest lacks the initiative's progress:\n%s", org)
	}
}
