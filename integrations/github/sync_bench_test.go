package github

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// BenchmarkSyncRepositories reads 1,000 repositories like acme/api (17 calls on a first read)
// from a fake answering every call in 50 ms, four at a time as sync.concurrency does, then
// reads them all again unchanged. Run with -bench SyncRepositories -benchtime 1x.
func BenchmarkSyncRepositories(b *testing.B) {
	const repos, latency, concurrency = 1000, 50 * time.Millisecond, 4
	clock := newSyncClock()
	g := newSyncGitHub(b, clock)
	g.intercept = func(w http.ResponseWriter, r *http.Request, key string) bool {
		time.Sleep(latency)
		return false
	}
	keys := make([]string, repos)
	for i := range keys {
		keys[i] = fmt.Sprintf("acme/r%04d", i)
		g.serveRepo(keys[i], acmeAPI)
	}
	s := newTestSyncer(g)
	states := make([]syncer.State, repos)
	run := func(label string) {
		var stats syncer.Stats
		ctx := syncer.WithStats(context.Background(), &stats)
		start := time.Now()
		sem := make(chan struct{}, concurrency)
		var wg sync.WaitGroup
		for i, k := range keys {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				res, err := s.Read(ctx, syncer.Subject{Key: k}, states[i])
				if err != nil {
					b.Error(err)
					return
				}
				states[i] = res.State
			})
		}
		wg.Wait()
		el := time.Since(start)
		b.ReportMetric(el.Seconds(), label+"-s")
		b.ReportMetric(float64(stats.Requests.Load())/repos, label+"-requests/repo")
		b.Logf("%s: %d repositories in %v, %d requests (%d not modified)", label, repos, el.Round(time.Millisecond),
			stats.Requests.Load(), stats.NotModified.Load())
	}
	for range b.N {
		clear(states)
		run("first")
		run("unchanged")
	}
}
