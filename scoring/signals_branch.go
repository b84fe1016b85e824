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
		return result{score: 1, value: true,
			reason:   fmt.Sprintf("%s is protected (%s)", v.name, plural(len(v.current.sources), "rule covers it", "rules cover it")),
			evidence: evidenceOf(v.current.sources...)}
	}
	return result{score: 0, value: false,
		reason:   fmt.Sprintf("%s is not protected: no live branch protection rule or active ruleset covers it; add one (see the playbook)", v.name),
		evidence: evidenceOf(x.latestGovernanceFacts()...)}
}

// latestGovernanceFacts is the newest protection events, for evidence of an absence.
func (x *facts) latestGovernanceFacts() []*releaseops.Fact {
	return newest(mergeFacts(x.of(releaseops.FactBranchProtection), x.of(releaseops.FactRuleset)))
}

func evalRequiredReviewers(x *facts, p Params) result {
	v := x.branchGov()
	if !v.known {
		return x.noGovernanceData()
	}
	want := int(p.Target)
	got := v.current.reviews
	r := result{score: gradeAtLeast(float64(got), p.Target), value: got, evidence: evidenceOf(v.current.sources...)}
	switch {
	case !v.current.protected:
		r.reason = fmt.Sprintf("%s is not protected, so no review is required; the policy wants %d", v.name, want)
		r.evidence = evidenceOf(x.latestGovernanceFacts()...)
	case got >= want:
		r.reason = fmt.Sprintf("%s requires %s (the policy wants %d)", v.name, plural(got, "approving review", "approving reviews"), want)
	default:
		r.reason = fmt.Sprintf("%s requires %s; the policy wants %d", v.name, plural(got, "approving review", "approving reviews"), want)
	}
	return r
}

func evalCodeOwnerReview(x *facts, p Params) result {
	v := x.branchGov()
	if !v.known {
		return x.noGovernanceData()
	}
	if !v.current.codeOwners {
		return result{score: 0, value: false, evidence: evidenceOf(v.current.sources...),
			reason: fmt.Sprintf("%s does not require code-owner review; turn on \"Require review from Code Owners\"", v.name)}
	}
	var touched []*releaseops.Fact
	for _, f := range x.of(releaseops.FactPush) {
		if f.Push.TouchesCodeowners && !f.Push.Deleted && x.repoMatches(f.Push.Repo) && x.since(f.At, p.Window) {
			touched = append(touched, f)
		}
	}
	if x.svc.Codeowners || len(touched) > 0 {
		why := "CODEOWNERS is declared in the catalog"
		if len(touched) > 0 {
			why = "CODEOWNERS was changed " + ago(x.now, touched[len(touched)-1].At)
		}
		return result{score: 1, value: true, evidence: evidenceOf(append(newest(touched), v.current.sources...)...),
			reason: fmt.Sprintf("%s requires code-owner review; %s", v.name, why)}
	}
	return result{score: 0.5, value: true, evidence: evidenceOf(v.current.sources...),
		reason: fmt.Sprintf("%s requires code-owner review, but no CODEOWNERS file is evidenced (no push touching it in %s, and the catalog does not declare codeowners: true); without the file the rule does nothing", v.name, span(p.Window))}
}

func boolSetting(x *facts, on func(policy) bool, what string) result {
	v := x.branchGov()
	if !v.known {
		return x.noGovernanceData()
	}
	if on(v.current) {
		return result{score: 1, value: true, reason: fmt.Sprintf("%s requires %s", v.name, what), evidence: evidenceOf(v.current.sources...)}
	}
	ev := v.current.sources
	if !v.current.protected {
		ev = x.latestGovernanceFacts()
	}
	return result{score: 0, value: false, reason: fmt.Sprintf("%s does not require %s; turn it on in the branch protection rule or ruleset", v.name, what), evidence: evidenceOf(ev...)}
}

func evalLinearHistory(x *facts, _ Params) result {
	return boolSetting(x, func(p policy) bool { return p.linear }, "a linear history")
}

func evalSignedCommits(x *facts, _ Params) result {
	return boolSetting(x, func(p policy) bool { return p.signed }, "signed commits")
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
	if withPush+without == 0 {
		return result{score: 1, value: 0, reason: fmt.Sprintf("no deletion or weakening of %s's protection in the last %s", v.name, span(p.Window)), evidence: evidenceOf(v.current.sources...)}
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
	return result{score: score, value: n, reason: reason, evidence: evidenceOf(ev...)}
}
