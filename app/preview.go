package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/storage"
	"github.com/releaseops/releaseops/web"
)

// previewEnv is the environment the previews ask about: the trust ladder and the deploy slots
// count production deploys only.
const previewEnv = "production"

// gatePreview serves the gate's Preview (a decision made as the gate would now, recording
// nothing) and the deploy slot ranking to the Slack bot, the service page and the scorecard
// API, each through its own small interface so none of them depends on the gate.
//
// It reads a.Gate at each call rather than when built: the bot is wired before the gate.
type gatePreview struct {
	a *App

	orgOnce sync.Once
	org     *gate.OrgHours
}

var (
	_ bot.RiskPreviewer   = (*gatePreview)(nil)
	_ web.DeployPreviewer = (*gatePreview)(nil)
)

func (p *gatePreview) decide(ctx context.Context, service, env, version string) (gate.Decision, error) {
	g := p.a.Gate
	if g == nil {
		return gate.Decision{}, releaseops.Errorf(releaseops.EUNAVAILABLE, "the deploy gate is not set up")
	}
	d, err := g.Preview(ctx, gate.Request{Service: service, Environment: env, Version: version})
	if err != nil {
		return gate.Decision{}, fmt.Errorf("preview a deploy of %s to %s: %w", service, env, err)
	}
	return d, nil
}

// PreviewRisk answers /readiness risk and the scorecard's trust line.
func (p *gatePreview) PreviewRisk(ctx context.Context, service, env, version string) (bot.RiskPreview, error) {
	d, err := p.decide(ctx, service, env, version)
	if err != nil {
		return bot.RiskPreview{}, err
	}
	out := bot.RiskPreview{Service: service, Environment: env, Version: version, Decision: d.Decision, Band: d.Band, Score: d.Score,
		Risk: d.Risk, Window: d.Window, Trust: d.Trust, AutoApproved: d.AutoApproved, Quorum: d.Quorum}
	for _, r := range d.Reasons {
		// The bot links the playbook itself; the gate's text carries it inline.
		out.Reasons = append(out.Reasons, bot.PreviewReason{Kind: r.Kind, Text: strings.TrimSuffix(r.Text, " — playbook "+r.Playbook), Playbook: r.Playbook})
	}
	return out, nil
}

// DeploySlots answers /readiness window from the same reader as
// GET /api/v1/services/{name}/windows.
func (p *gatePreview) DeploySlots(ctx context.Context, service string, hours int) ([]risk.Slot, error) {
	svc, ok := p.a.Catalog.Get(service)
	if !ok {
		return nil, releaseops.Errorf(releaseops.ENOTFOUND, "unknown service %q", service)
	}
	g := p.a.Gate
	if g == nil {
		return nil, releaseops.Errorf(releaseops.EUNAVAILABLE, "the deploy gate is not set up")
	}
	slots, err := gate.ReadSlots(ctx, p.a.DB, g.Timing, p.orgHours(g), gate.SlotsRequest{Service: svc, Environment: previewEnv, Now: p.a.Now(), Hours: hours})
	if err != nil {
		return nil, fmt.Errorf("rank the deploy slots of %s: %w", service, err)
	}
	return slots, nil
}

// orgHours is the organisation's deploy history the slots are blended with, built once per
// TTL (it reads every service).
func (p *gatePreview) orgHours(g *gate.Gate) *gate.OrgHours {
	p.orgOnce.Do(func() {
		p.org = &gate.OrgHours{DB: p.a.DB, Policy: g.Timing,
			Services: func(context.Context) ([]string, error) { return p.a.Catalog.Names(), nil }}
	})
	return p.org
}

// PreviewDeploy answers the service page's "Deploying to production now".
func (p *gatePreview) PreviewDeploy(ctx context.Context, service string) (web.DeployPreview, error) {
	d, err := p.decide(ctx, service, previewEnv, "")
	if err != nil {
		return web.DeployPreview{}, err
	}
	out := web.DeployPreview{Decision: d.Decision, AutoApproved: d.AutoApproved, Quorum: d.Quorum, Risk: d.Risk, Window: d.Window, Trust: d.Trust}
	for _, r := range d.Reasons {
		out.Reasons = append(out.Reasons, web.DeployReason{Kind: r.Kind, Text: r.Text})
	}
	return out, nil
}

// trustTTL bounds how stale a cached trust ladder may be. Only time moves it without a new
// fact (a deploy climbs a rung once its incident window has passed), so a minute is close.
const trustTTL = time.Minute

// trustCache serves the "trust" of GET /api/v1/services/{name}. Computing it is a gate
// preview, about thirty times the cost of the rest of that request (the card is served as
// stored), so a service read again within trustTTL, with no new fact about it since, reuses
// its ladder. forget runs as a rescore listener, before the round's scores are stored.
type trustCache struct {
	p *gatePreview

	mu      sync.Mutex
	entries map[string]trustEntry
}

type trustEntry struct {
	ladder *risk.Ladder
	at     time.Time
}

// trustCacheMax caps the entries: far above any catalog, so it only bounds a runaway.
const trustCacheMax = 100_000

func newTrustCache(p *gatePreview) *trustCache {
	return &trustCache{p: p, entries: map[string]trustEntry{}}
}

// Trust is nil for a service the gate does not know (scored from events but not catalogued)
// or while release risk is off.
func (c *trustCache) Trust(ctx context.Context, service string) (*risk.Ladder, error) {
	a := c.p.a
	if _, ok := a.Catalog.Get(service); !ok || a.Gate == nil {
		return nil, nil
	}
	now := a.Now()
	c.mu.Lock()
	e, ok := c.entries[service]
	c.mu.Unlock()
	if ok && !now.Before(e.at) && now.Sub(e.at) < trustTTL {
		return e.ladder, nil
	}
	d, err := c.p.decide(ctx, service, previewEnv, "")
	if releaseops.ErrorCode(err) == releaseops.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= trustCacheMax {
		c.entries = map[string]trustEntry{}
	}
	c.entries[service] = trustEntry{ladder: d.Trust, at: now}
	c.mu.Unlock()
	return d.Trust, nil
}

// forget drops the ladders of the services new facts are about: a deploy or an incident
// moves them at once, not a minute later.
func (c *trustCache) forget(_ context.Context, facts []storage.StoredFact) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range facts {
		delete(c.entries, f.Service)
	}
}
