package demo_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/demo"
)

func TestDemoSeedsEveryBandTrendsAndIsIdempotent(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 45 days of events")
	}
	ctx := context.Background()
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(t.TempDir(), "demo.db")
	end := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	demo.Apply(&cfg, end)
	clock := &demo.Clock{}
	a, err := app.New(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(ctx)
	n, err := demo.Seed(ctx, a.DB, a.ReplayPipeline(), a.Worker, clock, end)
	if err != nil || n < 1000 {
		t.Fatalf("seeded %d events: %v", n, err)
	}
	deliveries, _ := a.DB.CountDeliveries(ctx)
	rows, err := a.DB.ListScores(ctx)
	if err != nil || len(rows) != 10 {
		t.Fatalf("scores: %d, %v", len(rows), err)
	}
	bands := map[string]int{}
	for _, r := range rows {
		bands[r.Band]++
	}
	for _, b := range []string{"mature", "healthy", "watch", "blocked"} {
		if bands[b] == 0 {
			t.Errorf("no %s service in the demo: %v", b, bands)
		}
	}
	var up, down bool
	for _, r := range rows {
		hist, _ := a.DB.History(ctx, r.Service, end.Add(-30*24*time.Hour))
		if len(hist) < 2 {
			continue
		}
		d := hist[len(hist)-1].Score - hist[0].Score
		up, down = up || d > 1, down || d < -1
	}
	if !up || !down {
		t.Errorf("want trends both up and down in 30 days (up %v, down %v)", up, down)
	}
	if again, err := demo.Seed(ctx, a.DB, a.ReplayPipeline(), a.Worker, clock, end); err != nil || again != 0 {
		t.Fatalf("second seed: %d, %v", again, err)
	}
	if after, _ := a.DB.CountDeliveries(ctx); after != deliveries {
		t.Fatalf("second seed stored %d more deliveries", after-deliveries)
	}
	// The same end time gives the same events: the seed is fixed.
	if len(demo.Generate(end)) != len(demo.Generate(end)) {
		t.Fatal("generation is not deterministic")
	}
}
