package fakegithub

import (
	"bytes"
	"maps"
	"net/http"
	"time"
)

// Counts is what the fake answered since it started or ResetCounts.
type Counts struct {
	Requests    int // every request, outside the API root included
	Conditional int // requests that carried If-None-Match
	NotModified int // answered 304
	RateLimited int // answered with a rate limit: spent (403, remaining 0), secondary (403) or 429
	Minted      int // installation tokens minted (not reset by ResetCounts: it numbers them)
	ByStatus    map[int]int
	// ByRoute counts by endpoint, as the route is declared: "GET /repos/{owner}/{repo}/pulls".
	ByRoute map[string]int
	// ByPath counts by method and path without the query: "GET /repos/acme/api/pulls".
	ByPath map[string]int
}

// NotModifiedShare is the share of requests answered 304.
func (c Counts) NotModifiedShare() float64 {
	if c.Requests == 0 {
		return 0
	}
	return float64(c.NotModified) / float64(c.Requests)
}

// Hit is one answered request.
type Hit struct {
	Method      string
	Path        string // under the API root, with the query
	Route       string
	Status      int
	IfNoneMatch string
	Auth        string // jwt, installation, token, none
	At          time.Time
}

func newCounts() Counts {
	return Counts{ByStatus: map[int]int{}, ByRoute: map[string]int{}, ByPath: map[string]int{}}
}

// maxHits bounds the request log; counts go on past it.
const maxHits = 1 << 20

func (s *Server) record(r *http.Request, route string, status int, inm string, c *cred, rep reply) {
	if route == "/" {
		route = "(no such endpoint)"
	}
	n := &s.counts
	n.Requests++
	if inm != "" {
		n.Conditional++
	}
	if status == http.StatusNotModified {
		n.NotModified++
	}
	if rep.limited || status == http.StatusTooManyRequests || (status == http.StatusForbidden && bytes.Contains(rep.body, []byte("rate limit"))) {
		n.RateLimited++
	}
	n.ByStatus[status]++
	n.ByRoute[route]++
	n.ByPath[r.Method+" "+r.URL.Path]++
	if len(s.hits) < maxHits {
		auth := "none"
		if c != nil {
			auth = c.kind
		}
		path := r.URL.Path
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		s.hits = append(s.hits, Hit{Method: r.Method, Path: path, Route: route, Status: status, IfNoneMatch: inm, Auth: auth, At: s.now()})
	}
}

// Counts returns a copy of the counters.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts
	c.ByStatus, c.ByRoute, c.ByPath = maps.Clone(c.ByStatus), maps.Clone(c.ByRoute), maps.Clone(c.ByPath)
	return c
}

// Hits returns the requests answered, in order.
func (s *Server) Hits() []Hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Hit(nil), s.hits...)
}

// ResetCounts zeroes the counters and the request log.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	minted := s.counts.Minted
	s.counts = newCounts()
	s.counts.Minted = minted
	s.hits = nil
}
