package app

import (
	"context"
	"fmt"
	"strings"
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
			b.Logf("%s: %d repositories in %v: %d requests (%d not modified), %d facts", label, repos, el.Round(time.Millisecond),
				c.Requests, c.NotModified, sum.Facts)
		}
	}
}
