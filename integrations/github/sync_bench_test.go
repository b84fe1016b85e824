package github

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// BenchmarkSyncRepositories reads 1,000 repositories from a fake answering every call in
// 50 ms, four at a time as sync.concurrency does, then reads them all again unchanged. The
// repositories are a third each of the three kinds of the tests, because what an unchanged
// read costs depends on what is absent: acme/api (classic protection, .github/CODEOWNERS,
// both alert tools on), acme/web (a ruleset alone, a root CODEOWNERS, code scanning off) and
// acme/docs (nothing: unprotected, no CODEOWNERS, both tools off).
//
// Run with: go test ./integrations/github -run '^$' -bench SyncRepositories -benchtime 1x
//
// Peak RSS (VmHWM) is the whole test process, the fake GitHub and its connections included.
func BenchmarkSyncRepositories(b *testing.B) {
	const repos, latency, concurrency = 1000, 50 * time.Millisecond, 4
	kinds := []struct {
		name    string
		fixture syncFixture
	}{{"api", acmeAPI}, {"web", acmeWeb}, {"docs", acmeDocs}}
	clock := newSyncClock()
	g := newSyncGitHub(b, clock)
	g.intercept = func(w http.ResponseWriter, r *http.Request, key string) bool {
		time.Sleep(latency)
		return false
	}
	keys := make([]string, repos)
	for i := range keys {
		keys[i] = fmt.Sprintf("acme/r%04d", i)
		g.serveRepo(keys[i], kinds[i%len(kinds)].fixture)
	}
	s := newTestSyncer(g)
	states := make([]syncer.State, repos)
	run := func(label string) {
		stats := make([]syncer.Stats, len(kinds))
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		sem := make(chan struct{}, concurrency)
		var wg sync.WaitGroup
		for i, k := range keys {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				ctx := syncer.WithStats(context.Background(), &stats[i%len(kinds)])
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
		var after runtime.MemStats
		runtime.ReadMemStats(&after)

		var requests, notModified int64
		var perKind []string
		for j := range stats {
			st := &stats[j]
			n := (repos - j + len(kinds) - 1) / len(kinds)
			requests += st.Requests.Load()
			notModified += st.NotModified.Load()
			perKind = append(perKind, fmt.Sprintf("%s %.0f (%d%% 304)", kinds[j].name,
				float64(st.Requests.Load())/float64(n), percent(st.NotModified.Load(), st.Requests.Load())))
		}
		b.ReportMetric(el.Seconds(), label+"-s")
		b.ReportMetric(float64(requests)/repos, label+"-requests/repo")
		b.ReportMetric(float64(percent(notModified, requests)), label+"-%304")
		hwm := vmHWM()
		b.Logf("%s: %d repositories in %v, %d requests (%d not modified, %d%%); per repository: %s; "+
			"allocated %d MB, heap in use %d MB, peak RSS (VmHWM) %s", label, repos, el.Round(time.Millisecond),
			requests, notModified, percent(notModified, requests), strings.Join(perKind, ", "),
			(after.TotalAlloc-before.TotalAlloc)>>20, after.HeapInuse>>20, hwm)
	}
	for range b.N {
		clear(states)
		run("first")
		run("unchanged")
	}
}

func percent(part, whole int64) int64 {
	if whole == 0 {
		return 0
	}
	return part * 100 / whole
}

// vmHWM is the process's peak resident set, from /proc (Linux only).
func vmHWM() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			if kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB")); err == nil {
				return strconv.Itoa(kb>>10) + " MB"
			}
		}
	}
	return "unknown"
}
