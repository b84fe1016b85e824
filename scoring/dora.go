package scoring

import (
	"slices"
	"sort"
	"time"

	"github.com/releaseops/releaseops"
)

// cfr is the change failure count over a window.
type cfr struct {
	deploys, failures    int
	failedOrRolledBack   int
	incidentAfterDeploys int
	evidence, okEvidence []*releaseops.Fact
}

// changeFailures counts the finished production deploys (kind deploy) that ended within the
// window, and those that failed, were rolled back, or were followed by an incident triggered
// within p.Within after they finished. An incident counts once: it is blamed on the latest
// successful deploy that finished before it, so two deploys an hour apart are not both
// failures for one incident, and an incident seen by webhook and by sync is one incident.
func (x *facts) changeFailures(p Params) cfr {
	var c cfr
	blamed := x.blamedDeploys(p)
	for _, d := range x.deploys {
		if !d.production() || !d.isDeploy() || !d.finished() || !x.since(d.end, p.Window) {
			continue
		}
		c.deploys++
		switch {
		case d.failedOrRolledBack():
			c.failures++
			c.failedOrRolledBack++
			c.evidence = append(c.evidence, d.final)
		case blamed[d] != nil:
			c.failures++
			c.incidentAfterDeploys++
			c.evidence = append(c.evidence, d.final, blamed[d].first)
		default:
			c.okEvidence = append(c.okEvidence, d.final)
		}
	}
	return c
}

// blamedDeploys maps each successful production deploy an incident is blamed on to the first
// such incident.
func (x *facts) blamedDeploys(p Params) map[*deployRec]*incidentRec {
	var ends []*deployRec
	for _, d := range x.deploys {
		if d.production() && d.isDeploy() && d.succeeded() {
			ends = append(ends, d)
		}
	}
	// Stable: deploys ending at the same instant keep the records' total order.
	slices.SortStableFunc(ends, func(a, b *deployRec) int { return a.end.Compare(b.end) })
	out := map[*deployRec]*incidentRec{}
	for _, in := range x.incidentRecs() {
		// The last deploy that ended at or before the incident was triggered.
		i := sort.Search(len(ends), func(i int) bool { return ends[i].end.After(in.triggered) }) - 1
		if i < 0 || in.triggered.After(ends[i].end.Add(p.Within)) {
			continue
		}
		if out[ends[i]] == nil {
			out[ends[i]] = in
		}
	}
	return out
}

// dora computes the four DORA metrics over the change failure rate signal's window.
func (x *facts) dora(p Params) DORA {
	out := DORA{WindowDays: int(p.Window / day)}
	c := x.changeFailures(p)
	out.Deploys = c.deploys
	out.ChangeFailures = c.failures
	if c.deploys > 0 {
		out.ChangeFailureRate = ptr(metric(float64(c.failures) / float64(c.deploys)))
	}

	// Successful production deploy end times, sorted, for frequency and lead time.
	var ends []time.Time
	for _, d := range x.deploys {
		if d.production() && d.isDeploy() && d.succeeded() {
			ends = append(ends, d.end)
		}
	}
	slices.SortFunc(ends, time.Time.Compare)
	for _, e := range ends {
		if x.since(e, p.Window) {
			out.SuccessfulDeploys++
		}
	}
	if weeks := p.Window.Hours() / (7 * 24); weeks > 0 {
		out.DeploysPerWeek = metric(float64(out.SuccessfulDeploys) / weeks)
	}

	branch := x.branchGov().name
	var leads []float64
	for _, pr := range x.prs {
		m := pr.mergedAt()
		if !x.since(m, p.Window) || !x.repoMatches(pr.pr.Repo) {
			continue
		}
		if b := pr.pr.BaseRef; b != "" && b != branch && b != "refs/heads/"+branch {
			continue
		}
		i := sort.Search(len(ends), func(i int) bool { return !ends[i].Before(m) })
		if i < len(ends) {
			leads = append(leads, ends[i].Sub(m).Hours())
		}
	}
	out.LeadTimeSamples = len(leads)
	if len(leads) > 0 {
		out.LeadTimeHours = ptr(metric(median(leads)))
	}

	var restore []float64
	for _, in := range x.incidentRecs() {
		if in.resolvedBy != nil && x.since(in.resolved, p.Window) && !in.resolved.Before(in.triggered) {
			restore = append(restore, in.resolved.Sub(in.triggered).Hours())
		}
	}
	out.MTTRSamples = len(restore)
	if len(restore) > 0 {
		var sum float64
		for _, h := range restore {
			sum += h
		}
		out.MTTRHours = ptr(metric(sum / float64(len(restore))))
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// median of a non-empty slice; sorts it.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
