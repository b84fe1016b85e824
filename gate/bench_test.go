package gate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

const benchServices = 10_000

// benchEnv stores 10,000 services, each with a full scorecard from the real engine (every
// dimension and signal, ~the size production stores) and a recent event. A third are mature,
// a third in the watch band (each request creates an approval and queues its post), a third
// blocked. Durability is production's: synchronous=FULL. extra, if any, changes the config
// further.
func benchEnv(b *testing.B, extra ...func(*config.Config)) *env {
	e := newEnv(b, func(cfg *config.Config) {
		cfg.Storage.Synchronous = "FULL"
		cfg.Services = nil
		for i := range benchServices {
			cfg.Services = append(cfg.Services, releaseops.Service{Name: fmt.Sprintf("svc-%05d", i), Repo: fmt.Sprintf("acme/svc-%05d", i),
				SlackChannel: "C0BENCH", Approvers: []string{"U0ALICE", "U0BOB"}})
		}
		for _, fn := range extra {
			fn(cfg)
		}
	})
	cfg := e.cfg
	now := e.clock.Now()
	err := e.app.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
		for i, svc := range cfg.Services {
			c := e.app.Engine.Score(scoring.Input{Service: svc, Now: now})
			c.Score = []float64{90, 68, 40}[i%3]
			card, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if err := storage.PutScore(tx, storage.ScoreRow{Service: svc.Name, Score: c.Score, Band: c.Band, Level: c.Level, Card: card, UpdatedAt: now}, false); err != nil {
				return err
			}
			if _, _, err := storage.InsertDelivery(tx, &storage.NewDelivery{Source: releaseops.SourceDeploy, DeliveryID: "fresh-" + svc.Name, Type: "deploy",
				Subject: releaseops.Subject{Kind: releaseops.SubjectService, Key: svc.Name}, Service: svc.Name, Outcome: releaseops.OutcomeIgnored,
				ReceivedAt: now.Add(-time.Hour), Headers: map[string]string{}, Body: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// Move the setup's writes out of the WAL now, so the timed requests do not pay for
	// checkpointing 10,000 scorecards.
	if err := e.app.DB.Writer.Checkpoint(context.Background(), "TRUNCATE"); err != nil {
		b.Fatal(err)
	}
	return e
}

func postGate(b *testing.B, client *http.Client, url string, i int) time.Duration {
	body := fmt.Appendf(nil, `{"service":"svc-%05d","environment":"production","version":"v%d","requested_by":"ci"}`, (i*7919)%benchServices, i)
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/gate", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+gateToken)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return 0
	}
	var out struct {
		Decision string `json:"decision"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK || out.Decision == "" {
		b.Errorf("status %d decision %q", resp.StatusCode, out.Decision)
	}
	return took
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// serialGate posts b.N gate requests to url one at a time and reports their percentiles.
func serialGate(b *testing.B, url string) {
	client := &http.Client{}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lat = append(lat, postGate(b, client, url, i))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkGate measures POST /api/v1/gate, one request at a time, over HTTP, with 10,000
// services stored.
func BenchmarkGate(b *testing.B) {
	e := benchEnv(b)
	serialGate(b, e.srv.URL)
}

// BenchmarkGateObserve is BenchmarkGate in observe mode: each request also stores its
// observation (gate_observations) and, for the two thirds enforcement would not allow, queues
// the channel's post, in the decision's transaction.
func BenchmarkGateObserve(b *testing.B) {
	e := benchEnv(b, func(cfg *config.Config) { cfg.Gate.Mode = "observe" })
	serialGate(b, e.srv.URL)
}

// BenchmarkGateParallel is the same with 8 pipelines asking at once (group commit shares
// the durable commits between them).
func BenchmarkGateParallel(b *testing.B) {
	e := benchEnv(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	var n int64
	b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 concurrent requests
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		for pb.Next() {
			mu.Lock()
			n++
			i := int(n)
			mu.Unlock()
			local = append(local, postGate(b, client, e.srv.URL, i))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	b.StopTimer()
	reportPercentiles(b, lat)
}
