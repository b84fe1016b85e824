package fakegithub

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

const (
	docsRepo       = "https://docs.github.com/rest/repos/repos#get-a-repository"
	docsBranch     = "https://docs.github.com/rest/branches/branches#get-a-branch"
	docsProtection = "https://docs.github.com/rest/branches/branch-protection#get-branch-protection"
)

func (s *Server) routes() {
	s.handle("/", authNone, func(c *call) reply { return s.notFound(docsREST) })

	s.repoRoute("GET /repos/{owner}/{repo}", func(c *call, e *repoEntry) reply {
		return s.jsonReply(http.StatusOK, s.repoJSON(&e.repo, true))
	})
	s.repoRoute("GET /repos/{owner}/{repo}/branches/{branch}", func(c *call, e *repoEntry) reply {
		if c.param("branch") != e.repo.DefaultBranch {
			return s.errorReply(http.StatusNotFound, "Branch not found", docsBranch)
		}
		return s.jsonReply(http.StatusOK, s.branchJSON(e))
	})
	s.repoRoute("GET /repos/{owner}/{repo}/branches/{branch}/protection", func(c *call, e *repoEntry) reply {
		switch {
		case c.param("branch") != e.repo.DefaultBranch:
			return s.errorReply(http.StatusNotFound, "Branch not found", docsProtection)
		case e.repo.Classic == nil:
			return s.errorReply(http.StatusNotFound, "Branch not protected", docsProtection)
		}
		return s.jsonReply(http.StatusOK, s.protectionJSON(&e.repo))
	})
	s.repoRoute("GET /repos/{owner}/{repo}/rules/branches/{branch}", func(c *call, e *repoEntry) reply {
		return c.list(s.branchRules(&e.repo, c.param("branch")), 30)
	})
	s.repoRoute("GET /repos/{owner}/{repo}/rulesets", func(c *call, e *repoEntry) reply {
		var out []any
		for i := range e.repo.Rulesets {
			out = append(out, s.rulesetJSON(&e.repo.Rulesets[i], &e.repo, true))
		}
		return c.list(out, 30)
	})
	s.repoRoute("GET /repos/{owner}/{repo}/rulesets/{id}", func(c *call, e *repoEntry) reply {
		id, _ := strconv.ParseInt(c.param("id"), 10, 64)
		for i := range e.repo.Rulesets {
			if e.repo.Rulesets[i].ID == id {
				return s.jsonReply(http.StatusOK, s.rulesetJSON(&e.repo.Rulesets[i], &e.repo, false))
			}
		}
		return s.notFound("https://docs.github.com/rest/repos/rules#get-a-repository-ruleset")
	})
	s.repoRoute("GET /repos/{owner}/{repo}/contents", s.contents)
	s.repoRoute("GET /repos/{owner}/{repo}/contents/{path...}", s.contents)
	s.repoRoute("GET /repos/{owner}/{repo}/git/trees/{sha}", func(c *call, e *repoEntry) reply {
		g := s.snap(e)
		t, ok := g.resolveTree(c.param("sha"), e.repo.DefaultBranch)
		if !ok {
			return s.notFound("https://docs.github.com/rest/git/trees#get-a-tree")
		}
		rec := c.r.URL.Query().Get("recursive")
		return s.jsonReply(http.StatusOK, s.treeJSON(e.repo.FullName, g, t, rec != "" && rec != "0" && rec != "false"))
	})
	s.activityRoutes()
	s.appRoutes()
}

// repoRoute is a route about one repository: it answers 404 Not Found, as GitHub does, for a
// repository that does not exist and for one the credential cannot see.
func (s *Server) repoRoute(pattern string, h func(c *call, e *repoEntry) reply) {
	s.handle(pattern, authToken, func(c *call) reply {
		e, ok := s.repos[strings.ToLower(c.param("owner")+"/"+c.param("repo"))]
		if !ok || !s.visible(c.cred, e.repo.FullName) {
			return s.notFound(docsRepo)
		}
		return h(c, e)
	})
}

func (s *Server) activityRoutes() {
	s.repoRoute("GET /repos/{owner}/{repo}/pulls", func(c *call, e *repoEntry) reply {
		r := &e.repo
		q := c.r.URL.Query()
		state := orDefault(q.Get("state"), "open")
		var pulls []*Pull
		for i := range r.Pulls {
			p := &r.Pulls[i]
			if (state != "all" && p.state() != state) || (q.Get("base") != "" && orDefault(p.Base, r.DefaultBranch) != q.Get("base")) {
				continue
			}
			pulls = append(pulls, p)
		}
		sortBy := orDefault(q.Get("sort"), "created")
		dir := q.Get("direction")
		if dir == "" {
			dir = map[bool]string{true: "desc", false: "asc"}[sortBy == "created"]
		}
		key := func(p *Pull) int64 {
			if sortBy == "updated" {
				return p.updatedAt().UnixNano()
			}
			return p.CreatedAt.UnixNano()
		}
		sort.SliceStable(pulls, func(i, j int) bool {
			a, b := key(pulls[i]), key(pulls[j])
			if a == b {
				a, b = int64(pulls[i].Number), int64(pulls[j].Number)
			}
			if dir == "desc" {
				return a > b
			}
			return a < b
		})
		items := make([]any, len(pulls))
		for i, p := range pulls {
			items[i] = s.pullJSON(r, p)
		}
		return c.list(items, 30)
	})
	s.repoRoute("GET /repos/{owner}/{repo}/pulls/{number}", func(c *call, e *repoEntry) reply {
		p := findPull(&e.repo, c.param("number"))
		if p == nil {
			return s.notFound("https://docs.github.com/rest/pulls/pulls#get-a-pull-request")
		}
		m := s.pullJSON(&e.repo, p)
		m["merged"] = !p.MergedAt.IsZero()
		m["merged_by"] = nil
		if p.MergedBy != "" {
			m["merged_by"] = s.user(p.MergedBy, "User")
		}
		return s.jsonReply(http.StatusOK, m)
	})
	s.repoRoute("GET /repos/{owner}/{repo}/pulls/{number}/reviews", func(c *call, e *repoEntry) reply {
		p := findPull(&e.repo, c.param("number"))
		if p == nil {
			return s.notFound("https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request")
		}
		order := make([]int, len(p.Reviews))
		for i := range order {
			order[i] = i
		}
		// Chronological, as GitHub lists them; a pending review (not submitted) comes last.
		sort.SliceStable(order, func(i, j int) bool {
			a, b := p.Reviews[order[i]].SubmittedAt, p.Reviews[order[j]].SubmittedAt
			return !a.IsZero() && (b.IsZero() || a.Before(b))
		})
		items := make([]any, len(order))
		for k, i := range order {
			items[k] = s.reviewJSON(&e.repo, p, i, &p.Reviews[i])
		}
		return c.list(items, 30)
	})
	s.repoRoute("GET /repos/{owner}/{repo}/deployments", func(c *call, e *repoEntry) reply {
		q := c.r.URL.Query()
		deps := make([]*Deployment, 0, len(e.repo.Deployments))
		for i := range e.repo.Deployments {
			d := &e.repo.Deployments[i]
			if env := q.Get("environment"); env != "" && orDefault(d.Environment, "production") != env {
				continue
			}
			if task := q.Get("task"); task != "" && orDefault(d.Task, "deploy") != task {
				continue
			}
			deps = append(deps, d)
		}
		sort.SliceStable(deps, func(i, j int) bool {
			if !deps[i].CreatedAt.Equal(deps[j].CreatedAt) {
				return deps[i].CreatedAt.After(deps[j].CreatedAt)
			}
			return deps[i].ID > deps[j].ID
		})
		items := make([]any, len(deps))
		for i, d := range deps {
			items[i] = s.deploymentJSON(&e.repo, d)
		}
		return c.list(items, 30)
	})
	s.repoRoute("GET /repos/{owner}/{repo}/deployments/{id}/statuses", func(c *call, e *repoEntry) reply {
		id, _ := strconv.ParseInt(c.param("id"), 10, 64)
		for i := range e.repo.Deployments {
			d := &e.repo.Deployments[i]
			if d.ID != id {
				continue
			}
			sts := slices.Clone(d.Statuses)
			sort.SliceStable(sts, func(i, j int) bool {
				if !sts[i].CreatedAt.Equal(sts[j].CreatedAt) {
					return sts[i].CreatedAt.After(sts[j].CreatedAt)
				}
				return sts[i].ID > sts[j].ID
			})
			items := make([]any, len(sts))
			for k := range sts {
				items[k] = s.deploymentStatusJSON(&e.repo, d, &sts[k])
			}
			return c.list(items, 30)
		}
		return s.notFound("https://docs.github.com/rest/deployments/statuses#list-deployment-statuses")
	})
	s.repoRoute("GET /repos/{owner}/{repo}/releases", func(c *call, e *repoEntry) reply {
		rels := make([]*Release, len(e.repo.Releases))
		for i := range e.repo.Releases {
			rels[i] = &e.repo.Releases[i]
		}
		sort.SliceStable(rels, func(i, j int) bool {
			if !rels[i].CreatedAt.Equal(rels[j].CreatedAt) {
				return rels[i].CreatedAt.After(rels[j].CreatedAt)
			}
			return rels[i].ID > rels[j].ID
		})
		items := make([]any, len(rels))
		for i, rel := range rels {
			items[i] = s.releaseJSON(&e.repo, rel)
		}
		return c.list(items, 30)
	})
	s.alertRoutes()
}

func findPull(r *Repo, number string) *Pull {
	n, err := strconv.Atoi(number)
	if err != nil {
		return nil
	}
	for i := range r.Pulls {
		if r.Pulls[i].Number == n {
			return &r.Pulls[i]
		}
	}
	return nil
}
