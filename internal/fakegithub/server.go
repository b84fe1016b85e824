// Package fakegithub is a stateful fake of the GitHub REST API for end-to-end tests and
// benchmarks: a model of repositories (protection, rulesets, files, pull requests,
// deployments, releases, alerts) and of the organisations that own them, a GitHub App with
// its installations, and tokens, rendered in GitHub's JSON shapes (see testdata/recorded, which the shape test
// compares against) under a non-empty API root, so a client that builds an absolute URL by
// itself fails loudly.
//
// It behaves where a reader's correctness depends on it: every 200 to a GET carries a strong
// ETag (a hash of the body) and a matching If-None-Match gets a 304 that costs no rate
// limit; errors are GitHub's (404 "Branch not protected", 401 "Bad credentials") and carry
// no ETag; lists paginate with Link headers; an App's JWT is checked (RS256, issuer = the
// App id, at most ten minutes long) and installation tokens see only their installation's
// repositories. Knobs add latency, spend or fault the rate limit, and count every request.
package fakegithub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value serves under /api/v3 on the wall clock.
type Options struct {
	// BasePath is the API root's path ("": /api/v3, as on GitHub Enterprise Server).
	BasePath string
	// Latency is added to every answer (a real API answers in tens of milliseconds).
	Latency time.Duration
	// Now is the clock of rate-limit windows, token expiry and default dates. The clients
	// under test compare those with their own clock (JWTs, token refresh, waits), so keep
	// the wall clock unless they share this one.
	Now func() time.Time
	// RateLimit is each credential's budget per hour (default 5,000, an installation's).
	RateLimit int
}

// Server is a running fake. It is safe for concurrent use; tests mutate it between (or
// during) reads, and readers see each mutation whole.
type Server struct {
	srv  *httptest.Server
	mux  *http.ServeMux
	base string
	now  func() time.Time

	mu       sync.Mutex
	repos    map[string]*repoEntry // by lower-case full name
	nextID   int64
	app      *App
	tokens   map[string]*token
	refused  map[int64]bool // installations whose every token is answered 401
	windows  map[string]*window
	limit    int
	spentTil time.Time
	faults   []*faultState
	latency  time.Duration
	counts   Counts
	hits     []Hit
}

type repoEntry struct {
	repo Repo
	snap *gitSnapshot // nil: rebuild from repo
}

// New starts a fake on a loopback port. Close it when done.
func New(opts Options) *Server {
	s := &Server{base: strings.TrimSuffix(opts.BasePath, "/"), now: opts.Now, repos: map[string]*repoEntry{}, nextID: 700000000,
		tokens: map[string]*token{}, refused: map[int64]bool{}, windows: map[string]*window{}, limit: opts.RateLimit, latency: opts.Latency}
	if opts.BasePath == "" {
		s.base = "/api/v3"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.limit <= 0 {
		s.limit = 5000
	}
	s.counts = newCounts()
	s.mux = http.NewServeMux()
	s.routes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// URL is the server's root (scheme and host).
func (s *Server) URL() string { return s.srv.URL }

// APIURL is what a client's github.api_url is: the API root with its trailing slash.
func (s *Server) APIURL() string { return s.srv.URL + s.base + "/" }

// api is the API root without the slash, as GitHub's own URLs in bodies start.
func (s *Server) api() string { return s.srv.URL + s.base }

// AddRepo adds repositories (IDs and defaults filled in). It panics on a name that is not
// owner/name or is already there: a test that does that has a bug to see at once.
func (s *Server) AddRepo(repos ...Repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range repos {
		owner, name, ok := strings.Cut(r.FullName, "/")
		if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			panic(fmt.Sprintf("fakegithub: repository %q is not owner/name", r.FullName))
		}
		key := strings.ToLower(r.FullName)
		if _, dup := s.repos[key]; dup {
			panic(fmt.Sprintf("fakegithub: repository %s added twice", r.FullName))
		}
		s.fill(&r)
		s.repos[key] = &repoEntry{repo: r}
	}
}

// fill assigns what the caller left for the fake to choose.
func (s *Server) fill(r *Repo) {
	if r.ID == 0 {
		s.nextID++
		r.ID = s.nextID
	}
	if r.DefaultBranch == "" {
		r.DefaultBranch = "main"
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.now().UTC().AddDate(-1, 0, 0).Truncate(time.Second)
	}
	for i := range r.Rulesets {
		if r.Rulesets[i].ID == 0 {
			s.nextID++
			r.Rulesets[i].ID = s.nextID
		}
	}
}

// Repo returns a copy of a repository as the fake holds it.
func (s *Server) Repo(full string) (Repo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.repos[strings.ToLower(full)]
	if !ok {
		return Repo{}, false
	}
	return e.repo, true
}

// Repos returns the full names of every repository, sorted.
func (s *Server) Repos() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.repos))
	for _, e := range s.repos {
		out = append(out, e.repo.FullName)
	}
	sort.Strings(out)
	return out
}

// Update changes a repository in place (its protection, files, pull requests...); the
// answers that render what changed get new bodies, hence new ETags. It reports whether the
// repository exists.
func (s *Server) Update(full string, fn func(*Repo)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.repos[strings.ToLower(full)]
	if !ok {
		return false
	}
	fn(&e.repo)
	s.fill(&e.repo)
	e.snap = nil
	return true
}

// RemoveRepo deletes a repository: every call about it answers 404 from now on.
func (s *Server) RemoveRepo(full string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.repos, strings.ToLower(full))
}

// SetLatency changes the latency added to every answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// serve is every request's way in: latency, routing under the API root, and the request
// counted whatever the answer.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, s.base)
	if !ok || (rest != "" && rest[0] != '/') {
		s.answer(w, r, "(outside the API root)", s.notFound("https://docs.github.com/rest"), nil)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = rest
	if r2.URL.RawPath != "" {
		r2.URL.RawPath = strings.TrimPrefix(r2.URL.RawPath, s.base)
	}
	s.mux.ServeHTTP(w, r2)
}

// reply is a handler's answer before headers, ETags and counting.
type reply struct {
	status int
	body   []byte
	link   string
	header http.Header
	// limited marks a rate-limit answer (spent or injected): it carries its own
	// X-RateLimit-* headers and costs nothing.
	limited bool
}

func (s *Server) jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		return s.errorReply(http.StatusInternalServerError, "fakegithub: "+err.Error(), "https://docs.github.com/rest")
	}
	return reply{status: status, body: b}
}

// errorReply is GitHub's error body: message, documentation_url and the status as a string.
func (s *Server) errorReply(status int, message, doc string) reply {
	b, _ := json.Marshal(map[string]string{"message": message, "documentation_url": doc, "status": fmt.Sprint(status)})
	return reply{status: status, body: b}
}

func (s *Server) notFound(doc string) reply {
	return s.errorReply(http.StatusNotFound, "Not Found", doc)
}
