package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/loadtest"
	"github.com/releaseops/releaseops/storage"
)

const pgLagMarker = "lag-marker"

// BenchmarkPostgresScoreLag measures "2xx → updated score" at scale on PostgreSQL with two
// replicas, and the same on SQLite with one process in the same run (the reference):
// RELEASEOPS_PG_SCALE_SERVICES services (default 10,000) with RELEASEOPS_PG_SCALE_EVENTS
// deploy events each (default 20) stored first, then RELEASEOPS_PG_LAG_SECONDS (default 20)
// of 1,000 signed deploy events/s spread over every replica while a marker service gets one
// event at a time: the time from its 2xx until GET /api/v1/services/{marker} serves a
// scorecard recomputed after it. On PostgreSQL the two replicas are two App instances in this
// process on one schema: replica B holds the rescoring lease (it starts first and scores
// everything), the marker's events are posted to replica A and the score is read back through
// A, so each sample crosses replicas: commit on A, NOTIFY, rescore on B, read on A.
// Skipped without RELEASEOPS_TEST_POSTGRES_URL.
//
//	RELEASEOPS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//	  go test ./app -run '^$' -bench PostgresScoreLag -benchtime 1x -timeout 30m
func BenchmarkPostgresScoreLag(b *testing.B) {
	url := pgtest.URL(b)
	nSvc := envInt("RELEASEOPS_PG_SCALE_SERVICES", 10000)
	perSvc := envInt("RELEASEOPS_PG_SCALE_EVENTS", 20)
	dur := time.Duration(envInt("RELEASEOPS_PG_LAG_SECONDS", 20)) * time.Second
	for _, engine := range []string{"sqlite", storage.DriverPostgres} {
		b.Run(engine, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				scoreLagAtScale(b, engine, url, nSvc, perSvc, dur)
			}
		})
	}
}

func scoreLagAtScale(b *testing.B, engine, url string, nSvc, perSvc int, dur time.Duration) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(b.TempDir(), "lag.db")
	if engine == storage.DriverPostgres {
		cfg.Storage.Driver = storage.DriverPostgres
		cfg.Storage.PostgresURL = config.NewSecret(url)
	}
	cfg.Deploy.WebhookSecret = config.NewSecret("bench-secret")
	cfg.API.Tokens = []config.APIToken{{Name: "b", Token: config.NewSecret(readToken), Scopes: []string{"read", "gate"}}}
	for i := 0; i < nSvc; i++ {
		cfg.Services = append(cfg.Services, releaseops.Service{Name: fmt.Sprintf("svc-%05d", i), Owner: "team", RunbookURL: "https://wiki/x",
			SLOs: []releaseops.SLO{{Name: "availability", Objective: 99.9}}, Approvers: []string{"U1"}})
	}
	cfg.Services = append(cfg.Services, releaseops.Service{Name: pgLagMarker, Owner: "team"})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.StopTimer()

	// The worker replica: seeded, started, and every service scored before the clock runs.
	worker, err := New(ctx, &cfg, log, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer worker.Shutdown(ctx)
	start := time.Now()
	seedScale(b, worker.DB, nSvc, perSvc, time.Now().UTC())
	seeded := time.Since(start)
	start = time.Now()
	worker.Start()
	select {
	case <-worker.Worker.Settled():
	case <-time.After(10 * time.Minute):
		b.Fatal("the first rescoring of every service did not finish within 10 minutes")
	}
	if !slices.Contains(worker.DB.HeldLeases(), storage.LeaseRescore) {
		b.Fatalf("the worker replica does not hold the rescoring lease: %v", worker.DB.HeldLeases())
	}
	b.Logf("%s: seeded %d services × %d events in %v; first rescoring of all in %v", engine, nSvc, perSvc,
		seeded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	apps := []*App{worker}
	front := worker
	if engine == storage.DriverPostgres {
		fcfg := cfg
		front, err = New(ctx, &fcfg, log, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer front.Shutdown(ctx)
		front.Start() // its leased workers wait: the worker replica renews every lease it holds
		apps = append(apps, front)
	}
	var bases []string
	for _, a := range apps {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go a.Serve(ln)
		bases = append(bases, "http://"+ln.Addr().String())
	}
	frontBase := bases[len(bases)-1]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}

	mix, _, err := loadtest.NewMix([]string{pgLagMarker}, loadtest.Secrets{Deploy: "bench-secret"}, 1024, "", fmt.Sprintf("%08d", time.Now().UnixNano()%1e8))
	if err != nil {
		b.Fatal(err)
	}
	lctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var sent, refused atomic.Int64
	var wg sync.WaitGroup
	const workers, rate = 8, 1000
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tick := time.NewTicker(time.Second * workers / rate)
			defer tick.Stop()
			for i := 0; lctx.Err() == nil; i++ {
				select {
				case <-lctx.Done():
					return
				case <-tick.C:
				}
				body := fmt.Appendf(nil, `{"id":"load-%d-%d","service":"svc-%05d","environment":"production","status":"succeeded"}`, w, i, (w*31+i*7919)%nSvc)
				req, _ := http.NewRequestWithContext(lctx, http.MethodPost, bases[(w+i)%len(bases)]+"/webhooks/deploy", bytes.NewReader(body))
				req.Header.Set(deploy.SignatureHeader, deploy.Sign("bench-secret", body))
				resp, err := client.Do(req)
				if err != nil {
					continue // the phase ended mid-request
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				sent.Add(1)
				if resp.StatusCode != http.StatusAccepted {
					refused.Add(1)
				}
			}
		}(w)
	}
	probe := &loadtest.ScoreLag{Client: client, Base: frontBase, Token: readToken, Service: pgLagMarker, Mix: mix, Poll: 5 * time.Millisecond}
	b.StartTimer()
	lags, failures, err := probe.Run(lctx, 10000, 10*time.Second)
	b.StopTimer()
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	if len(lags) == 0 {
		b.Fatalf("no marker seen rescored (%d not within 10 s)", failures)
	}
	if r := refused.Load(); r > 0 {
		b.Errorf("%d of %d background events were not answered 202", r, sent.Load())
	}
	b.ReportMetric(float64(len(lags)), "samples")
	b.ReportMetric(float64(failures), "not_seen_10s")
	b.ReportMetric(float64(sent.Load())/dur.Seconds(), "load_events/s")
	b.ReportMetric(ms(loadtest.Percentile(lags, 0.5)), "p50_ms")
	b.ReportMetric(ms(loadtest.Percentile(lags, 0.99)), "p99_ms")
	b.ReportMetric(ms(lags[len(lags)-1]), "max_ms")
}
