package fakegithub

import (
	"fmt"
	"time"
)

// Synthetic builds n repositories of org ("org/svc-0001"...) quickly and deterministically,
// in the mix a large organisation has: a third with classic protection (two reviews,
// code-owner review, CODEOWNERS in .github/), a third with a ruleset (linear history, signed
// commits, one review; CODEOWNERS at the root), a third unprotected; each with three pull
// requests merged in the last month (reviewed), two production deployments, a release, and
// on some an open Dependabot alert or code scanning that never ran. now anchors the dates.
func Synthetic(org string, n int, now time.Time) []Repo {
	now = now.UTC().Truncate(time.Second)
	out := make([]Repo, n)
	for i := range out {
		r := Repo{FullName: fmt.Sprintf("%s/svc-%04d", org, i), CreatedAt: now.AddDate(-2, 0, 0)}
		switch i % 3 {
		case 0:
			r.Classic = &Protection{RequiredReviews: 2, CodeOwnerReview: true, DismissStale: true, EnforceAdmins: true, StatusChecks: []string{"ci/build"}}
			r.CodeownersAt = ".github/CODEOWNERS"
		case 1:
			r.Rulesets = []Ruleset{{Name: "main", Rules: []Rule{LinearHistoryRule(), SignedCommitsRule(), PullRequestRule(1, false)}}}
			r.CodeownersAt = "CODEOWNERS"
		}
		r.Files = map[string]string{"go.mod": "module example.com/" + r.FullName + "\n", ".github/workflows/ci.yml": "on: push\n"}
		for k := range 3 {
			merged := now.Add(-time.Duration(24*(3+9*k)+i%24) * time.Hour)
			p := Pull{Number: 100 + k, Title: fmt.Sprintf("Change %d", k), Author: "dev", CreatedAt: merged.Add(-6 * time.Hour),
				MergedAt: merged, MergedBy: "lead"}
			p.Reviews = []Review{{User: "reviewer", State: "APPROVED", SubmittedAt: merged.Add(-time.Hour)}}
			if k == 0 {
				p.Reviews = append(p.Reviews, Review{User: "second", State: "COMMENTED", SubmittedAt: merged.Add(-2 * time.Hour)})
			}
			r.Pulls = append(r.Pulls, p)
		}
		for k := range 2 {
			at := now.Add(-time.Duration(24*(2+10*k)) * time.Hour)
			id := int64(i*10 + k + 1)
			r.Deployments = append(r.Deployments, Deployment{ID: id, Ref: "v1." + fmt.Sprint(k), Environment: "production", CreatedAt: at,
				Statuses: []DeploymentStatus{{ID: id*10 + 1, State: "in_progress", CreatedAt: at.Add(time.Minute)},
					{ID: id*10 + 2, State: "success", CreatedAt: at.Add(6 * time.Minute)}}})
		}
		r.Releases = []Release{{ID: int64(i + 1), TagName: "v1.1", CreatedAt: now.AddDate(0, 0, -2), PublishedAt: now.AddDate(0, 0, -2).Add(time.Minute)}}
		if i%4 == 0 {
			r.Dependabot = []DependabotAlert{{Number: 1, Package: "golang.org/x/net", Severity: "high", Summary: "HTTP/2 rapid reset", CreatedAt: now.AddDate(0, 0, -20)}}
		}
		if i%5 == 0 {
			r.CodeScanningOff = NoAnalysis
		}
		out[i] = r
	}
	return out
}

// InstalledOn is an App installation on org covering every repository there.
func InstalledOn(id int64, org string) Installation { return Installation{ID: id, Account: org} }
