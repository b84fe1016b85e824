// Package gate is the governance gate (SPEC §5): it decides whether a deploy may go out
// (allow, needs_approval, block), runs the approval state machine of watch-band deploys,
// answers GitHub deployment protection rules, and keeps a hash-chained audit log of all of it.
//
// Decide is pure. Gate does the I/O around it: read the scorecard, store the approval, queue
// the Slack post and the GitHub callback in the same transaction, append to the audit log.
package gate

import (
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/scoring"
)

// Decisions.
const (
	Allow         = "allow"
	NeedsApproval = "needs_approval"
	Block         = "block"
)

// Request is what a pipeline asks the gate.
type Request struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Version     string `json:"version,omitempty"`
	CommitSHA   string `json:"commit_sha,omitempty"`
	RequestedBy string `json:"requested_by,omitempty"`
	// Release groups the services shipping together (the same id on each one's request);
	// the release risk counts the others.
	Release    string      `json:"release,omitempty"`
	BreakGlass *BreakGlass `json:"break_glass,omitempty"`
	// LastEventAt is when the latest webhook event about the service arrived (zero: never).
	// The caller reads it from storage; Decide uses it to tell stale data.
	LastEventAt time.Time `json:"-"`
	// LastSyncAt is when a sync last read one of the service's subjects successfully from a
	// source's API (zero: never). A service covered by a sync is not unknown.
	LastSyncAt time.Time `json:"-"`
}

// lastHeard is the newer of the latest event and the latest successful sync, and which.
func (r Request) lastHeard() (time.Time, string) {
	if r.LastSyncAt.After(r.LastEventAt) {
		return r.LastSyncAt, "sync"
	}
	return r.LastEventAt, "event"
}

// BreakGlass asks to deploy below the threshold, with a reason that is recorded and posted.
type BreakGlass struct {
	Reason string `json:"reason"`
}

// Policy is the gate's configuration.
type Policy struct {
	// Thresholds per environment; "default" applies where none is named.
	Thresholds map[string]scoring.Thresholds
	// OnUnknown is the answer when the score is missing or stale: Block or NeedsApproval.
	OnUnknown string
	// StaleAfter: a service with no event for this long is unknown. Zero disables the check.
	StaleAfter time.Duration
	// Weakest is how many weak dimensions become reasons (default 3).
	Weakest int
	// Mode says where the gate only observes (see ModePolicy); zero: enforce everywhere.
	Mode ModePolicy
}

// Reason is one line of why the gate decided as it did. Dimension reasons carry the
// dimension's score and its playbook link.
type Reason struct {
	Kind      string   `json:"kind"` // band, floor, unknown, stale, dimension, break_glass
	Text      string   `json:"text"`
	Dimension string   `json:"dimension,omitempty"`
	Name      string   `json:"name,omitempty"`
	Score     *float64 `json:"score,omitempty"`
	Playbook  string   `json:"playbook,omitempty"`
}

// Decision is the gate's answer.
type Decision struct {
	Decision   string     `json:"decision"`
	Score      *float64   `json:"score"` // nil when the service has no score
	Band       string     `json:"band"`  // "unknown" when it has none
	Reasons    []Reason   `json:"reasons"`
	Thresholds Thresholds `json:"thresholds"`
	// Unknown is set when OnUnknown decided (no score, or stale data).
	Unknown bool `json:"unknown,omitempty"`
	// BreakGlass is set when a break-glass request turned a block or needs_approval into allow.
	BreakGlass bool `json:"break_glass,omitempty"`
	// Would is what the gate would have answered without break glass.
	Would string `json:"would,omitempty"`
	// Risk, Window and Trust are the timing the decision weighed (Temper).
	Risk   *risk.Assessment   `json:"risk,omitempty"`
	Window *risk.WindowStatus `json:"window,omitempty"`
	Trust  *risk.Ladder       `json:"trust,omitempty"`
	// AutoApproved is set when the trust ladder let a low-risk mature deploy through.
	AutoApproved bool `json:"auto_approved,omitempty"`
	// Quorum is how many distinct approvers the approval needs (needs_approval only).
	Quorum int `json:"quorum,omitempty"`
	// Mode is enforce or observe, and ModeFrom the setting that chose it (see Observe).
	Mode     string `json:"mode,omitempty"`
	ModeFrom string `json:"mode_from,omitempty"`
	// WouldDecision and WouldReasons are what enforcement would have answered (observe mode).
	WouldDecision string   `json:"would_decision,omitempty"`
	WouldReasons  []Reason `json:"would_reasons,omitempty"`
}

// Thresholds are the environment's band limits the decision used.
type Thresholds struct {
	BlockBelow    float64 `json:"block_below"`
	ApprovalBelow float64 `json:"approval_below"`
	MatureAt      float64 `json:"mature_at"`
}

// BandUnknown is the band reported for a service with no scorecard.
const BandUnknown = "unknown"

// ThresholdsFor returns the environment's thresholds, else "default", else the shipped ones.
func (p Policy) ThresholdsFor(env string) scoring.Thresholds {
	if t, ok := p.Thresholds[env]; ok {
		return t
	}
	if t, ok := p.Thresholds["default"]; ok {
		return t
	}
	return scoring.DefaultThresholds
}

// Decide answers a gate request from the service's scorecard (nil if it has none). It is
// pure: the same inputs give the same decision.
//
// mature and healthy allow; watch needs an approval; blocked blocks. The band comes from the
// environment's thresholds, then the scorecard's breached floors can only lower it. Missing or
// stale data is answered by policy.OnUnknown and said so. Break glass turns any block or
// needs_approval into allow, with the override as the first reason.
func Decide(card *scoring.Scorecard, req Request, policy Policy, now time.Time) Decision {
	return DecideWith(card, req, policy, now, nil)
}

// DecideWith is Decide with the deploy's timing weighed too (Temper), before break glass.
func DecideWith(card *scoring.Scorecard, req Request, policy Policy, now time.Time, timing *Timing) Decision {
	th := policy.ThresholdsFor(req.Environment)
	d := Decision{Thresholds: Thresholds(th), Reasons: []Reason{}}
	onUnknown := policy.OnUnknown
	if onUnknown != NeedsApproval {
		onUnknown = Block // anything else fails closed
	}
	var unknown *Reason
	switch {
	case card == nil:
		unknown = &Reason{Kind: "unknown", Text: fmt.Sprintf("%s has no score yet; gate.on_unknown is %s", req.Service, onUnknown)}
	case policy.StaleAfter > 0 && req.LastEventAt.IsZero() && req.LastSyncAt.IsZero():
		unknown = &Reason{Kind: "stale", Text: fmt.Sprintf("no event has ever been received for %s and no sync has read it, so its score rests on declarations only; run `releaseops sync` or send its webhooks; gate.on_unknown is %s", req.Service, onUnknown)}
	case policy.StaleAfter > 0:
		last, how := req.lastHeard()
		if now.Sub(last) > policy.StaleAfter {
			what := "no event for %s since %s"
			if how == "sync" {
				what = "no event for %s and no successful sync since %s"
			}
			unknown = &Reason{Kind: "stale", Text: fmt.Sprintf(what+" (over gate.stale_after %s), so its score is stale; gate.on_unknown is %s",
				req.Service, last.UTC().Format(time.RFC3339), formatDuration(policy.StaleAfter), onUnknown)}
		}
	}

	if card == nil {
		d.Band = BandUnknown
	} else {
		score := card.Score
		d.Score = &score
		d.Band = bandOf(score, th)
		d.Reasons = append(d.Reasons, Reason{Kind: "band", Text: bandText(score, d.Band, req.Environment, th)})
		for _, f := range card.FloorsApplied {
			if scoring.BandRank(f.Cap) >= 0 && scoring.BandRank(f.Cap) < scoring.BandRank(d.Band) {
				d.Band = f.Cap
				d.Reasons = append(d.Reasons, Reason{Kind: "floor", Dimension: f.Dimension,
					Text: fmt.Sprintf("%s scored %.2f, below its floor of %.2f, which caps the band at %s", dimName(card, f.Dimension), f.Score, f.Min, f.Cap)})
			}
		}
	}

	switch {
	case unknown != nil:
		d.Unknown = true
		d.Decision = onUnknown
		d.Reasons = append([]Reason{*unknown}, d.Reasons...)
	case d.Band == scoring.BandMature || d.Band == scoring.BandHealthy:
		d.Decision = Allow
	case d.Band == scoring.BandWatch:
		d.Decision = NeedsApproval
	default:
		d.Decision = Block
	}

	if d.Decision != Allow && card != nil {
		n := policy.Weakest
		if n <= 0 {
			n = 3
		}
		for _, dim := range card.Weakest(n) {
			s := dim.Score
			d.Reasons = append(d.Reasons, Reason{Kind: "dimension", Dimension: dim.ID, Name: dim.Name, Score: &s, Playbook: dim.Playbook,
				Text: dimensionText(dim)})
		}
	}

	if timing != nil {
		d = Temper(d, *timing, now)
	}
	if d.Decision != Allow && req.BreakGlass != nil && strings.TrimSpace(req.BreakGlass.Reason) != "" {
		d.Would, d.Decision, d.BreakGlass = d.Decision, Allow, true
		who := req.RequestedBy
		if who == "" {
			who = "the requester"
		}
		d.Reasons = append([]Reason{{Kind: "break_glass",
			Text: fmt.Sprintf("break glass by %s: %s (the gate would have answered %s)", who, strings.TrimSpace(req.BreakGlass.Reason), d.Would)}}, d.Reasons...)
	}
	return d
}

// bandOf places a composite in the thresholds' bands (SPEC §4.2).
func bandOf(score float64, t scoring.Thresholds) string {
	switch {
	case score >= t.MatureAt:
		return scoring.BandMature
	case score >= t.ApprovalBelow:
		return scoring.BandHealthy
	case score >= t.BlockBelow:
		return scoring.BandWatch
	}
	return scoring.BandBlocked
}

func bandText(score float64, band, env string, t scoring.Thresholds) string {
	var rng string
	switch band {
	case scoring.BandMature:
		rng = fmt.Sprintf("≥ %g", t.MatureAt)
	case scoring.BandHealthy:
		rng = fmt.Sprintf("%g–%g", t.ApprovalBelow, t.MatureAt)
	case scoring.BandWatch:
		rng = fmt.Sprintf("%g–%g: needs an approver", t.BlockBelow, t.ApprovalBelow)
	default:
		rng = fmt.Sprintf("below %g", t.BlockBelow)
	}
	return fmt.Sprintf("score %.1f is in the %s band for %s (%s)", score, band, env, rng)
}

func dimensionText(dim scoring.DimensionScore) string {
	why := ""
	if dim.NoData {
		why = " (no data)"
	}
	// The weakest weighted signal explains the dimension best.
	var worst *scoring.SignalResult
	for i, s := range dim.Signals {
		if s.Score < 1 && s.Weight > 0 && s.Reason != "" && s.Outcome != scoring.OutcomeNotApplicable && s.Outcome != scoring.OutcomeUpcoming && (worst == nil || s.Score < worst.Score) {
			worst = &dim.Signals[i]
		}
	}
	if worst != nil {
		why = ": " + worst.Reason
	}
	text := fmt.Sprintf("%s %.2f%s", dim.Name, dim.Score, why)
	if dim.Playbook != "" {
		text += " — playbook " + dim.Playbook
	}
	return text
}

func dimName(card *scoring.Scorecard, id string) string {
	if d := card.Dimension(id); d != nil && d.Name != "" {
		return d.Name
	}
	return id
}

// formatDuration prints whole days as days ("30d"), since that is how stale_after is written.
func formatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
