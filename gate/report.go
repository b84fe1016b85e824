package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops/storage"
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

// Report reads what observe mode recorded over the last days days (1 to ReportDaysMax).
func (g *Gate) Report(ctx context.Context, days int) (Report, error) {
	g.init()
	until := g.Now().UTC()
	since := until.Add(-time.Duration(days) * 24 * time.Hour)
	rows, err := g.DB.Observations(ctx, since)
	if err != nil {
		return Report{}, err
	}
	return BuildReport(rows, days, since, until)
}

// BuildReport aggregates observations (oldest first). Services come most blocked first, then
// most held for approval, then by name, so the page opens on what enforcing would stop.
func BuildReport(rows []storage.Observation, days int, since, until time.Time) (Report, error) {
	r := Report{Days: days, Since: since, Until: until, Services: []ServiceReport{}}
	bySvc := map[string]*ServiceReport{}
	type key struct{ service, decision string }
	byDec := map[key]*DecisionReport{}
	reasons := map[key]map[string]*ReasonCount{}
	for _, o := range rows {
		s := bySvc[o.Service]
		if s == nil {
			s = &ServiceReport{Service: o.Service, Environments: []string{}, ModeFrom: []string{}, FirstSeen: o.At}
			bySvc[o.Service] = s
		}
		s.LastSeen = o.At
		if !slices.Contains(s.Environments, o.Environment) {
			s.Environments = append(s.Environments, o.Environment)
		}
		if !slices.Contains(s.ModeFrom, o.ModeFrom) {
			s.ModeFrom = append(s.ModeFrom, o.ModeFrom)
		}
		s.count(o.WouldDecision)
		r.Totals.count(o.WouldDecision)
		k := key{o.Service, o.WouldDecision}
		d := byDec[k]
		if d == nil {
			d = &DecisionReport{Decision: o.WouldDecision, FirstSeen: o.At, TopReasons: []ReasonCount{}}
			byDec[k] = d
			reasons[k] = map[string]*ReasonCount{}
		}
		d.Count++
		d.LastSeen = o.At
		var rs []Reason
		if err := json.Unmarshal(o.Reasons, &rs); err != nil {
			return Report{}, fmt.Errorf("decode observed reasons of %s: %w", o.OriginKey, err)
		}
		seen := map[string]bool{} // one request counts once per reason
		for _, reason := range rs {
			label := reasonLabel(reason)
			if label == "" || seen[label] {
				continue
			}
			seen[label] = true
			rc := reasons[k][label]
			if rc == nil {
				rc = &ReasonCount{Reason: label}
				reasons[k][label] = rc
			}
			rc.Count++
			rc.Example = reason.Text // the newest wording: rows come oldest first
		}
	}
	for k, d := range byDec {
		for _, rc := range reasons[k] {
			d.TopReasons = append(d.TopReasons, *rc)
		}
		slices.SortFunc(d.TopReasons, func(a, b ReasonCount) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return strings.Compare(a.Reason, b.Reason)
		})
		if len(d.TopReasons) > reportTopReasons {
			d.TopReasons = d.TopReasons[:reportTopReasons]
		}
		s := bySvc[k.service]
		s.Decisions = append(s.Decisions, *d)
	}
	for _, s := range bySvc {
		slices.SortFunc(s.Decisions, func(a, b DecisionReport) int { return decisionOrder(a.Decision) - decisionOrder(b.Decision) })
		slices.Sort(s.Environments)
		slices.Sort(s.ModeFrom)
		r.Services = append(r.Services, *s)
	}
	slices.SortFunc(r.Services, func(a, b ServiceReport) int {
		switch {
		case a.WouldBlock != b.WouldBlock:
			return b.WouldBlock - a.WouldBlock
		case a.WouldNeedApproval != b.WouldNeedApproval:
			return b.WouldNeedApproval - a.WouldNeedApproval
		}
		return strings.Compare(a.Service, b.Service)
	})
	return r, nil
}

func (c *ReportCounts) count(decision string) {
	c.Requests++
	switch decision {
	case Block:
		c.WouldBlock++
	case NeedsApproval:
		c.WouldNeedApproval++
	default:
		c.Allowed++
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
