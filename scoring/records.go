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
	approvals []*releaseops.Fact // latest approving review per reviewer, not by the author
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
	// A reviewer's latest approved / changes_requested / dismissed review decides; comments do not.
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
		k := rk{prKey(rv.Repo, rv.PRNumber), lowerASCII(rv.Reviewer)}
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

// incidentRec is one PagerDuty incident: when it was triggered and, if so, resolved.
type incidentRec struct {
	id         string
	triggered  time.Time
	resolved   time.Time // zero while open
	first      *releaseops.Fact
	resolvedBy *releaseops.Fact
	inc        *releaseops.Incident
}

func (x *facts) incidentRecs() []*incidentRec {
	if x.incidents != nil {
		return x.incidents
	}
	byID := map[string]*incidentRec{}
	out := []*incidentRec{}
	for _, f := range x.of(releaseops.FactIncident) {
		in := f.Incident
		if x.svc.PagerDutyServiceID != "" && in.ServiceID != "" && in.ServiceID != x.svc.PagerDutyServiceID {
			continue
		}
		r := byID[in.ID]
		if r == nil {
			r = &incidentRec{id: in.ID, triggered: f.At, first: f}
			byID[in.ID] = r
			out = append(out, r)
		}
		r.inc = in
		if !in.CreatedAt.IsZero() && in.CreatedAt.Before(r.triggered) {
			r.triggered = in.CreatedAt
		}
		if strings.EqualFold(in.Status, "resolved") || strings.HasSuffix(in.EventType, ".resolved") {
			if r.resolvedBy == nil {
				r.resolved, r.resolvedBy = f.At, f
			}
		} else if r.resolvedBy != nil && (strings.HasSuffix(in.EventType, ".reopened") || strings.EqualFold(in.Status, "triggered")) {
			r.resolved, r.resolvedBy = time.Time{}, nil
		}
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
