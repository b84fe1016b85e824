package scoring

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// policy is the protection the default branch gets from every rule that covers it at one
// moment: the strongest setting of each kind across branch protection rules and active
// rulesets.
type policy struct {
	protected   bool
	reviews     int
	codeOwners  bool
	linear      bool
	signed      bool
	noForcePush bool
	checks      []string           // required status checks (branch protection rules only)
	sources     []*releaseops.Fact // the rule states that make up the policy
}

// weakerThan reports whether p lacks anything q has.
func (p policy) weakerThan(q policy) bool {
	return (q.protected && !p.protected) || p.reviews < q.reviews ||
		(q.codeOwners && !p.codeOwners) || (q.linear && !p.linear) ||
		(q.signed && !p.signed) || (q.noForcePush && !p.noForcePush)
}

// weakening names what p lacks compared to q, for reasons.
func (p policy) weakening(q policy) string {
	switch {
	case q.protected && !p.protected:
		return "protection removed"
	case p.reviews < q.reviews:
		return "required reviews lowered from " + strconv.Itoa(q.reviews) + " to " + strconv.Itoa(p.reviews)
	case q.codeOwners && !p.codeOwners:
		return "code-owner review switched off"
	case q.linear && !p.linear:
		return "linear history switched off"
	case q.signed && !p.signed:
		return "signed commits switched off"
	case q.noForcePush && !p.noForcePush:
		return "force pushes allowed"
	}
	return "protection weakened"
}

// lapse is a span during which the default branch's protection was weaker than just before
// it, with the pushes to the default branch that landed meanwhile.
type lapse struct {
	start, end time.Time // end is zero while not restored
	what       string
	opened     *releaseops.Fact
	restored   *releaseops.Fact
	pushes     []*releaseops.Fact
}

// branchView is what the branch governance signals read.
type branchView struct {
	name    string // the default branch
	known   bool   // at least one protection rule or ruleset event was seen for the repo
	current policy
	lapses  []lapse
}

type ruleState struct {
	bp *releaseops.BranchProtection
	rs *releaseops.Ruleset
	f  *releaseops.Fact
}

func (x *facts) branchGov() *branchView {
	if x.branch != nil {
		return x.branch
	}
	var rules, rulesets []*releaseops.Fact
	for _, f := range x.of(releaseops.FactBranchProtection) {
		if x.repoMatches(f.BranchProtection.Repo) {
			rules = append(rules, f)
		}
	}
	for _, f := range x.of(releaseops.FactRuleset) {
		if x.repoMatches(f.Ruleset.Repo) {
			rulesets = append(rulesets, f)
		}
	}
	timeline := mergeFacts(rules, rulesets)

	v := &branchView{name: x.defaultBranch(timeline), known: len(timeline) > 0}
	state := map[string]ruleState{}
	var keys []string // insertion order, so the policy's sources are deterministic
	var open *lapse
	var baseline policy
	for _, f := range timeline {
		k, rs := ruleKey(f)
		prev, seen := state[k]
		if !seen {
			keys = append(keys, k)
			if rs.deleted() {
				// A rule first seen being deleted existed before: its last settings ride on
				// the deleted event, so the deletion counts as a weakening.
				prev = ruleState{bp: rs.bp, rs: rs.rs, f: f}
				prev = prev.undeleted()
				state[k] = prev
			}
		}
		before := effective(state, keys, v.name)
		state[k] = rs
		after := effective(state, keys, v.name)
		switch {
		case open == nil && after.weakerThan(before):
			open = &lapse{start: f.At, what: after.weakening(before), opened: f}
			baseline = before
		case open != nil && !after.weakerThan(baseline):
			open.end, open.restored = f.At, f
			v.lapses = append(v.lapses, *open)
			open = nil
		}
	}
	if open != nil {
		v.lapses = append(v.lapses, *open)
	}
	v.current = effective(state, keys, v.name)

	if len(v.lapses) > 0 {
		for _, p := range x.of(releaseops.FactPush) {
			if !x.isDefaultBranchPush(p.Push, v.name) {
				continue
			}
			for i := range v.lapses {
				l := &v.lapses[i]
				if !p.At.Before(l.start) && (l.end.IsZero() || p.At.Before(l.end)) {
					l.pushes = append(l.pushes, p)
				}
			}
		}
	}
	x.branch = v
	return v
}

func (s ruleState) deleted() bool {
	return (s.bp != nil && s.bp.Deleted) || (s.rs != nil && s.rs.Deleted)
}

// undeleted returns the state with the deleted mark cleared: the rule as it stood.
func (s ruleState) undeleted() ruleState {
	if s.bp != nil {
		bp := *s.bp
		bp.Deleted = false
		s.bp = &bp
	}
	if s.rs != nil {
		rs := *s.rs
		rs.Deleted = false
		s.rs = &rs
	}
	return s
}

func ruleKey(f *releaseops.Fact) (string, ruleState) {
	if f.BranchProtection != nil {
		bp := f.BranchProtection
		return "bp\x00" + strings.ToLower(bp.Repo) + "\x00" + bp.Pattern, ruleState{bp: bp, f: f}
	}
	rs := f.Ruleset
	return "rs\x00" + strings.ToLower(rs.Repo) + "\x00" + strconv.FormatInt(rs.ID, 10), ruleState{rs: rs, f: f}
}

// effective merges every live rule that covers the branch.
func effective(state map[string]ruleState, keys []string, branch string) policy {
	var p policy
	for _, k := range keys {
		s, ok := state[k]
		if !ok || s.deleted() {
			continue
		}
		switch {
		case s.bp != nil:
			bp := s.bp
			if !matchBranch(bp.Pattern, branch) {
				continue
			}
			p.protected = true
			p.reviews = max(p.reviews, bp.RequiredApprovingReviews)
			p.codeOwners = p.codeOwners || bp.RequireCodeOwnerReview
			p.linear = p.linear || bp.LinearHistory
			p.signed = p.signed || bp.SignedCommits
			p.noForcePush = p.noForcePush || !bp.AllowForcePushes
			p.checks = append(p.checks, bp.RequiredStatusChecks...)
		case s.rs != nil:
			rs := s.rs
			if !strings.EqualFold(rs.Enforcement, "active") || (rs.Target != "" && rs.Target != "branch") || !rulesetCovers(rs.Includes, branch) {
				continue
			}
			p.protected = true
			p.reviews = max(p.reviews, rs.RequiredApprovingReviews)
			p.codeOwners = p.codeOwners || rs.RequireCodeOwnerReview
			p.linear = p.linear || rs.LinearHistory
			p.signed = p.signed || rs.SignedCommits
			p.noForcePush = p.noForcePush || rs.BlocksForcePush
		}
		p.sources = append(p.sources, s.f)
	}
	slices.Sort(p.checks)
	p.checks = slices.Compact(p.checks)
	return p
}

// defaultBranch is the catalog's default branch; else the one the latest default-branch push
// names; else main, or master when only master is covered by a rule.
func (x *facts) defaultBranch(timeline []*releaseops.Fact) string {
	if b := x.svc.DefaultBranch; b != "" {
		return b
	}
	pushes := x.of(releaseops.FactPush)
	for i := len(pushes) - 1; i >= 0; i-- {
		p := pushes[i].Push
		if p.DefaultBranch && strings.HasPrefix(p.Ref, "refs/heads/") && x.repoMatches(p.Repo) {
			return strings.TrimPrefix(p.Ref, "refs/heads/")
		}
	}
	covers := func(branch string) bool {
		for _, f := range timeline {
			if bp := f.BranchProtection; bp != nil && matchBranch(bp.Pattern, branch) {
				return true
			}
			if rs := f.Ruleset; rs != nil && rulesetCovers(rs.Includes, branch) {
				return true
			}
		}
		return false
	}
	if !covers("main") && covers("master") {
		return "master"
	}
	return "main"
}

func (x *facts) isDefaultBranchPush(p *releaseops.Push, branch string) bool {
	if p.Deleted || !x.repoMatches(p.Repo) {
		return false
	}
	return p.DefaultBranch || p.Ref == "refs/heads/"+branch
}

// mergeFacts merges two lists sorted by factCmp into one.
func mergeFacts(a, b []*releaseops.Fact) []*releaseops.Fact {
	out := make([]*releaseops.Fact, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if factCmp(a[0], b[0]) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// sortFactsDesc orders facts newest first (for picking evidence).
func sortFactsDesc(fs []*releaseops.Fact) {
	slices.SortStableFunc(fs, func(a, b *releaseops.Fact) int { return cmp.Compare(0, factCmp(a, b)) })
}
