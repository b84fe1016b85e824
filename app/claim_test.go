package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/storage"
)

func TestUnmappedEventsAreClaimedWhenTheCatalogNamesThem(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "claim.db")
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	open := func(services []releaseops.Service) *App {
		cfg := config.Default()
		cfg.Storage.SQLitePath = path
		cfg.Services = services
		a, err := New(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := open(nil)
	body := `{"event":{"id":"ev-1","event_type":"incident.triggered","resource_type":"incident","occurred_at":"2026-11-20T09:00:00Z",
		"data":{"id":"Q1","type":"incident","status":"triggered","title":"down","service":{"id":"PNEW","type":"service_reference"}}}}`
	res, err := a.ReplayPipeline().Receive(ctx, "pagerduty", http.Header{}, []byte(body), false)
	if err != nil || res.Outcome != releaseops.OutcomeUnmapped {
		t.Fatalf("first: %+v, %v", res, err)
	}
	a.Shutdown(ctx)

	a = open([]releaseops.Service{{Name: "billing", PagerDutyServiceID: "PNEW"}})
	defer a.Shutdown(ctx)
	if un, _ := a.DB.ListUnmapped(ctx); len(un) != 0 {
		t.Fatalf("still unmapped after the catalog named it: %+v", un)
	}
	rows, _ := a.DB.ListDeliveries(ctx, storage.DeliveryFilter{Service: "billing"})
	if len(rows) != 1 || rows[0].Outcome != releaseops.OutcomeStored {
		t.Fatalf("delivery not claimed: %+v", rows)
	}
	if err := a.Worker.RescoreAll(ctx); err != nil { // what Run does first
		t.Fatal(err)
	}
	facts, _ := a.DB.FactsForService(ctx, "billing", time.Time{})
	if len(facts) != 1 || facts[0].Incident == nil {
		t.Fatalf("billing's facts = %+v", facts)
	}
	if _, err := a.DB.GetScore(ctx, "billing"); err != nil {
		t.Fatalf("billing not scored: %v", err)
	}
}
