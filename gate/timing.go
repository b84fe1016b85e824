package gate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/scoring"
)

// Timing is what the gate weighs beyond readiness: the deploy's risk, the release window or
// blackout it falls in, the service's place on the trust ladder, and how many approvers an
// approval then needs.
type Timing struct {
	Risk   *risk.Assessment
	Window risk.WindowStatus
	Ladder *risk.Ladder
	// LadderConfig decides which risk levels pass without a human per rung.
	LadderConfig risk.LadderConfig
	// Quorum returns the approvals needed for band, tier and risk level (at least 1).
	Quorum func(band string, level risk.Level) int
}

// Temper adds friction from timing to a readiness decision; it never removes any. A block
// stays a block whatever the risk; a blackout blocks (or, where approvers may override it,
// needs a quorum); outside the release window, at high risk, or where the service's rung of
// the trust ladder does not let the risk level pass, an allow becomes needs_approval. At the
// top rung a low-risk mature deploy is auto-approved, and says so. Break glass is applied
// after (Decide's), so it still overrides all of this, and is recorded.
func Temper(d Decision, t Timing, now time.Time) Decision {
	d.Risk, d.Window = t.Risk, &t.Window
	d.Trust = t.Ladder
	level := risk.Low
	if t.Risk != nil {
		level = t.Risk.Level
	}
	needs := func(kind, text string) {
		if d.Decision == Allow {
			d.Decision = NeedsApproval
		}
		d.Reasons = append(d.Reasons, Reason{Kind: kind, Text: text})
	}
	if w := t.Window; w.Blackout != "" {
		text := w.Reason
		if w.NextOpenAt != nil {
			text += "; next open " + w.NextOpenAt.UTC().Format(time.RFC3339)
		}
		if w.Override && d.Decision != Block {
			needs("blackout", text+fmt.Sprintf("; %d approvers may override it", w.Quorum))
			d.Quorum = max(d.Quorum, w.Quorum)
		} else {
			d.Decision = Block
			d.Reasons = append([]Reason{{Kind: "blackout", Text: text}}, d.Reasons...)
		}
	} else if !w.Open && d.Decision != Block {
		text := w.Reason
		if w.NextOpenAt != nil {
			text += "; the window opens " + w.NextOpenAt.UTC().Format(time.RFC3339)
		}
		needs("window", text)
	}
	if t.Risk != nil && d.Decision != Block {
		switch {
		case level == risk.High:
			needs("risk", fmt.Sprintf("release risk %.0f is high: %s", t.Risk.Score, topReason(t.Risk)))
		case d.Decision == Allow && t.Ladder != nil && (d.Band == scoring.BandMature || d.Band == scoring.BandHealthy):
			pass, auto := t.LadderConfig.Passes(t.Ladder.Rung, d.Band, level)
			switch {
			case !pass:
				needs("trust_ladder", fmt.Sprintf("%s risk in the %s band needs a human on rung %d of %d of the trust ladder (%s)",
					level, d.Band, t.Ladder.Rung, t.Ladder.Top, topReason(t.Risk)))
			case auto:
				d.AutoApproved = true
				d.Reasons = append(d.Reasons, Reason{Kind: "trust_ladder", Text: fmt.Sprintf("auto-approved: low risk, mature band, top rung (%d of %d) of the trust ladder", t.Ladder.Rung, t.Ladder.Top)})
			}
		}
	}
	if d.Decision == NeedsApproval && t.Risk != nil {
		// The approver weighs the bet beside the weak dimensions: its biggest factors.
		d.Reasons = append(d.Reasons, Reason{Kind: "risk_factors", Text: riskSummary(t.Risk, 3)})
	}
	if d.Decision == NeedsApproval && t.Quorum != nil {
		d.Quorum = max(d.Quorum, t.Quorum(d.Band, level))
	}
	if d.Decision == NeedsApproval && d.Quorum < 1 {
		d.Quorum = 1
	}
	return d
}

// riskSummary is the score and up to n factors that add to it, biggest first.
func riskSummary(a *risk.Assessment, n int) string {
	text := fmt.Sprintf("release risk %.0f (%s)", a.Score, a.Level)
	var parts []string
	for _, f := range a.Factors {
		if f.Points <= 0 || len(parts) == n {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s +%.0f: %s", strings.ReplaceAll(f.ID, "_", " "), f.Points, f.Reason))
	}
	if len(parts) > 0 {
		text += ": " + strings.Join(parts, "; ")
	}
	return text
}

func topReason(a *risk.Assessment) string {
	if len(a.Factors) == 0 {
		return "no factor"
	}
	return a.Factors[0].Reason
}

// Preview decides req as the gate would now, with its risk, window and trust ladder, and
// records nothing: for `/readiness risk`, the scorecard's trust rung and the web page.
func (g *Gate) Preview(ctx context.Context, req Request) (Decision, error) {
	g.init()
	if err := validate(&req); err != nil {
		return Decision{}, err
	}
	if _, ok := g.Catalog.Get(req.Service); !ok {
		e := releaseops.Errorf(releaseops.ENOTFOUND, "unknown service %q", req.Service)
		if near := g.Catalog.Closest(req.Service, 3); len(near) > 0 {
			e.Detail = "did you mean " + strings.Join(near, ", ") + "?"
		}
		return Decision{}, e
	}
	return g.decide(ctx, &req, 0)
}
