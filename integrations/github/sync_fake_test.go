package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops/syncer"
)

// syncBase is the API root the fake serves under: a non-empty path, so that any absolute
// path the client builds by itself fails loudly.
const syncBase = "/api/v3"

// syncClock is the injected clock: Sleep advances it instead of waiting.
type syncClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func newSyncClock() *syncClock {
	return &syncClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *syncClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *syncClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *syncClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// syncRoute is one canned answer.
type syncRoute struct {
	status int
	body   []byte
	next   string // the next page's key, for the Link header
	header http.Header
}

// syncHit is one request the fake answered.
type syncHit struct {
	Key         string
	IfNoneMatch string
	Status      int
}

// syncGitHub answers like the REST API from testdata/sync: 200s carry an ETag (a hash of the
// body) and honour If-None-Match with a 304; 404s carry none, as GitHub's do. Paths it does
// not know get GitHub's generic 404.
type syncGitHub struct {
	t     testing.TB
	srv   *httptest.Server
	clock *syncClock

	mu     sync.Mutex
	routes map[string]syncRoute
	hits   []syncHit
	// intercept, when set, may answer a request itself (rate limits, failures).
	intercept func(w http.ResponseWriter, r *http.Request, key string) bool
}

func newSyncGitHub(t testing.TB, clock *syncClock) *syncGitHub {
	g := &syncGitHub{t: t, clock: clock, routes: map[string]syncRoute{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

// key normalises a path and query the way routes are registered: the query sorted.
func syncKey(path string) string {
	p, q, _ := strings.Cut(path, "?")
	if q == "" {
		return p
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		panic(err)
	}
	return p + "?" + v.Encode()
}

func (g *syncGitHub) testdata(name string) []byte {
	g.t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sync", name))
	if err != nil {
		g.t.Fatal(err)
	}
	return b
}

// ok serves a testdata file with 200; then names the next page's path, if any.
func (g *syncGitHub) ok(path, file string, next ...string) {
	r := syncRoute{status: http.StatusOK, body: g.testdata(file)}
	if len(next) > 0 {
		r.next = syncKey(next[0])
	}
	g.set(path, r)
}

// tree serves a git tree (a testdata file) at the sha it names, as GitHub does.
func (g *syncGitHub) tree(full, file string) {
	g.t.Helper()
	var t struct {
		SHA string `json:"sha"`
	}
	if err := json.Unmarshal(g.testdata(file), &t); err != nil || t.SHA == "" {
		g.t.Fatalf("%s: not a tree: %v", file, err)
	}
	g.ok("/repos/"+full+"/git/trees/"+t.SHA, file)
}

// fail serves a testdata error body with status.
func (g *syncGitHub) fail(path string, status int, file string) {
	g.set(path, syncRoute{status: status, body: g.testdata(file)})
}

func (g *syncGitHub) set(path string, r syncRoute) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.routes[syncKey(path)] = r
}

func (g *syncGitHub) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.EscapedPath(), syncBase)
	if !ok {
		g.t.Errorf("request outside the API root: %s", r.URL)
		http.NotFound(w, r)
		return
	}
	key := path
	if r.URL.RawQuery != "" {
		key += "?" + r.URL.Query().Encode()
	}
	inm := r.Header.Get("If-None-Match")
	rec := &syncRecorder{ResponseWriter: w}
	defer func() {
		g.mu.Lock()
		g.hits = append(g.hits, syncHit{Key: key, IfNoneMatch: inm, Status: rec.status})
		g.mu.Unlock()
	}()
	g.mu.Lock()
	intercept := g.intercept
	route, found := g.routes[key]
	g.mu.Unlock()

	h := rec.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "4990")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(g.clock.Now().Add(time.Hour).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	if intercept != nil && intercept(rec, r, key) {
		return
	}
	if !found {
		route = syncRoute{status: http.StatusNotFound, body: g.testdata("errors/not-found.json")}
	}
	for k, v := range route.header {
		h[k] = v
	}
	if route.status != http.StatusOK {
		rec.WriteHeader(route.status)
		_, _ = rec.Write(route.body)
		return
	}
	sum := sha256.Sum256(route.body)
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, max-age=60, s-maxage=60")
	if inm == etag {
		rec.WriteHeader(http.StatusNotModified)
		return
	}
	if route.next != "" {
		h.Set("Link", `<`+g.srv.URL+syncBase+route.next+`>; rel="next"`)
	}
	rec.WriteHeader(http.StatusOK)
	_, _ = rec.Write(route.body)
}

type syncRecorder struct {
	http.ResponseWriter
	status int
}

func (s *syncRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *syncRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Hits returns the requests answered since the last call.
func (g *syncGitHub) Hits() []syncHit {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := g.hits
	g.hits = nil
	return h
}

// client returns a go-github client on the fake, through a RateLimitTransport on the fake
// clock, as the client factory builds them.
func (g *syncGitHub) client() (*gh.Client, *RateLimitTransport) {
	rl := NewRateLimitTransport(g.srv.Client().Transport, RateLimitOptions{Now: g.clock.Now, Sleep: g.clock.Sleep})
	c := gh.NewClient(&http.Client{Transport: rl})
	u, err := url.Parse(g.srv.URL + syncBase + "/")
	if err != nil {
		g.t.Fatal(err)
	}
	c.BaseURL = u
	return c, rl
}

// syncClients is the ClientSource tests give the Syncer.
type syncClients struct {
	c   *gh.Client
	rl  *RateLimitTransport
	err error
}

func (f *syncClients) ForRepo(ctx context.Context, repo string) (*gh.Client, int64, error) {
	if f.err != nil {
		return nil, 0, f.err
	}
	return f.c, 0, nil
}

func (f *syncClients) RateLimit() syncer.RateLimit { return f.rl.RateLimit() }

// newTestSyncer returns a Syncer reading from the fake.
func newTestSyncer(g *syncGitHub) *Syncer {
	c, rl := g.client()
	return &Syncer{Clients: &syncClients{c: c, rl: rl}, Now: g.clock.Now}
}

// syncFixture says what the fake serves for one repository; empty fields serve GitHub's
// answer for "nothing there".
type syncFixture struct {
	dir          string   // under testdata/sync; dir/branch.json is the default branch main
	protection   string   // file; "" = 404 Branch not protected
	rules        string   // file; "" = []
	trees        []string // git trees served at the sha each names: the root and subtrees
	pulls        []string
	reviews      map[int][]string
	deployments  string
	statuses     map[int64]string
	releases     string
	dependabot   string // file, or "disabled"
	codeScanning string // file, or "no-analysis", "advanced-security"
}

// serveRepo registers a repository's routes.
func (g *syncGitHub) serveRepo(full string, f syncFixture) {
	base := "/repos/" + full
	file := func(name string) string { return f.dir + "/" + name }
	or := func(name, dflt string) string {
		if name == "" {
			return dflt
		}
		return file(name)
	}
	g.ok(base, file("repo.json"))
	g.ok(base+"/branches/main", file("branch.json"))
	for _, t := range f.trees {
		g.tree(full, file(t))
	}
	if f.protection != "" {
		g.ok(base+"/branches/main/protection", file(f.protection))
	} else {
		g.fail(base+"/branches/main/protection", http.StatusNotFound, "errors/branch-not-protected.json")
	}
	g.ok(base+"/rules/branches/main?per_page=100", or(f.rules, "common/empty-list.json"))
	pulls := base + "/pulls?state=closed&base=main&sort=updated&direction=desc&per_page=100"
	if len(f.pulls) == 0 {
		g.ok(pulls, "common/empty-list.json")
	}
	for i, p := range f.pulls {
		path := pulls
		if i > 0 {
			path += "&page=" + strconv.Itoa(i+1)
		}
		next := []string{pulls + "&page=" + strconv.Itoa(i+2)}
		if i == len(f.pulls)-1 {
			next = nil
		}
		g.ok(path, file(p), next...)
	}
	for n, pages := range f.reviews {
		rp := base + "/pulls/" + strconv.Itoa(n) + "/reviews?per_page=100"
		for i, p := range pages {
			path := rp
			if i > 0 {
				path += "&page=" + strconv.Itoa(i+1)
			}
			var next []string
			if i < len(pages)-1 {
				next = []string{rp + "&page=" + strconv.Itoa(i+2)}
			}
			g.ok(path, file(p), next...)
		}
	}
	g.ok(base+"/deployments?per_page=30", or(f.deployments, "common/empty-list.json"))
	for id, s := range f.statuses {
		g.ok(base+"/deployments/"+strconv.FormatInt(id, 10)+"/statuses?per_page=100", file(s))
	}
	g.ok(base+"/releases?per_page=30", or(f.releases, "common/empty-list.json"))
	switch f.dependabot {
	case "disabled":
		g.fail(base+"/dependabot/alerts?state=open&per_page=100", http.StatusForbidden, "errors/dependabot-disabled.json")
	default:
		g.ok(base+"/dependabot/alerts?state=open&per_page=100", or(f.dependabot, "common/empty-list.json"))
	}
	switch f.codeScanning {
	case "no-analysis":
		g.fail(base+"/code-scanning/alerts?state=open&per_page=100", http.StatusNotFound, "errors/no-analysis.json")
	case "advanced-security":
		g.fail(base+"/code-scanning/alerts?state=open&per_page=100", http.StatusForbidden, "errors/advanced-security.json")
	default:
		g.ok(base+"/code-scanning/alerts?state=open&per_page=100", or(f.codeScanning, "common/empty-list.json"))
	}
}

// The three repositories of the tests: classic protection and .github/CODEOWNERS; rulesets
// and a root CODEOWNERS; nothing, with both alert tools off.
var (
	acmeAPI = syncFixture{
		dir: "acme-api", protection: "protection.json", trees: []string{"tree.json", "tree.github.json"},
		pulls:       []string{"pulls.page1.json", "pulls.page2.json", "pulls.page3.json"},
		reviews:     map[int][]string{42: {"reviews.42.json"}, 40: {"reviews.40.page1.json", "reviews.40.page2.json"}, 37: {"reviews.37.json"}},
		deployments: "deployments.json",
		statuses:    map[int64]string{1001: "statuses.1001.json", 1002: "statuses.1002.json", 1003: "statuses.1003.json"},
		releases:    "releases.json", dependabot: "dependabot.json", codeScanning: "code-scanning.json",
	}
	// Protected by a ruleset alone: "protected" is true, and the protection call says 404.
	acmeWeb = syncFixture{dir: "acme-web", rules: "rules.json", trees: []string{"tree.json", "tree.github.json"},
		codeScanning: "no-analysis"}
	acmeDocs = syncFixture{dir: "acme-docs", trees: []string{"tree.json", "tree.docs.json"},
		dependabot: "disabled", codeScanning: "advanced-security"}
)
