package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/internal/nearest"
	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/storage"
)

// OfflineTiming builds the risk model, windows and blackouts of cfg for the commands that read
// the database without a running server (`window`, `risk backtest`). Unlike the server, which
// serves on with release risk off, a command fails: its whole answer is the risk.
func OfflineTiming(cfg *config.Config) (*gate.TimingPolicy, error) {
	model, problems := risk.Compile(cfg.Risk)
	if len(problems) > 0 {
		return nil, fmt.Errorf("the risk config does not compile: %s", strings.Join(problems, "; "))
	}
	windows, problems := risk.CompileWindows(cfg.Gate.Windows, cfg.Gate.Blackouts)
	if len(problems) > 0 {
		return nil, fmt.Errorf("the windows and blackouts do not compile: %s", strings.Join(problems, "; "))
	}
	return &gate.TimingPolicy{Model: model, Windows: windows, Ladder: cfg.Gate.TrustLadder}, nil
}

// StoredServices are the services the commands know: the configured catalog (config and
// Backstage) and every service with a stored score (discovered ones, the demo's), by name.
// The catalog entry is returned for the configured ones, so that tiers match windows.
func StoredServices(ctx context.Context, cfg *config.Config, db *storage.DB) (map[string]releaseops.Service, []string, error) {
	services, err := catalogServices(cfg, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read the catalog: %w", err)
	}
	cat := catalog.New(services)
	known := map[string]releaseops.Service{}
	for _, n := range cat.Names() {
		known[n], _ = cat.Get(n)
	}
	rows, err := db.ListScores(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list scored services: %w", err)
	}
	for _, r := range rows {
		if _, ok := known[r.Service]; !ok {
			known[r.Service] = releaseops.Service{Name: r.Service}
		}
	}
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	return known, names, nil
}

// Backtest replays the stored production deploys of every known service (or req.Services)
// from req.Since to req.Until under cfg's risk model and returns the calibration table.
func Backtest(ctx context.Context, cfg *config.Config, db *storage.DB, req gate.BacktestRequest) (risk.Calibration, error) {
	p, err := OfflineTiming(cfg)
	if err != nil {
		return risk.Calibration{}, err
	}
	if req.Services == nil {
		if _, req.Services, err = StoredServices(ctx, cfg, db); err != nil {
			return risk.Calibration{}, err
		}
	}
	if req.Thresholds == nil {
		policy := gate.Policy{Thresholds: cfg.Gate.Thresholds}
		req.Thresholds = policy.ThresholdsFor
	}
	in, err := gate.ReadBacktest(ctx, db, p, req)
	if err != nil {
		return risk.Calibration{}, err
	}
	return p.Model.Backtest(in), nil
}

// Windows ranks the next hours of a service for `releaseops window`, as GET
// /api/v1/services/{name}/windows does: an unknown service is a not-found error naming the
// closest known ones.
func Windows(ctx context.Context, cfg *config.Config, db *storage.DB, name, env string, now time.Time, hours int) (WindowsResponse, error) {
	p, err := OfflineTiming(cfg)
	if err != nil {
		return WindowsResponse{}, err
	}
	known, names, err := StoredServices(ctx, cfg, db)
	if err != nil {
		return WindowsResponse{}, err
	}
	svc, ok := known[name]
	if !ok {
		e := releaseops.Errorf(releaseops.ENOTFOUND, "unknown service %q", name)
		if near := nearest.Among(name, names, 3); len(near) > 0 {
			e.Detail = "did you mean " + strings.Join(near, ", ") + "?"
		}
		return WindowsResponse{}, e
	}
	if env == "" {
		env = "production"
	}
	org := &gate.OrgHours{DB: db, Policy: p, Services: func(context.Context) ([]string, error) { return names, nil }}
	slots, err := gate.ReadSlots(ctx, db, p, org, gate.SlotsRequest{Service: svc, Environment: env, Now: now, Hours: hours})
	if err != nil {
		return WindowsResponse{}, err
	}
	return WindowsResponse{Service: svc.Name, Environment: env, GeneratedAt: now.UTC(), Hours: hours, Slots: slots}, nil
}
