package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/storage"
)

// BenchmarkScale measures the scoring targets at size: RELEASEOPS_SCALE_SERVICES services
// (default 10,000) with RELEASEOPS_SCALE_EVENTS events each (default 100: 1,000,000 events).
//
//	go test ./app -run '^$' -bench Scale -benchtime 1x -timeout 60m
func BenchmarkScale(b *testing.B) {
	nSvc := envInt("RELEASEOPS_SCALE_SERVICES", 10000)
	perSvc := envInt("RELEASEOPS_SCALE_EVENTS", 100)
	ctx := context.Background()
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(b.TempDir(), "scale.db")
	cfg.Deploy.WebhookSecret = config.NewSecret("bench-secret")
	cfg.API.Tokens = []config.APIToken{{Name: "b", Token: config.NewSecret(readToken), Scopes: []string{"read", "gate"}}}
	for i := 0; i < nSvc; i++ {
		cfg.Services = append(cfg.Services, releaseops.Service{Name: fmt.Sprintf("svc-%05d", i), Owner: "team", RunbookURL: "https://wiki/x",
			SLOs: []releaseops.SLO{{Name: "availability", Objective: 99.9}}, Approvers: []string{"U1"}})
	}
	now := time.Now().UTC()
	a, err := New(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Shutdown(ctx)

	start := time.Now()
	seedScale(b, a.DB, nSvc, perSvc, now)
	b.Logf("seeded %d services × %d events in %v", nSvc, perSvc, time.Since(start).Round(time.Millisecond))

	b.Run("rescore_all", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if err := a.Worker.RescoreAll(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(time.Since(start).Seconds(), "s/all")
		}
		runtime.GC()
		b.ReportMetric(float64(procStatus("VmRSS"))/1024, "MB_RSS")
		b.ReportMetric(float64(procStatus("VmHWM"))/1024, "MB_peak_RSS")
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go a.Serve(ln)
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}

	b.Run("get_service", func(b *testing.B) {
		lat := parallelGets(b, client, base, nSvc, 8, max(b.N, 5000))
		b.ReportMetric(ms(lat[len(lat)/2]), "p50_ms")
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99_ms")
	})

	b.Run("visible_within", func(b *testing.B) {
		a.Start() // the rescoring worker follows commits from here on
		lat := sustained(b, client, base, nSvc, 1000, 10*time.Second)
		b.ReportMetric(ms(lat[len(lat)/2]), "p50_ms")
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99_ms")
		b.ReportMetric(ms(lat[len(lat)-1]), "max_ms")
	})
}

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
		return n
	}
	return def
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// procStatus returns a /proc/self/status field in kB.
func procStatus(field string) int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// seedScale stores perSvc deploy deliveries for each service through the storage layer the
// pipeline uses, spread over the last 60 days, in large transactions.
func seedScale(b *testing.B, db *storage.DB, nSvc, perSvc int, now time.Time) {
	ctx := context.Background()
	const chunk = 2000
	var batch []*storage.NewDelivery
	flush := func() {
		ds := batch
		batch = nil
		if err := db.Writer.Do(ctx, func(t *storage.Tx) error {
			for _, d := range ds {
				if _, _, err := storage.InsertDelivery(t, d); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	for s := 0; s < nSvc; s++ {
		name := fmt.Sprintf("svc-%05d", s)
		subj := releaseops.Subject{Kind: releaseops.SubjectService, Key: name}
		for e := 0; e < perSvc; e++ {
			at := now.Add(-time.Duration(e) * 60 * 24 * time.Hour / time.Duration(perSvc))
			id := fmt.Sprintf("%s-%d", name, e)
			status := releaseops.DeploySucceeded
			if e%9 == 0 {
				status = releaseops.DeployFailed
			}
			yes := true
			body := fmt.Sprintf(`{"id":%q,"service":%q,"environment":"production","status":%q,"strategy":"canary","phases":3}`, id, name, status)
			d := &storage.NewDelivery{Source: releaseops.SourceDeploy, DeliveryID: id, Type: "deploy", Subject: subj, Service: name,
				Outcome: releaseops.OutcomeStored, ReceivedAt: at, Headers: map[string]string{}, Body: []byte(body),
				Facts: []releaseops.Fact{{Kind: releaseops.FactDeploy, Subject: subj, Service: name, At: at,
					Evidence: releaseops.Evidence{Source: releaseops.SourceDeploy, Event: "deploy", Delivery: id, At: at},
					Deploy: &releaseops.Deploy{ID: id, Environment: "production", Status: status, Kind: releaseops.KindDeploy,
						Strategy: "canary", Phases: 3, HealthChecks: &yes, StartedAt: &at, FinishedAt: &at}}}}
			batch = append(batch, d)
			if len(batch) == chunk {
				flush()
			}
		}
	}
	if len(batch) > 0 {
		flush()
	}
	// The history is scored by rescore_all; the worker follows only what arrives after it.
	maxID, err := db.MaxFactID(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Writer.Do(ctx, func(t *storage.Tx) error { return storage.SetCursor(t, "rescore", maxID) }); err != nil {
		b.Fatal(err)
	}
}

func parallelGets(b *testing.B, client *http.Client, base string, nSvc, workers, total int) []time.Duration {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	per := total / workers
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				name := fmt.Sprintf("svc-%05d", (w*7919+i*104729)%nSvc)
				req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/services/"+name, nil)
				req.Header.Set("Authorization", "Bearer "+readToken)
				st := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(st)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("GET %s: %d", name, resp.StatusCode)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}

// sustained posts signed deploy events at rate per second for dur, and every 100 ms a probe
// event for a service that does not exist yet; it returns, for each probe, the time from its
// 2xx until GET /api/v1/services/{probe} answers 200: the event's effect visible in the API.
func sustained(b *testing.B, client *http.Client, base string, nSvc, rate int, dur time.Duration) []time.Duration {
	post := func(body []byte) {
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/deploy", bytes.NewReader(body))
		req.Header.Set(deploy.SignatureHeader, deploy.Sign("bench-secret", body))
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Errorf("post: %d", resp.StatusCode)
		}
	}
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	workers := 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tick := time.NewTicker(time.Second * time.Duration(workers) / time.Duration(rate))
			defer tick.Stop()
			for i := 0; time.Now().Before(stop); i++ {
				<-tick.C
				body := fmt.Appendf(nil, `{"id":"load-%d-%d","service":"svc-%05d","environment":"production","status":"succeeded"}`, w, i, (w*31+i)%nSvc)
				post(body)
			}
		}(w)
	}
	var lat []time.Duration
	for p := 0; time.Now().Before(stop); p++ {
		name := fmt.Sprintf("probe-%d", p)
		post(fmt.Appendf(nil, `{"id":"probe-%d","service":%q,"environment":"production","status":"succeeded"}`, p, name))
		acked := time.Now()
		for {
			req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/services/"+name, nil)
			req.Header.Set("Authorization", "Bearer "+readToken)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Since(acked) > 10*time.Second {
				b.Fatalf("probe %s not visible after 10 s", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lat = append(lat, time.Since(acked))
		if os.Getenv("RELEASEOPS_SCALE_VERBOSE") != "" {
			b.Logf("probe %d visible after %v", p, time.Since(acked))
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}
