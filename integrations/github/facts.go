package github

import (
	"net/url"
	"path"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
)

// facts turns a decoded go-github event into facts. p already holds Type and DeliveryID.
func (s *Source) facts(p releaseops.Parsed, ev any) (releaseops.Parsed, error) {
	add := func(f releaseops.Fact) { p.Facts = append(p.Facts, f) }
	switch e := ev.(type) {
	case *gh.PingEvent:
		if r := e.GetRepo(); r.GetFullName() != "" {
			p.Subject = repoSubject(r.GetFullName())
		}

	case *gh.PushEvent:
		repo := e.GetRepo()
		p.Subject = repoSubject(repo.GetFullName())
		push := s.push(e)
		p.OccurredAt = firstTime(repo.GetPushedAt(), e.GetHeadCommit().GetTimestamp())
		add(releaseops.Fact{Kind: releaseops.FactPush, At: p.OccurredAt, Push: push})

	case *gh.PullRequestEvent:
		pr := e.GetPullRequest()
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		p.OccurredAt = at(pr.GetUpdatedAt())
		// Merged means closed with merged true; merge_commit_sha is set on unmerged PRs too.
		if e.GetAction() == "closed" && pr.GetMerged() {
			p.OccurredAt = firstTime(pr.GetMergedAt(), pr.GetClosedAt(), pr.GetUpdatedAt())
			var labels []string
			for _, l := range pr.Labels {
				if l.GetName() != "" {
					labels = append(labels, l.GetName())
				}
			}
			add(releaseops.Fact{Kind: releaseops.FactPullRequest, At: p.OccurredAt, PullRequest: &releaseops.PullRequest{
				Repo:           e.GetRepo().GetFullName(),
				Number:         pr.GetNumber(),
				Title:          pr.GetTitle(),
				Author:         pr.GetUser().GetLogin(),
				MergedBy:       pr.GetMergedBy().GetLogin(),
				MergedAt:       p.OccurredAt,
				MergeCommitSHA: pr.GetMergeCommitSHA(),
				BaseRef:        pr.GetBase().GetRef(),
				Labels:         labels,
				URL:            pr.GetHTMLURL(),
			}})
		}

	case *gh.PullRequestReviewEvent:
		review := e.GetReview()
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		p.OccurredAt = at(review.GetSubmittedAt())
		add(releaseops.Fact{Kind: releaseops.FactReview, At: p.OccurredAt, Review: &releaseops.Review{
			Repo:     e.GetRepo().GetFullName(),
			PRNumber: e.GetPullRequest().GetNumber(),
			Reviewer: review.GetUser().GetLogin(),
			State:    strings.ToLower(review.GetState()),
			Action:   e.GetAction(),
		}})

	case *gh.BranchProtectionRuleEvent:
		rule := e.GetRule()
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		p.OccurredAt = firstTime(rule.GetUpdatedAt(), rule.GetCreatedAt())
		// The review count and code-owner flag are kept by GitHub even while pull request
		// reviews are switched off for the rule; only an enforced level makes them binding.
		reviewsOn := enforced(rule.GetPullRequestReviewsEnforcementLevel())
		reviews := 0
		if reviewsOn {
			reviews = rule.GetRequiredApprovingReviewCount()
		}
		add(releaseops.Fact{Kind: releaseops.FactBranchProtection, At: p.OccurredAt, BranchProtection: &releaseops.BranchProtection{
			Repo:                     e.GetRepo().GetFullName(),
			Pattern:                  rule.GetName(),
			Action:                   e.GetAction(),
			Deleted:                  e.GetAction() == "deleted",
			RequiredApprovingReviews: reviews,
			RequireCodeOwnerReview:   reviewsOn && rule.GetRequireCodeOwnerReview(),
			DismissStaleReviews:      reviewsOn && rule.GetDismissStaleReviewsOnPush(),
			LinearHistory:            enforced(rule.GetLinearHistoryRequirementEnforcementLevel()),
			SignedCommits:            enforced(rule.GetSignatureRequirementEnforcementLevel()),
			AdminEnforced:            rule.GetAdminEnforced(),
			AllowForcePushes:         enforced(rule.GetAllowForcePushesEnforcementLevel()),
			RequiredStatusChecks:     statusChecks(rule),
		}})

	case *gh.DeploymentEvent:
		// A deployment is only an intent; its lifecycle arrives as deployment_status events,
		// which carry the same deployment id. Recording a started deploy here as well would
		// count every deploy twice, so the deployment event is stored with no facts.
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		p.OccurredAt = at(e.GetDeployment().GetCreatedAt())

	case *gh.DeploymentStatusEvent:
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		st := e.GetDeploymentStatus()
		p.OccurredAt = firstTime(st.GetCreatedAt(), st.GetUpdatedAt())
		if d := deployFromStatus(e); d != nil {
			add(releaseops.Fact{Kind: releaseops.FactDeploy, At: p.OccurredAt, Deploy: d})
		}

	case *gh.DeploymentProtectionRuleEvent:
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		d := e.GetDeployment()
		rule := &releaseops.ProtectionRule{
			Repo:           e.GetRepo().GetFullName(),
			Environment:    e.GetEnvironment(),
			Event:          e.GetEvent(),
			CallbackURL:    e.GetDeploymentCallbackURL(),
			RunID:          RunIDFromCallbackURL(e.GetDeploymentCallbackURL()),
			InstallationID: e.GetInstallation().GetID(),
			DeploymentID:   d.GetID(),
			SHA:            d.GetSHA(),
			Ref:            d.GetRef(),
			Creator:        d.GetCreator().GetLogin(),
		}
		for _, pr := range e.PullRequests {
			if pr.GetNumber() != 0 {
				rule.PRNumbers = append(rule.PRNumbers, pr.GetNumber())
			}
		}
		// The request has no time of its own (deployment.created_at is when the deployment
		// was made, not when the gate was asked): At stays zero and takes the received time.
		add(releaseops.Fact{Kind: releaseops.FactProtectionRule, ProtectionRule: rule})

	case *gh.WorkflowRunEvent:
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		run := e.GetWorkflowRun()
		p.OccurredAt = firstTime(run.GetUpdatedAt(), run.GetRunStartedAt(), run.GetCreatedAt())
		add(releaseops.Fact{Kind: releaseops.FactCIRun, At: p.OccurredAt, CIRun: &releaseops.CIRun{
			Repo:       e.GetRepo().GetFullName(),
			Kind:       "workflow_run",
			Name:       firstNonEmpty(run.GetName(), e.GetWorkflow().GetName()),
			Status:     run.GetStatus(),
			Conclusion: run.GetConclusion(),
			HeadSHA:    run.GetHeadSHA(),
			HeadBranch: run.GetHeadBranch(),
			Event:      run.GetEvent(),
			URL:        run.GetHTMLURL(),
			PRNumbers:  prNumbers(workflowPRs(run)),
		}})

	case *gh.CheckRunEvent:
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		run := e.GetCheckRun()
		p.OccurredAt = firstTime(run.GetCompletedAt(), run.GetStartedAt())
		add(releaseops.Fact{Kind: releaseops.FactCIRun, At: p.OccurredAt, CIRun: &releaseops.CIRun{
			Repo:       e.GetRepo().GetFullName(),
			Kind:       "check_run",
			Name:       run.GetName(),
			Status:     run.GetStatus(),
			Conclusion: run.GetConclusion(),
			HeadSHA:    run.GetHeadSHA(),
			HeadBranch: run.GetCheckSuite().GetHeadBranch(),
			URL:        run.GetHTMLURL(),
			PRNumbers:  prNumbers(checkPRs(run)),
		}})

	case *gh.ReleaseEvent:
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		rel := e.GetRelease()
		p.OccurredAt = firstTime(rel.GetPublishedAt(), rel.GetCreatedAt())
		add(releaseops.Fact{Kind: releaseops.FactRelease, At: p.OccurredAt, Release: &releaseops.Release{
			Repo:       e.GetRepo().GetFullName(),
			Action:     e.GetAction(),
			Tag:        rel.GetTagName(),
			Name:       rel.GetName(),
			Draft:      rel.GetDraft(),
			Prerelease: rel.GetPrerelease(),
			URL:        rel.GetHTMLURL(),
		}})

	case *gh.DependabotAlertEvent:
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		a := e.GetAlert()
		p.OccurredAt = firstTime(a.GetUpdatedAt(), a.GetCreatedAt())
		add(releaseops.Fact{Kind: releaseops.FactVulnerability, At: p.OccurredAt, Vulnerability: &releaseops.Vulnerability{
			Repo:     e.GetRepo().GetFullName(),
			Tool:     "dependabot",
			Number:   a.GetNumber(),
			Action:   e.GetAction(),
			State:    a.GetState(),
			Severity: strings.ToLower(firstNonEmpty(a.GetSecurityAdvisory().GetSeverity(), a.GetSecurityVulnerability().GetSeverity())),
			Summary:  a.GetSecurityAdvisory().GetSummary(),
			URL:      a.GetHTMLURL(),
		}})

	case *gh.CodeScanningAlertEvent:
		p.Subject = repoSubject(e.GetRepo().GetFullName())
		a := e.GetAlert()
		p.OccurredAt = firstTime(a.GetUpdatedAt(), a.GetFixedAt(), a.GetDismissedAt(), a.GetCreatedAt())
		add(releaseops.Fact{Kind: releaseops.FactVulnerability, At: p.OccurredAt, Vulnerability: &releaseops.Vulnerability{
			Repo:     e.GetRepo().GetFullName(),
			Tool:     "code_scanning",
			Number:   a.GetNumber(),
			Action:   e.GetAction(),
			State:    a.GetState(),
			Severity: strings.ToLower(firstNonEmpty(a.GetRule().GetSecuritySeverityLevel(), a.GetRule().GetSeverity())),
			Summary:  firstNonEmpty(a.GetRule().GetDescription(), a.GetRule().GetName(), a.GetRule().GetID()),
			URL:      a.GetHTMLURL(),
		}})
	}
	// Every fact is about the delivery's repository.
	for i := range p.Facts {
		p.Facts[i].Subject = p.Subject
	}
	return p, nil
}

// The generated accessors cover pointer fields only; these guard the slices of a nil parent.
func workflowPRs(r *gh.WorkflowRun) []*gh.PullRequest {
	if r == nil {
		return nil
	}
	return r.PullRequests
}

func checkPRs(r *gh.CheckRun) []*gh.PullRequest {
	if r == nil {
		return nil
	}
	return r.PullRequests
}

func statusChecks(r *gh.BranchProtectionRule) []string {
	if r == nil {
		return nil
	}
	return r.RequiredStatusChecks
}

func prNumbers(prs []*gh.PullRequest) []int {
	var out []int
	for _, pr := range prs {
		if pr.GetNumber() != 0 {
			out = append(out, pr.GetNumber())
		}
	}
	return out
}

// push builds the Push fact and classifies the files the commits touch.
func (s *Source) push(e *gh.PushEvent) *releaseops.Push {
	repo := e.GetRepo()
	ref := e.GetRef()
	p := &releaseops.Push{
		Repo:          repo.GetFullName(),
		Ref:           ref,
		Before:        e.GetBefore(),
		After:         e.GetAfter(),
		Forced:        e.GetForced(),
		Deleted:       e.GetDeleted(),
		DefaultBranch: repo.GetDefaultBranch() != "" && ref == "refs/heads/"+repo.GetDefaultBranch(),
		Pusher:        firstNonEmpty(e.GetPusher().GetName(), e.GetPusher().GetLogin(), e.GetSender().GetLogin()),
		HeadCommitAt:  at(e.GetHeadCommit().GetTimestamp()),
	}
	commits := e.Commits
	if len(commits) == 0 && e.GetHeadCommit() != nil && e.GetHeadCommit().GetID() != "" {
		commits = []*gh.HeadCommit{e.GetHeadCommit()}
	}
	for _, c := range commits {
		if c == nil {
			continue
		}
		files := make([]string, 0, len(c.Added)+len(c.Modified)+len(c.Removed))
		files = append(files, c.Added...)
		files = append(files, c.Modified...)
		files = append(files, c.Removed...)
		for _, f := range files {
			p.TouchesCodeowners = p.TouchesCodeowners || IsCodeowners(f)
			p.TouchesRunbook = p.TouchesRunbook || s.IsRunbook(f)
			p.TouchesTerraform = p.TouchesTerraform || IsTerraform(f)
		}
		if len(files) == 0 {
			files = nil
		}
		p.Commits = append(p.Commits, releaseops.Commit{
			ID:      c.GetID(),
			Message: c.GetMessage(),
			Author:  firstNonEmpty(c.GetAuthor().GetLogin(), c.GetAuthor().GetName()),
			Files:   files,
		})
	}
	return p
}

// IsCodeowners reports whether a repository path is a CODEOWNERS file in one of the places
// GitHub reads it from: the root, .github/ or docs/.
func IsCodeowners(p string) bool {
	switch p {
	case "CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS":
		return true
	}
	return false
}

// IsTerraform reports whether a repository path is Terraform code or variables:
// *.tf, *.tf.json, *.tfvars, *.tfvars.json.
func IsTerraform(p string) bool {
	l := strings.ToLower(p)
	for _, suffix := range []string{".tf", ".tf.json", ".tfvars", ".tfvars.json"} {
		if strings.HasSuffix(l, suffix) {
			return true
		}
	}
	return false
}

// IsRunbook reports whether a repository path is a runbook: a file named runbook*
// (RUNBOOK.md, docs/runbook-checkout.md), a file under a runbook or runbooks directory, or a
// path matching Options.RunbookPatterns. Matching is case-insensitive.
func (s *Source) IsRunbook(p string) bool {
	l := strings.ToLower(p)
	if strings.HasPrefix(path.Base(l), "runbook") {
		return true
	}
	dirs := strings.Split(l, "/")
	for _, d := range dirs[:len(dirs)-1] {
		if d == "runbook" || d == "runbooks" {
			return true
		}
	}
	for _, pat := range s.opts.RunbookPatterns {
		pat = strings.ToLower(strings.TrimPrefix(pat, "/"))
		if pat == "" {
			continue
		}
		if strings.HasSuffix(pat, "/") {
			if strings.HasPrefix(l, pat) {
				return true
			}
			continue
		}
		if ok, err := path.Match(pat, l); err == nil && ok {
			return true
		}
	}
	return false
}

// deployFromStatus maps a deployment_status to a deploy (PROTOCOLS §5): queued, pending,
// waiting and in_progress are started; success is succeeded; failure and error are failed.
// inactive (a superseded deployment) and unknown states give no deploy.
func deployFromStatus(e *gh.DeploymentStatusEvent) *releaseops.Deploy {
	st := e.GetDeploymentStatus()
	dep := e.GetDeployment()
	var status string
	switch st.GetState() {
	case "queued", "pending", "waiting", "in_progress":
		status = releaseops.DeployStarted
	case "success":
		status = releaseops.DeploySucceeded
	case "failure", "error":
		status = releaseops.DeployFailed
	default:
		return nil
	}
	d := &releaseops.Deploy{
		ID:          strconv.FormatInt(dep.GetID(), 10),
		Environment: firstNonEmpty(st.GetEnvironment(), dep.GetEnvironment()),
		Status:      status,
		Kind:        releaseops.KindDeploy,
		Version:     firstNonEmpty(dep.GetRef(), dep.GetSHA()),
		CommitSHA:   dep.GetSHA(),
		Actor:       firstNonEmpty(st.GetCreator().GetLogin(), dep.GetCreator().GetLogin()),
		URL:         firstNonEmpty(st.GetLogURL(), st.GetTargetURL(), st.GetEnvironmentURL()),
		Repo:        e.GetRepo().GetFullName(),
	}
	if dep.GetID() == 0 {
		d.ID = strconv.FormatInt(st.GetID(), 10)
	}
	if t := at(dep.GetCreatedAt()); !t.IsZero() {
		d.StartedAt = &t
	}
	if status != releaseops.DeployStarted {
		if t := firstTime(st.GetCreatedAt(), st.GetUpdatedAt()); !t.IsZero() {
			d.FinishedAt = &t
		}
	}
	return d
}

// RunIDFromCallbackURL returns the workflow run id of a deployment_protection_rule callback
// URL (…/repos/OWNER/REPO/actions/runs/RUN_ID/deployment_protection_rule), or 0 when the URL
// does not have that shape.
func RunIDFromCallbackURL(raw string) int64 {
	u, err := url.Parse(raw)
	if err != nil {
		return 0
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	n := len(parts)
	if n < 4 || parts[n-1] != "deployment_protection_rule" || parts[n-3] != "runs" || parts[n-4] != "actions" {
		return 0
	}
	id, err := strconv.ParseInt(parts[n-2], 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}
