package bot

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
)

// testLadder is a service one rung up, after a fall: the last step's reason carries a deploy
// id from an event, which anyone who can send one controls.
func testLadder() *risk.Ladder {
	return &risk.Ladder{Rung: 1, Top: 3, Steps: []risk.LadderStep{
		{At: at.Add(-72 * time.Hour), Rung: 0, Reason: "deploy r2 failed or was rolled back"},
		{At: at.Add(-47 * time.Hour), Rung: 1, Reason: "deploy r5 <!channel> in the mature band went well"},
	}}
}

// testPreview is a needs-approval answer: high risk from an unknown change size and nobody on
// call, outside the release window.
func testPreview() RiskPreview {
	score := 72.4
	next := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	return RiskPreview{Service: "checkout", Environment: "production", Version: "v1.42.0", Decision: "needs_approval", Band: "watch", Score: &score,
		Reasons: []PreviewReason{
			{Kind: "band", Text: "score 72.4 is in the watch band (60–75) for production"},
			{Kind: "dimension", Text: "Rollback readiness 40%", Playbook: testPublicURL + "/playbooks/rollback_readiness"},
			{Kind: "window", Text: "off-hours release needs a human: outside mon-fri 09:00-17:00 Europe/Berlin; the window opens 2026-11-23T08:00:00Z"},
			{Kind: "risk", Text: "release risk 68 is high: change size unknown"},
			{Kind: "risk_factors", Text: "release risk 68 (high): change size +20: ..."},
		},
		Risk: &risk.Assessment{Score: 68.2, Level: risk.High, Factors: []risk.Factor{
			{ID: "change_size", Weight: 20, Value: 0.5, Points: 20.8, Unknown: true, Reason: "change size unknown: the request has no commit_sha; send commit_sha, and let the GitHub compare answer, to rate it"},
			{ID: "on_call", Weight: 15, Value: 1, Points: 15.6, Reason: "nobody is on call for checkout <!here>: page coverage first"},
			{ID: "deploy_time", Weight: 15, Value: 0.7, Points: 10.9, Reason: "Fri 20:12 CET is outside business hours (09:00-17:00)"},
			{ID: "release_size", Weight: 10, Value: 0, Points: 0, Reason: "no release id: shipped on its own"},
		}},
		Window: &risk.WindowStatus{Open: false, OffHours: true, Reason: "off-hours release needs a human: outside mon-fri 09:00-17:00 Europe/Berlin", NextOpenAt: &next},
		Trust:  testLadder(), Quorum: 2}
}

func testSlots() []risk.Slot {
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	slot := func(h int, score float64, open, human bool, reasons ...string) risk.Slot {
		s := start.Add(time.Duration(h) * time.Hour)
		return risk.Slot{Start: s, End: s.Add(time.Hour), Local: s.In(time.FixedZone("CET", 3600)).Format("Mon 2006-01-02 15:04 MST"),
			Score: score, Open: open, NeedsHuman: human, Reasons: reasons}
	}
	hist := "history: 93% expected success; 12 of 13 production deploys of checkout on Mondays 10:00-11:00 succeeded, the organisation's 80 of 84"
	return []risk.Slot{
		slot(1, 0.931, true, false, hist, "on call: alice <@U0MALLORY> covers the slot", "calendar: Mon 10:00 CET is within business hours", "window: mon-fri 09:00-17:00 Europe/Berlin"),
		slot(2, 0.925, true, false, hist, "on call: alice covers the slot", "calendar: within business hours"),
		slot(3, 0.92, true, false, hist),
		slot(4, 0.91, true, false, hist),
		slot(10, 0.8, true, true, hist, "window: outside mon-fri 09:00-17:00 Europe/Berlin"),
		slot(11, 0.7, true, true, hist),
		slot(30, 0, false, false, "closed: blackout \"freeze\" until 2026-11-25 18:00 CET: Black Friday <https://evil.example|sale>"),
	}
}

// fakePreviewer answers with fixed previews and slots, and counts what it was asked.
type fakePreviewer struct {
	mu      sync.Mutex
	preview RiskPreview
	slots   []risk.Slot
	err     error
	asked   []string
}

func (f *fakePreviewer) PreviewRisk(ctx context.Context, service, env, version string) (RiskPreview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, "risk "+service+" "+env+" "+version)
	if f.err != nil {
		return RiskPreview{}, f.err
	}
	p := f.preview
	p.Service, p.Environment, p.Version = service, env, version
	return p, nil
}

func (f *fakePreviewer) DeploySlots(ctx context.Context, service string, hours int) ([]risk.Slot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, "window "+service)
	if f.err != nil {
		return nil, f.err
	}
	return f.slots, nil
}

func TestRiskAndWindowCommands(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.storeCard(testCard())
	fake := &fakePreviewer{preview: testPreview(), slots: testSlots()}
	h.bot.SetRiskPreviewer(fake)
	cases := []struct {
		text string
		want []string
	}{
		{"risk checkout v1.42.0", []string{"checkout v1.42.0 to production now — risk 68, high", "*Release risk* 68.2 / 100 · *Level* high",
			"*Change size* +20.8 _unknown_ — change size unknown: the request has no commit_sha", "*Trust ladder:* rung 1 of 3",
			"needs approval* (2 distinct approvers)", "⏰ *Window:* closed, off-hours", "nothing was recorded"}},
		{"risk checkout", []string{"checkout to production now"}},
		{"risk chekout", []string{"No service named", "`checkout`"}},
		{"risk", []string{"risk needs a service"}},
		{"window checkout", []string{"Best times to deploy checkout to production", "*1. Mon 2026-11-23 11:00 CET* · 93% expected success",
			"*5. Mon 2026-11-23 20:00 CET* · 80% expected success · ⏰ outside the release window", "1 hour closed by a blackout"}},
		{"window chekout", []string{"No service named"}},
		{"checkout", []string{"checkout — 72.4", "*Trust ladder:* rung 1 of 3 — deploy r5 &lt;!channel&gt; in the mature band went well"}},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			status, out, raw := h.command(c.text)
			if status != 200 {
				t.Fatalf("status %d: %s", status, raw)
			}
			if out["response_type"] != "ephemeral" {
				t.Errorf("response_type %v, want ephemeral", out["response_type"])
			}
			var m Message
			b, _ := json.Marshal(out)
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if err := m.Validate(); err != nil {
				t.Errorf("over Slack's limits: %v", err)
			}
			assertNoInjection(t, b)
			all := m.Text + raw
			for _, w := range c.want {
				if !strings.Contains(all, w) && !strings.Contains(all, jsonEscape(w)) {
					t.Errorf("answer lacks %q:\n%s", w, raw)
				}
			}
		})
	}
	want := []string{"risk checkout production v1.42.0", "risk checkout production ", "window checkout", "risk checkout production "}
	if strings.Join(fake.asked, "|") != strings.Join(want, "|") {
		t.Errorf("the previewer was asked %q, want %q (unknown services never reach it)", fake.asked, want)
	}
}

func TestRiskCommandFailures(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.storeCard(testCard())
	// Without a previewer the commands say so, and the scorecard has no trust line.
	for text, want := range map[string]string{"risk checkout": "Release risk is not available", "window checkout": "Release risk is not available"} {
		if _, _, raw := h.command(text); !strings.Contains(raw, want) {
			t.Errorf("%s without a previewer: %s", text, raw)
		}
	}
	if _, _, raw := h.command("checkout"); strings.Contains(raw, "Trust ladder") {
		t.Errorf("scorecard shows a trust line without a previewer: %s", raw)
	}
	fake := &fakePreviewer{err: releaseops.Errorf(releaseops.EUNAVAILABLE, "release risk is off: the risk config did not compile (see the log)")}
	h.bot.SetRiskPreviewer(fake)
	if _, _, raw := h.command("window checkout"); !strings.Contains(raw, "release risk is off: the risk config did not compile") {
		t.Errorf("an unavailable previewer's own message is not shown: %s", raw)
	}
	fake.err = errors.New("sqlite: disk I/O error at /var/lib/releaseops/db")
	_, _, raw := h.command("risk checkout")
	if !strings.Contains(raw, "Something went wrong while weighing the release risk") || strings.Contains(raw, "sqlite") {
		t.Errorf("an internal error should be logged, not shown: %s", raw)
	}
	if !strings.Contains(h.log.String(), "disk I/O error") {
		t.Errorf("the internal error is not logged: %s", h.log.String())
	}
	// A failing previewer does not cost the scorecard: it is shown without the line.
	_, _, raw = h.command("checkout")
	if !strings.Contains(raw, "checkout — 72.4") || strings.Contains(raw, "Trust ladder") {
		t.Errorf("scorecard with a failing previewer: %s", raw)
	}
	fake.err = releaseops.Errorf(releaseops.ENOTFOUND, "unknown service %q", "checkout")
	if _, _, raw := h.command("risk checkout"); !strings.Contains(raw, "No service named") {
		t.Errorf("a not-found preview should answer as an unknown service: %s", raw)
	}
}

func TestTrustLine(t *testing.T) {
	if got := TrustLine(&risk.Ladder{Top: 3}); got != "*Trust ladder:* rung 0 of 3 — no production deploy has moved it yet" {
		t.Errorf("bottom rung without steps: %q", got)
	}
	if got := TrustLine(testLadder()); got != "*Trust ladder:* rung 1 of 3 — deploy r5 &lt;!channel&gt; in the mature band went well" {
		t.Errorf("TrustLine = %q", got)
	}
}

func TestWindowLine(t *testing.T) {
	next := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		w    risk.WindowStatus
		want string
	}{
		{risk.WindowStatus{Open: true}, "✅ *Window:* open"},
		{risk.WindowStatus{Open: true, Reason: "in mon-fri 09:00-17:00"}, "✅ *Window:* open — in mon-fri 09:00-17:00"},
		{risk.WindowStatus{OffHours: true, Reason: "off-hours", NextOpenAt: &next}, "⏰ *Window:* closed, off-hours: a human must approve — off-hours; next open 2026-11-30 08:00 UTC"},
		{risk.WindowStatus{Blackout: "freeze <!here>", Reason: "blackout", Override: true, Quorum: 2, NextOpenAt: &next},
			"⛔ *Window:* closed by a blackout — blackout; 2 approvers may override it; next open 2026-11-30 08:00 UTC"},
		{risk.WindowStatus{Blackout: "freeze <!here>"}, "⛔ *Window:* closed by a blackout freeze &lt;!here&gt;"},
	} {
		if got := WindowLine(c.w); got != c.want {
			t.Errorf("WindowLine(%+v) = %q, want %q", c.w, got, c.want)
		}
	}
}
