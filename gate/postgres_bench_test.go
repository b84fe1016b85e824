package gate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// BenchmarkGateObservePostgres is BenchmarkGateObserve on PostgreSQL: what storing each
// request's observation costs there, one request at a time.
func BenchmarkGateObservePostgres(b *testing.B) {
	e := pgBenchEnv(b, pgtest.URL(b), func(cfg *config.Config) { cfg.Gate.Mode = "observe" })
	serialGate(b, e.srv.URL)
}

// BenchmarkGatePostgres measures POST /api/v1/gate with 10,000 services stored on PostgreSQL
// (a fresh schema on RELEASEOPS_TEST_POSTGRES_URL; skipped without it), one request at a time
// and 8 at once, and the same on SQLite (synchronous=FULL, as BenchmarkGate) in the same run:
// the reference each PostgreSQL figure is divided by.
//
//	RELEASEOPS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//	  go test ./gate -run '^$' -bench GatePostgres -benchtime 3000x
func BenchmarkGatePostgres(b *testing.B) {
	url := pgtest.URL(b) // skips first, before anything is seeded
	envs := []struct {
		name string
		e    *env
	}{
		{"sqlite", benchEnv(b)},
		{"postgres", pgBenchEnv(b, url)},
	}
	for _, en := range envs {
		b.Run(en.name+"/serial", func(b *testing.B) {
			client := &http.Client{}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				lat = append(lat, postGate(b, client, en.e.srv.URL, i))
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
		b.Run(en.name+"/parallel8", func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			var mu sync.Mutex
			var n atomic.Int64
			lat := make([]time.Duration, 0, b.N)
			b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 concurrent requests
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var local []time.Duration
				for pb.Next() {
					local = append(local, postGate(b, client, en.e.srv.URL, int(n.Add(1))))
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			})
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

// pgBenchEnv is benchEnv on PostgreSQL: the same 10,000 services, scorecards and recent
// events, stored in the schema url names.
func pgBenchEnv(b *testing.B, url string, extra ...func(*config.Config)) *env {
	e := newEnv(b, func(cfg *config.Config) {
		cfg.Storage.Driver = storage.DriverPostgres
		cfg.Storage.PostgresURL = config.NewSecret(url)
		cfg.Services = nil
		for i := range benchServices {
			name := fmt.Sprintf("svc-%05d", i)
			cfg.Services = append(cfg.Services, releaseops.Service{Name: name, Repo: "acme/" + name,
				SlackChannel: "C0BENCH", Approvers: []string{"U0ALICE", "U0BOB"}})
		}
		for _, fn := range extra {
			fn(cfg)
		}
	})
	now := e.clock.Now()
	// In chunks: one transaction of 20,000 statements would hold the writer lock for seconds.
	const chunk = 1000
	for start := 0; start < len(e.cfg.Services); start += chunk {
		svcs := e.cfg.Services[start:min(start+chunk, len(e.cfg.Services))]
		err := e.app.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
			for j, svc := range svcs {
				c := e.app.Engine.Score(scoring.Input{Service: svc, Now: now})
				c.Score = []float64{90, 68, 40}[(start+j)%3]
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
	}
	return e
}
