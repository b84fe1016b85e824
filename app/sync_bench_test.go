package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/internal/fakegithub"
	"github.com/releaseops/releaseops/syncer"
)

// BenchmarkSyncThousandRepositories runs `releaseops sync`'s path (App auth, rate-limit
// transport, runner, SQLite, rescoring) over 1,000 synthetic repositories from a fake GitHub
// answering every call in 50 ms, at sync.concurrency 4: a first read, then an unchanged one.
//
//	go test ./app -run '^$' -bench SyncThousand -benchtime 1x
func BenchmarkSyncThousandRepositories(b *testing.B) {
	const repos, latency = 1000, 50 * time.Millisecond
	fleet := fakegithub.Synthetic("acme", repos, syncNow)
	var services strings.Builder
	for _, r := range fleet {
		fmt.Fprintf(&services, "  - {name: %s, repo: %s}\n", strings.TrimPrefix(r.FullName, "acme/"), r.FullName)
	}
	for range b.N {
		b.StopTimer()
		gh := newSyncGitHub(b, fleet...)
		w := newSyncWorld(b, gh, worldOpts{services: services.String(), extra: "sync:\n  concurrency: 4\n"})
		gh.SetLatency(latency)
		// GitHub gives an installation at most 12,500 calls an hour (15,000 on Enterprise
		// Cloud); a first read of 1,000 repositories takes more, and would wait for the reset.
		// The benchmark measures the reading, so the budget here is unbounded.
		gh.SetRateLimit(1 << 30)
		b.StartTimer()
		for _, label := range []string{"first", "unchanged"} {
			gh.ResetCounts()
			start := time.Now()
			sum := w.sync(context.Background(), syncer.Options{})
			el := time.Since(start)
			c := gh.Counts()
			if len(sum.Failures) != 0 {
				b.Fatalf("%s: %d failures, first %+v", label, len(sum.Failures), sum.Failures[0])
			}
			b.ReportMetric(el.Seconds(), label+"-s")
			b.ReportMetric(float64(c.Requests)/repos, label+"-requests/repo")
			b.ReportMetric(100*c.NotModifiedShare(), label+"-304-%")
			hits := gh.Hits()
			ceiling := replay(b, gh, hits, inFlight)
			b.ReportMetric(ceiling.Seconds(), label+"-ceiling-s")
			b.Logf("%s: %d repositories in %v: %d requests (%d not modified), %d facts; ceiling (the same %d calls, %d in flight, no work) %v: %.0f%% of the ceiling's speed; peak RSS (VmHWM, fake included) %s",
				label, repos, el.Round(time.Millisecond), c.Requests, c.NotModified, sum.Facts, len(hits), inFlight,
				ceiling.Round(time.Millisecond), 100*ceiling.Seconds()/el.Seconds(), peakRSS())
		}
	}
}

// inFlight is the most calls the product has in flight: sync.concurrency subjects, each
// with up to four calls at once (github.Syncer.Parallel).
const inFlight = 4 * 4

// replay makes the calls of hits again, as bare conditional GETs with the installation's
// token, inFlight at a time: what the same calls cost against the same fake with no work
// around them, the ceiling the sync's time is compared with.
func replay(b *testing.B, gh *fakegithub.Server, hits []fakegithub.Hit, inFlight int) time.Duration {
	b.Helper()
	toks := gh.Tokens(syncInstallationID)
	if len(toks) == 0 {
		b.Fatal("no installation token minted")
	}
	tok := toks[len(toks)-1]
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: inFlight}}
	work := make(chan fakegithub.Hit)
	var wg sync.WaitGroup
	start := time.Now()
	for range inFlight {
		wg.Go(func() {
			for h := range work {
				req, err := http.NewRequest(h.Method, strings.TrimSuffix(gh.APIURL(), "/")+h.Path, nil)
				if err != nil {
					b.Error(err)
					continue
				}
				req.Header.Set("Authorization", "token "+tok)
				if h.IfNoneMatch != "" {
					req.Header.Set("If-None-Match", h.IfNoneMatch)
				}
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	for _, h := range hits {
		work <- h
	}
	close(work)
	wg.Wait()
	return time.Since(start)
}

// peakRSS is the process's peak resident set (Linux), for the RSS target.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
