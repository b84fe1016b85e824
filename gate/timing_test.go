package gate

import (
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/scoring"
)

func cardOf(score float64) *scoring.Scorecard {
	return &scoring.Scorecard{Service: "checkout", Score: score}
}

func timingWith(level risk.Level, w risk.WindowStatus, rung int) *Timing {
	return &Timing{Risk: &risk.Assessment{Score: map[risk.Level]float64{risk.Low: 10, risk.Medium: 50, risk.High: 80}[level], Level: level,
		Factors: []risk.Factor{{ID: "change_size", Reason: "900 lines in 40 files"}}},
		Window: w, Ladder: &risk.Ladder{Rung: rung, Top: 3}, LadderConfig: risk.DefaultLadder(),
		Quorum: func(band string, level risk.Level) int {
			if band == "watch" && level == risk.High {
				return 2
			}
			return 1
		}}
}

// Risk and time only add friction: a block stays a block, a blackout blocks or asks a
// quorum, off-hours and high risk ask a human, the ladder decides what passes, and break
// glass still overrides it all.
func TestTimingOnlyAddsFriction(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	open := risk.WindowStatus{Open: true}
	next := now.Add(48 * time.Hour)
	blackout := risk.WindowStatus{Blackout: "freeze", Reason: `blackout "freeze" until 2026-11-22: year end`, NextOpenAt: &next}
	override := blackout
	override.Override, override.Quorum = true, 2
	offHours := risk.WindowStatus{OffHours: true, Reason: "off-hours release needs a human: Fri 22:00 UTC is outside the release window", NextOpenAt: &next}
	req := Request{Service: "checkout", Environment: "production", RequestedBy: "alice", LastEventAt: now}
	policy := Policy{OnUnknown: Block}
	cases := []struct {
		name       string
		score      float64
		timing     *Timing
		breakGlass bool
		want       string
		quorum     int
		reason     string
		auto       bool
	}{
		{"mature, low risk, rung 0: allow", 90, timingWith(risk.Low, open, 0), false, Allow, 0, "", false},
		{"mature, low risk, top rung: auto-approved", 90, timingWith(risk.Low, open, 3), false, Allow, 0, "auto-approved", true},
		{"healthy, medium risk, rung 0: a human", 80, timingWith(risk.Medium, open, 0), false, NeedsApproval, 1, "trust ladder", false},
		{"healthy, medium risk, rung 2: allow", 80, timingWith(risk.Medium, open, 2), false, Allow, 0, "", false},
		{"mature, high risk: a human", 90, timingWith(risk.High, open, 3), false, NeedsApproval, 1, "release risk 80 is high: 900 lines", false},
		{"watch, high risk: a quorum of 2", 65, timingWith(risk.High, open, 0), false, NeedsApproval, 2, "is high", false},
		{"blocked stays blocked at low risk", 40, timingWith(risk.Low, open, 3), false, Block, 0, "", false},
		{"blackout blocks", 90, timingWith(risk.Low, blackout, 3), false, Block, 0, "next open 2026-11-22", false},
		{"blackout with override: quorum", 90, timingWith(risk.Low, override, 0), false, NeedsApproval, 2, "2 approvers may override", false},
		{"a blocked service in an overridable blackout stays blocked", 40, timingWith(risk.Low, override, 0), false, Block, 0, "", false},
		{"off-hours: a human", 90, timingWith(risk.Low, offHours, 3), false, NeedsApproval, 1, "off-hours release needs a human", false},
		{"break glass through a blackout", 90, timingWith(risk.Low, blackout, 0), true, Allow, 0, "break glass", false},
	}
	for _, c := range cases {
		r := req
		if c.breakGlass {
			r.BreakGlass = &BreakGlass{Reason: "sev1 fix"}
		}
		d := DecideWith(cardOf(c.score), r, policy, now, c.timing)
		var texts []string
		for _, re := range d.Reasons {
			texts = append(texts, re.Text)
		}
		all := strings.Join(texts, " | ")
		if d.Decision != c.want || d.Quorum != c.quorum || d.AutoApproved != c.auto || !strings.Contains(strings.ReplaceAll(all, "_", " "), c.reason) {
			t.Errorf("%s: %s quorum %d auto %v; reasons %q", c.name, d.Decision, d.Quorum, d.AutoApproved, all)
		}
		if d.Decision == NeedsApproval && !strings.Contains(all, "release risk") {
			t.Errorf("%s: an approval without the risk's factors beside the dimensions: %q", c.name, all)
		}
		if d.Risk == nil || d.Window == nil || d.Trust == nil {
			t.Errorf("%s: the response lacks risk, window or trust", c.name)
		}
	}
}
