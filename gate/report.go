package gate

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// Report bounds: a month is the usual evidence; a year is as far back as anyone asks.
const (
	ReportDaysDefault = 30
	ReportDaysMax     = 365
	reportTopReasons  = 5
)

// Report is what enforcement would have changed over the last Days: every gate request
// answered in observe mode, by service and by what enforcement would have answered.
type Report struct {
	Days     int             `json:"days"`
	Since    time.Time       `json:"since"`
	Until    time.Time       `json:"until"`
	Totals   ReportCounts    `json:"totals"`
	Services []ServiceReport `json:"services"`
}

// ReportCounts counts observe-mode requests by what enforcement would have answered.
type ReportCounts struct {
	Requests          int `json:"requests"`
	WouldBlock        int `json:"would_block"`
	WouldNeedApproval int `json:"would_need_approval"`
	Allowed           int `json:"allowed"` // enforcement would have allowed them too
}

// ServiceReport is one service's observe-mode requests.
type ServiceReport struct {
	Service string `json:"service"`
	ReportCounts
	Environments []string `json:"environments"`
	// ModeFrom lists the settings that put the service's requests in observe mode.
	ModeFrom  []string         `json:"mode_from"`
	FirstSeen time.Time        `json:"first_seen"`
	LastSeen  time.Time        `json:"last_seen"`
	Decisions []DecisionReport `json:"decisions"` // block, then needs_approval, then allow
}

// DecisionReport is the requests of one service enforcement would have answered the same way.
type DecisionReport struct {
	Decision   string        `json:"decision"` // what enforcement would have answered
	Count      int           `json:"count"`
	FirstSeen  time.Time     `json:"first_seen"`
	LastSeen   time.Time     `json:"last_seen"`
	TopReasons []ReasonCount `json:"top_reasons"`
}

// ReasonCount is a reason enforcement would have given, how often, and its latest wording.
type ReasonCount struct {
	Reason  string `json:"reason"`
	Count   int    `json:"count"`
	Example string `json:"example"`
}

// Report reads what observe mode recorded over the last days days (1 to ReportDaysMax): from
// the summary this gate keeps in memory (report_index.go), brought up to date with what was
// stored since its last read.
func (g *Gate) Report(ctx context.Context, days int) (Report, error) {
	g.init()
	until := g.Now().UTC()
	since := until.Add(-time.Duration(days) * 24 * time.Hour)
	return g.reports.report(ctx, g.DB, days, since, until)
}

func (c *ReportCounts) add(decision string, n int) {
	c.Requests += n
	switch decision {
	case Block:
		c.WouldBlock += n
	case NeedsApproval:
		c.WouldNeedApproval += n
	default:
		c.Allowed += n
	}
}

func decisionOrder(d string) int {
	switch d {
	case Block:
		return 0
	case NeedsApproval:
		return 1
	}
	return 2
}

var bandReason = regexp.MustCompile(`in the (\w+) band for (.+) \(`)

// reasonLabel names a reason without its numbers, so the same cause on different requests
// counts together ("weak dimension: Observability", not "Observability 0.41"). Empty: a
// reason that only adds detail to another (the risk factors).
func reasonLabel(r Reason) string {
	switch r.Kind {
	case "band":
		if m := bandReason.FindStringSubmatch(r.Text); m != nil {
			return fmt.Sprintf("score in the %s band for %s", m[1], m[2])
		}
		return "score band"
	case "floor":
		return "below the floor of " + r.Dimension
	case "dimension":
		if r.Name != "" {
			return "weak dimension: " + r.Name
		}
		return "weak dimension: " + r.Dimension
	case "unknown":
		return "no score yet"
	case "stale":
		return "stale data"
	case "blackout":
		return "blackout"
	case "window":
		return "outside the release windows"
	case "risk":
		return "high release risk"
	case "trust_ladder":
		return "the trust ladder wants a human"
	case "risk_factors", "break_glass", "observe":
		return ""
	}
	return r.Kind
}
