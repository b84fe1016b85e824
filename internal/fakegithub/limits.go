package fakegithub

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Rate limits are kept per credential, as GitHub keeps them per installation and per user:
// every answer but a 304 spends one call of an hourly budget, and a spent budget answers 403
// with X-RateLimit-Remaining: 0 until X-RateLimit-Reset.

type window struct {
	used  int
	reset time.Time
}

const docsRateLimit = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"

// SetRateLimit changes each credential's hourly budget (windows already open keep their use).
func (s *Server) SetRateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = max(1, n)
}

// ExhaustRateLimit spends every credential's budget until reset: each call before then is
// answered 403 "API rate limit exceeded" with X-RateLimit-Remaining: 0 and
// X-RateLimit-Reset naming reset (rounded up to the second, as the header is whole seconds).
func (s *Server) ExhaustRateLimit(reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spentTil = reset
}

func (s *Server) limitOf(c *cred) int {
	if c == nil || c.kind == "none" {
		return 60 // unauthenticated callers get 60 an hour
	}
	return s.limit
}

func (s *Server) window(c *cred) *window {
	key := "anon"
	if c != nil && c.key != "" {
		key = c.key
	}
	w, ok := s.windows[key]
	now := s.now()
	if !ok || !now.Before(w.reset) {
		w = &window{reset: now.Add(time.Hour).Truncate(time.Second)}
		s.windows[key] = w
	}
	return w
}

// limited answers a request whose credential has no budget left.
func (s *Server) limited(c *cred, r *http.Request) *reply {
	now := s.now()
	reset := time.Time{}
	if now.Before(s.spentTil) {
		reset = s.spentTil
	} else if w := s.window(c); w.used >= s.limitOf(c) {
		reset = w.reset
	}
	if reset.IsZero() {
		return nil
	}
	who := "your IP address"
	if c != nil && c.label != "" {
		who = c.label
	}
	rep := s.errorReply(http.StatusForbidden, "API rate limit exceeded for "+who+".", docsRateLimit)
	limit := s.limitOf(c)
	rep.header = http.Header{}
	rep.header.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	rep.header.Set("X-RateLimit-Remaining", "0")
	rep.header.Set("X-RateLimit-Used", strconv.Itoa(limit))
	rep.header.Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(reset), 10))
	rep.header.Set("X-RateLimit-Resource", "core")
	rep.limited = true
	return &rep
}

// spend takes one call from the credential's budget (a 304 takes none) and reports it.
func (s *Server) spend(h http.Header, c *cred, status int) {
	w := s.window(c)
	if status != http.StatusNotModified {
		w.used++
	}
	limit := s.limitOf(c)
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, limit-w.used)))
	h.Set("X-RateLimit-Used", strconv.Itoa(w.used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(w.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

func ceilUnix(t time.Time) int64 {
	return int64(math.Ceil(float64(t.UnixNano()) / 1e9))
}

// Fault is an answer injected in place of the real one: a secondary rate limit, a 5xx, a
// 401. The first matching fault with answers left is used.
type Fault struct {
	Method string // "" any
	// Path is a prefix of the path under the API root ("/repos/acme/api/pulls"); "" any.
	Path    string
	Status  int
	Message string // "" the status text
	// RetryAfter, if set, is sent as Retry-After in whole seconds (rounded up).
	RetryAfter time.Duration
	// Times is how many answers it replaces (0: one; negative: until ClearFaults).
	Times int
}

// SecondaryRateLimit is GitHub's 403 for too many concurrent or too fast calls.
func SecondaryRateLimit(path string, retryAfter time.Duration) Fault {
	return Fault{Path: path, Status: http.StatusForbidden, RetryAfter: retryAfter,
		Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
}

// TooManyRequests is a 429 with Retry-After.
func TooManyRequests(path string, retryAfter time.Duration) Fault {
	return Fault{Path: path, Status: http.StatusTooManyRequests, RetryAfter: retryAfter,
		Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
}

type faultState struct {
	Fault
	left int
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	left := f.Times
	if left == 0 {
		left = 1
	}
	s.faults = append(s.faults, &faultState{Fault: f, left: left})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) fault(r *http.Request) *reply {
	for _, f := range s.faults {
		if f.left == 0 || (f.Method != "" && !strings.EqualFold(f.Method, r.Method)) || !strings.HasPrefix(r.URL.Path, f.Path) {
			continue
		}
		if f.left > 0 {
			f.left--
		}
		msg := f.Message
		if msg == "" {
			msg = http.StatusText(f.Status)
		}
		rep := s.errorReply(f.Status, msg, docsREST)
		if f.RetryAfter > 0 {
			rep.header = http.Header{}
			rep.header.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(f.RetryAfter.Seconds())), 10))
		}
		return &rep
	}
	return nil
}
