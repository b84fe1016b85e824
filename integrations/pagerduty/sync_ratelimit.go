package pagerduty

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// PagerDuty's REST budget (960 requests a minute per token) is refilled every minute, so a
// 429 that says nothing of when to come back is retried after a minute: by then the budget
// has been refilled, whatever part of the minute it ran out in.
const defaultRateWait = time.Minute

// rateTransport keeps sync inside PagerDuty's REST rate limit and through its passing
// failures: a 429 is retried after Retry-After (or ratelimit-reset, the seconds until the
// budget refills), a GET answered 500/502/503/504 is retried twice. Every request is counted
// into the context's syncer.Stats and every rate-limit wait with syncer.CountWait. Each
// attempt has a timeout of its own; the waits between attempts do not count against it.
type rateTransport struct {
	base  http.RoundTripper
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	log   *slog.Logger
	// attempt bounds one attempt, the body read included.
	attempt time.Duration
	// limited and failed bound the retries after 429s and after server errors.
	limited, failed int

	mu     sync.Mutex
	latest syncer.RateLimit
}

// RateLimitedError is a 429 that could not be waited out within the read: the wait was
// longer than the read had left, or PagerDuty still answered 429 after the retries. It
// implements syncer.RetryAt, so the runner waits it out between two reads of the subject.
type RateLimitedError struct {
	Until   time.Time
	Retries int
}

func (e *RateLimitedError) Error() string {
	if e.Retries > 0 {
		return fmt.Sprintf("429 Too Many Requests after %d waits: the PagerDuty REST rate limit (960 requests a minute per token) is spent; lower sync.concurrency or give sync a token of its own", e.Retries)
	}
	return fmt.Sprintf("429 Too Many Requests: the PagerDuty REST rate limit is spent until %s, later than this read may wait", e.Until.UTC().Format(time.RFC3339))
}

// RetryAt is when the subject may be read again.
func (e *RateLimitedError) RetryAt() time.Time { return e.Until }

var _ syncer.RetryAt = (*RateLimitedError)(nil)

// RoundTrip sends req, waiting and retrying as PagerDuty's answers ask.
func (t *rateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	limited, failed := 0, 0
	for {
		actx, cancel := context.WithTimeout(ctx, t.attempt)
		resp, err := t.base.RoundTrip(req.Clone(actx))
		if err != nil {
			cancel()
			return nil, err
		}
		syncer.CountRequest(ctx, false)
		t.record(resp)

		wait, retry := time.Duration(0), false
		switch code := resp.StatusCode; {
		case code == http.StatusTooManyRequests:
			wait, retry = t.rateWait(resp), true
			if limited >= t.limited {
				discard(resp, cancel)
				return nil, &RateLimitedError{Until: t.now().Add(wait), Retries: limited}
			}
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
				discard(resp, cancel)
				return nil, &RateLimitedError{Until: t.now().Add(wait)}
			}
			limited++
			syncer.CountWait(ctx, wait)
		case serverError(code) && failed < t.failed && req.Method == http.MethodGet:
			wait, retry = time.Second<<failed, true
			if d, ok := t.retryAfter(resp); ok {
				wait = d
			}
			failed++
		}
		if !retry {
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		discard(resp, cancel)
		t.log.Warn("pagerduty: waiting before retrying", "status", resp.StatusCode, "wait", wait, "path", req.URL.Path)
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func serverError(code int) bool {
	switch code {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// rateWait is how long a 429 asks to wait: Retry-After if sent, else ratelimit-reset (the
// seconds until the budget refills, which PagerDuty sends on every answer), else a minute.
func (t *rateTransport) rateWait(resp *http.Response) time.Duration {
	if d, ok := t.retryAfter(resp); ok {
		return max(d, time.Second)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("ratelimit-reset"))); err == nil && n >= 0 {
		return max(time.Duration(n)*time.Second, time.Second)
	}
	return defaultRateWait
}

// retryAfter reads Retry-After in seconds or as an HTTP date.
func (t *rateTransport) retryAfter(resp *http.Response) (time.Duration, bool) {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(0, at.Sub(t.now())), true
	}
	return 0, false
}

// record keeps the latest ratelimit-* reading, for GET /api/v1/sync and the metrics.
func (t *rateTransport) record(resp *http.Response) {
	h := resp.Header
	rem, err := strconv.Atoi(h.Get("ratelimit-remaining"))
	if err != nil {
		return
	}
	limit, _ := strconv.Atoi(h.Get("ratelimit-limit"))
	var reset time.Time
	if n, err := strconv.Atoi(h.Get("ratelimit-reset")); err == nil {
		reset = t.now().Add(time.Duration(n) * time.Second).UTC().Truncate(time.Second)
	}
	t.mu.Lock()
	t.latest = syncer.RateLimit{Limit: limit, Remaining: rem, Reset: reset, Known: true}
	t.mu.Unlock()
}

func (t *rateTransport) rateLimit() syncer.RateLimit {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latest
}

// cancelBody ends the attempt's context once the body is closed: cancelling it earlier
// would cut the body off mid-read.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// discard drains a little of an answer that will not be used, so the connection can be
// reused, and ends its attempt.
func discard(resp *http.Response, cancel context.CancelFunc) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	cancel()
}
