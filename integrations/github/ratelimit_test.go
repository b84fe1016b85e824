package github

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// scripted answers requests in turn from a list; the last answer repeats.
type scripted struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	got     []string // "METHOD path body"
	url     string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.got = append(s.got, r.Method+" "+r.URL.Path+" "+string(body))
	a := s.answers[min(len(s.got), len(s.answers))-1]
	s.mu.Unlock()
	a(w)
}

func (s *scripted) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func answer(status int, body string, kv ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func rateTransport(t *testing.T, clock *syncClock, answers ...func(w http.ResponseWriter)) (*http.Client, *scripted, *RateLimitTransport) {
	s := &scripted{answers: answers}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/repos/acme/api"
	rl := NewRateLimitTransport(srv.Client().Transport, RateLimitOptions{Now: clock.Now, Sleep: clock.Sleep})
	c := &http.Client{Transport: rl}
	return c, s, rl
}

func get(t *testing.T, ctx context.Context, c *http.Client, url string) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func TestRateLimitPrimaryWaitsForReset(t *testing.T) {
	clock := newSyncClock()
	reset := clock.Now().Add(2 * time.Second)
	c, s, rl := rateTransport(t, clock,
		answer(403, `{"message":"API rate limit exceeded"}`, "X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", unix(reset)),
		answer(200, `{}`, "X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", unix(reset.Add(time.Hour))),
	)
	var stats syncer.Stats
	resp, _, err := get(t, syncer.WithStats(t.Context(), &stats), c, s.url)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %v, err %v", resp, err)
	}
	if got := clock.Slept(); !reflect.DeepEqual(got, []time.Duration{3 * time.Second}) {
		t.Errorf("waited %v, want until the reset + 1s (3s)", got)
	}
	if stats.Requests.Load() != 2 || stats.RateWaits.Load() != 1 || time.Duration(stats.WaitedNanos.Load()) != 3*time.Second {
		t.Errorf("stats: %d requests, %d waits, %v", stats.Requests.Load(), stats.RateWaits.Load(), time.Duration(stats.WaitedNanos.Load()))
	}
	if r := rl.RateLimit(); !r.Known || r.Remaining != 4999 || r.Limit != 5000 || !r.Reset.Equal(reset.Add(time.Hour)) {
		t.Errorf("RateLimit() = %+v", r)
	}
}

func TestRateLimitSecondary(t *testing.T) {
	cases := []struct {
		name  string
		first func(w http.ResponseWriter)
		wait  time.Duration
	}{
		{"429 with Retry-After", answer(429, `{"message":"slow down"}`, "Retry-After", "3"), 3 * time.Second},
		{"403 with Retry-After", answer(403, `{"message":"You have exceeded a secondary rate limit"}`, "Retry-After", "7"), 7 * time.Second},
		{"403 naming the secondary limit", answer(403, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`), time.Minute},
		{"429 without Retry-After", answer(429, `{}`), time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newSyncClock()
			cl, s, _ := rateTransport(t, clock, c.first, answer(200, `ok`))
			var stats syncer.Stats
			resp, body, err := get(t, syncer.WithStats(t.Context(), &stats), cl, s.url)
			if err != nil || resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("got %v %q %v", resp, body, err)
			}
			if got := clock.Slept(); !reflect.DeepEqual(got, []time.Duration{c.wait}) || stats.RateWaits.Load() != 1 {
				t.Errorf("waited %v (%d counted), want %v", got, stats.RateWaits.Load(), c.wait)
			}
		})
	}
}

func TestRateLimitForbiddenIsNotRetried(t *testing.T) {
	clock := newSyncClock()
	msg := `{"message":"Resource not accessible by integration"}`
	c, s, _ := rateTransport(t, clock, answer(403, msg, "X-RateLimit-Remaining", "4000"))
	resp, body, err := get(t, t.Context(), c, s.url)
	if err != nil || resp.StatusCode != 403 || body != msg {
		t.Errorf("got %v %q %v; want the 403 with its body intact", resp, body, err)
	}
	if len(s.calls()) != 1 || len(clock.Slept()) != 0 {
		t.Errorf("%d calls, waits %v; want one call and no wait", len(s.calls()), clock.Slept())
	}
}

func TestRateLimitRetriesAreBounded(t *testing.T) {
	clock := newSyncClock()
	c, s, _ := rateTransport(t, clock, answer(429, `{}`, "Retry-After", "1"))
	resp, _, err := get(t, t.Context(), c, s.url)
	if err != nil || resp.StatusCode != 429 {
		t.Fatalf("got %v %v; want the last 429", resp, err)
	}
	if n := len(s.calls()); n != 4 {
		t.Errorf("%d calls, want 1 and 3 retries", n)
	}
}

func TestRateLimitWaitRespectsCancellation(t *testing.T) {
	clock := newSyncClock()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	limited := answer(429, `{}`, "Retry-After", "30")
	// The run is cancelled (SIGTERM) while the answer is on its way: the wait must not start.
	c, s, _ := rateTransport(t, clock, func(w http.ResponseWriter) { cancel(); limited(w) }, answer(200, `ok`))
	_, _, err := get(t, ctx, c, s.url)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if len(s.calls()) != 1 || len(clock.Slept()) != 0 {
		t.Errorf("%d calls, waits %v after cancellation; want 1 call, no wait", len(s.calls()), clock.Slept())
	}
}

func TestRateLimitWaitsBeforeSendingWhenSpent(t *testing.T) {
	clock := newSyncClock()
	reset := clock.Now().Add(10 * time.Second)
	c, s, _ := rateTransport(t, clock,
		answer(200, `last`, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", unix(reset)),
		answer(200, `after`, "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", unix(reset.Add(time.Hour))),
	)
	var stats syncer.Stats
	ctx := syncer.WithStats(t.Context(), &stats)
	if _, body, _ := get(t, ctx, c, s.url); body != "last" || len(clock.Slept()) != 0 {
		t.Fatalf("first request: %q, waits %v", body, clock.Slept())
	}
	if _, body, _ := get(t, ctx, c, s.url); body != "after" {
		t.Fatalf("second request: %q", body)
	}
	if got := clock.Slept(); !reflect.DeepEqual(got, []time.Duration{11 * time.Second}) || stats.RateWaits.Load() != 1 {
		t.Errorf("waited %v before the second request, want 11s", got)
	}
}

func TestRateLimitPerCredential(t *testing.T) {
	clock := newSyncClock()
	reset := clock.Now().Add(30 * time.Minute)
	c, s, _ := rateTransport(t, clock,
		answer(200, `a`, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", unix(reset)),
		answer(200, `b`, "X-RateLimit-Remaining", "4000", "X-RateLimit-Reset", unix(reset)),
	)
	send := func(token string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url, nil)
		req.Header.Set("Authorization", "token "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	send("ghs_installation_one")
	send("ghs_installation_two")
	if len(clock.Slept()) != 0 {
		t.Errorf("installation two waited for installation one's limit: %v", clock.Slept())
	}
}

func TestRateLimitReplaysBodiesOnlyWhenItCan(t *testing.T) {
	clock := newSyncClock()
	c, s, _ := rateTransport(t, clock, answer(429, `{}`, "Retry-After", "1"), answer(201, `made`))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url, bytes.NewReader([]byte(`{"a":1}`)))
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("replayable POST: %v %v", resp, err)
	}
	resp.Body.Close()
	if got := s.calls(); len(got) != 2 || !strings.HasSuffix(got[1], ` {"a":1}`) {
		t.Errorf("calls = %q; want the body sent twice", got)
	}

	clock2 := newSyncClock()
	c2, s2, _ := rateTransport(t, clock2, answer(429, `{}`, "Retry-After", "1"), answer(201, `made`))
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, s2.url, io.NopCloser(strings.NewReader(`{"a":1}`)))
	resp, err = c2.Do(req)
	if err != nil || resp.StatusCode != 429 {
		t.Fatalf("unreplayable POST: %v %v; want the 429 handed back", resp, err)
	}
	resp.Body.Close()
	if len(s2.calls()) != 1 || len(clock2.Slept()) != 0 {
		t.Errorf("unreplayable POST sent %d times", len(s2.calls()))
	}
}

func TestRateLimitServerErrors(t *testing.T) {
	clock := newSyncClock()
	c, s, _ := rateTransport(t, clock, answer(502, `bad gateway`), answer(503, ``, "Retry-After", "5"), answer(200, `ok`))
	var stats syncer.Stats
	resp, body, err := get(t, syncer.WithStats(t.Context(), &stats), c, s.url)
	if err != nil || resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("got %v %q %v", resp, body, err)
	}
	if got := clock.Slept(); !reflect.DeepEqual(got, []time.Duration{time.Second, 5 * time.Second}) || stats.RateWaits.Load() != 0 {
		t.Errorf("waits %v (%d counted as rate limits); want 1s, then Retry-After 5s, none counted", got, stats.RateWaits.Load())
	}

	clock2 := newSyncClock()
	c2, s2, _ := rateTransport(t, clock2, answer(502, `bad gateway`), answer(200, `ok`))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s2.url, bytes.NewReader([]byte(`x`)))
	resp, err = c2.Do(req)
	if err != nil || resp.StatusCode != 502 || len(s2.calls()) != 1 {
		t.Errorf("a POST answered 502 was retried: %v %v, %d calls", resp, err, len(s2.calls()))
	}
	resp.Body.Close()
}

func TestRateLimitCountsNotModifiedAndIgnoresOtherResources(t *testing.T) {
	clock := newSyncClock()
	c, s, rl := rateTransport(t, clock,
		answer(304, ``, "X-RateLimit-Remaining", "4321", "X-RateLimit-Limit", "5000", "X-RateLimit-Resource", "core"),
		answer(200, `{}`, "X-RateLimit-Remaining", "0", "X-RateLimit-Limit", "30", "X-RateLimit-Resource", "search",
			"X-RateLimit-Reset", unix(clock.Now().Add(time.Minute))),
	)
	var stats syncer.Stats
	ctx := syncer.WithStats(t.Context(), &stats)
	get(t, ctx, c, s.url)
	get(t, ctx, c, s.url)
	get(t, ctx, c, s.url)
	if stats.Requests.Load() != 3 || stats.NotModified.Load() != 1 {
		t.Errorf("stats: %d requests, %d not modified", stats.Requests.Load(), stats.NotModified.Load())
	}
	if r := rl.RateLimit(); r.Remaining != 4321 || len(clock.Slept()) != 0 {
		t.Errorf("RateLimit() = %+v, waits %v; a spent search budget must not hold up REST", r, clock.Slept())
	}
}
