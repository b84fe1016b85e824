package app

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/integrations/pagerduty"
	"github.com/releaseops/releaseops/integrations/terraform"
	"github.com/releaseops/releaseops/storage"
	"github.com/releaseops/releaseops/syncer"
)

// syncWindow is how far back sync reads moments (merged pull requests, deployments): the
// scoring windows of the signals they feed are at most 90 days.
const syncWindow = 90 * 24 * time.Hour

// SyncSources returns the sources whose API credentials are configured.
func (a *App) SyncSources() ([]syncer.Source, error) {
	var out []syncer.Source
	clients, err := a.githubClients()
	if err != nil {
		return nil, err
	}
	if clients != nil {
		out = append(out, a.githubSync(clients))
	}
	if a.Config.PagerDuty.Token.IsSet() {
		a.pdOnce.Do(func() {
			a.pdSync = pagerduty.NewSyncer(pagerduty.SyncConfig{
				Token:  a.Config.PagerDuty.Token.Value(),
				APIURL: a.Config.PagerDuty.APIURL,
				// A timeout per attempt: the rate-limit waits are outside it.
				HTTPClient: &http.Client{Timeout: 30 * time.Second},
				List:       a.pagerdutySubjects,
				Now:        a.Now,
				Window:     syncWindow,
				Log:        a.Log.With("source", "pagerduty"),
			})
		})
		out = append(out, a.pdSync)
	}
	if a.Config.Terraform.Token.IsSet() {
		tf, err := a.terraformSync()
		if err != nil {
			return nil, err
		}
		out = append(out, tf)
	}
	return out, nil
}

// terraformSync is built once: its go-tfe client holds a rate limiter shared across runs.
func (a *App) terraformSync() (*terraform.Syncer, error) {
	a.tfOnce.Do(func() {
		a.tfSync, a.tfErr = terraform.NewSyncer(terraform.SyncOptions{
			Token:        a.Config.Terraform.Token.Value(),
			Address:      a.Config.Terraform.Address,
			Organization: a.Config.Terraform.Organization,
			HTTPClient:   &http.Client{},
			List:         a.terraformSubjects,
			Now:          a.Now,
			Log:          a.Log.With("source", "terraform"),
		})
		if a.tfErr != nil {
			a.tfErr = fmt.Errorf("terraform sync: %w", a.tfErr)
		}
	})
	return a.tfSync, a.tfErr
}

func (a *App) githubSync(clients *github.Clients) *github.Syncer {
	a.syncOnce.Do(func() {
		a.ghSync = &github.Syncer{Clients: clients, List: a.githubSubjects, Now: a.Now, Window: syncWindow,
			Options: github.Options{RunbookPatterns: a.Config.GitHub.RunbookPaths}}
	})
	return a.ghSync
}

// githubSubjects are the repositories of every known service: catalogued, from Backstage,
// discovered in the GitHub organisations, or by convention from events.
func (a *App) githubSubjects(ctx context.Context) ([]syncer.Subject, error) {
	if err := a.discover(ctx); err != nil {
		return nil, err
	}
	var out []syncer.Subject
	seen := map[string]bool{}
	for _, name := range a.Catalog.Names() {
		svc, ok := a.Catalog.Get(name)
		if !ok || svc.Repo == "" || seen[strings.ToLower(svc.Repo)] {
			continue
		}
		seen[strings.ToLower(svc.Repo)] = true
		out = append(out, syncer.Subject{Key: svc.Repo, Service: name,
			Subject: releaseops.Subject{Kind: releaseops.SubjectRepo, Key: svc.Repo}})
	}
	return out, nil
}

// SyncRunner is the runner serve's scheduler and `releaseops sync` share.
func (a *App) SyncRunner() *syncer.Runner {
	return &syncer.Runner{DB: a.DB, Now: a.Now, Log: a.Log, Concurrency: a.Config.Sync.Concurrency, Timeout: a.Config.Sync.Timeout.Std(),
		Resolve: func(s releaseops.Subject) string {
			if r, ok := a.Catalog.Resolve(s); ok {
				return r.Service
			}
			return ""
		},
		Committed: a.factsCommitted,
		Covered: func(ctx context.Context, services []string) {
			if err := a.Worker.RescoreNames(ctx, services); err != nil && ctx.Err() == nil {
				a.Log.Warn("rescore after sync", "err", err)
			}
		}}
}

// wireSync builds the scheduler (started by Start when sync is enabled) and GET /api/v1/sync.
func (a *App) wireSync() error {
	sources, err := a.SyncSources()
	if err != nil {
		return err
	}
	a.Sync = &syncer.Scheduler{Runner: a.SyncRunner(), Sources: sources, Interval: a.Config.Sync.Interval.Std()}
	a.Sync.Observe = syncer.NewMetrics(a.Metrics.Registry).Observer(a.Sync)
	a.Pipeline.Stored = a.triggerInstallationSync
	a.DB.Subscribe(storage.TopicSync, a.syncAnnounced)
	a.Server.API().GET("/sync", a.syncStatus, a.Server.Require("read"))
	return nil
}

// triggerInstallationSync reads at once the repositories a GitHub App was just installed on
// or given: their first score should not wait for the next scheduled run.
func (a *App) triggerInstallationSync(source string, parsed releaseops.Parsed, h http.Header, body []byte) {
	// Without the scheduler running, nothing would drain the triggers.
	if source != releaseops.SourceGitHub || a.Sync == nil || !a.Config.SyncEnabled() {
		return
	}
	_, repos := github.InstallationRepos(parsed.Type, h, body)
	if len(repos) == 0 {
		return
	}
	// The scheduler runs on the replica holding the sync lease, maybe not this one.
	a.DB.AnnounceWith(storage.TopicSync, releaseops.SourceGitHub+" "+strings.Join(repos, ","))
}

// syncAnnounced runs a sync trigger announced by any replica ("github acme/a,acme/b"). The
// scheduler drains triggers only where it runs, so each replica keeps them all: a replica
// that takes the lease over later starts with a full run anyway.
func (a *App) syncAnnounced(payload string) {
	source, list, ok := strings.Cut(payload, " ")
	if !ok || list == "" {
		return // a reconnected listener's "look at everything": the schedule covers it
	}
	repos := strings.Split(list, ",")
	// A repository known only by its catalog-info.yaml is in the catalog only once discovery
	// lists it again: the triggered run must not skip discovery as recent. A discovery
	// running now may have listed before this installation, so the cache is expired after it,
	// away from the webhook's answer; its run is busy until then, so triggering later delays
	// nothing.
	go func() {
		a.discoveryMu.Lock()
		a.discoveredAt = time.Time{}
		a.discoveryMu.Unlock()
		a.Sync.Trigger(source, repos...)
	}()
}

type syncStatusResponse struct {
	Enabled bool                   `json:"enabled"`
	Sources []syncer.SourceStatus  `json:"sources"`
	Config  map[string]interface{} `json:"config"`
}

func (a *App) syncStatus(c echo.Context) error {
	st, err := a.Sync.Status(c.Request().Context())
	if err != nil {
		return fmt.Errorf("sync status: %w", err)
	}
	sort.Slice(st, func(i, j int) bool { return st[i].Source < st[j].Source })
	return c.JSON(http.StatusOK, syncStatusResponse{Enabled: a.Config.SyncEnabled() && len(a.Sync.Sources) > 0, Sources: st,
		Config: map[string]interface{}{"interval": a.Config.Sync.Interval.String(), "concurrency": a.Config.Sync.Concurrency,
			"stale_after": a.Config.Sync.StaleAfter.String()}})
}

// pagerdutySubjects are the PagerDuty services the catalog maps to services.
func (a *App) pagerdutySubjects(context.Context) ([]syncer.Subject, error) {
	var out []syncer.Subject
	for _, name := range a.Catalog.Names() {
		svc, ok := a.Catalog.Get(name)
		if !ok || svc.PagerDutyServiceID == "" {
			continue
		}
		out = append(out, syncer.Subject{Key: svc.PagerDutyServiceID, Service: name,
			Subject: releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: svc.PagerDutyServiceID}})
	}
	return out, nil
}

// terraformSubjects are the workspaces the catalog maps to services, as "org/workspace"
// (a bare name belongs to terraform.organization).
func (a *App) terraformSubjects(context.Context) ([]syncer.Subject, error) {
	var out []syncer.Subject
	seen := map[string]bool{}
	for _, name := range a.Catalog.Names() {
		svc, ok := a.Catalog.Get(name)
		if !ok {
			continue
		}
		for _, ws := range svc.TerraformWorkspaces {
			key := ws
			if !strings.Contains(ws, "/") {
				key = a.Config.Terraform.Organization + "/" + ws
			}
			if seen[strings.ToLower(key)] {
				continue
			}
			seen[strings.ToLower(key)] = true
			out = append(out, syncer.Subject{Key: key, Service: name,
				Subject: releaseops.Subject{Kind: releaseops.SubjectWorkspace, Key: key}})
		}
	}
	return out, nil
}
