package gate

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// sum builds the report of the window since..until from the entries held: the same report,
// field for field, as reading the window's rows oldest first used to (report_old_test.go).
// Services come most blocked first, then most held for approval, then by name, so the page
// opens on what enforcing would stop.
func (x *reportIndex) sum(days int, since, until time.Time) Report {
	r := Report{Days: days, Since: since, Until: until, Services: []ServiceReport{}}
	sinceMs := since.UnixMilli()
	lo := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].at >= sinceMs })
	type span struct {
		n           int
		first, last int64
	}
	groups := make([]span, len(x.groups))
	reasons := make([]int, len(x.reasons))
	// Entries are by at: a group's first entry is its first seen, its last its last seen.
	for _, e := range x.entries[lo:] {
		g := &groups[e.group]
		if g.n == 0 {
			g.first = e.at
		}
		g.n++
		g.last = e.at
		for _, id := range x.sets[e.set] {
			reasons[id]++
		}
	}
	decisions := make([]span, len(x.sds))
	bySvc := map[string]*ServiceReport{}
	firstSeen, lastSeen := map[string]int64{}, map[string]int64{}
	for id, g := range groups {
		if g.n == 0 {
			continue
		}
		k := x.groups[id]
		d := &decisions[k.sd]
		if d.n == 0 {
			d.first, d.last = g.first, g.last
		}
		d.first, d.last, d.n = min(d.first, g.first), max(d.last, g.last), d.n+g.n
		svc := x.sds[k.sd].service
		s := bySvc[svc]
		if s == nil {
			s = &ServiceReport{Service: svc, Environments: []string{}, ModeFrom: []string{}}
			bySvc[svc] = s
			firstSeen[svc], lastSeen[svc] = g.first, g.last
		}
		firstSeen[svc], lastSeen[svc] = min(firstSeen[svc], g.first), max(lastSeen[svc], g.last)
		if !slices.Contains(s.Environments, k.environment) {
			s.Environments = append(s.Environments, k.environment)
		}
		if !slices.Contains(s.ModeFrom, k.modes) {
			s.ModeFrom = append(s.ModeFrom, k.modes)
		}
	}
	for sd, d := range decisions {
		if d.n == 0 {
			continue
		}
		k := x.sds[sd]
		dr := DecisionReport{Decision: k.decision, Count: d.n, FirstSeen: millisUTC(d.first), LastSeen: millisUTC(d.last), TopReasons: []ReasonCount{}}
		for _, id := range x.sdReasons[sd] {
			if n := reasons[id]; n > 0 {
				dr.TopReasons = append(dr.TopReasons, ReasonCount{Reason: x.reasons[id].label, Count: n, Example: x.reasons[id].example})
			}
		}
		slices.SortFunc(dr.TopReasons, func(a, b ReasonCount) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return strings.Compare(a.Reason, b.Reason)
		})
		if len(dr.TopReasons) > reportTopReasons {
			dr.TopReasons = dr.TopReasons[:reportTopReasons]
		}
		s := bySvc[k.service]
		s.add(k.decision, d.n)
		r.Totals.add(k.decision, d.n)
		s.Decisions = append(s.Decisions, dr)
	}
	for name, s := range bySvc {
		s.FirstSeen, s.LastSeen = millisUTC(firstSeen[name]), millisUTC(lastSeen[name])
		slices.SortFunc(s.Decisions, func(a, b DecisionReport) int {
			if o := decisionOrder(a.Decision) - decisionOrder(b.Decision); o != 0 {
				return o
			}
			return strings.Compare(a.Decision, b.Decision)
		})
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
	return r
}

// millisUTC is a stored time as storage reads it.
func millisUTC(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
