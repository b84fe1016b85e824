// Package app assembles a running ReleaseOps from a config: storage, catalog, sources,
// scoring, the rescoring worker and the HTTP server. `releaseops serve`, the benchmark and the
// end-to-end tests all start the service through it, so they run the same wiring.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/ingest"
	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/integrations/pagerduty"
	"github.com/releaseops/releaseops/integrations/terraform"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/rescore"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/server"
	"github.com/releaseops/releaseops/storage"
	"github.com/releaseops/releaseops/syncer"
)

// App is a running ReleaseOps.
type App struct {
	Config   *config.Config
	Log      *slog.Logger
	DB       *storage.DB
	Catalog  *catalog.Catalog
	Engine   *scoring.Engine
	Pipeline *ingest.Pipeline
	Worker   *rescore.Worker
	Outbox   *outbox.Outbox
	Metrics  *server.Metrics
	Server   *server.Server
	Bot      *bot.Bot
	Gate     *gate.Gate
	// Anchorer writes signed checkpoints of the audit log; nil when anchors are off.
	Anchorer *gate.Anchorer
	Sync     *syncer.Scheduler
	Now      func() time.Time
	// Exemptions are the waivers requested and approved in Slack.
	Exemptions *Exemptions
	digests    *digestScheduler

	initiatives *initiativeSet

	github     *github.Clients
	githubErr  error
	githubOnce sync.Once

	ghSync       *github.Syncer
	pdSync       *pagerduty.Syncer
	pdOnce       sync.Once
	tfSync       *terraform.Syncer
	tfErr        error
	tfOnce       sync.Once
	syncOnce     sync.Once
	discovery    *github.Discovery
	discoveryMu  sync.Mutex
	discoveredAt time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Options adjust what New builds. The zero value is production.
type Options struct {
	// Now replaces the clock (tests, demo).
	Now func() time.Time
	// ExtraServices are added to the catalog (the demo catalog).
	ExtraServices []releaseops.Service
}

// New opens the database, builds the catalog and every component. It starts nothing; call
// Start, then Serve.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opts Options) (*App, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	a := &App{Config: cfg, Log: log, Now: now}
	engine, err := scoring.Compile(cfg.Scoring, cfg.Gate.Thresholds, cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("compile scoring rules: %w", err)
	}
	a.Engine = engine
	services, err := catalogServices(cfg, opts.ExtraServices)
	if err != nil {
		return nil, err
	}
	a.Catalog = catalog.New(services)
	a.Metrics = server.NewMetrics()
	db, err := OpenDB(ctx, cfg, log, false)
	if err != nil {
		return nil, err
	}
	a.DB = db
	db.Writer.SetOnBatch(a.Metrics.Batch)
	if err := a.loadDiscovered(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := a.claimUnmapped(ctx); err != nil {
		db.Close()
		return nil, err
	}
	a.Worker = &rescore.Worker{DB: db, Catalog: a.Catalog, Engine: engine, Scoring: cfg.Scoring, Now: now, Log: log, Observer: rescoreObserver{a.Metrics}}
	a.Pipeline = &ingest.Pipeline{DB: db, Catalog: a.Catalog, Sources: WebhookSources(cfg, log), Now: now, Log: log,
		Observer: a.Metrics, Committed: a.factsCommitted}
	a.Worker.Regression = a.recordRegression
	a.Outbox = &outbox.Outbox{DB: db, Now: now, Log: log, MaxAttempts: cfg.Slack.MaxAttempts}
	a.Server = server.New(server.Deps{Config: cfg, DB: db, Pipeline: a.Pipeline, Catalog: a.Catalog, Metrics: a.Metrics, Log: log, Now: now})
	a.wireBot()
	if err := a.wireDigests(); err != nil {
		db.Close()
		return nil, err
	}
	a.wireGate()
	a.wireInitiatives()
	a.wireExemptions()
	a.wireWeb()
	if err := a.wireSync(); err != nil {
		db.Close()
		return nil, err
	}
	if err := a.wireAudit(); err != nil {
		db.Close()
		return nil, err
	}
	a.wireWakes()
	a.Server.API().GET("/outbox", a.listOutbox, a.Server.Require("read"))
	a.wireWindows()
	return a, nil
}

func catalogServices(cfg *config.Config, extra []releaseops.Service) ([]releaseops.Service, error) {
	var services []releaseops.Service
	if len(cfg.Catalog.BackstagePaths) > 0 {
		bs, err := catalog.LoadBackstage(cfg.Catalog.BackstagePaths)
		if err != nil {
			return nil, err
		}
		services = append(services, bs...)
	}
	services = append(services, extra...)
	services = append(services, cfg.Services...) // config wins over Backstage and the demo
	return services, nil
}

// WebhookSources returns the sources whose webhooks are configured.
func WebhookSources(cfg *config.Config, log *slog.Logger) map[string]releaseops.Source {
	out := map[string]releaseops.Source{}
	if cfg.GitHubEnabled() {
		out[releaseops.SourceGitHub] = github.New(cfg.GitHub.WebhookSecret.Value(), github.Options{RunbookPatterns: cfg.GitHub.RunbookPaths, Log: log})
	}
	if cfg.PagerDutyEnabled() {
		var secrets []string
		for _, s := range cfg.PagerDuty.WebhookSecrets {
			secrets = append(secrets, s.Value())
		}
		out[releaseops.SourcePagerDuty] = pagerduty.New(secrets)
	}
	if cfg.DeployEnabled() {
		out[releaseops.SourceDeploy] = deploy.New(cfg.Deploy.WebhookSecret.Value())
	}
	if cfg.TerraformEnabled() {
		out[releaseops.SourceTerraform] = terraform.New(cfg.Terraform.WebhookSecret.Value())
	}
	return out
}

// ReplaySources returns every source, for replaying a file the operator supplied: signatures
// are not checked there, so no secret is needed.
func ReplaySources(cfg *config.Config, log *slog.Logger) map[string]releaseops.Source {
	return map[string]releaseops.Source{
		releaseops.SourceGitHub:    github.New("", github.Options{RunbookPatterns: cfg.GitHub.RunbookPaths, Log: log}),
		releaseops.SourcePagerDuty: pagerduty.New(nil),
		releaseops.SourceDeploy:    deploy.New(""),
		releaseops.SourceTerraform: terraform.New(""),
	}
}

func (a *App) loadDiscovered(ctx context.Context) error {
	ds, err := a.DB.ListDiscovered(ctx)
	if err != nil {
		return err
	}
	for _, d := range ds {
		var subj releaseops.Subject
		if kind, key, ok := cut(d.Subject); ok {
			subj = releaseops.Subject{Kind: releaseops.SubjectKind(kind), Key: key}
		}
		a.Catalog.AddDiscovered(d.Name, subj)
	}
	return nil
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// claimUnmapped gives a service the facts that arrived before the catalog named their subject.
func (a *App) claimUnmapped(ctx context.Context) error {
	un, err := a.DB.ListUnmapped(ctx)
	if err != nil || len(un) == 0 {
		return err
	}
	claims := map[releaseops.Subject]string{}
	for _, u := range un {
		if r, ok := a.Catalog.Resolve(u.Subject); ok && !r.Discovered {
			claims[u.Subject] = r.Service
		}
	}
	if len(claims) == 0 {
		return nil
	}
	return a.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		for s, svc := range claims {
			n, err := storage.ClaimSubject(t, s, svc)
			if err != nil {
				return err
			}
			a.Log.Info("claimed facts for a newly catalogued subject", "subject", string(s.Kind)+":"+s.Key, "service", svc, "facts", n)
		}
		// The worker rescores every service when it starts, claimed facts included; replaying
		// the whole fact feed through the listeners would only repeat old work.
		return nil
	})
}

func (a *App) recordRegression(ctx context.Context, reg *scoring.Regression, card *scoring.Scorecard) error {
	id := fmt.Sprintf("regression:%s:%d", reg.Service, reg.At.UnixMilli())
	_, err := a.Pipeline.RecordInternal(ctx, ingest.Internal{Type: "regression", DeliveryID: id, Service: reg.Service, Body: reg})
	return err
}

// Start runs the background workers until Stop. Work that must run once — rescoring, the
// outbox sender, approval expiry, the sync scheduler — runs under its lease: on SQLite this
// process holds them all; on PostgreSQL each runs on one replica and moves when it dies.
// Requests (webhooks, commands, clicks, the gate) are served by every replica.
func (a *App) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.runLeased(ctx, storage.LeaseRescore, func(ctx context.Context) {
		if err := a.Worker.Run(ctx); err != nil {
			a.Log.Error("rescore worker stopped", "err", err)
		}
	})
	a.runLeased(ctx, storage.LeaseOutbox, a.Outbox.Run)
	a.startBot(ctx)
	a.startGate(ctx)
	a.startAudit(ctx)
	a.startDigests(ctx)
	a.startInitiatives(ctx)
	a.startExemptions(ctx)
	if a.Config.SyncEnabled() && len(a.Sync.Sources) > 0 {
		a.runLeased(ctx, storage.LeaseSync, a.Sync.Run)
	}
}

// Serve serves HTTP on ln until Shutdown.
func (a *App) Serve(ln net.Listener) error { return a.Server.Serve(ln) }

// Shutdown stops accepting requests, waits for in-flight ones, stops the workers and flushes
// the writer. It is safe to call once.
func (a *App) Shutdown(ctx context.Context) error {
	err := a.Server.Shutdown(ctx)
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	a.Exemptions.Settle() // rescores that decisions started write to the database
	if aerr := a.finalAnchor(ctx); aerr != nil {
		err = errors.Join(err, aerr)
	}
	return errors.Join(err, a.DB.Close())
}

type rescoreObserver struct{ m *server.Metrics }

func (o rescoreObserver) Rescored(_ string, took time.Duration) {
	o.m.Rescores.Inc()
	o.m.RescoreSeconds.Observe(took.Seconds())
}

func (o rescoreObserver) Lag(d time.Duration) { o.m.ScoreLag.Observe(d.Seconds()) }

// ReplayPipeline is the ingestion path for deliveries the operator supplies (a replay file,
// the demo): the same parsing, validation, dedupe and storage, with every source available and
// no signature check.
func (a *App) ReplayPipeline() *ingest.Pipeline {
	p := *a.Pipeline
	p.Sources = ReplaySources(a.Config, a.Log)
	return &p
}
