package gate

import (
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/scoring"
)

var now = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func card(score float64, floors ...scoring.FloorApplied) *scoring.Scorecard {
	c := &scoring.Scorecard{Service: "checkout", Score: score, FloorsApplied: floors}
	for i, d := range []struct {
		id    string
		score float64
	}{{"branch_governance", 0.9}, {"rollback_readiness", 0.2}, {"observability", 0.5}, {"deployment_maturity", 1}, {"release_auditability", 0.4}} {
		c.Dimensions = append(c.Dimensions, scoring.DimensionScore{ID: d.id, Name: strings.ReplaceAll(d.id, "_", " "), Score: d.score, Applicable: true,
			Playbook: "https://ro.example/playbooks/" + d.id,
			Signals:  []scoring.SignalResult{{ID: "s" + string(rune('a'+i)), Score: d.score, Weight: 1, Reason: d.id + " reason", Outcome: scoring.OutcomePartial}}})
	}
	return c
}

func TestDecide(t *testing.T) {
	policy := Policy{
		Thresholds: map[string]scoring.Thresholds{"default": {BlockBelow: 60, ApprovalBelow: 75, MatureAt: 85}, "staging": {BlockBelow: 20, ApprovalBelow: 40, MatureAt: 60}},
		OnUnknown:  Block, StaleAfter: 30 * 24 * time.Hour,
	}
	fresh := now.Add(-time.Hour)
	req := func(env string) Request {
		return Request{Service: "checkout", Environment: env, RequestedBy: "alice", LastEventAt: fresh}
	}
	withBG := func(r Request, reason string) Request { r.BreakGlass = &BreakGlass{Reason: reason}; return r }
	withLast := func(r Request, at time.Time) Request { r.LastEventAt = at; return r }
	needsApproval := policy
	needsApproval.OnUnknown = NeedsApproval
	bogus := policy
	bogus.OnUnknown = "allow" // anything but needs_approval fails closed

	for _, c := range []struct {
		name      string
		card      *scoring.Scorecard
		req       Request
		policy    Policy
		decision  string
		band      string
		first     string // kind of the first reason
		dims      int    // dimension reasons
		unknown   bool
		breakGlas bool
	}{
		{"mature allows", card(90), req("production"), policy, Allow, "mature", "band", 0, false, false},
		{"healthy allows", card(75), req("production"), policy, Allow, "healthy", "band", 0, false, false},
		{"exactly approval_below is healthy", card(75.0), req("production"), policy, Allow, "healthy", "band", 0, false, false},
		{"watch needs approval", card(74.9), req("production"), policy, NeedsApproval, "watch", "band", 3, false, false},
		{"exactly block_below is watch", card(60), req("production"), policy, NeedsApproval, "watch", "band", 3, false, false},
		{"blocked blocks", card(59.9), req("production"), policy, Block, "blocked", "band", 3, false, false},
		{"unnamed environment uses default", card(50), req("qa"), policy, Block, "blocked", "band", 3, false, false},
		{"staging thresholds", card(50), req("staging"), policy, Allow, "healthy", "band", 0, false, false},
		{"floor caps healthy at watch", card(80, scoring.FloorApplied{Dimension: "rollback_readiness", Min: 0.3, Score: 0.2, Cap: "watch"}), req("production"), policy, NeedsApproval, "watch", "band", 3, false, false},
		{"floor caps at blocked", card(90, scoring.FloorApplied{Dimension: "rollback_readiness", Min: 0.3, Score: 0.2, Cap: "blocked"}), req("production"), policy, Block, "blocked", "band", 3, false, false},
		{"floor never raises", card(50, scoring.FloorApplied{Dimension: "rollback_readiness", Min: 0.3, Score: 0.2, Cap: "watch"}), req("production"), policy, Block, "blocked", "band", 3, false, false},
		{"no score blocks by policy", nil, req("production"), policy, Block, BandUnknown, "unknown", 0, true, false},
		{"no score needs approval by policy", nil, req("production"), needsApproval, NeedsApproval, BandUnknown, "unknown", 0, true, false},
		{"unknown policy value fails closed", nil, req("production"), bogus, Block, BandUnknown, "unknown", 0, true, false},
		{"stale mature blocks", card(95), withLast(req("production"), now.Add(-31*24*time.Hour)), policy, Block, "mature", "stale", 3, true, false},
		{"exactly stale_after is not stale", card(95), withLast(req("production"), now.Add(-30*24*time.Hour)), policy, Allow, "mature", "band", 0, false, false},
		{"never an event is stale", card(95), withLast(req("production"), time.Time{}), needsApproval, NeedsApproval, "mature", "stale", 3, true, false},
		{"break glass allows blocked", card(40), withBG(req("production"), "hotfix for incident 42"), policy, Allow, "blocked", "break_glass", 3, false, true},
		{"break glass allows watch", card(70), withBG(req("production"), "hotfix"), policy, Allow, "watch", "break_glass", 3, false, true},
		{"break glass allows unknown", nil, withBG(req("production"), "first deploy"), policy, Allow, BandUnknown, "break_glass", 0, true, true},
		{"break glass not needed when healthy", card(80), withBG(req("production"), "hotfix"), policy, Allow, "healthy", "band", 0, false, false},
		{"blank break glass reason is ignored", card(40), withBG(req("production"), "  "), policy, Block, "blocked", "band", 3, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.card, c.req, c.policy, now)
			if d.Decision != c.decision || d.Band != c.band || d.Unknown != c.unknown || d.BreakGlass != c.breakGlas {
				t.Fatalf("got %s/%s unknown=%v break_glass=%v, want %s/%s unknown=%v break_glass=%v; reasons %+v",
					d.Decision, d.Band, d.Unknown, d.BreakGlass, c.decision, c.band, c.unknown, c.breakGlas, d.Reasons)
			}
			if len(d.Reasons) == 0 || d.Reasons[0].Kind != c.first {
				t.Fatalf("first reason %+v, want kind %s", d.Reasons, c.first)
			}
			dims := 0
			for _, r := range d.Reasons {
				if r.Kind == "dimension" {
					dims++
					if r.Playbook == "" || !strings.Contains(r.Text, r.Playbook) || r.Score == nil {
						t.Errorf("dimension reason without its playbook: %+v", r)
					}
				}
			}
			if dims != c.dims {
				t.Errorf("%d dimension reasons, want %d: %+v", dims, c.dims, d.Reasons)
			}
			if c.card == nil && d.Score != nil {
				t.Errorf("score %v for a service without a scorecard", *d.Score)
			}
		})
	}
}

func TestDecideReasons(t *testing.T) {
	policy := Policy{OnUnknown: NeedsApproval, StaleAfter: 24 * time.Hour}
	d := Decide(card(65), Request{Service: "checkout", Environment: "production", LastEventAt: now}, policy, now)
	// Weakest first: rollback 0.2, auditability 0.4, observability 0.5.
	var got []string
	for _, r := range d.Reasons[1:] {
		got = append(got, r.Dimension)
	}
	if strings.Join(got, ",") != "rollback_readiness,release_auditability,observability" {
		t.Errorf("dimension order %v", got)
	}
	if !strings.Contains(d.Reasons[1].Text, "rollback_readiness reason") {
		t.Errorf("reason does not say why: %q", d.Reasons[1].Text)
	}
	if d.Thresholds != Thresholds(scoring.DefaultThresholds) {
		t.Errorf("no thresholds configured: got %+v, want the shipped defaults", d.Thresholds)
	}
	d = Decide(nil, Request{Service: "checkout", Environment: "production"}, policy, now)
	if !strings.Contains(d.Reasons[0].Text, "gate.on_unknown is needs_approval") {
		t.Errorf("unknown reason does not name the policy: %q", d.Reasons[0].Text)
	}
	d = Decide(card(95), Request{Service: "checkout", Environment: "production", LastEventAt: now.Add(-48 * time.Hour)}, policy, now)
	if !strings.Contains(d.Reasons[0].Text, "stale") || !strings.Contains(d.Reasons[0].Text, "gate.on_unknown is needs_approval") {
		t.Errorf("stale reason: %q", d.Reasons[0].Text)
	}
	d = Decide(card(40), Request{Service: "checkout", Environment: "production", RequestedBy: "bob", LastEventAt: now,
		BreakGlass: &BreakGlass{Reason: "incident 42"}}, policy, now)
	if d.Would != Block || !strings.Contains(d.Reasons[0].Text, "bob") || !strings.Contains(d.Reasons[0].Text, "incident 42") {
		t.Errorf("break glass: would=%s reason %q", d.Would, d.Reasons[0].Text)
	}
}

// A service read by a successful sync is not unknown, even if no webhook ever arrived; one
// whose last sync and last event are both older than stale_after is.
func TestDecideSyncCoverage(t *testing.T) {
	policy := Policy{OnUnknown: Block, StaleAfter: 72 * time.Hour}
	synced := Request{Service: "checkout", Environment: "production", LastSyncAt: now.Add(-2 * time.Hour)}
	if d := Decide(card(90), synced, policy, now); d.Decision != Allow || d.Unknown {
		t.Fatalf("synced service: %s %+v", d.Decision, d.Reasons)
	}
	never := Request{Service: "checkout", Environment: "production"}
	d := Decide(card(90), never, policy, now)
	if d.Decision != Block || !strings.Contains(d.Reasons[0].Text, "no sync has read it") {
		t.Fatalf("never covered: %s %q", d.Decision, d.Reasons[0].Text)
	}
	stale := Request{Service: "checkout", Environment: "production", LastSyncAt: now.Add(-96 * time.Hour), LastEventAt: now.Add(-200 * time.Hour)}
	d = Decide(card(90), stale, policy, now)
	if d.Decision != Block || !strings.Contains(d.Reasons[0].Text, "no successful sync since") {
		t.Fatalf("stale sync: %s %q", d.Decision, d.Reasons[0].Text)
	}
}
