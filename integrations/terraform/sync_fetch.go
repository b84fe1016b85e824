package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// maxSyncBody bounds one API answer; a page of 20 runs is a few hundred kilobytes at most.
const maxSyncBody = 16 << 20

// transport sits under go-tfe's client. It waits out 429s itself rather than leaving them to
// go-tfe: go-tfe retries a 429 up to 30 times on the wall clock (nothing a test can inject,
// nothing the run can count) and calls log.Fatal on an X-RateLimit-Reset it cannot parse. So
// a 429 never reaches go-tfe: it is waited out here, or handed up as a *RateLimitError the
// sync runner can wait for beyond the read's timeout.
//
// It also counts every call into the context's syncer.Stats, keeps the latest X-RateLimit-*
// reading, retries GETs answered 500/502/503/504 twice, and records each answer into the
// context's recorder so an observation can cite the calls it was read from.
type transport struct {
	base       http.RoundTripper
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	log        *slog.Logger
	maxRetries int           // 429s waited out for one request
	maxWait    time.Duration // the longest wait inside a request; longer goes to the runner

	// setup is the context of the Read creating the client: go-tfe's NewClient pings the API
	// without a context, and that call should be bounded and counted like the others.
	setup atomic.Pointer[context.Context]

	mu     sync.Mutex
	latest syncer.RateLimit
}

func newTransport(base http.RoundTripper, now func() time.Time, sleep func(context.Context, time.Duration) error, log *slog.Logger) *transport {
	if base == nil {
		base = http.DefaultTransport
	}
	if sleep == nil {
		sleep = syncer.Sleep
	}
	return &transport{base: base, now: now, sleep: sleep, log: log, maxRetries: 3, maxWait: 2 * time.Minute}
}

// RateLimit returns the latest reading any answer carried.
func (t *transport) RateLimit() syncer.RateLimit {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latest
}

// RoundTrip sends req, waiting and retrying as the answers ask.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if syncer.StatsFrom(ctx) == nil {
		if c := t.setup.Load(); c != nil {
			ctx = *c
			req = req.WithContext(ctx)
		}
	}
	rec := recorderFrom(ctx)
	path := pathOf(req)
	limited, failed := 0, 0
	for attempt := 0; ; attempt++ {
		out := req
		if attempt > 0 {
			var err error
			if out, err = rewind(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.base.RoundTrip(out)
		if err != nil {
			rec.add(call{Path: path, FetchedAt: t.now().UTC(), err: err})
			return nil, err
		}
		syncer.CountRequest(ctx, resp.StatusCode == http.StatusNotModified)
		t.record(resp)

		switch code := resp.StatusCode; {
		case code == http.StatusTooManyRequests:
			wait := resetWait(resp)
			discard(resp)
			if limited >= t.maxRetries || wait > t.maxWait {
				rec.add(call{Path: path, Status: code, FetchedAt: t.now().UTC()})
				return nil, &RateLimitError{Path: path, Wait: wait, At: t.now().Add(wait)}
			}
			limited++
			t.log.Warn("terraform: rate limited; waiting for the reset", "path", path, "wait", wait, "retry", limited)
			syncer.CountWait(ctx, wait)
			if err := t.sleep(ctx, wait); err != nil {
				return nil, err
			}
		case isServerError(code) && (req.Method == http.MethodGet || req.Method == http.MethodHead) && failed < 2:
			discard(resp)
			failed++
			wait := time.Second << (failed - 1)
			t.log.Warn("terraform: server error; retrying", "path", path, "status", code, "wait", wait, "retry", failed)
			if err := t.sleep(ctx, wait); err != nil {
				return nil, err
			}
		default:
			// The whole answer is read here, bounded, so the recorder can keep it; go-tfe then
			// decodes the same bytes.
			body, err := io.ReadAll(io.LimitReader(resp.Body, maxSyncBody+1))
			resp.Body.Close()
			if err != nil {
				rec.add(call{Path: path, Status: code, FetchedAt: t.now().UTC(), err: err})
				return nil, err
			}
			if len(body) > maxSyncBody {
				err := fmt.Errorf("answer larger than %d MB", maxSyncBody>>20)
				rec.add(call{Path: path, Status: code, FetchedAt: t.now().UTC(), err: err})
				return nil, err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			c := call{Path: path, Status: code, FetchedAt: t.now().UTC(), Body: body, retried: failed}
			rec.add(c)
			return resp, nil
		}
	}
}

// record keeps the answer's X-RateLimit-* reading. HCP Terraform sends the limit, what
// remains and the seconds until the reset.
func (t *transport) record(resp *http.Response) {
	h := resp.Header
	rem, err := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if err != nil {
		return
	}
	limit, _ := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	var reset time.Time
	if v, err := strconv.ParseFloat(h.Get("X-RateLimit-Reset"), 64); err == nil && v >= 0 && !math.IsInf(v, 0) {
		reset = t.now().Add(time.Duration(v * float64(time.Second))).UTC().Truncate(time.Second)
	}
	t.mu.Lock()
	t.latest = syncer.RateLimit{Limit: limit, Remaining: rem, Reset: reset, Known: true}
	t.mu.Unlock()
}

// resetWait is how long a 429 asks to wait: X-RateLimit-Reset, in (possibly fractional)
// seconds, rounded up to the millisecond; a second when it is missing or unreadable.
func resetWait(resp *http.Response) time.Duration {
	v, err := strconv.ParseFloat(resp.Header.Get("X-RateLimit-Reset"), 64)
	if err != nil || v <= 0 || math.IsNaN(v) || v > 24*3600 {
		return time.Second
	}
	return time.Duration(math.Ceil(v*1000)) * time.Millisecond
}

func isServerError(code int) bool {
	switch code {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// RateLimitError is a 429 that could not be waited out inside the request: too long a reset,
// or still limited after several waits. The sync runner waits until RetryAt and reads again.
type RateLimitError struct {
	Path string
	Wait time.Duration
	At   time.Time
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("GET %s: 429 Too Many Requests: rate limited (X-RateLimit-Reset in %s)", e.Path, e.Wait)
}

// RetryAt implements syncer.RetryAt.
func (e *RateLimitError) RetryAt() time.Time { return e.At }

// call is one API answer as the recorder saw it.
type call struct {
	Path      string
	Status    int
	FetchedAt time.Time
	Body      []byte
	err       error // the call got no answer (or an unreadable one)
	retried   int   // server errors retried before this answer
}

// request is the evidence record of the call: the body as the API sent it, for 200s.
func (c call) request() syncer.Request {
	r := syncer.Request{Path: c.Path, Status: c.Status, FetchedAt: c.FetchedAt}
	if c.Status == http.StatusOK && len(c.Body) > 0 && json.Valid(c.Body) {
		r.Response = json.RawMessage(c.Body)
	}
	return r
}

// recorder collects the answers of the calls made with its context.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

type recorderKey struct{}

func withRecorder(ctx context.Context) (context.Context, *recorder) {
	r := &recorder{}
	return context.WithValue(ctx, recorderKey{}, r), r
}

func recorderFrom(ctx context.Context) *recorder {
	r, _ := ctx.Value(recorderKey{}).(*recorder)
	return r
}

func (r *recorder) add(c call) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// last is the latest answer; ok is false when no call was made (go-tfe refused the
// arguments, or the context ended before it could send).
func (r *recorder) last() (call, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return call{}, false
	}
	return r.calls[len(r.calls)-1], true
}

// pathOf is what the evidence shows of a call: its path and query on the API host.
func pathOf(req *http.Request) string {
	p := req.URL.EscapedPath()
	if req.URL.RawQuery != "" {
		p += "?" + req.URL.RawQuery
	}
	return p
}

// rewind returns a fresh copy of req for a retry; its body comes from GetBody.
func rewind(req *http.Request) (*http.Request, error) {
	out := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, errors.New("cannot retry a request whose body cannot be read again")
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = body
	}
	return out, nil
}

// discard drains a little of an answer that will not be used, so the connection can be
// reused, and closes it.
func discard(resp *http.Response) {
	if resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}
}
