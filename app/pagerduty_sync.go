package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/ingest"
	"github.com/releaseops/releaseops/integrations/pagerduty"
)

// pagerDutySync records, for every catalogued service mapped to PagerDuty, how many levels its
// escalation policy has (the escalation_levels signal). Webhooks do not carry it, so it is read
// from the REST API with pagerduty.token, at start and every scoring.rescore_interval.
type pagerDutySync struct {
	a      *App
	client *pagerduty.Client
}

func (a *App) newPagerDutySync() *pagerDutySync {
	if !a.Config.PagerDuty.Token.IsSet() {
		return nil
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	return &pagerDutySync{a: a, client: pagerduty.NewClient(a.Config.PagerDuty.Token.Value(), a.Config.PagerDuty.APIURL, hc)}
}

func (s *pagerDutySync) run(ctx context.Context) {
	interval := s.a.Engine.RescoreInterval()
	for {
		if err := s.syncAll(ctx); err != nil && ctx.Err() == nil {
			s.a.Log.Warn("pagerduty sync", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// syncAll records each mapped service's escalation depth. A change is stored once per day per
// value (the delivery id carries the value and the date), so the latest fact is the truth.
func (s *pagerDutySync) syncAll(ctx context.Context) error {
	var firstErr error
	for _, name := range s.a.Catalog.Names() {
		svc, _ := s.a.Catalog.Get(name)
		if svc.PagerDutyServiceID == "" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		levels, err := s.client.EscalationLevels(cctx, svc.PagerDutyServiceID)
		cancel()
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("service %s (%s): %w", name, svc.PagerDutyServiceID, err)
			}
			continue
		}
		now := s.a.Now().UTC()
		id := fmt.Sprintf("pagerduty-sync:%s:%d:%s", svc.PagerDutyServiceID, levels, now.Format("2006-01-02"))
		fact := releaseops.Fact{Kind: releaseops.FactPagerDutyService, At: now,
			PagerDutyService: &releaseops.PagerDutyService{ID: svc.PagerDutyServiceID, EventType: "sync", EscalationLevels: levels}}
		if _, err := s.a.Pipeline.RecordInternal(ctx, ingest.Internal{Type: "pagerduty.sync", DeliveryID: id, Service: name,
			Body: map[string]any{"pagerduty_service_id": svc.PagerDutyServiceID, "escalation_levels": levels}, Facts: []releaseops.Fact{fact}}); err != nil {
			return err
		}
	}
	return firstErr
}
