package fakegithub

import (
	"crypto/sha1" //nolint:gosec // fake commit names, as git's
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

func fakeSHA(parts ...string) string {
	sum := sha1.Sum([]byte(strings.Join(parts, "\x00"))) //nolint:gosec // fake commit names
	return hex.EncodeToString(sum[:])
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func stampOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return stamp(t)
}

// closedAt and updatedAt are what GitHub derives: a merge closes the pull request, and any
// change to it (a review, a merge) bumps updated_at.
func (p *Pull) closedAt() time.Time {
	if p.ClosedAt.IsZero() {
		return p.MergedAt
	}
	return p.ClosedAt
}

func (p *Pull) updatedAt() time.Time {
	if !p.UpdatedAt.IsZero() {
		return p.UpdatedAt
	}
	t := p.CreatedAt
	for _, c := range []time.Time{p.closedAt(), p.MergedAt} {
		if c.After(t) {
			t = c
		}
	}
	for _, rv := range p.Reviews {
		if rv.SubmittedAt.After(t) {
			t = rv.SubmittedAt
		}
	}
	return t
}

func (p *Pull) state() string {
	if p.closedAt().IsZero() {
		return "open"
	}
	return "closed"
}

func (s *Server) pullJSON(r *Repo, p *Pull) map[string]any {
	base := s.repoAPI(r.FullName)
	n := strconv.Itoa(p.Number)
	html := "https://github.com/" + r.FullName + "/pull/" + n
	head := orDefault(p.Head, "topic-"+n)
	baseRef := orDefault(p.Base, r.DefaultBranch)
	headSHA := fakeSHA(r.FullName, "head", n)
	labels := []any{}
	for _, l := range p.Labels {
		labels = append(labels, map[string]any{"id": numericID(r.FullName + "/" + l), "node_id": "LA_kwDO" + strconv.FormatInt(numericID(l), 10),
			"url": base + "/labels/" + l, "name": l, "color": "ededed", "default": false, "description": nil})
	}
	merge := p.MergeCommitSHA
	if merge == "" && !p.MergedAt.IsZero() {
		merge = fakeSHA(r.FullName, "merge", n)
	}
	org := owner(r.FullName)
	ref := func(label, ref, sha string) map[string]any {
		return map[string]any{"label": org + ":" + label, "ref": ref, "sha": sha, "user": s.user(org, "Organization"), "repo": s.repoJSON(r, false)}
	}
	href := func(u string) map[string]any { return map[string]any{"href": u} }
	return map[string]any{
		"url": base + "/pulls/" + n, "id": r.ID*1000 + int64(p.Number), "node_id": "PR_kwDO" + strconv.FormatInt(r.ID*1000+int64(p.Number), 10),
		"html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": base + "/issues/" + n,
		"number": p.Number, "state": p.state(), "locked": false, "title": orDefault(p.Title, "Change "+n),
		"user": s.user(orDefault(p.Author, "octocat"), "User"), "body": nil,
		"created_at": stamp(p.CreatedAt), "updated_at": stamp(p.updatedAt()), "closed_at": stampOrNil(p.closedAt()),
		"merged_at": stampOrNil(p.MergedAt), "merge_commit_sha": nullable(merge),
		"assignee": nil, "assignees": []any{}, "requested_reviewers": []any{}, "requested_teams": []any{},
		"labels": labels, "milestone": nil, "draft": p.Draft,
		"commits_url": base + "/pulls/" + n + "/commits", "review_comments_url": base + "/pulls/" + n + "/comments",
		"review_comment_url": base + "/pulls/comments{/number}", "comments_url": base + "/issues/" + n + "/comments",
		"statuses_url": base + "/statuses/" + headSHA,
		"head":         ref(head, head, headSHA), "base": ref(baseRef, baseRef, fakeSHA(r.FullName, "base", n)),
		"_links": map[string]any{"self": href(base + "/pulls/" + n), "html": href(html), "issue": href(base + "/issues/" + n),
			"comments": href(base + "/issues/" + n + "/comments"), "review_comments": href(base + "/pulls/" + n + "/comments"),
			"review_comment": href(base + "/pulls/comments{/number}"), "commits": href(base + "/pulls/" + n + "/commits"),
			"statuses": href(base + "/statuses/" + headSHA)},
		"author_association": "MEMBER", "auto_merge": nil, "active_lock_reason": nil,
	}
}

func (s *Server) reviewJSON(r *Repo, p *Pull, i int, rv *Review) map[string]any {
	id := rv.ID
	if id == 0 {
		id = (r.ID*1000+int64(p.Number))*100 + int64(i) + 1
	}
	n := strconv.Itoa(p.Number)
	html := "https://github.com/" + r.FullName + "/pull/" + n + "#pullrequestreview-" + strconv.FormatInt(id, 10)
	pr := s.repoAPI(r.FullName) + "/pulls/" + n
	m := map[string]any{"id": id, "node_id": "PRR_kwDO" + strconv.FormatInt(id, 10), "user": s.user(orDefault(rv.User, "reviewer"), "User"),
		"body": "", "state": strings.ToUpper(orDefault(rv.State, "APPROVED")), "html_url": html, "pull_request_url": pr,
		"author_association": "MEMBER", "_links": map[string]any{"html": map[string]any{"href": html}, "pull_request": map[string]any{"href": pr}},
		"commit_id": fakeSHA(r.FullName, "head", n)}
	if !rv.SubmittedAt.IsZero() && !strings.EqualFold(rv.State, "PENDING") {
		m["submitted_at"] = stamp(rv.SubmittedAt)
	}
	return m
}

func (d *Deployment) updatedAt() time.Time {
	t := d.CreatedAt
	for _, st := range d.Statuses {
		if st.CreatedAt.After(t) {
			t = st.CreatedAt
		}
	}
	return t
}

func (s *Server) deploymentJSON(r *Repo, d *Deployment) map[string]any {
	base := s.repoAPI(r.FullName)
	id := strconv.FormatInt(d.ID, 10)
	env := orDefault(d.Environment, "production")
	prod := env == "production"
	if d.Production != nil {
		prod = *d.Production
	}
	return map[string]any{"url": base + "/deployments/" + id, "id": d.ID, "node_id": "DE_kwDO" + id,
		"sha": orDefault(d.SHA, fakeSHA(r.FullName, "deploy", id)), "ref": orDefault(d.Ref, r.DefaultBranch),
		"task": orDefault(d.Task, "deploy"), "payload": map[string]any{}, "original_environment": env, "environment": env,
		"description": nullable(d.Description), "creator": s.user(orDefault(d.Creator, "deploybot"), "User"),
		"created_at": stamp(d.CreatedAt), "updated_at": stamp(d.updatedAt()), "statuses_url": base + "/deployments/" + id + "/statuses",
		"repository_url": base, "transient_environment": false, "production_environment": prod}
}

func (s *Server) deploymentStatusJSON(r *Repo, d *Deployment, st *DeploymentStatus) map[string]any {
	base := s.repoAPI(r.FullName)
	id := strconv.FormatInt(st.ID, 10)
	dep := base + "/deployments/" + strconv.FormatInt(d.ID, 10)
	log := orDefault(st.LogURL, "https://github.com/"+r.FullName+"/actions/runs/"+id)
	return map[string]any{"url": dep + "/statuses/" + id, "id": st.ID, "node_id": "DES_kwDO" + id, "state": st.State,
		"creator": s.user(orDefault(d.Creator, "deploybot"), "User"), "description": st.Description,
		"environment": orDefault(d.Environment, "production"), "target_url": log, "created_at": stamp(st.CreatedAt),
		"updated_at": stamp(st.CreatedAt), "deployment_url": dep, "repository_url": base, "environment_url": "", "log_url": log}
}

func (s *Server) releaseJSON(r *Repo, rel *Release) map[string]any {
	base := s.repoAPI(r.FullName)
	id := strconv.FormatInt(rel.ID, 10)
	m := map[string]any{"url": base + "/releases/" + id, "html_url": "https://github.com/" + r.FullName + "/releases/tag/" + rel.TagName,
		"assets_url": base + "/releases/" + id + "/assets", "upload_url": "https://uploads.github.com/repos/" + r.FullName + "/releases/" + id + "/assets{?name,label}",
		"tarball_url": nil, "zipball_url": nil, "id": rel.ID, "node_id": "RE_kwDO" + id, "tag_name": rel.TagName,
		"target_commitish": r.DefaultBranch, "name": orDefault(rel.Name, rel.TagName), "body": rel.Body, "draft": rel.Draft,
		"prerelease": rel.Prerelease, "created_at": stamp(rel.CreatedAt), "published_at": stampOrNil(rel.PublishedAt),
		"author": s.user(orDefault(rel.Author, "octocat"), "User"), "assets": []any{}}
	if !rel.Draft {
		m["tarball_url"] = base + "/tarball/" + rel.TagName
		m["zipball_url"] = base + "/zipball/" + rel.TagName
	}
	return m
}

func (s *Server) dependabotJSON(r *Repo, a *DependabotAlert) map[string]any {
	n := strconv.Itoa(a.Number)
	eco := orDefault(a.Ecosystem, "go")
	pkg := map[string]any{"ecosystem": eco, "name": a.Package}
	ghsa := orDefault(a.GHSA, "GHSA-fake-"+n)
	vuln := map[string]any{"package": pkg, "severity": a.Severity, "vulnerable_version_range": "< 1.0.0",
		"first_patched_version": map[string]any{"identifier": "1.0.0"}}
	updated := a.UpdatedAt
	if updated.IsZero() {
		updated = a.CreatedAt
	}
	ids := []any{map[string]any{"value": ghsa, "type": "GHSA"}}
	if a.CVE != "" {
		ids = append(ids, map[string]any{"value": a.CVE, "type": "CVE"})
	}
	cvss := map[string]any{"vector_string": nil, "score": 0.0}
	return map[string]any{"number": a.Number, "state": orDefault(a.State, "open"),
		"dependency": map[string]any{"package": pkg, "manifest_path": "go.mod", "scope": "runtime", "relationship": "direct"},
		"security_advisory": map[string]any{"ghsa_id": ghsa, "cve_id": nullable(a.CVE), "summary": a.Summary, "description": a.Summary + ".",
			"vulnerabilities": []any{vuln}, "severity": a.Severity, "cvss": cvss,
			"cvss_severities": map[string]any{"cvss_v3": cvss, "cvss_v4": cvss},
			"epss":            map[string]any{"percentage": 0.0, "percentile": "0"}, "cwes": []any{}, "identifiers": ids,
			"references":   []any{map[string]any{"url": "https://github.com/advisories/" + ghsa}},
			"published_at": stamp(a.CreatedAt), "updated_at": stamp(updated), "withdrawn_at": nil},
		"security_vulnerability": vuln, "url": s.repoAPI(r.FullName) + "/dependabot/alerts/" + n,
		"html_url": "https://github.com/" + r.FullName + "/security/dependabot/" + n, "created_at": stamp(a.CreatedAt),
		"updated_at": stamp(updated), "dismissed_at": nil, "dismissed_by": nil, "dismissed_reason": nil, "dismissed_comment": nil,
		"fixed_at": nil, "auto_dismissed_at": nil}
}

func (s *Server) codeScanningJSON(r *Repo, a *CodeScanningAlert) map[string]any {
	n := strconv.Itoa(a.Number)
	u := s.repoAPI(r.FullName) + "/code-scanning/alerts/" + n
	updated := a.UpdatedAt
	if updated.IsZero() {
		updated = a.CreatedAt
	}
	rule := orDefault(a.RuleID, "go/unsafe-quoting")
	return map[string]any{"number": a.Number, "created_at": stamp(a.CreatedAt), "updated_at": stamp(updated), "url": u,
		"html_url": "https://github.com/" + r.FullName + "/security/code-scanning/" + n, "state": orDefault(a.State, "open"),
		"fixed_at": nil, "dismissed_by": nil, "dismissed_at": nil, "dismissed_reason": nil, "dismissed_comment": nil,
		"rule": map[string]any{"id": rule, "severity": orDefault(a.Severity, "warning"), "description": orDefault(a.Description, rule),
			"name": rule, "tags": []string{"security"}, "security_severity_level": nullable(a.SecuritySeverity)},
		"tool": map[string]any{"name": "CodeQL", "guid": nil, "version": "2.19.3"},
		"most_recent_instance": map[string]any{"ref": "refs/heads/" + r.DefaultBranch, "analysis_key": ".github/workflows/codeql.yml:analyze",
			"environment": "{}", "category": ".github/workflows/codeql.yml:analyze", "state": orDefault(a.State, "open"),
			"commit_sha": fakeSHA(r.FullName, "scan", n), "message": map[string]any{"text": orDefault(a.Description, rule)},
			"location":        map[string]any{"path": orDefault(a.Path, "main.go"), "start_line": 1, "end_line": 1, "start_column": 1, "end_column": 2},
			"classifications": []any{}},
		"instances_url": u + "/instances"}
}
