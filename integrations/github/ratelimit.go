package github

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// RateLimitOptions tune a RateLimitTransport. The zero value uses the real clock and the
// defaults below.
type RateLimitOptions struct {
	// Now and Sleep are the clock; tests inject both so that nothing really waits.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxRetries bounds how often one request is retried after rate-limit answers (default 3).
	MaxRetries int
	// ServerErrorRetries bounds how often a GET or HEAD answered 500, 502, 503 or 504 is
	// retried (default 2, after 1 s then 2 s, or Retry-After when GitHub sends it; negative:
	// never).
	ServerErrorRetries int
	// SecondaryWait is the wait after a secondary limit that names no Retry-After: GitHub
	// asks for "at least one minute" (default 60 s).
	SecondaryWait time.Duration
	// MaxWait is the longest single wait; a limit that lifts later is handed to the caller as
	// GitHub sent it (default 61 min: a primary limit resets within the hour).
	MaxWait time.Duration
	Log     *slog.Logger
}

// RateLimitTransport keeps a GitHub client inside its rate limits: it waits out primary and
// secondary limits and retries, retries transient server errors, counts every request into
// the context's syncer.Stats, and remembers the latest X-RateLimit-* reading.
//
// It only sees requests and responses, so it works under the authentication transport (where
// it also sees token mints) or over it. Under it, one transport serves many installations,
// each with its own budget: readings are kept per credential (a hash of the Authorization
// header, never the header itself), so one exhausted installation does not hold up another.
type RateLimitTransport struct {
	base http.RoundTripper
	opts RateLimitOptions

	mu       sync.Mutex
	readings map[string]rateReading
	latest   syncer.RateLimit
}

type rateReading struct {
	remaining int
	reset     time.Time
}

var _ syncer.RateLimiter = (*RateLimitTransport)(nil)

// NewRateLimitTransport wraps base (nil: http.DefaultTransport).
func NewRateLimitTransport(base http.RoundTripper, opts RateLimitOptions) *RateLimitTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = syncer.Sleep
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = 3
	}
	if opts.ServerErrorRetries < 0 {
		opts.ServerErrorRetries = 0
	} else if opts.ServerErrorRetries == 0 {
		opts.ServerErrorRetries = 2
	}
	if opts.SecondaryWait <= 0 {
		opts.SecondaryWait = time.Minute
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 61 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &RateLimitTransport{base: base, opts: opts, readings: map[string]rateReading{}}
}

// RateLimit returns the latest core rate-limit reading any response carried.
func (t *RateLimitTransport) RateLimit() syncer.RateLimit {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latest
}

type retryKind int

const (
	noRetry retryKind = iota
	primaryLimit
	secondaryLimit
	serverError
)

func (k retryKind) String() string {
	switch k {
	case primaryLimit:
		return "primary rate limit"
	case secondaryLimit:
		return "secondary rate limit"
	case serverError:
		return "server error"
	}
	return "none"
}

// RoundTrip sends req, waiting and retrying as the answers ask.
func (t *RateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	cred := credentialKey(req)
	limited, failed := 0, 0
	for attempt := 0; ; attempt++ {
		if err := t.waitForReset(ctx, cred, req); err != nil {
			return nil, err
		}
		out := req
		if attempt > 0 {
			var err error
			if out, err = rewind(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.base.RoundTrip(out)
		if err != nil {
			return nil, err
		}
		syncer.CountRequest(ctx, resp.StatusCode == http.StatusNotModified)
		t.record(cred, resp)

		wait, kind := t.classify(resp, failed)
		switch kind {
		case noRetry:
			return resp, nil
		case primaryLimit, secondaryLimit:
			if limited >= t.opts.MaxRetries {
				return resp, nil
			}
			limited++
		case serverError:
			if failed >= t.opts.ServerErrorRetries || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
				return resp, nil
			}
			failed++
		}
		if !replayable(req) || wait > t.opts.MaxWait {
			return resp, nil
		}
		discard(resp)
		t.opts.Log.Warn("github: waiting before retrying", "reason", kind.String(), "status", resp.StatusCode,
			"wait", wait, "method", req.Method, "path", req.URL.Path, "retry", limited+failed)
		if kind != serverError {
			syncer.CountWait(ctx, wait)
		}
		if err := t.opts.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// waitForReset holds a request back while the credential's last reading says its budget is
// spent: sending it would only earn another 403 and, repeated, a secondary limit.
func (t *RateLimitTransport) waitForReset(ctx context.Context, cred string, req *http.Request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	r, ok := t.readings[cred]
	t.mu.Unlock()
	if !ok || r.remaining != 0 {
		return nil
	}
	now := t.opts.Now()
	if !now.Before(r.reset) {
		return nil
	}
	wait := r.reset.Sub(now) + time.Second
	if wait > t.opts.MaxWait {
		return nil
	}
	t.opts.Log.Warn("github: rate limit spent; waiting for its reset", "wait", wait, "reset", r.reset.UTC(), "path", req.URL.Path)
	syncer.CountWait(ctx, wait)
	return t.opts.Sleep(ctx, wait)
}

// record keeps the response's X-RateLimit-* reading. Only the core resource is kept: search
// and GraphQL have budgets of their own, and a spent search budget must not hold up REST.
func (t *RateLimitTransport) record(cred string, resp *http.Response) {
	h := resp.Header
	rem, err := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if err != nil {
		return
	}
	if res := h.Get("X-RateLimit-Resource"); res != "" && res != "core" {
		return
	}
	limit, _ := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	var reset time.Time
	if v, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && v > 0 {
		reset = time.Unix(v, 0).UTC()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.readings) > 256 {
		// Installation tokens rotate hourly; readings past their reset say nothing any more.
		now := t.opts.Now()
		for k, r := range t.readings {
			if now.After(r.reset) {
				delete(t.readings, k)
			}
		}
	}
	t.readings[cred] = rateReading{remaining: rem, reset: reset}
	t.latest = syncer.RateLimit{Limit: limit, Remaining: rem, Reset: reset, Known: true}
}

// classify says whether and how long to wait before retrying, following GitHub's guidance:
// Retry-After when sent; an exhausted primary limit until X-RateLimit-Reset; any other
// secondary limit at least a minute.
func (t *RateLimitTransport) classify(resp *http.Response, failed int) (time.Duration, retryKind) {
	switch code := resp.StatusCode; code {
	case http.StatusForbidden, http.StatusTooManyRequests:
		retryAfter, hasRetryAfter := t.retryAfter(resp)
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			wait := time.Second
			if v, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil && v > 0 {
				wait = max(wait, time.Unix(v, 0).Sub(t.opts.Now())+time.Second)
			} else if !hasRetryAfter {
				wait = t.opts.SecondaryWait
			}
			return max(wait, retryAfter), primaryLimit
		}
		if hasRetryAfter {
			return retryAfter, secondaryLimit
		}
		if code == http.StatusTooManyRequests || mentionsSecondaryLimit(resp) {
			return t.opts.SecondaryWait, secondaryLimit
		}
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if d, ok := t.retryAfter(resp); ok {
			return d, serverError
		}
		return time.Second << failed, serverError
	}
	return 0, noRetry
}

// retryAfter reads Retry-After in seconds or as an HTTP date.
func (t *RateLimitTransport) retryAfter(resp *http.Response) (time.Duration, bool) {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(0, at.Sub(t.opts.Now())), true
	}
	return 0, false
}

// mentionsSecondaryLimit peeks at a 403 body: GitHub signals some secondary limits only in
// the message ("You have exceeded a secondary rate limit"). The body is put back for the
// caller, who may want the message for its error.
func mentionsSecondaryLimit(resp *http.Response) bool {
	if resp.Body == nil {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = &peekedBody{Reader: io.MultiReader(bytes.NewReader(head), resp.Body), Closer: resp.Body}
	if err != nil {
		return false
	}
	l := strings.ToLower(string(head))
	return strings.Contains(l, "secondary rate limit") || strings.Contains(l, "abuse detection")
}

type peekedBody struct {
	io.Reader
	io.Closer
}

// rewind returns a fresh copy of req for a retry; its body comes from GetBody.
func rewind(req *http.Request) (*http.Request, error) {
	out := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = body
	}
	return out, nil
}

// replayable reports whether req can be sent again: a body that was consumed can only be
// sent again if the request knows how to produce it anew.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// discard drains a little of a response that will not be used, so the connection can be
// reused, and closes it.
func discard(resp *http.Response) {
	if resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}
}

// credentialKey identifies the credential a request carries without keeping it.
func credentialKey(req *http.Request) string {
	a := req.Header.Get("Authorization")
	if a == "" {
		return ""
	}
	// The App's JWT is signed anew every few seconds but spends one budget, the App's own.
	if jwt, ok := strings.CutPrefix(a, "Bearer "); ok && strings.HasPrefix(jwt, "eyJ") && strings.Count(jwt, ".") == 2 {
		return "app-jwt"
	}
	sum := sha256.Sum256([]byte(a))
	return hex.EncodeToString(sum[:8])
}
