package scoring

import (
	"fmt"
	"strings"

	"github.com/releaseops/releaseops"
)

func noData(reason string) result {
	return result{outcome: OutcomeNoData, reason: reason, evidence: []releaseops.Evidence{}}
}

func notApplicable(reason string) result {
	return result{outcome: OutcomeNotApplicable, reason: reason, evidence: []releaseops.Evidence{}}
}

func (x *facts) repoLabel() string {
	if x.svc.Repo != "" {
		return x.svc.Repo
	}
	return "the repository"
}

func (x *facts) noGovernanceData() result {
	return noData(fmt.Sprintf("no branch_protection_rule or repository_ruleset event seen for %s; send those GitHub events (or sync the settings) so protection can be verified", x.repoLabel()))
}

func evalDefaultBranchProtected(x *facts, _ Params) result {
	v := x.branchGov()
	if !v.known {
		return x.noGovernanceData()
	}
	if v.current.protected {
		claim := v.name + " is protected"
		r := result{score: 1, value: true, evidence: evidenceOf(v.current.evidence()...),
			reason: fmt.Sprintf("%s (%s%s)", claim, plural(len(v.current.sources), "rule covers it", "rules cover it"), v.apiAside(v.current.synced()))}
		if tail := x.staleGov(v); tail != "" {
			return staleResult(claim, tail, r)
		}
		return r
	}
	return result{score: 0, value: false,
		reason:   fmt.Sprintf("%s is not protected%s: no live branch protection rule or active ruleset covers it; add one (see the playbook)", v.name, v.apiNote(v.rest)),
		evidence: evidenceOf(x.latestGovernanceFacts()...)}
}

// latestGovernanceFacts is the newest protection events and reads, for evidence of an absence.
func (x *facts) latestGovernanceFacts() []*releaseops.Fact {
	fs := mergeFacts(mergeFacts(x.of(releaseops.FactBranchProtection), x.of(releaseops.FactRuleset)), x.of(releaseops.FactRepoState))
	return newest(fs)
}

func evalRequiredReviewers(x *facts, p Params) result {
	v := x.branchGov()
	if !v.known {
		return x.noGovernanceData()
	}
	want := int(p.Target)
	got := v.current.reviews
	claim := fmt.Sprintf("%s requires %s", v.name, plural(got, "approving review", "approving reviews"))
	r := result{score: gradeAtLeast(float64(got), p.Target), value: got, evidence: evidenceOf(v.current.evidence()...)}
	note := v.apiNote(v.current.by[setReviews])
	if got == 0 {
		note = v.apiNote(v.rest)
	}
	switch {
	case !v.current.protected:
		r.reason = fmt.Sprintf("%s is not protected%s, so no review is required; the policy wants %d", v.name, note, want)
		r.evidence = evidenceOf(x.latestGovernanceFacts()...)
	case got >= want:
		r.reason = fmt.Sprintf("%s (the policy wants %d%s)", claim, want, v.apiAside(v.current.by[setReviews]))
	default:
		r.reason = fmt.Sprintf("%s%s; the policy wants %d", claim, note, want)
	}
	if tail := x.staleGov(v); tail != "" && r.score > 0 {
		return staleResult(claim, tail, r)
	}
	return r
}

func evalCodeOwnerReview(x *facts, p Params) result {
	v := x.branchGov()
	if !v.known {
		return x.noGovernanceData()
	}
	if !v.current.codeOwners {
		return result{score: 0, value: false, evidence: evidenceOf(v.current.evidence()...),
			reason: fmt.Sprintf("%s does not require code-owner review%s; turn on \"Require review from Code Owners\"", v.name, v.apiNote(v.rest))}
	}
	var touched []*releaseops.Fact
	for _, f := range x.of(releaseops.FactPush) {
		if f.Push.TouchesCodeowners && !f.Push.Deleted && x.repoMatches(f.Push.Repo) && x.since(f.At, p.Window) {
			touched = append(touched, f)
		}
	}
	// The latest read says whether the file exists now; a push or the catalog also evidences it.
	var read *releaseops.Fact
	if s := v.snapshot; s != nil && s.RepoState.Codeowners {
		read = s
	}
	claim := v.name + " requires code-owner review"
	requires := claim + v.apiNote(v.current.by[setCodeOwners])
	var r result
	if x.svc.Codeowners || len(touched) > 0 || read != nil {
		var why string
		switch {
		case read != nil:
			where := "CODEOWNERS exists"
			if path := read.RepoState.CodeownersPath; path != "" {
				where += " at " + path
			}
			if read == v.current.by[setCodeOwners] {
				// One read gave both: say so once.
				requires, why = claim, where+" (both "+v.readAt(read)+")"
			} else {
				why = where + " (" + v.readAt(read) + ")"
			}
		case len(touched) > 0:
			why = "CODEOWNERS was changed " + ago(x.now, touched[len(touched)-1].At)
		default:
			why = "CODEOWNERS is declared in the catalog"
		}
		ev := append(newest(touched), v.current.evidence()...)
		if read != nil {
			ev = append(ev, read)
		}
		r = result{score: 1, value: true, evidence: evidenceOf(ev...), reason: fmt.Sprintf("%s; %s", requires, why)}
	} else {
		checked := "no push touching it in " + span(p.Window) + ", and the catalog does not declare codeowners: true"
		ev := v.current.evidence()
		if s := v.snapshot; s != nil {
			checked = "no push touching it in " + span(p.Window) + ", the catalog does not declare codeowners: true, and the file was not found when " + v.readAt(s)
			ev = append(ev, s)
		}
		r = result{score: 0.5, value: true, evidence: evidenceOf(ev...),
			reason: fmt.Sprintf("%s, but no CODEOWNERS file is evidenced (%s); without the file the rule does nothing", requires, checked)}
	}
	if tail := x.staleGov(v); tail != "" {
		return staleResult(claim, tail, r)
	}
	return r
}

func boolSetting(x *facts, set setting, on func(policy) bool, what string) result {
	v := x.branchGov()
	if !v.known {
		return x.noGovernanceData()
	}
	if on(v.current) {
		claim := fmt.Sprintf("%s requires %s", v.name, what)
		r := result{score: 1, value: true, reason: claim + v.apiNote(v.current.by[set]), evidence: evidenceOf(v.current.evidence()...)}
		if tail := x.staleGov(v); tail != "" {
			return staleResult(claim, tail, r)
		}
		return r
	}
	ev := v.current.evidence()
	if !v.current.protected {
		ev = x.latestGovernanceFacts()
	}
	return result{score: 0, value: false, reason: fmt.Sprintf("%s does not require %s%s; turn it on in the branch protection rule or ruleset", v.name, what, v.apiNote(v.rest)), evidence: evidenceOf(ev...)}
}

func evalLinearHistory(x *facts, _ Params) result {
	return boolSetting(x, setLinear, func(p policy) bool { return p.linear }, "a linear history")
}

func evalSignedCommits(x *facts, _ Params) result {
	return boolSetting(x, setSigned, func(p policy) bool { return p.signed }, "signed commits")
}

func evalPRApprovalShare(x *facts, p Params) result {
	branch := x.branchGov().name
	var total int
	var unapproved, approvedEv []*releaseops.Fact
	for _, pr := range x.prs {
		if !x.since(pr.mergedAt(), p.Window) || !x.repoMatches(pr.pr.Repo) {
			continue
		}
		if pr.pr.BaseRef != "" && pr.pr.BaseRef != branch && pr.pr.BaseRef != "refs/heads/"+branch {
			continue
		}
		total++
		if len(pr.approvals) == 0 {
			unapproved = append(unapproved, pr.fact)
		} else {
			approvedEv = append(approvedEv, pr.approvals[len(pr.approvals)-1])
		}
	}
	if total == 0 {
		return noData(fmt.Sprintf("no pull request merged into %s in the last %s", branch, span(p.Window)))
	}
	share := float64(total-len(unapproved)) / float64(total)
	r := result{score: gradeAtLeast(share, p.Target), value: metric(share)}
	r.reason = fmt.Sprintf("%d of %d pull requests merged in %s had an approving review (%s); the policy wants %s",
		total-len(unapproved), total, span(p.Window), pct(share), pct(p.Target))
	if len(unapproved) > 0 {
		sortFactsDesc(unapproved)
		nums := make([]string, 0, 3)
		for i, f := range unapproved {
			if i == 3 {
				nums = append(nums, "…")
				break
			}
			nums = append(nums, fmt.Sprintf("#%d", f.PullRequest.Number))
		}
		r.reason += "; merged without approval: " + strings.Join(nums, ", ")
		r.evidence = evidenceOf(unapproved...)
	} else {
		r.evidence = evidenceOf(newest(approvedEv)...)
	}
	return r
}

func evalProtectionContinuity(x *facts, p Params) result {
	v := x.branchGov()
	if !v.known {
		return x.noGovernanceData()
	}
	from := x.now.Add(-p.Window)
	var ev []*releaseops.Fact
	var withPush, without int
	var latest, latestPushed string // lapses come oldest first
	for _, l := range v.lapses {
		if !l.end.IsZero() && l.end.Before(from) {
			continue
		}
		msg := fmt.Sprintf("%s on %s at %s", l.what, v.name, stamp(l.start))
		if l.opened.Evidence.Synced() {
			// A read finds a change some time after it was made.
			msg = fmt.Sprintf("%s on %s, found when %s", l.what, v.name, v.readAt(l.opened))
		}
		if l.end.IsZero() {
			msg += " and not restored"
		} else {
			msg += ", restored " + age(l.end.Sub(l.start)) + " later"
		}
		if len(l.pushes) > 0 {
			withPush++
			msg += fmt.Sprintf("; %s landed on %s meanwhile", plural(len(l.pushes), "push", "pushes"), v.name)
			ev = append(ev, l.pushes...)
			latestPushed = msg
		} else {
			without++
		}
		latest = msg
		ev = append(ev, l.opened, l.restored)
	}
	first := latest
	if latestPushed != "" {
		first = latestPushed
	}
	tail := x.staleGov(v)
	if withPush+without == 0 && !v.current.protected {
		// Continuity of a protection that does not exist is no merit: without this a branch
		// never protected would pass for never having lost anything.
		return result{score: 0, value: 0, evidence: evidenceOf(x.latestGovernanceFacts()...),
			reason: fmt.Sprintf("%s has no protection to keep: no live branch protection rule or active ruleset covers it%s; protect it first", v.name, v.apiNote(v.rest))}
	}
	if withPush+without == 0 {
		claim := fmt.Sprintf("no deletion or weakening of %s's protection in the last %s", v.name, span(p.Window))
		r := result{score: 1, value: 0, reason: claim + v.apiNote(v.rest), evidence: evidenceOf(v.current.evidence()...)}
		if tail != "" {
			return staleResult(claim, tail, r)
		}
		return r
	}
	score := 1 - 0.5*float64(without) - float64(withPush)
	n := withPush + without
	reason := first
	if n > 1 {
		reason = fmt.Sprintf("%s in %s; latest notable: %s", plural(n, "protection lapse", "protection lapses"), span(p.Window), first)
	}
	if withPush > 0 {
		reason += "; review what was pushed and who may change protection"
	}
	r := result{score: score, value: n, reason: reason, evidence: evidenceOf(ev...)}
	if tail != "" && score > 0 {
		return staleResult(reason, tail, r)
	}
	return r
}
