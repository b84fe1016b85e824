package gate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// BuildReport is how the report was computed before report_index.go, on every call, from every
// row of the window (storage's Observations): kept here only, so that the tests can compare
// the summary's report with it (TestReportMatchesRowByRow) and report_test.go keeps testing
// the rules of the report (grouping, wording, order) as it was written.
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
