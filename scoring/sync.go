package scoring

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// Sync observations. A repo_state is what sync read of a repository's governance; webhooks
// report changes as they happen, so silence after a webhook means "unchanged", but silence
// after an API read may just be a sync that stopped working. A state resting on a read is
// therefore trusted only while the read is younger than sync.stale_after.

// sortedCoverage copies the coverage records in a total order with times in UTC, so that the
// card does not depend on the order the caller listed them in; nil when there are none.
func sortedCoverage(in []releaseops.SyncCoverage) []releaseops.SyncCoverage {
	if len(in) == 0 {
		return nil
	}
	out := make([]releaseops.SyncCoverage, len(in))
	for i, c := range in {
		c.LastAttempt, c.LastSuccess = c.LastAttempt.UTC(), c.LastSuccess.UTC()
		out[i] = c
	}
	slices.SortFunc(out, func(a, b releaseops.SyncCoverage) int {
		if c := cmp.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		if c := cmp.Compare(lowerASCII(a.Subject), lowerASCII(b.Subject)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		if c := a.LastSuccess.Compare(b.LastSuccess); c != 0 {
			return c
		}
		if c := a.LastAttempt.Compare(b.LastAttempt); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Failures, b.Failures); c != 0 {
			return c
		}
		return cmp.Compare(a.Error, b.Error)
	})
	return out
}

// coverage returns the record of one subject of a source (subjects compare without case); when
// several match (a repository renamed in case keeps its old record), the one with the latest
// success, then the latest attempt: the sorted order puts the exact subject before the times,
// so the last match is not necessarily the newest. Ties keep the last in sorted order. Nil when
// none matches.
func (x *facts) coverage(source, subject string) *releaseops.SyncCoverage {
	var out *releaseops.SyncCoverage
	for i := range x.sync {
		c := &x.sync[i]
		if !strings.EqualFold(c.Source, source) || !strings.EqualFold(c.Subject, subject) {
			continue
		}
		if out == nil || c.LastSuccess.After(out.LastSuccess) ||
			(c.LastSuccess.Equal(out.LastSuccess) && !c.LastAttempt.Before(out.LastAttempt)) {
			out = c
		}
	}
	return out
}

// readRepo is the repository a repo_state was read of: its own name, else the catalog's.
func (x *facts) readRepo(f *releaseops.Fact) string {
	if f.RepoState.Repo != "" {
		return f.RepoState.Repo
	}
	return x.svc.Repo
}

// readCoverage is the coverage record of the sync that made a repo_state read.
func (x *facts) readCoverage(f *releaseops.Fact) *releaseops.SyncCoverage {
	return x.coverage(f.Evidence.Source, x.readRepo(f))
}

// readTime is when an API read was made: its evidence time (the fetch), else the fact's.
func readTime(f *releaseops.Fact) time.Time {
	if !f.Evidence.At.IsZero() {
		return f.Evidence.At
	}
	return f.At
}

func apiName(source string) string { return "the " + releaseops.SourceTitle(source) + " API" }

// readAt words an API read for a reason: "read from the GitHub API at 2026-12-01 10:00 UTC".
func readAt(f *releaseops.Fact) string {
	return "read from " + apiName(f.Evidence.Source) + " at " + stamp(readTime(f))
}

// apiNote is " (read from the GitHub API at T)" when f is an API read, else "": a reason
// says where its value came from when that is a sync rather than an event GitHub sent.
func apiNote(f *releaseops.Fact) string {
	if f == nil || !f.Evidence.Synced() {
		return ""
	}
	return " (" + readAt(f) + ")"
}

// apiAside is apiNote for inside parentheses: "; read from the GitHub API at T".
func apiAside(f *releaseops.Fact) string {
	if f == nil || !f.Evidence.Synced() {
		return ""
	}
	return "; " + readAt(f)
}

// staleGov returns, when the branch state rests on an API read older than sync.stale_after,
// the words that say so and why; "" while the read is fresh or the state rests on webhooks.
// The read's age is the coverage record's last success: sync records a repo_state only when
// something changed, so an unchanged repository read an hour ago has an old repo_state.
func (x *facts) staleGov(v *branchView) string {
	f := v.rest
	if f == nil {
		return ""
	}
	repo := x.readRepo(f)
	cov := x.readCoverage(f)
	last := readTime(f)
	if cov != nil && !cov.LastSuccess.IsZero() {
		last = cov.LastSuccess
	}
	if !last.Before(x.now.Add(-x.syncStale)) {
		return ""
	}
	var why string
	switch {
	case cov == nil:
		why = fmt.Sprintf("no sync of %s is recorded", repo)
	case cov.Failing():
		why = fmt.Sprintf("the sync of %s is failing (%s)", repo, cov.Error)
	case cov.LastAttempt.IsZero():
		why = fmt.Sprintf("the sync of %s has not run since", repo)
	default:
		why = fmt.Sprintf("the sync of %s has not run since %s", repo, stamp(cov.LastAttempt))
	}
	return fmt.Sprintf("last read from %s at %s, more than sync.stale_after (%s) ago: %s; fix the sync or send branch_protection_rule and repository_ruleset events",
		apiName(f.Evidence.Source), stamp(last), settingDuration(x.syncStale), why)
}

// staleRead is staleGov for any other read: empty while the read of subject from source (its
// coverage's last success, else the read's own time) is younger than sync.stale_after; else
// the words saying how old it is and why, ending with fix.
func (x *facts) staleRead(f *releaseops.Fact, source, subject, fix string) string {
	if f == nil || !f.Evidence.Synced() {
		return ""
	}
	cov := x.coverage(source, subject)
	last := readTime(f)
	if cov != nil && !cov.LastSuccess.IsZero() && !cov.LastSuccess.After(x.now) && cov.LastSuccess.After(last) {
		last = cov.LastSuccess
	}
	if !last.Before(x.now.Add(-x.syncStale)) {
		return ""
	}
	why := fmt.Sprintf("no sync of %s is recorded", subject)
	if cov != nil {
		why = fmt.Sprintf("the sync of %s has not run since", subject)
		if cov.Failing() {
			why = fmt.Sprintf("the sync of %s is failing (%s)", subject, cov.Error)
		}
	}
	return fmt.Sprintf("last read from %s at %s, more than sync.stale_after (%s) ago: %s; %s",
		apiName(f.Evidence.Source), stamp(last), settingDuration(x.syncStale), why, fix)
}

// staleResult turns a result that would pass into no_data: claim is what the stale read says
// ("main requires 2 approving reviews"), tail is staleGov's words. The evidence stays, so the
// read it rests on can be looked at.
func staleResult(claim, tail string, r result) result {
	r.outcome, r.score, r.reason = OutcomeNoData, 0, claim+", "+tail
	return r
}

// settingDuration formats a configured duration as it is written in YAML: 72h, 90m.
func settingDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// FailingSyncs returns the card's coverage records whose latest attempt failed, in card order.
func (c *Scorecard) FailingSyncs() []releaseops.SyncCoverage {
	var out []releaseops.SyncCoverage
	for _, s := range c.Sync {
		if s.Failing() {
			out = append(out, s)
		}
	}
	return out
}

// SyncSummary says in one line what a coverage record means, the same way in Slack, the web
// pages and the terminal: "GitHub sync of acme/api failing (last successful read 2026-11-16
// 10:00 UTC; 3 failed attempts in a row): 401 bad credentials", or "GitHub sync of acme/api:
// last read 2026-11-20 09:00 UTC".
func SyncSummary(c releaseops.SyncCoverage) string {
	what := releaseops.SourceTitle(c.Source) + " sync of " + c.Subject
	last := "never read successfully"
	if !c.LastSuccess.IsZero() {
		last = "last successful read " + stamp(c.LastSuccess)
	}
	if !c.Failing() {
		if c.LastSuccess.IsZero() {
			return what + ": not read yet"
		}
		return what + ": last read " + stamp(c.LastSuccess)
	}
	if c.Failures > 0 {
		last += "; " + plural(c.Failures, "failed attempt", "failed attempts in a row")
	}
	return what + " failing (" + last + "): " + c.Error
}
