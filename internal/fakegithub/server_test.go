package fakegithub_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/internal/fakegithub"
)

// mutableClock is a clock the test moves.
type mutableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *mutableClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *mutableClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestETagsAnswer304AndMutationsChangeThem(t *testing.T) {
	s := newServer(t, nil)
	first := get(t, s, "/repos/acme/api/branches/main/protection")
	etag := first.header.Get("ETag")
	if first.status != http.StatusOK || !strings.HasPrefix(etag, `"`) || len(etag) != 66 {
		t.Fatalf("first: %d, ETag %q; want 200 with a strong ETag", first.status, etag)
	}
	remaining := first.header.Get("X-RateLimit-Remaining")
	again := get(t, s, "/repos/acme/api/branches/main/protection", "If-None-Match", etag)
	if again.status != http.StatusNotModified || len(again.body) != 0 || again.header.Get("ETag") != etag {
		t.Fatalf("conditional: %d %q, ETag %q", again.status, again.body, again.header.Get("ETag"))
	}
	if got := again.header.Get("X-RateLimit-Remaining"); got != remaining {
		t.Errorf("a 304 spent the budget: remaining %s after %s", got, remaining)
	}
	if weak := get(t, s, "/repos/acme/api/branches/main/protection", "If-None-Match", "W/"+etag); weak.status != http.StatusNotModified {
		t.Errorf("W/ form of the ETag: %d, want 304 (GitHub compares weakly)", weak.status)
	}
	repoTag := get(t, s, "/repos/acme/api").header.Get("ETag")

	s.Update("acme/api", func(r *fakegithub.Repo) { r.Classic.RequiredReviews = 1 })
	changed := get(t, s, "/repos/acme/api/branches/main/protection", "If-None-Match", etag)
	if changed.status != http.StatusOK || changed.header.Get("ETag") == etag {
		t.Fatalf("after the change: %d with ETag %s; want 200 and a new ETag", changed.status, changed.header.Get("ETag"))
	}
	if !strings.Contains(string(changed.body), `"required_approving_review_count":1`) {
		t.Errorf("the change is not in the body: %s", changed.body)
	}
	if got := get(t, s, "/repos/acme/api", "If-None-Match", repoTag); got.status != http.StatusNotModified {
		t.Errorf("the repository did not change but answered %d", got.status)
	}

	nf := get(t, s, "/repos/acme/docs/branches/main/protection")
	if nf.status != http.StatusNotFound || nf.header.Get("ETag") != "" || !strings.Contains(string(nf.body), "Branch not protected") {
		t.Errorf("unprotected: %d, ETag %q, %s; want GitHub's 404 without an ETag", nf.status, nf.header.Get("ETag"), nf.body)
	}
	c := s.Counts()
	if c.NotModified != 3 || c.Conditional != 4 || c.ByRoute["GET /repos/{owner}/{repo}/branches/{branch}/protection"] != 5 ||
		c.ByPath["GET /repos/acme/api/branches/main/protection"] != 4 {
		t.Errorf("counts: %+v", c)
	}
}

func TestBranchProtectedFlagCountsRulesets(t *testing.T) {
	s := newServer(t, nil)
	s.AddRepo(fakegithub.Repo{FullName: "acme/web", Rulesets: []fakegithub.Ruleset{{Rules: []fakegithub.Rule{fakegithub.LinearHistoryRule()}}}},
		fakegithub.Repo{FullName: "acme/evaluated", Rulesets: []fakegithub.Ruleset{{Enforcement: "evaluate", Rules: []fakegithub.Rule{fakegithub.LinearHistoryRule()}}}})
	for repo, want := range map[string]string{"acme/api": `"protected":true`, "acme/web": `"protected":true`, "acme/docs": `"protected":false`, "acme/evaluated": `"protected":false`} {
		b := get(t, s, "/repos/"+repo+"/branches/main")
		if b.status != http.StatusOK || !strings.Contains(string(b.body), want) {
			t.Errorf("%s: %d, want %s", repo, b.status, want)
		}
	}
	if p := get(t, s, "/repos/acme/web/branches/main/protection"); p.status != http.StatusNotFound {
		t.Errorf("a branch protected by rulesets only has no classic protection: %d", p.status)
	}
	if b := get(t, s, "/repos/acme/web/branches/feature"); b.status != http.StatusNotFound || !strings.Contains(string(b.body), "Branch not found") {
		t.Errorf("unknown branch: %d %s", b.status, b.body)
	}
	rules := get(t, s, "/repos/acme/web/rules/branches/main").json(t).([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["ruleset_source"] != "acme/web" {
		t.Errorf("rules: %v", rules)
	}
	if r := get(t, s, "/repos/acme/evaluated/rules/branches/main").json(t).([]any); len(r) != 0 {
		t.Errorf("an evaluate ruleset's rules are not returned: %v", r)
	}
}

func TestTreesAreGitsAndFollowTheFiles(t *testing.T) {
	s := newServer(t, nil)
	s.AddRepo(fakegithub.Repo{FullName: "acme/hello", Files: map[string]string{"hello.txt": "hello\n"}})
	root := get(t, s, "/repos/acme/hello/git/trees/main").json(t).(map[string]any)
	var blob string
	for _, e := range root["tree"].([]any) {
		if m := e.(map[string]any); m["path"] == "hello.txt" {
			blob = m["sha"].(string)
		}
	}
	if blob != "ce013625030ba8dba906f756967f9e9ca394464a" { // git hash-object of "hello\n"
		t.Errorf("blob sha %s, want git's", blob)
	}

	branch := get(t, s, "/repos/acme/api/branches/main").json(t).(map[string]any)
	treeSHA := branch["commit"].(map[string]any)["commit"].(map[string]any)["tree"].(map[string]any)["sha"].(string)
	top := get(t, s, "/repos/acme/api/git/trees/"+treeSHA).json(t).(map[string]any)
	var dotGithub string
	for _, e := range top["tree"].([]any) {
		if m := e.(map[string]any); m["path"] == ".github" && m["type"] == "tree" {
			dotGithub = m["sha"].(string)
		}
	}
	sub := get(t, s, "/repos/acme/api/git/trees/"+dotGithub)
	if sub.status != http.StatusOK || !strings.Contains(string(sub.body), `"path":"CODEOWNERS"`) {
		t.Fatalf(".github tree %s: %d %s", dotGithub, sub.status, sub.body)
	}
	rec := get(t, s, "/repos/acme/api/git/trees/main?recursive=1")
	if !strings.Contains(string(rec.body), `"path":".github/workflows/ci.yml"`) {
		t.Errorf("recursive tree lacks nested paths: %s", rec.body)
	}

	s.Update("acme/api", func(r *fakegithub.Repo) { r.CodeownersAt = "docs/CODEOWNERS" })
	moved := get(t, s, "/repos/acme/api/branches/main").json(t).(map[string]any)
	if got := moved["commit"].(map[string]any)["commit"].(map[string]any)["tree"].(map[string]any)["sha"]; got == treeSHA {
		t.Error("moving CODEOWNERS left the root tree's sha as it was")
	}
	if old := get(t, s, "/repos/acme/api/git/trees/"+treeSHA); old.status != http.StatusNotFound {
		t.Errorf("a tree no longer on the branch: %d", old.status)
	}
	file := get(t, s, "/repos/acme/api/contents/docs/CODEOWNERS").json(t).(map[string]any)
	content, _ := base64.StdEncoding.DecodeString(strings.ReplaceAll(file["content"].(string), "\n", ""))
	if file["type"] != "file" || string(content) != "* @acme/api-owners\n" {
		t.Errorf("contents: %v %q", file["type"], content)
	}
	if dir := get(t, s, "/repos/acme/api/contents/docs").json(t); len(dir.([]any)) != 1 {
		t.Errorf("a directory lists its entries: %v", dir)
	}
	if nf := get(t, s, "/repos/acme/api/contents/.github/CODEOWNERS"); nf.status != http.StatusNotFound {
		t.Errorf("moved file: %d", nf.status)
	}
}

func TestPaginationFollowsLinks(t *testing.T) {
	s := newServer(t, nil)
	r := fakegithub.Repo{FullName: "acme/busy"}
	for i := 1; i <= 150; i++ {
		at := t0.Add(-time.Duration(i) * time.Hour)
		r.Pulls = append(r.Pulls, fakegithub.Pull{Number: i, CreatedAt: at.Add(-time.Hour), MergedAt: at})
	}
	s.AddRepo(r)
	var seen []int
	next := "/repos/acme/busy/pulls?state=closed&sort=updated&direction=desc&per_page=100"
	for pages := 0; next != ""; pages++ {
		if pages > 2 {
			t.Fatal("more pages than there are")
		}
		a := get(t, s, next)
		for _, it := range a.json(t).([]any) {
			seen = append(seen, int(it.(map[string]any)["number"].(float64)))
		}
		next = ""
		for _, part := range strings.Split(a.header.Get("Link"), ",") {
			if u, rel, ok := strings.Cut(strings.TrimSpace(part), ";"); ok && strings.TrimSpace(rel) == `rel="next"` {
				next = strings.TrimPrefix(strings.Trim(u, "<>"), strings.TrimSuffix(s.APIURL(), "/"))
			}
		}
	}
	if len(seen) != 150 || seen[0] != 1 || seen[149] != 150 {
		t.Fatalf("walked %d pull requests, first %v last %v; want 150, most recently updated first", len(seen), seen[:1], seen[len(seen)-1:])
	}

	dep := fakegithub.Repo{FullName: "acme/alerts"}
	for i := 1; i <= 5; i++ {
		dep.Dependabot = append(dep.Dependabot, fakegithub.DependabotAlert{Number: i, Package: "p" + strconv.Itoa(i), Severity: "low", CreatedAt: t0})
	}
	s.AddRepo(dep)
	a := get(t, s, "/repos/acme/alerts/dependabot/alerts?state=open&per_page=2")
	if link := a.header.Get("Link"); !strings.Contains(link, "after=") || strings.Contains(link, "&page=") || strings.Contains(link, "?page=") {
		t.Errorf("Dependabot paginates by cursor: Link %q", link)
	}
}

func TestRateLimitSpentThenReset(t *testing.T) {
	clock := &mutableClock{t: t0}
	s := newServer(t, clock.Now)
	s.ExhaustRateLimit(t0.Add(2*time.Second + 300*time.Millisecond))
	a := get(t, s, "/repos/acme/api")
	if a.status != http.StatusForbidden || a.header.Get("X-RateLimit-Remaining") != "0" ||
		a.header.Get("X-RateLimit-Reset") != strconv.FormatInt(t0.Unix()+3, 10) || !strings.Contains(string(a.body), "API rate limit exceeded for user ID 1") {
		t.Fatalf("spent: %d %v %s", a.status, a.header, a.body)
	}
	clock.Advance(3 * time.Second)
	if a := get(t, s, "/repos/acme/api"); a.status != http.StatusOK || a.header.Get("X-RateLimit-Remaining") != "4999" {
		t.Fatalf("after the reset: %d, remaining %s", a.status, a.header.Get("X-RateLimit-Remaining"))
	}

	s.SetRateLimit(2)
	get(t, s, "/repos/acme/api")
	if a := get(t, s, "/repos/acme/api"); a.status != http.StatusForbidden {
		t.Fatalf("budget of 2 spent: %d", a.status)
	}
	clock.Advance(time.Hour)
	if a := get(t, s, "/repos/acme/api"); a.status != http.StatusOK {
		t.Fatalf("next hour: %d", a.status)
	}

	s.SetRateLimit(5000)
	s.Inject(fakegithub.TooManyRequests("/repos/acme/api/pulls", 1500*time.Millisecond))
	if a := get(t, s, "/repos/acme/api/pulls"); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "2" {
		t.Fatalf("429: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	if a := get(t, s, "/repos/acme/api/pulls"); a.status != http.StatusOK {
		t.Fatalf("a one-shot fault answered twice: %d", a.status)
	}
	if c := s.Counts(); c.RateLimited != 3 {
		t.Errorf("rate-limited answers counted %d, want 3", c.RateLimited)
	}
}

func TestTokensAndInstallations(t *testing.T) {
	s := newServer(t, nil)
	s.AddRepo(fakegithub.Repo{FullName: "other/secret"})
	tok := mintToken(t, s)
	if a := do(t, s, "GET", "/repos/acme/api", "token "+tok); a.status != http.StatusOK {
		t.Fatalf("installation token on its repository: %d", a.status)
	}
	if a := do(t, s, "GET", "/repos/other/secret", "token "+tok); a.status != http.StatusNotFound {
		t.Errorf("installation token on another account's repository: %d, want 404", a.status)
	}
	if a := do(t, s, "GET", "/repos/other/secret/installation", "Bearer "+appJWT(t)); a.status != http.StatusNotFound {
		t.Errorf("installation of a repository the App is not on: %d", a.status)
	}
	if a := do(t, s, "GET", "/repos/acme/api/installation", "Bearer "+tok); a.status != http.StatusUnauthorized {
		t.Errorf("an App endpoint with an installation token: %d, want 401", a.status)
	}
	if a := do(t, s, "GET", "/repos/acme/api", ""); a.status != http.StatusUnauthorized {
		t.Errorf("no credential: %d", a.status)
	}
	list := do(t, s, "GET", "/installation/repositories?per_page=1", "token "+tok)
	if m := list.json(t).(map[string]any); m["total_count"].(float64) != 2 || !strings.Contains(list.header.Get("Link"), `rel="next"`) {
		t.Errorf("installation repositories: %v, Link %q", m["total_count"], list.header.Get("Link"))
	}
	if a := get(t, s, "/installation/repositories"); a.status != http.StatusForbidden {
		t.Errorf("a personal token listing an installation: %d", a.status)
	}

	s.RefuseInstallation(instID, true)
	again := mintToken(t, s)
	if a := do(t, s, "GET", "/repos/acme/api", "token "+again); a.status != http.StatusUnauthorized || !strings.Contains(string(a.body), "Bad credentials") {
		t.Errorf("refused installation: %d %s", a.status, a.body)
	}
	s.RefuseInstallation(instID, false)
	s.RevokeToken(tok)
	if a := do(t, s, "GET", "/repos/acme/api", "token "+tok); a.status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", a.status)
	}
	if a := do(t, s, "GET", "/repos/acme/api", "token "+again); a.status != http.StatusOK {
		t.Errorf("the other token still works: %d", a.status)
	}

	other := fakegithub.New(fakegithub.Options{})
	defer other.Close()
	s2key := "Bearer " + appJWT(t)
	other.SetApp(fakegithub.App{ID: appID + 1, PublicKey: nil})
	if a := do(t, other, "POST", "/app/installations/42/access_tokens", s2key); a.status != http.StatusUnauthorized {
		t.Errorf("JWT for another App: %d", a.status)
	}
}

func TestSyntheticFleet(t *testing.T) {
	repos := fakegithub.Synthetic("acme", 1000, t0)
	s := fakegithub.New(fakegithub.Options{})
	defer s.Close()
	s.AddRepo(repos...)
	classic, rulesets := 0, 0
	for _, r := range repos {
		if r.Classic != nil {
			classic++
		}
		if len(r.Rulesets) > 0 {
			rulesets++
		}
	}
	if len(s.Repos()) != 1000 || classic != 334 || rulesets != 333 {
		t.Fatalf("%d repositories, %d classic, %d rulesets", len(s.Repos()), classic, rulesets)
	}
	s.AddToken(pat)
	if a := get(t, s, "/repos/acme/svc-0999/pulls?state=closed"); len(a.json(t).([]any)) != 3 {
		t.Errorf("pull requests of a synthetic repository: %s", a.body)
	}
}

func TestOrganisationsAndEndpointsTheFakeDoesNotServe(t *testing.T) {
	s := newServer(t, nil)
	if a := get(t, s, "/orgs/acme"); a.status != http.StatusOK || !strings.Contains(string(a.body), `"type":"Organization"`) {
		t.Errorf("GET /orgs/acme: %d %s", a.status, a.body)
	}
	if a := get(t, s, "/orgs/nobody/repos"); a.status != http.StatusNotFound {
		t.Errorf("an unknown organisation's repositories: %d", a.status)
	}
	if a := get(t, s, "/orgs/acme/repos"); len(a.json(t).([]any)) != 2 {
		t.Errorf("acme's repositories: %s", a.body)
	}
	s.SetRateLimit(100)
	for range 70 {
		get(t, s, "/repos/acme/api/compare/a...b")
	}
	a := get(t, s, "/repos/acme/api/compare/a...b")
	if a.status != http.StatusNotFound || a.header.Get("X-RateLimit-Limit") != "100" || !strings.Contains(string(a.body), `"message":"Not Found"`) {
		t.Errorf("an endpoint the fake does not serve: %d, limit %s, %s; want GitHub's 404 on the token's budget", a.status, a.header.Get("X-RateLimit-Limit"), a.body)
	}
	if c := s.Counts(); c.ByRoute["(no such endpoint)"] != 71 {
		t.Errorf("counted by route: %v", c.ByRoute)
	}
}
