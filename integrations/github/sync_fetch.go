package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops/syncer"
)

// maxSyncBody bounds one API response; the largest list page sync reads is far below it.
const maxSyncBody = 32 << 20

// maxSyncPages bounds how many pages one paginated read follows.
const maxSyncPages = 100

// fetcher makes the API calls of one Read: conditional GETs keyed by path, with the ETags of
// the previous read in and the next read's out. It sends through the client's *http.Client
// rather than client.Do: go-github turns a 304 into an error and, worse, refuses requests on
// its own (by the wall clock) once a response said remaining: 0, which would bypass the
// RateLimitTransport's wait and fail the read instead.
type fetcher struct {
	client  *gh.Client
	http    *http.Client
	subject string // "owner/name", for errors
	now     func() time.Time
	prev    map[string]string
	sem     chan struct{} // bounds the calls in flight within one Read

	mu    sync.Mutex
	etags map[string]string
}

// fetched is one API answer.
type fetched struct {
	Path      string // as sent, relative to the API root, with its query: /repos/o/r/pulls?...
	Status    int
	ETag      string
	Body      []byte // nil for 304 and for errors
	FetchedAt time.Time
	Next      string // the next page's URL (Link rel="next"), "" on the last page
	message   string // GitHub's error message, for non-2xx answers
	header    http.Header
}

// request is the evidence record of the call.
func (r *fetched) request() syncer.Request {
	q := syncer.Request{Path: r.Path, Status: r.Status, ETag: r.ETag, FetchedAt: r.FetchedAt}
	if r.Status == http.StatusOK && len(r.Body) > 0 {
		q.Response = json.RawMessage(r.Body)
	}
	return q
}

// notModified reports a 304 to a conditional request.
func (r *fetched) notModified() bool { return r.Status == http.StatusNotModified }

// getOpts say what a caller handles itself.
type getOpts struct {
	// conditional sends If-None-Match with the previous ETag of the path. Only set it when
	// the caller kept what that path said last time: a 304 says nothing else.
	conditional bool
	// keep records the answer's ETag for the next read. Only paths a later read may ask
	// conditionally keep theirs, so the state does not fill with ETags never sent.
	keep bool
	// allow lists the error statuses the caller interprets (404 = absent, say); any other
	// non-2xx answer is an error naming the subject, the call and the cause.
	allow []int
}

// get calls GET on ref, a path relative to the API root ("repos/o/r") or an absolute URL on
// the same host (a Link header's next page).
func (f *fetcher) get(ctx context.Context, ref string, o getOpts) (*fetched, error) {
	req, err := f.client.NewRequest(http.MethodGet, ref, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: GET %s: %w", f.subject, ref, err)
	}
	if req.URL.Host != f.client.BaseURL.Host || req.URL.Scheme != f.client.BaseURL.Scheme {
		// A Link header pointing elsewhere would carry the token with it.
		return nil, fmt.Errorf("%s: GET %s: refusing a URL outside %s", f.subject, ref, f.client.BaseURL.Host)
	}
	path := f.pathOf(req.URL)
	etag := f.prev[path]
	if o.conditional && etag != "" {
		req.Header.Set("If-None-Match", etag)
	}

	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: GET %s: %w", f.subject, path, ctx.Err())
	}
	resp, err := f.http.Do(req.WithContext(ctx))
	if err != nil {
		<-f.sem
		return nil, f.transportError(path, err)
	}
	out := &fetched{Path: path, Status: resp.StatusCode, ETag: resp.Header.Get("ETag"), FetchedAt: f.now().UTC(), header: resp.Header}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSyncBody+1))
	resp.Body.Close()
	<-f.sem
	if err != nil {
		return nil, f.transportError(path, err)
	}
	if len(body) > maxSyncBody {
		return nil, fmt.Errorf("%s: GET %s: response larger than %d MB", f.subject, path, maxSyncBody>>20)
	}

	switch {
	case resp.StatusCode == http.StatusOK:
		out.Body = body
		out.Next = nextLink(resp.Header.Get("Link"))
	case resp.StatusCode == http.StatusNotModified:
		if req.Header.Get("If-None-Match") == "" {
			return nil, fmt.Errorf("%s: GET %s: 304 to a request that was not conditional", f.subject, path)
		}
		if out.ETag == "" {
			out.ETag = etag // GitHub repeats it, but a 304 means the one sent matched anyway
		}
	default:
		out.message = errorMessage(body)
		allowed := false
		for _, s := range o.allow {
			allowed = allowed || s == resp.StatusCode
		}
		if !allowed {
			return nil, f.statusError(out)
		}
	}
	if o.keep && out.ETag != "" {
		f.mu.Lock()
		f.etags[path] = out.ETag
		f.mu.Unlock()
	}
	return out, nil
}

// pathOf is a URL's path relative to the API root (which is /api/v3/ on Enterprise Server),
// with its query: the key of the ETags and what the evidence shows.
func (f *fetcher) pathOf(u *url.URL) string {
	p := u.EscapedPath()
	if base := strings.TrimSuffix(f.client.BaseURL.EscapedPath(), "/"); base != "" {
		p = strings.TrimPrefix(p, base)
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p
}

// list reads every page of a list from first (already fetched) into items, calling more
// before each further page: it returns false to stop early.
func (f *fetcher) list(ctx context.Context, first *fetched, each func(page *fetched, items []json.RawMessage) (more bool, err error)) ([]*fetched, error) {
	pages := []*fetched{first}
	for page := first; ; {
		var items []json.RawMessage
		if err := json.Unmarshal(page.Body, &items); err != nil {
			return nil, fmt.Errorf("%s: GET %s: the answer is not a JSON list: %w", f.subject, page.Path, err)
		}
		more, err := each(page, items)
		if err != nil {
			return nil, err
		}
		if !more || page.Next == "" {
			return pages, nil
		}
		if len(pages) >= maxSyncPages {
			return nil, fmt.Errorf("%s: GET %s: more than %d pages", f.subject, first.Path, maxSyncPages)
		}
		if page, err = f.get(ctx, page.Next, getOpts{}); err != nil {
			return nil, err
		}
		pages = append(pages, page)
	}
}

// decode unmarshals an answer (or one item of a list) and names the call when it cannot.
func (f *fetcher) decode(r *fetched, raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: GET %s: unreadable answer: %w", f.subject, r.Path, err)
	}
	return nil
}

// nextLink returns the rel="next" URL of a Link header. Following the URL itself, rather
// than a page number, also walks the cursor pagination Dependabot alerts use.
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		segs := strings.Split(strings.TrimSpace(part), ";")
		if len(segs) < 2 {
			continue
		}
		u := strings.TrimSpace(segs[0])
		if !strings.HasPrefix(u, "<") || !strings.HasSuffix(u, ">") {
			continue
		}
		for _, s := range segs[1:] {
			if strings.TrimSpace(s) == `rel="next"` {
				return u[1 : len(u)-1]
			}
		}
	}
	return ""
}

func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return clip(e.Message)
	}
	return ""
}

// SyncError is a read that GitHub refused or failed: it names the subject, the call and the
// cause, with a hint where the status says what to do.
type SyncError struct {
	Subject string // owner/name
	Path    string
	Status  int
	Message string // GitHub's message, or the status text
	Hint    string
	// Reset is when a primary rate limit that was still spent resets (zero otherwise): the
	// sync runner waits for it between two reads of the subject (syncer.RetryAt).
	Reset time.Time
}

// RetryAt implements syncer.RetryAt for a read refused by a spent primary rate limit.
func (e *SyncError) RetryAt() time.Time { return e.Reset }

func (e *SyncError) Error() string {
	s := fmt.Sprintf("%s: GET %s: %d %s", e.Subject, e.Path, e.Status, e.Message)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// statusError explains a refused call for the person reading the sync coverage.
func (f *fetcher) statusError(r *fetched) error {
	e := &SyncError{Subject: f.subject, Path: r.Path, Status: r.Status, Message: r.message}
	if e.Message == "" {
		e.Message = http.StatusText(r.Status)
	}
	lower := strings.ToLower(e.Message)
	switch {
	case r.Status == http.StatusUnauthorized:
		e.Message = "bad credentials: the token was revoked or the App uninstalled"
	case (r.Status == http.StatusForbidden || r.Status == http.StatusTooManyRequests) && r.header.Get("X-RateLimit-Remaining") == "0":
		e.Hint = "rate limit still spent after waiting"
		if reset, err := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64); err == nil && reset > 0 {
			e.Reset = time.Unix(reset, 0).UTC()
			e.Hint += "; it resets at " + e.Reset.Format(time.RFC3339)
		}
	case r.Status == http.StatusTooManyRequests || strings.Contains(lower, "secondary rate limit"):
		// Longer than a request may wait inside its timeout (GitHub's usual answer is a
		// minute): the runner waits it out between two reads of the subject.
		wait := time.Minute
		if n, err := strconv.Atoi(strings.TrimSpace(r.header.Get("Retry-After"))); err == nil && n > 0 {
			wait = time.Duration(n) * time.Second
		}
		e.Reset = r.FetchedAt.Add(wait)
		e.Hint = "secondary rate limit; retry after " + wait.String() + "; lower sync.concurrency if it recurs"
	case r.Status == http.StatusForbidden:
		who := "the App or token"
		switch {
		case strings.Contains(lower, "integration"):
			who = "the App"
		case strings.Contains(lower, "personal access token"):
			who = "the token"
		}
		e.Hint = who + " lacks " + permissionFor(r.Path)
	case r.Status == http.StatusNotFound && isRepoPath(r.Path):
		e.Message = "not found or not visible to the App"
		e.Hint = "check the name, and that the App is installed on the repository"
	case r.Status >= 500:
		e.Hint = "GitHub failed; retried"
	}
	return e
}

// permissionFor names the GitHub App permission a path needs, for 403 hints.
func permissionFor(path string) string {
	switch {
	case strings.Contains(path, "/protection"):
		return "administration:read"
	case strings.Contains(path, "/rules/"):
		return "metadata:read"
	case strings.Contains(path, "/pulls"):
		return "pull_requests:read"
	case strings.Contains(path, "/deployments"):
		return "deployments:read"
	case strings.Contains(path, "/dependabot/"):
		return "dependabot_alerts:read"
	case strings.Contains(path, "/code-scanning/"):
		return "security_events:read"
	case strings.Contains(path, "/contents/"), strings.Contains(path, "/releases"), strings.Contains(path, "/git/"),
		strings.Contains(path, "/branches/"):
		return "contents:read"
	}
	return "metadata:read"
}

// isRepoPath reports whether path is the repository itself: /repos/o/r.
func isRepoPath(path string) bool {
	p, _, _ := strings.Cut(path, "?")
	parts := strings.Split(strings.Trim(p, "/"), "/")
	return len(parts) == 3 && parts[0] == "repos"
}

// transportError explains a call that got no answer.
func (f *fetcher) transportError(path string, err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%s: GET %s: timed out: %w", f.subject, path, err)
	}
	return fmt.Errorf("%s: GET %s: %w", f.subject, path, err)
}
