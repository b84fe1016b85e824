package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/scoring"
)

func TestSimulateComparesConfigsWithoutWriting(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(t.TempDir(), "sim.db")
	cfg.Services = []releaseops.Service{{Name: "checkout", Owner: "team", RunbookURL: "https://wiki/x", SLOs: []releaseops.SLO{{Name: "a", Objective: 99}}}, {Name: "search"}}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	a, err := app.New(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"d1","service":"checkout","environment":"production","status":"succeeded","strategy":"canary","phases":3,"health_checks":true}`)
	if _, err := a.ReplayPipeline().Receive(ctx, "deploy", http.Header{}, body, false); err != nil {
		t.Fatal(err)
	}
	a.Worker.RescoreAll(ctx)
	before, _ := a.DB.CountDeliveries(ctx)
	a.Shutdown(ctx)

	strict := cfg
	strict.Gate.Thresholds = map[string]scoring.Thresholds{"default": {BlockBelow: 99, ApprovalBelow: 99.5, MatureAt: 100}}
	rows, err := simulate(ctx, &cfg, &strict, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows = %+v", rows)
	}
	for _, r := range rows {
		if r.AfterBand != scoring.BandBlocked || r.Before != r.After {
			t.Errorf("%s: %+v (thresholds only move bands, not scores)", r.Service, r)
		}
		if r.BeforeBand != scoring.BandBlocked && !r.BecomesBlock {
			t.Errorf("%s: becomes_blocked not set: %+v", r.Service, r)
		}
	}
	reweighted := cfg
	reweighted.Scoring.Signals = map[string]scoring.SignalConfig{"phased_rollouts": {Disabled: true}}
	rows, err = simulate(ctx, &cfg, &reweighted, now)
	if err != nil {
		t.Fatal(err)
	}
	changed := false
	for _, r := range rows {
		changed = changed || r.Delta != 0
	}
	if !changed {
		t.Errorf("disabling a passing signal changed no score: %+v", rows)
	}
	a2, err := app.New(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Shutdown(ctx)
	if after, _ := a2.DB.CountDeliveries(ctx); after != before {
		t.Fatalf("simulate wrote deliveries: %d → %d", before, after)
	}
}
