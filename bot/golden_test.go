package bot

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/scoring"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const testPublicURL = "https://releaseops.example.com"

var at = time.Date(2026, 11, 20, 10, 12, 1, 0, time.UTC)

// testCard is a hand-built scorecard (stable whatever the scoring rules become), with the
// hostile strings a catalog or an event could carry in its reasons.
func testCard() *scoring.Scorecard {
	card := &scoring.Scorecard{Service: "checkout", Score: 72.4, Band: "watch", Level: "silver",
		Trend: scoring.Trend{WindowDays: 30, Delta: 6.1, Direction: "up"}, UpdatedAt: at}
	scores := []float64{0.8, 0.4, 1, 0.65, 0.5, 0.9, 0, 1, 0.75}
	for i, d := range scoring.Dimensions {
		ds := scoring.DimensionScore{ID: d.ID, Name: d.Name, Score: scores[i], Applicable: true,
			Playbook: testPublicURL + "/playbooks/" + d.ID}
		switch d.ID {
		case scoring.DimTerraformGovernance:
			ds.Applicable, ds.Score, ds.Reason = false, 0, "not applicable: the catalog says terraform: false"
		case scoring.DimInfrastructureDrift:
			ds.Score, ds.NoData = 0, true
		}
		card.Dimensions = append(card.Dimensions, ds)
	}
	ev := []releaseops.Evidence{{Source: "github", Event: "branch_protection_rule", Delivery: "72d3f0a0-1", At: at.Add(-26 * time.Hour)}}
	// An API read that disagrees with an older webhook: both are shown.
	read := []releaseops.Evidence{{Source: "github", Event: releaseops.EventSync, Delivery: "sync-acme-checkout-0007", At: at.Add(-2 * time.Hour),
		Path: "/repos/acme/checkout/rules/branches/main"}, ev[0]}
	card.Sync = []releaseops.SyncCoverage{
		{Source: "github", Subject: "acme/checkout", LastAttempt: at.Add(-10 * time.Minute), LastSuccess: at.Add(-98 * time.Hour), Failures: 12,
			Error: "401 bad credentials <!channel>: the token was revoked or the App uninstalled"},
		{Source: "github", Subject: "acme/checkout-infra", LastAttempt: at.Add(-10 * time.Minute), LastSuccess: at.Add(-10 * time.Minute)},
	}
	card.Dimension(scoring.DimBranchGovernance).Signals = []scoring.SignalResult{
		{ID: "default_branch_protected", Name: "Default branch protected", Score: 1, Weight: 1, Value: true, Outcome: scoring.OutcomePass, Reason: "main is protected", Evidence: ev},
		{ID: "required_reviewers", Name: "Required reviewers", Score: 0.5, Weight: 1, Outcome: scoring.OutcomePartial, Reason: "main requires 1 review (read from the GitHub API at 2026-11-20 08:12 UTC); policy wants 2 <!channel>", Evidence: read},
		{ID: "signed_commits", Name: "Signed commits", Score: 0, Weight: 0.5, Outcome: scoring.OutcomeWaived, Waived: true, Reason: "waived",
			Waiver: &scoring.WaiverInfo{Reason: "HSM rollout <@U0MALLORY>", Author: "platform-team", Expires: at.Add(30 * 24 * time.Hour)}},
	}
	card.Dimension(scoring.DimRollbackReadiness).Signals = []scoring.SignalResult{
		{ID: "rollback_recent", Name: "Recent rollback or rehearsal", Score: 0, Weight: 1, Outcome: scoring.OutcomeFail, Reason: "no rollback or rehearsal in 90 d"},
		{ID: "rto_measured", Name: "Measured RTO", Score: 0.8, Weight: 1, Outcome: scoring.OutcomePartial, Reason: "RTO 360 s against a 300 s target"},
	}
	card.Dimension(scoring.DimInfrastructureDrift).Signals = []scoring.SignalResult{
		{ID: "drift_triaged", Name: "Drift triaged in time", Score: 0, Weight: 1, Outcome: scoring.OutcomeNoData, Reason: "no health assessment received <https://evil.example|click>"},
	}
	card.Dimension(scoring.DimOperationalCoordination).Signals = []scoring.SignalResult{
		{ID: "runbook_fresh", Name: "Runbook updated", Score: 0.5, Weight: 1, Outcome: scoring.OutcomePartial, Reason: "runbook last updated 45 d ago & needs review"},
	}
	return card
}

func testNotes() *ReleaseNotes {
	return &ReleaseNotes{Service: "checkout", Environment: "production", DeployID: "deploy-8842-finished", Version: "v1.42.0",
		CommitSHA: "9f2c1ab0000000000000000000000000000000aa", PreviousSHA: "41ab0c20000000000000000000000000000000bb", Repo: "acme/checkout",
		Actor: "alice <!here>", RunURL: "https://ci.example.com/runs/8842", FinishedAt: at,
		Before: ScoreBand{Score: 76.5, Band: "healthy", Known: true}, After: ScoreBand{Score: 72.4, Band: "watch", Known: true},
		CompareURL: "https://github.com/acme/checkout/compare/41ab0c2...9f2c1ab",
		Changes: &Changes{TotalCommits: 5, Examined: 5,
			PullRequests: []PullRequestNote{
				{Number: 101, Title: "feat(cart): one-click reorder", Author: "bob", URL: "https://github.com/acme/checkout/pull/101"},
				{Number: 102, Title: "Handle <!channel> in coupon codes", Author: "carol", URL: "https://github.com/acme/checkout/pull/102", Labels: []string{"bug"}},
				{Number: 103, Title: "Bump deps & tidy", Author: "dependabot[bot]", URL: "https://github.com/acme/checkout/pull/103", Labels: []string{"dependencies"}},
			},
			Commits: []CommitNote{
				{SHA: "c0ffee0000000000000000000000000000000001", Message: "fix: retry <https://evil.example|payments> timeout\n\nlong body", Author: "dave", URL: "https://github.com/acme/checkout/commit/c0ffee"},
				{SHA: "c0ffee0000000000000000000000000000000002", Message: "docs: README", Author: "erin"},
			}},
	}
}

func testRegression() *scoring.Regression {
	return &scoring.Regression{Service: "checkout", From: 81.5, To: 72.4, Drop: 9.1, FromBand: "healthy", ToBand: "watch", BandFell: true, At: at,
		Dimensions: []scoring.DimensionDrop{
			{ID: "rollback_readiness", Name: "Rollback readiness", From: 0.9, To: 0.4, Playbook: testPublicURL + "/playbooks/rollback_readiness",
				Signals: []scoring.SignalDrop{{ID: "rollback_recent", Name: "Recent rollback or rehearsal", From: 1, To: 0, Reason: "last rehearsal 91 d ago <!channel>"}}},
		}}
}

func testApproval() ApprovalRequest {
	score := 68.2
	return ApprovalRequest{ID: "apr_01HX", Service: "checkout", Environment: "production", Version: "v1.42.0", CommitSHA: "9f2c1ab00",
		RequestedBy: "ci-bot <!channel>", Score: &score, Band: "watch", ChangeURL: "https://ci.example.com/runs/8842",
		Reasons:   []Reason{{Text: "score 68.2 is in the watch band (60–75) for production"}, {Text: "Rollback readiness 40%", Playbook: testPublicURL + "/playbooks/rollback_readiness"}},
		Approvers: []string{"U0ALICE", "U0BOB"}, ExpiresAt: at.Add(30 * time.Minute)}
}

func TestGoldenMessages(t *testing.T) {
	card := testCard()
	longNotes := testNotes()
	for i := range 300 {
		longNotes.Changes.PullRequests = append(longNotes.Changes.PullRequests, PullRequestNote{Number: 200 + i,
			Title: "chore: a change with a reasonably long title to fill the section " + strings.Repeat("x", i%7), Author: "bot", URL: "https://github.com/acme/checkout/pull/1"})
	}
	longNotes.Changes.TotalCommits, longNotes.Changes.Examined = 420, 100
	unavailable := testNotes()
	unavailable.Changes, unavailable.Unavailable = nil, "GitHub could not be reached"
	redeploy := testNotes()
	redeploy.Changes = &Changes{}
	redeploy.Before = ScoreBand{}
	approval := testApproval()
	noScore := testApproval()
	noScore.Score, noScore.Band = nil, ""
	quorum := testApproval()
	quorum.Quorum = 2
	oneOfTwo := quorum
	oneOfTwo.ApprovedBy = []string{"U0ALICE"}
	twoOfTwo := quorum
	twoOfTwo.ApprovedBy = []string{"U0ALICE", "U0BOB"}
	riskOff := testPreview()
	riskOff.Risk, riskOff.Window, riskOff.Trust, riskOff.Decision, riskOff.Reasons = nil, nil, nil, "allow", nil
	autoApproved := testPreview()
	autoApproved.Decision, autoApproved.AutoApproved, autoApproved.Quorum, autoApproved.Band = "allow", true, 0, "mature"
	autoApproved.Risk = &risk.Assessment{Score: 8.5, Level: risk.Low, Factors: autoApproved.Risk.Factors[3:]}
	autoApproved.Window = &risk.WindowStatus{Open: true, Reason: "in mon-fri 09:00-17:00 Europe/Berlin"}
	autoApproved.Trust = &risk.Ladder{Rung: 3, Top: 3}
	autoApproved.Reasons = []PreviewReason{{Kind: "trust_ladder", Text: "auto-approved: low risk, mature band, top rung (3 of 3) of the trust ladder"}}
	blackout := testPreview()
	blackout.Decision, blackout.Quorum = "block", 0
	blackout.Window = &risk.WindowStatus{Blackout: "freeze", Reason: `blackout "freeze" until 2026-12-27 18:00 CET: year-end <!channel>`, NextOpenAt: blackout.Window.NextOpenAt}
	closedSlots := testSlots()[6:]

	messages := map[string]Message{
		"scorecard":                 ScorecardMessage(card, CardView{PublicURL: testPublicURL}),
		"scorecard_env":             ScorecardMessage(card, CardView{PublicURL: testPublicURL, Env: "staging", Band: "healthy"}),
		"why":                       WhyMessage(card, card.Dimension(scoring.DimBranchGovernance), testPublicURL),
		"why_not_applicable":        WhyMessage(card, card.Dimension(scoring.DimTerraformGovernance), testPublicURL),
		"worst":                     WorstMessage([]Ranked{{Service: "legacy-billing", Score: 31.5, Band: "blocked", Level: "", Trend: scoring.Trend{WindowDays: 30, Delta: -4.2, Direction: "down"}}, {Service: "checkout", Score: 72.4, Band: "watch", Level: "silver", Trend: card.Trend}}, 12, testPublicURL),
		"worst_empty":               WorstMessage(nil, 0, testPublicURL),
		"help":                      HelpMessage("/readiness"),
		"unknown_service":           UnknownServiceMessage("chekout<!channel>", []string{"checkout", "checkin"}),
		"no_score":                  NoScoreMessage("payments"),
		"regression":                RegressionMessage(testRegression(), testPublicURL),
		"release_notes":             ReleaseNotesMessage(testNotes(), testPublicURL),
		"release_notes_long":        ReleaseNotesMessage(longNotes, testPublicURL),
		"release_notes_unavailable": ReleaseNotesMessage(unavailable, testPublicURL),
		"release_notes_redeploy":    ReleaseNotesMessage(redeploy, testPublicURL),
		"approval_request":          ApprovalRequestMessage(approval, testPublicURL),
		"approval_request_no_score": ApprovalRequestMessage(noScore, testPublicURL),
		"approval_approved":         ApprovalDecidedMessage(approval, Decision{State: "approved", By: "U0ALICE", At: at.Add(4 * time.Minute)}, testPublicURL),
		"approval_denied":           ApprovalDecidedMessage(approval, Decision{State: "denied", By: "U0BOB", At: at.Add(5 * time.Minute), Note: "not on a Friday <!here>"}, testPublicURL),
		"approval_expired":          ApprovalDecidedMessage(approval, Decision{State: "expired", At: at.Add(30 * time.Minute)}, testPublicURL),
		"approval_quorum_request":   ApprovalRequestMessage(quorum, testPublicURL),
		"approval_quorum_progress":  ApprovalRequestMessage(oneOfTwo, testPublicURL),
		"approval_quorum_approved":  ApprovalDecidedMessage(twoOfTwo, Decision{State: "approved", By: "U0BOB", At: at.Add(6 * time.Minute)}, testPublicURL),
		"approval_quorum_denied":    ApprovalDecidedMessage(oneOfTwo, Decision{State: "denied", By: "U0BOB", At: at.Add(6 * time.Minute)}, testPublicURL),
		"break_glass":               BreakGlassMessage(approval, "ci <!channel>", "hotfix for <https://evil.example|INC-1>", at, testPublicURL),
		"scorecard_trust":           ScorecardMessage(card, CardView{PublicURL: testPublicURL, Trust: testLadder()}),
		"risk":                      RiskMessage(testPreview(), testPublicURL),
		"risk_off":                  RiskMessage(riskOff, testPublicURL),
		"risk_auto_approved":        RiskMessage(autoApproved, testPublicURL),
		"risk_blackout":             RiskMessage(blackout, testPublicURL),
		"window":                    WindowMessage("checkout", 72, testSlots(), testPublicURL),
		"window_all_closed":         WindowMessage("checkout", 72, closedSlots, testPublicURL),
	}
	for name, m := range messages {
		t.Run(name, func(t *testing.T) {
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
				t.Fatalf("%v (run go test ./bot -run TestGoldenMessages -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; if the change is intended, run go test ./bot -run TestGoldenMessages -update and review the diff\n%s", name, got)
			}
		})
	}
}

// assertNoInjection fails if a message carries a Slack special (<!channel>, <@U…>) or a
// link to an address that ReleaseOps did not make.
func assertNoInjection(t *testing.T, msg []byte) {
	t.Helper()
	var s string
	// The JSON escapes < and > as \u003c and \u003e; decode the strings back.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			s += v + "\n"
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var v any
	if err := json.Unmarshal(msg, &v); err != nil {
		t.Fatal(err)
	}
	walk(v)
	for _, bad := range []string{"<!channel", "<!here", "<!everyone", "<@U0MALLORY", "<https://evil"} {
		if strings.Contains(s, bad) {
			t.Errorf("message carries %q", bad)
		}
	}
}
