package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/storage"
)

// BenchmarkBacktestStored100k is the target end to end: 100,000 production deploys
// stored in SQLite (1,000 services × 100 over 180 days, every ninth failed), read back and
// replayed as `releaseops risk backtest --days 180` does. The target is under 30 s.
//
//	go test ./app -run '^$' -bench BacktestStored100k -benchtime 1x
func BenchmarkBacktestStored100k(b *testing.B) {
	const nSvc, perSvc = 1000, 100
	ctx := context.Background()
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(b.TempDir(), "backtest.db")
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	a, err := New(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Shutdown(ctx) //nolint:errcheck
	var names []string
	var batch []*storage.NewDelivery
	flush := func() {
		ds := batch
		batch = nil
		if err := a.DB.Writer.Do(ctx, func(t *storage.Tx) error {
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
	start := time.Now()
	for s := 0; s < nSvc; s++ {
		name := fmt.Sprintf("svc-%04d", s)
		names = append(names, name)
		subj := releaseops.Subject{Kind: releaseops.SubjectService, Key: name}
		for e := 0; e < perSvc; e++ {
			// Spread over the hours of the day too, so the replay meets every kind of moment.
			at := now.Add(-time.Duration(e)*180*24*time.Hour/perSvc - time.Duration(s%24)*time.Hour)
			id := fmt.Sprintf("%s-%d", name, e)
			status := releaseops.DeploySucceeded
			if (e+s)%9 == 0 {
				status = releaseops.DeployFailed
			}
			batch = append(batch, &storage.NewDelivery{Source: releaseops.SourceDeploy, DeliveryID: id, Type: "deploy", Subject: subj, Service: name,
				Outcome: releaseops.OutcomeStored, ReceivedAt: at, Headers: map[string]string{}, Body: []byte(`{}`),
				Facts: []releaseops.Fact{{Kind: releaseops.FactDeploy, Subject: subj, Service: name, At: at,
					Evidence: releaseops.Evidence{Source: releaseops.SourceDeploy, Event: "deploy", Delivery: id, At: at},
					Deploy:   &releaseops.Deploy{ID: id, Environment: "production", Status: status, Kind: releaseops.KindDeploy}}}})
			if len(batch) == 2000 {
				flush()
			}
		}
	}
	flush()
	if err := a.DB.IndexNow(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d deploys in %v", nSvc*perSvc, time.Since(start).Round(time.Millisecond))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := Backtest(ctx, &cfg, a.DB, gate.BacktestRequest{Services: names, Since: now.AddDate(0, 0, -180), Until: now})
		if err != nil {
			b.Fatal(err)
		}
		if c.Deploys < 99_000 {
			b.Fatalf("rated %d deploys", c.Deploys)
		}
	}
}
