// Package loadtest drives a ReleaseOps server over loopback and measures it: a closed-loop
// load generator at fixed concurrency, a realistic signed request mix, the ceiling handlers
// the product is compared with, and small probes (score lag, peak RSS). `releaseops bench`
// uses it; the crash-loop and security tests reuse its signed-request builders.
//
// Everything here talks only to the base URL it is given; callers pass a loopback address.
package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// Request is one HTTP request to send. Label names the endpoint in the report.
type Request struct {
	Label  string
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Worker is the state of one load goroutine, handed to a Load's Next.
type Worker struct {
	ID   int
	Seq  int
	Rand *rand.Rand
}

// Load is a group of workers sending requests in a closed loop: each worker sends its next
// request as soon as the previous one is answered (after Pace, if set).
type Load struct {
	Workers int
	// Pace is a pause between one worker's requests; readers under load use it so that they
	// sample latency without becoming the load themselves.
	Pace time.Duration
	Next func(w *Worker) Request
}

// NewClient returns an HTTP client fit for load: keep-alive on, enough idle connections per
// host that no worker ever dials again, no compression (bodies are small and the CPU is shared).
func NewClient(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// RequestTimeout bounds each request; a request that takes longer counts as an error.
const RequestTimeout = 15 * time.Second

// Run drives base with every load for warmup+d and returns what was measured after the
// warm-up. It stops early when ctx ends.
func Run(ctx context.Context, client *http.Client, base string, warmup, d time.Duration, loads ...Load) *Report {
	rep := newReport()
	var wg sync.WaitGroup
	start := time.Now()
	measureFrom := start.Add(warmup)
	deadline := measureFrom.Add(d)
	id := 0
	for _, l := range loads {
		for i := 0; i < l.Workers; i++ {
			w := &Worker{ID: id, Rand: rand.New(rand.NewPCG(uint64(id)+1, uint64(start.UnixNano())))}
			id++
			wg.Add(1)
			go func(l Load) {
				defer wg.Done()
				local := newReport()
				// A request under way at the deadline is let finish (and not counted): cancelling
				// it would show up as a server-side error that the product never caused.
				for ctx.Err() == nil && time.Now().Before(deadline) {
					req := l.Next(w)
					w.Seq++
					t0 := time.Now()
					status, err := send(ctx, client, base, req)
					took := time.Since(t0)
					if t0.After(measureFrom) && t0.Add(took).Before(deadline) {
						local.record(req.Label, status, took, err)
					}
					if l.Pace > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(l.Pace):
						}
					}
				}
				rep.merge(local)
			}(l)
		}
	}
	wg.Wait()
	rep.Elapsed = min(time.Since(measureFrom), d)
	return rep
}

func send(ctx context.Context, client *http.Client, base string, r Request) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+r.Path, body)
	if err != nil {
		return 0, fmt.Errorf("build %s %s: %w", method, r.Path, err)
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, r.Path, err)
	}
	// Drain so the connection goes back to the pool instead of being closed.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
