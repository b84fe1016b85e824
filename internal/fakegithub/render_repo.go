package fakegithub

import (
	"path"
	"strconv"
	"strings"
	"time"
)

// The renderers build GitHub's shapes field for field (testdata/recorded holds the answers
// they are checked against). URLs point at the fake, so a client that follows one stays here.

func (s *Server) user(login, typ string) map[string]any {
	id := numericID(login)
	u := s.api() + "/users/" + login
	return map[string]any{
		"login": login, "id": id, "node_id": "MDQ6VXNlcj" + strconv.FormatInt(id, 10),
		"avatar_url": "https://avatars.githubusercontent.com/u/" + strconv.FormatInt(id, 10) + "?v=4", "gravatar_id": "",
		"url": u, "html_url": "https://github.com/" + login,
		"followers_url": u + "/followers", "following_url": u + "/following{/other_user}", "gists_url": u + "/gists{/gist_id}",
		"starred_url": u + "/starred{/owner}{/repo}", "subscriptions_url": u + "/subscriptions", "organizations_url": u + "/orgs",
		"repos_url": u + "/repos", "events_url": u + "/events{/privacy}", "received_events_url": u + "/received_events",
		"type": typ, "site_admin": false,
	}
}

func owner(full string) string {
	o, _, _ := strings.Cut(full, "/")
	return o
}

func name(full string) string {
	_, n, _ := strings.Cut(full, "/")
	return n
}

// repoURLs are the repository's URL templates, each under /repos/{owner}/{name}.
var repoURLs = map[string]string{
	"forks_url": "/forks", "keys_url": "/keys{/key_id}", "collaborators_url": "/collaborators{/collaborator}",
	"teams_url": "/teams", "hooks_url": "/hooks", "issue_events_url": "/issues/events{/number}", "events_url": "/events",
	"assignees_url": "/assignees{/user}", "branches_url": "/branches{/branch}", "tags_url": "/tags",
	"blobs_url": "/git/blobs{/sha}", "git_tags_url": "/git/tags{/sha}", "git_refs_url": "/git/refs{/sha}",
	"trees_url": "/git/trees{/sha}", "statuses_url": "/statuses/{sha}", "languages_url": "/languages",
	"stargazers_url": "/stargazers", "contributors_url": "/contributors", "subscribers_url": "/subscribers",
	"subscription_url": "/subscription", "commits_url": "/commits{/sha}", "git_commits_url": "/git/commits{/sha}",
	"comments_url": "/comments{/number}", "issue_comment_url": "/issues/comments{/number}", "contents_url": "/contents/{+path}",
	"compare_url": "/compare/{base}...{head}", "merges_url": "/merges", "archive_url": "/{archive_format}{/ref}",
	"downloads_url": "/downloads", "issues_url": "/issues{/number}", "pulls_url": "/pulls{/number}",
	"milestones_url": "/milestones{/number}", "notifications_url": "/notifications{?since,all,participating}",
	"labels_url": "/labels{/name}", "releases_url": "/releases{/id}", "deployments_url": "/deployments",
}

func (s *Server) repoAPI(full string) string { return s.api() + "/repos/" + full }

// pushedAt is the last push to the default branch: the latest merge, else what the model says.
func pushedAt(r *Repo) time.Time {
	t := r.PushedAt
	for _, p := range r.Pulls {
		if p.MergedAt.After(t) {
			t = p.MergedAt
		}
	}
	if t.IsZero() {
		t = r.CreatedAt
	}
	return t.UTC()
}

// repoJSON renders GET /repos/{owner}/{repo}; full false is the shorter form lists carry.
func (s *Server) repoJSON(r *Repo, full bool) map[string]any {
	base := s.repoAPI(r.FullName)
	org := s.user(owner(r.FullName), "Organization")
	visibility := "private"
	if r.Public {
		visibility = "public"
	}
	pushed := pushedAt(r)
	m := map[string]any{
		"id": r.ID, "node_id": "R_kgDO" + strconv.FormatInt(r.ID, 10), "name": name(r.FullName), "full_name": r.FullName,
		"private": !r.Public, "owner": org, "html_url": "https://github.com/" + r.FullName, "description": nullable(r.Description),
		"fork": false, "url": base, "created_at": stamp(r.CreatedAt), "updated_at": stamp(pushed), "pushed_at": stamp(pushed),
		"git_url": "git://github.com/" + r.FullName + ".git", "ssh_url": "git@github.com:" + r.FullName + ".git",
		"clone_url": "https://github.com/" + r.FullName + ".git", "svn_url": "https://github.com/" + r.FullName,
		"homepage": nil, "size": 1024, "stargazers_count": 0, "watchers_count": 0, "language": "Go",
		"has_issues": true, "has_projects": false, "has_downloads": true, "has_wiki": false, "has_pages": false,
		"has_discussions": false, "forks_count": 0, "mirror_url": nil, "archived": r.Archived, "disabled": false,
		"open_issues_count": 0, "license": nil, "allow_forking": false, "is_template": false,
		"web_commit_signoff_required": false, "topics": []string{}, "visibility": visibility, "forks": 0,
		"open_issues": 0, "watchers": 0, "default_branch": r.DefaultBranch,
		"permissions":        map[string]bool{"admin": false, "maintain": false, "push": false, "triage": false, "pull": true},
		"allow_squash_merge": true, "allow_merge_commit": true, "allow_rebase_merge": true, "allow_auto_merge": false,
		"delete_branch_on_merge": true, "allow_update_branch": false, "use_squash_pr_title_as_default": false,
		"squash_merge_commit_message": "COMMIT_MESSAGES", "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
		"merge_commit_message": "PR_TITLE", "merge_commit_title": "MERGE_MESSAGE", "custom_properties": map[string]any{},
	}
	for k, suffix := range repoURLs {
		m[k] = base + suffix
	}
	if full {
		m["organization"], m["network_count"], m["subscribers_count"] = org, 0, 0
	}
	return m
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// files is the default branch's content.
func files(r *Repo) map[string]string {
	out := make(map[string]string, len(r.Files)+3)
	for p, c := range r.Files {
		out[strings.Trim(p, "/")] = c
	}
	if r.CodeownersAt != "" {
		c := r.Codeowners
		if c == "" {
			c = "* @" + owner(r.FullName) + "/" + name(r.FullName) + "-owners\n"
		}
		out[strings.Trim(r.CodeownersAt, "/")] = c
	}
	if r.CatalogInfo != "" {
		out["catalog-info.yaml"] = r.CatalogInfo
	}
	if _, ok := out["README.md"]; !ok {
		out["README.md"] = "# " + name(r.FullName) + "\n"
	}
	return out
}

func (s *Server) snap(e *repoEntry) *gitSnapshot {
	if e.snap == nil {
		e.snap = snapshot(e.repo.FullName, files(&e.repo), pushedAt(&e.repo))
	}
	return e.snap
}

// branchJSON renders GET /repos/{owner}/{repo}/branches/{branch}. "protected" is true when a
// classic protection or an active ruleset covers the branch, as GitHub says it; "protection"
// describes only the classic one.
func (s *Server) branchJSON(e *repoEntry) map[string]any {
	r := &e.repo
	g := s.snap(e)
	base := s.repoAPI(r.FullName)
	at := stamp(g.at)
	checks := []any{}
	contexts := []string{}
	level := "off"
	if p := r.Classic; p != nil && len(p.StatusChecks) > 0 {
		contexts = p.StatusChecks
		for _, c := range p.StatusChecks {
			checks = append(checks, map[string]any{"context": c, "app_id": actionsAppID})
		}
		level = "non_admins"
		if p.EnforceAdmins {
			level = "everyone"
		}
	}
	return map[string]any{
		"name": r.DefaultBranch,
		"commit": map[string]any{
			"sha": g.commit, "node_id": "C_kwDO" + g.commit[:20],
			"commit": map[string]any{
				"author":    map[string]any{"name": "Octo Cat", "email": "octocat@example.com", "date": at},
				"committer": map[string]any{"name": "GitHub", "email": "noreply@github.com", "date": at},
				"message":   "Update " + r.FullName, "tree": map[string]any{"sha": g.root, "url": base + "/git/trees/" + g.root},
				"url": base + "/git/commits/" + g.commit, "comment_count": 0,
				"verification": map[string]any{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil, "verified_at": nil},
			},
			"url": base + "/commits/" + g.commit, "html_url": "https://github.com/" + r.FullName + "/commit/" + g.commit,
			"comments_url": base + "/commits/" + g.commit + "/comments",
			"author":       s.user("octocat", "User"), "committer": s.user("web-flow", "User"),
			"parents": []any{map[string]any{"sha": g.parent, "url": base + "/commits/" + g.parent,
				"html_url": "https://github.com/" + r.FullName + "/commit/" + g.parent}},
		},
		"_links":    map[string]any{"self": base + "/branches/" + r.DefaultBranch, "html": "https://github.com/" + r.FullName + "/tree/" + r.DefaultBranch},
		"protected": r.Classic != nil || len(s.branchRules(r, r.DefaultBranch)) > 0,
		"protection": map[string]any{"enabled": r.Classic != nil,
			"required_status_checks": map[string]any{"enforcement_level": level, "contexts": contexts, "checks": checks}},
		"protection_url": base + "/branches/" + r.DefaultBranch + "/protection",
	}
}

// protectionJSON renders GET .../branches/{branch}/protection. Sections GitHub leaves out
// when off (reviews, status checks, restrictions) are left out here too.
func (s *Server) protectionJSON(r *Repo) map[string]any {
	p := r.Classic
	u := s.repoAPI(r.FullName) + "/branches/" + r.DefaultBranch + "/protection"
	enabled := func(on bool) map[string]any { return map[string]any{"enabled": on} }
	m := map[string]any{
		"url":                              u,
		"required_signatures":              map[string]any{"url": u + "/required_signatures", "enabled": p.SignedCommits},
		"enforce_admins":                   map[string]any{"url": u + "/enforce_admins", "enabled": p.EnforceAdmins},
		"required_linear_history":          enabled(p.LinearHistory),
		"allow_force_pushes":               enabled(p.AllowForcePushes),
		"allow_deletions":                  enabled(p.AllowDeletions),
		"block_creations":                  enabled(false),
		"required_conversation_resolution": enabled(false),
		"lock_branch":                      enabled(false),
		"allow_fork_syncing":               enabled(false),
	}
	if len(p.StatusChecks) > 0 {
		checks := make([]any, len(p.StatusChecks))
		for i, c := range p.StatusChecks {
			checks[i] = map[string]any{"context": c, "app_id": actionsAppID}
		}
		m["required_status_checks"] = map[string]any{"url": u + "/required_status_checks", "strict": p.StrictChecks,
			"contexts": p.StatusChecks, "contexts_url": u + "/required_status_checks/contexts", "checks": checks}
	}
	if p.reviews() {
		m["required_pull_request_reviews"] = map[string]any{"url": u + "/required_pull_request_reviews",
			"dismiss_stale_reviews": p.DismissStale, "require_code_owner_reviews": p.CodeOwnerReview,
			"required_approving_review_count": p.RequiredReviews, "require_last_push_approval": false}
	}
	return m
}

// rulesetApplies reports whether an active ruleset's ref conditions take in the branch.
func rulesetApplies(rs *Ruleset, r *Repo, branch string) bool {
	if rs.Enforcement != "" && rs.Enforcement != "active" {
		return false
	}
	match := func(pats []string) bool {
		for _, p := range pats {
			switch {
			case p == "~ALL":
				return true
			case p == "~DEFAULT_BRANCH":
				if branch == r.DefaultBranch {
					return true
				}
			default:
				if ok, _ := path.Match(strings.TrimPrefix(p, "refs/heads/"), branch); ok {
					return true
				}
			}
		}
		return false
	}
	include := rs.Include
	if len(include) == 0 {
		include = []string{"~DEFAULT_BRANCH"}
	}
	return match(include) && !match(rs.Exclude)
}

func sourceOf(rs *Ruleset, r *Repo) (string, string) {
	typ, src := rs.SourceType, rs.Source
	if typ == "" {
		typ = "Repository"
	}
	if src == "" {
		src = r.FullName
		if typ == "Organization" {
			src = owner(r.FullName)
		}
	}
	return typ, src
}

// branchRules renders the items of GET .../rules/branches/{branch}: the rules of every
// active ruleset that takes the branch in, flattened, each naming its ruleset.
func (s *Server) branchRules(r *Repo, branch string) []any {
	var out []any
	for i := range r.Rulesets {
		rs := &r.Rulesets[i]
		if !rulesetApplies(rs, r, branch) {
			continue
		}
		typ, src := sourceOf(rs, r)
		for _, rule := range rs.Rules {
			item := map[string]any{"type": rule.Type, "ruleset_source_type": typ, "ruleset_source": src, "ruleset_id": rs.ID}
			if rule.Parameters != nil {
				item["parameters"] = rule.Parameters
			}
			out = append(out, item)
		}
	}
	return out
}

// rulesetJSON renders one ruleset (GET .../rulesets/{id}); summary leaves the rules out, as
// the list does.
func (s *Server) rulesetJSON(rs *Ruleset, r *Repo, summary bool) map[string]any {
	typ, src := sourceOf(rs, r)
	name := rs.Name
	if name == "" {
		name = "ruleset " + strconv.FormatInt(rs.ID, 10)
	}
	enf := rs.Enforcement
	if enf == "" {
		enf = "active"
	}
	updated := rs.UpdatedAt
	if updated.IsZero() {
		updated = r.CreatedAt
	}
	u := s.repoAPI(r.FullName) + "/rulesets/" + strconv.FormatInt(rs.ID, 10)
	m := map[string]any{"id": rs.ID, "name": name, "target": "branch", "source_type": typ, "source": src, "enforcement": enf,
		"node_id": "RRS_lACk" + strconv.FormatInt(rs.ID, 10), "_links": map[string]any{"self": map[string]any{"href": u},
			"html": map[string]any{"href": "https://github.com/" + r.FullName + "/rules/" + strconv.FormatInt(rs.ID, 10)}},
		"created_at": stamp(r.CreatedAt), "updated_at": stamp(updated)}
	if summary {
		return m
	}
	include, exclude := rs.Include, rs.Exclude
	if len(include) == 0 {
		include = []string{"~DEFAULT_BRANCH"}
	}
	if exclude == nil {
		exclude = []string{}
	}
	rules := make([]any, len(rs.Rules))
	for i, rule := range rs.Rules {
		item := map[string]any{"type": rule.Type}
		if rule.Parameters != nil {
			item["parameters"] = rule.Parameters
		}
		rules[i] = item
	}
	m["bypass_actors"] = []any{}
	m["current_user_can_bypass"] = "never"
	m["conditions"] = map[string]any{"ref_name": map[string]any{"include": include, "exclude": exclude}}
	m["rules"] = rules
	return m
}
