package fakegithub

import (
	"encoding/base64"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

const (
	docsDependabot   = "https://docs.github.com/rest/dependabot/alerts#list-dependabot-alerts-for-a-repository"
	docsCodeScanning = "https://docs.github.com/rest/code-scanning/code-scanning#list-code-scanning-alerts-for-a-repository"
	docsInstallation = "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app"
)

func (s *Server) alertRoutes() {
	s.repoRoute("GET /repos/{owner}/{repo}/dependabot/alerts", func(c *call, e *repoEntry) reply {
		r := &e.repo
		switch {
		case r.Archived:
			return s.errorReply(http.StatusForbidden, "Dependabot alerts are not available for archived repositories.", docsDependabot)
		case r.DependabotDisabled:
			return s.errorReply(http.StatusForbidden, "Dependabot alerts are disabled for this repository.", docsDependabot)
		}
		states := queryValues(c.r.URL.Query(), "state")
		var alerts []*DependabotAlert
		for i := range r.Dependabot {
			a := &r.Dependabot[i]
			if states == nil || slices.Contains(states, orDefault(a.State, "open")) {
				alerts = append(alerts, a)
			}
		}
		sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].Number > alerts[j].Number })
		items := make([]any, len(alerts))
		keys := make([]string, len(alerts))
		for i, a := range alerts {
			items[i], keys[i] = s.dependabotJSON(r, a), strconv.Itoa(a.Number)
		}
		return c.cursorList(items, keys, 30)
	})
	s.repoRoute("GET /repos/{owner}/{repo}/code-scanning/alerts", func(c *call, e *repoEntry) reply {
		r := &e.repo
		switch r.CodeScanningOff {
		case NoAnalysis:
			return s.errorReply(http.StatusNotFound, "no analysis found", docsCodeScanning)
		case NoAdvancedSecurity:
			return s.errorReply(http.StatusForbidden, "Advanced Security must be enabled for this repository to use code scanning.", docsCodeScanning)
		}
		states := queryValues(c.r.URL.Query(), "state")
		var items []any
		alerts := slices.Clone(r.CodeScanning)
		sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].Number > alerts[j].Number })
		for i := range alerts {
			if states == nil || slices.Contains(states, orDefault(alerts[i].State, "open")) {
				items = append(items, s.codeScanningJSON(r, &alerts[i]))
			}
		}
		return c.list(items, 30)
	})
}

// cursorList paginates as the Dependabot alerts API does: by an opaque "after" cursor,
// which a client can only follow from the Link header.
func (c *call) cursorList(items []any, keys []string, def int) reply {
	q := c.r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = def
	}
	per = min(per, 100)
	start := 0
	if after := q.Get("after"); after != "" {
		raw, _ := base64.RawURLEncoding.DecodeString(after)
		if i := slices.Index(keys, string(raw)); i >= 0 {
			start = i + 1
		} else {
			return c.s.errorReply(http.StatusBadRequest, "Invalid cursor", docsDependabot)
		}
	}
	end := min(start+per, len(items))
	out := items[start:end]
	if out == nil {
		out = []any{}
	}
	rep := c.s.jsonReply(http.StatusOK, out)
	if end < len(items) {
		v := c.r.URL.Query()
		v.Set("after", base64.RawURLEncoding.EncodeToString([]byte(keys[end-1])))
		v.Del("page")
		rep.link = "<" + c.s.api() + c.r.URL.EscapedPath() + "?" + v.Encode() + `>; rel="next"`
	}
	return rep
}

func (s *Server) appRoutes() {
	s.handle("GET /app", authAppOrInstallation, func(c *call) reply { return s.jsonReply(http.StatusOK, s.appJSON()) })
	s.handle("GET /user", authToken, func(c *call) reply {
		if c.cred.kind == "installation" {
			return s.errorReply(http.StatusForbidden, "Resource not accessible by integration", "https://docs.github.com/rest/users/users#get-the-authenticated-user")
		}
		u := s.user("octocat", "User")
		u["name"], u["email"], u["created_at"] = "Octo Cat", nil, stamp(s.now().AddDate(-5, 0, 0).Truncate(24*3600e9))
		return s.jsonReply(http.StatusOK, u)
	})
	s.handle("GET /user/repos", authToken, func(c *call) reply {
		if c.cred.kind == "installation" {
			return s.errorReply(http.StatusForbidden, "Resource not accessible by integration", "https://docs.github.com/rest/repos/repos#list-repositories-for-the-authenticated-user")
		}
		var items []any
		for _, full := range s.sortedRepos() {
			items = append(items, s.repoJSON(&s.repos[full].repo, false))
		}
		return c.list(items, 30)
	})
	s.handle("GET /app/installations", authJWT, func(c *call) reply {
		items := make([]any, len(s.app.Installations))
		for i := range s.app.Installations {
			items[i] = s.installationJSON(&s.app.Installations[i])
		}
		return c.list(items, 30)
	})
	s.handle("GET /app/installations/{id}", authJWT, func(c *call) reply {
		id, _ := strconv.ParseInt(c.param("id"), 10, 64)
		if in := s.installation(id); in != nil {
			return s.jsonReply(http.StatusOK, s.installationJSON(in))
		}
		return s.notFound("https://docs.github.com/rest/apps/apps#get-an-installation-for-the-authenticated-app")
	})
	s.handle("POST /app/installations/{id}/access_tokens", authJWT, s.mint)
	s.handle("GET /repos/{owner}/{repo}/installation", authJWT, func(c *call) reply {
		e, ok := s.repos[strings.ToLower(c.param("owner")+"/"+c.param("repo"))]
		if ok {
			for i := range s.app.Installations {
				if covers(&s.app.Installations[i], e.repo.FullName) {
					return s.jsonReply(http.StatusOK, s.installationJSON(&s.app.Installations[i]))
				}
			}
		}
		return s.notFound(docsInstallation)
	})
	s.handle("GET /orgs/{org}/installation", authJWT, func(c *call) reply {
		for i := range s.app.Installations {
			if strings.EqualFold(s.app.Installations[i].Account, c.param("org")) {
				return s.jsonReply(http.StatusOK, s.installationJSON(&s.app.Installations[i]))
			}
		}
		return s.notFound("https://docs.github.com/rest/apps/apps#get-an-organization-installation-for-the-authenticated-app")
	})
	s.handle("GET /installation/repositories", authInstallation, func(c *call) reply {
		in := s.installation(c.cred.installation)
		var items []any
		for _, full := range s.sortedRepos() {
			if e := s.repos[full]; covers(in, e.repo.FullName) {
				items = append(items, s.repoJSON(&e.repo, false))
			}
		}
		page, link := c.page(items, 30)
		rep := s.jsonReply(http.StatusOK, map[string]any{"total_count": len(items), "repository_selection": selection(in), "repositories": page})
		rep.link = link
		return rep
	})
	s.handle("GET /orgs/{org}", authToken, func(c *call) reply {
		if !s.isOrg(c.param("org")) {
			return s.notFound("https://docs.github.com/rest/orgs/orgs#get-an-organization")
		}
		o := s.user(c.param("org"), "Organization")
		base := s.api() + "/orgs/" + c.param("org")
		for k, v := range map[string]string{"url": base, "repos_url": base + "/repos", "events_url": base + "/events",
			"hooks_url": base + "/hooks", "issues_url": base + "/issues", "members_url": base + "/members{/member}",
			"public_members_url": base + "/public_members{/member}"} {
			o[k] = v
		}
		o["description"], o["html_url"] = nil, "https://github.com/"+c.param("org")
		return s.jsonReply(http.StatusOK, o)
	})
	s.handle("GET /orgs/{org}/repos", authToken, func(c *call) reply {
		org := c.param("org")
		var items []any
		for _, full := range s.sortedRepos() {
			e := s.repos[full]
			if strings.EqualFold(owner(e.repo.FullName), org) && s.visible(c.cred, e.repo.FullName) {
				items = append(items, s.repoJSON(&e.repo, false))
			}
		}
		if !s.isOrg(org) {
			return s.notFound("https://docs.github.com/rest/repos/repos#list-organization-repositories")
		}
		return c.list(items, 30)
	})
}

// isOrg reports whether login is an organisation: the owner of a repository, or an account
// the App is installed on.
func (s *Server) isOrg(login string) bool {
	for _, e := range s.repos {
		if strings.EqualFold(owner(e.repo.FullName), login) {
			return true
		}
	}
	if s.app != nil {
		for _, in := range s.app.Installations {
			if strings.EqualFold(in.Account, login) {
				return true
			}
		}
	}
	return false
}

func (s *Server) sortedRepos() []string {
	keys := make([]string, 0, len(s.repos))
	for k := range s.repos {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var appEvents = []string{"branch_protection_rule", "check_run", "code_scanning_alert", "dependabot_alert", "deployment",
	"deployment_protection_rule", "deployment_status", "installation", "installation_repositories", "pull_request",
	"pull_request_review", "push", "release", "repository_ruleset", "workflow_run"}

func (s *Server) appJSON() map[string]any {
	a := s.app
	ownerLogin := "releaseops"
	if len(a.Installations) > 0 {
		ownerLogin = a.Installations[0].Account
	}
	created := stamp(s.now().AddDate(-1, 0, 0).Truncate(24 * 3600e9))
	return map[string]any{"id": a.ID, "slug": a.Slug, "node_id": "A_kwDO" + strconv.FormatInt(a.ID, 10), "client_id": a.ClientID,
		"owner": s.user(ownerLogin, "Organization"), "name": a.Slug, "description": "Release readiness",
		"external_url": "https://releaseops.example.com", "html_url": "https://github.com/apps/" + a.Slug,
		"created_at": created, "updated_at": created, "permissions": defaultPermissions(), "events": appEvents,
		"installations_count": len(a.Installations)}
}

func (s *Server) installationJSON(in *Installation) map[string]any {
	id := strconv.FormatInt(in.ID, 10)
	acct := s.user(in.Account, "Organization")
	created := stamp(s.now().AddDate(0, -2, 0).Truncate(24 * 3600e9))
	m := map[string]any{"id": in.ID, "client_id": s.app.ClientID, "account": acct, "repository_selection": selection(in),
		"access_tokens_url": s.api() + "/app/installations/" + id + "/access_tokens", "repositories_url": s.api() + "/installation/repositories",
		"html_url": "https://github.com/organizations/" + in.Account + "/settings/installations/" + id, "app_id": s.app.ID,
		"app_slug": s.app.Slug, "target_id": acct["id"], "target_type": "Organization", "permissions": permissions(in),
		"events": appEvents, "created_at": created, "updated_at": created, "single_file_name": nil,
		"has_multiple_single_files": false, "single_file_paths": []any{}, "suspended_by": nil, "suspended_at": nil}
	if in.Suspended {
		m["suspended_by"], m["suspended_at"] = s.user("octocat", "User"), created
	}
	return m
}
