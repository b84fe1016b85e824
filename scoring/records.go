package scoring

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// prRec is a merged pull request with the approvals it received.
type prRec struct {
	fact      *releaseops.Fact
	pr        *releaseops.PullRequest
	approvals []*releaseops.Fact // latest approving review per reviewer before the merge, not by the author
}

// prID identifies a pull request: repository (lowercase) and number.
type prID struct {
	repo string
	n    int
}

func prKey(repo string, n int) prID { return prID{lowerASCII(repo), n} }

// lowerASCII lowercases s, without allocating when it has no uppercase letter.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

func buildPRs(prFacts, reviews []*releaseops.Fact) []*prRec {
	byKey := make(map[prID]*prRec, len(prFacts))
	recs := make([]prRec, 0, len(prFacts))
	var out []*prRec
	for _, f := range prFacts {
		k := prKey(f.PullRequest.Repo, f.PullRequest.Number)
		if r := byKey[k]; r != nil { // a redelivered or edited merge: keep the latest
			r.fact, r.pr = f, f.PullRequest
			continue
		}
		recs = append(recs, prRec{fact: f, pr: f.PullRequest})
		r := &recs[len(recs)-1]
		byKey[k] = r
		out = append(out, r)
	}
	// A reviewer's latest approved / changes_requested / dismissed review before the merge
	// decides; comments do not. A review is dated by its submitted_at, by webhook and by sync
	// alike, so one submitted after the merge approved nothing that was merged.
	type rk struct {
		pr       prID
		reviewer string
	}
	latest := make(map[rk]*releaseops.Fact, len(reviews))
	var order []rk
	for _, f := range reviews {
		rv := f.Review
		switch strings.ToLower(rv.State) {
		case "approved", "changes_requested", "dismissed":
		default:
			continue
		}
		pr := prKey(rv.Repo, rv.PRNumber)
		if r := byKey[pr]; r != nil && !r.pr.MergedAt.IsZero() && f.At.After(r.pr.MergedAt) {
			continue
		}
		k := rk{pr, lowerASCII(rv.Reviewer)}
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = f
	}
	for _, k := range order {
		f := latest[k]
		r := byKey[k.pr]
		if r == nil || !strings.EqualFold(f.Review.State, "approved") {
			continue
		}
		if r.pr.Author != "" && strings.EqualFold(r.pr.Author, f.Review.Reviewer) {
			continue
		}
		r.approvals = append(r.approvals, f)
	}
	slices.SortFunc(out, func(a, b *prRec) int { // (repo, number) is unique: a total order
		if c := a.mergedAt().Compare(b.mergedAt()); c != 0 {
			return c
		}
		ka, kb := prKey(a.pr.Repo, a.pr.Number), prKey(b.pr.Repo, b.pr.Number)
		if c := cmp.Compare(ka.repo, kb.repo); c != 0 {
			return c
		}
		return cmp.Compare(ka.n, kb.n)
	})
	return out
}

// mergedAt is when the PR merged (the fact time when the payload has none).
func (p *prRec) mergedAt() time.Time {
	if p.pr.MergedAt.IsZero() {
		return p.fact.At
	}
	return p.pr.MergedAt
}

// incidentRec is one PagerDuty incident: when it was triggered and, if so, resolved. Webhooks
// report it transition by transition (triggered, acknowledged, resolved: several facts), a
// sync read reports its whole life so far in one fact (with its acknowledge and resolve
// times); both carry the incident id, so an incident seen both ways is one record.
type incidentRec struct {
	id         string
	triggered  time.Time
	resolved   time.Time // zero while open
	first      *releaseops.Fact
	resolvedBy *releaseops.Fact
	inc        *releaseops.Incident // the newest word on it, webhook or read
}

// incidentAcc gathers one incident's facts before they are combined.
type incidentAcc struct {
	rec *incidentRec
	// The webhooks' view: the last event, and the resolution since the last reopening.
	hook               *releaseops.Fact
	resolved           time.Time
	resolvedBy         *releaseops.Fact
	read               *releaseops.Fact // the newest sync read
	readAt, lastHookAt time.Time
}

// syncedIncident reports a fact read by sync rather than sent by a webhook.
func syncedIncident(f *releaseops.Fact) bool {
	return f.Evidence.Synced() || f.Incident.EventType == releaseops.EventSync
}

func (x *facts) incidentRecs() []*incidentRec {
	if x.incidents != nil {
		return x.incidents
	}
	byID := map[string]*incidentAcc{}
	var accs []*incidentAcc
	out := []*incidentRec{}
	for _, f := range x.of(releaseops.FactIncident) {
		in := f.Incident
		if x.svc.PagerDutyServiceID != "" && in.ServiceID != "" && in.ServiceID != x.svc.PagerDutyServiceID {
			continue
		}
		synced := syncedIncident(f)
		// A read made after now is not known at now (a card of the past), though the incident
		// it describes, filed under its creation time, is not later than now.
		if synced && readTime(f).After(x.now) {
			continue
		}
		a := byID[in.ID]
		if a == nil {
			a = &incidentAcc{rec: &incidentRec{id: in.ID, triggered: f.At, first: f}}
			byID[in.ID] = a
			accs = append(accs, a)
			out = append(out, a.rec)
		}
		r := a.rec
		if !in.CreatedAt.IsZero() && in.CreatedAt.Before(r.triggered) {
			r.triggered = in.CreatedAt
		}
		if synced {
			// Facts come in time order and a read is filed under the incident's creation, so
			// the newest read is the one read last, not the one listed last.
			if t := readTime(f); a.read == nil || !t.Before(a.readAt) {
				a.read, a.readAt = f, t
			}
			continue
		}
		a.hook, a.lastHookAt = f, f.At
		if strings.EqualFold(in.Status, "resolved") || strings.HasSuffix(in.EventType, ".resolved") {
			if a.resolvedBy == nil {
				a.resolved, a.resolvedBy = f.At, f
			}
		} else if a.resolvedBy != nil && (strings.HasSuffix(in.EventType, ".reopened") || strings.EqualFold(in.Status, "triggered")) {
			a.resolved, a.resolvedBy = time.Time{}, nil
		}
	}
	for _, a := range accs {
		a.combine(x.now)
	}
	slices.SortFunc(out, func(a, b *incidentRec) int { // ids are unique: a total order
		if c := a.triggered.Compare(b.triggered); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	x.incidents = out
	return out
}

// combine settles the incident's state from the webhooks and the newest read: whichever
// spoke last wins (a tie goes to the read, which saw the whole life). A read that says
// resolved gives its resolve time; a read that says open undoes a resolution the webhooks
// reported before it (a reopening whose webhook never arrived).
func (a *incidentAcc) combine(now time.Time) {
	r := a.rec
	if a.hook != nil {
		r.inc, r.resolved, r.resolvedBy = a.hook.Incident, a.resolved, a.resolvedBy
	}
	if a.read == nil || (a.hook != nil && a.readAt.Before(a.lastHookAt)) {
		return
	}
	in := a.read.Incident
	r.inc = in
	switch {
	case !strings.EqualFold(in.Status, "resolved"):
		r.resolved, r.resolvedBy = time.Time{}, nil
	case in.ResolvedAt != nil && !in.ResolvedAt.After(now):
		r.resolved, r.resolvedBy = in.ResolvedAt.UTC(), a.read
	}
}
