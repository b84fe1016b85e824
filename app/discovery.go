package app

import (
	"context"
	"time"

	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/integrations/github"
)

// discoveryEvery bounds how often discovery lists the organisations: each GitHub run starts
// with it, and `releaseops sync` runs right after serve may have.
const discoveryEvery = 10 * time.Minute

// discover sets in the catalog the services catalog-info.yaml files declare in the
// catalog.github_discovery organisations, as catalog.SetFound allows them (what it refuses
// is logged). It never fails the run: the repositories the config declares are read whatever
// a file in a stranger's repository holds, or the organisations' listing answers, else after
// sync.stale_after every signal would go no_data and deploys block. Only a listing that
// succeeded is remembered for discoveryEvery; after a failure the next run lists again, and
// the catalog stays as the last listing left it. The only error is the run's context's, when it
// ended during a failed listing.
// Discover runs discovery now (within its 10-minute cache), for `releaseops sync --service`
// to know services only a catalog-info.yaml in GitHub declares.
func (a *App) Discover(ctx context.Context) error { return a.discover(ctx) }

func (a *App) discover(ctx context.Context) error {
	if len(a.Config.Catalog.GitHubDiscovery.Orgs) == 0 {
		return nil
	}
	a.discoveryMu.Lock()
	defer a.discoveryMu.Unlock()
	if !a.discoveredAt.IsZero() && a.Now().Sub(a.discoveredAt) < discoveryEvery {
		return nil
	}
	clients, err := a.githubClients()
	if err != nil || clients == nil {
		a.Log.Warn("discovery: no GitHub client; the catalog stays as known", "err", err)
		return ctx.Err()
	}
	if a.discovery == nil {
		a.discovery = &github.Discovery{Clients: clients, Orgs: a.Config.Catalog.GitHubDiscovery.Orgs, Concurrency: a.Config.Sync.Concurrency,
			Log: a.Log.With("source", "github")}
	}
	found, skipped, err := a.discovery.Find(ctx)
	if err != nil {
		a.Log.Warn("discovery: the organisations' repositories cannot be listed; the catalog stays as known, and the next run lists again",
			"orgs", a.Config.Catalog.GitHubDiscovery.Orgs, "err", err)
		return ctx.Err()
	}
	for _, err := range skipped {
		a.Log.Warn("discovery: a catalog-info.yaml cannot be read; its last good read, if any, stands", "err", err)
	}
	var entries []catalog.Found
	for _, f := range found {
		for _, s := range f.Services {
			entries = append(entries, catalog.Found{Repo: f.Repo, Service: s})
		}
	}
	refused := a.Catalog.SetFound(entries)
	for _, c := range refused {
		msg := "discovery: a mapping another service holds is dropped from a found entry"
		if c.Rejected() {
			msg = "discovery: a found entry is rejected: another service has its name"
		}
		a.Log.Warn(msg, "repo", c.Repo, "service", c.Service, "claim", c.Claim, "value", c.Value,
			"owner", c.Owner, "owner_origin", c.OwnerOrigin)
	}
	a.discoveredAt = a.Now()
	a.Log.Info("discovery", "orgs", a.Config.Catalog.GitHubDiscovery.Orgs, "repositories", len(found), "services", len(entries),
		"refused", len(refused), "unreadable", len(skipped))
	return nil
}
