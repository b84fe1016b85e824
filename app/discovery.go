package app

import (
	"context"
	"time"

	"github.com/releaseops/releaseops/integrations/github"
)

// discoveryEvery bounds how often discovery lists the organisations: each GitHub run starts
// with it, and `releaseops sync` runs right after serve may have.
const discoveryEvery = 10 * time.Minute

// discover adds to the catalog the services catalog-info.yaml files declare in the
// catalog.github_discovery organisations. Config entries of the same name win field by
// field. A repository whose file cannot be read is logged and skipped; failing to list the
// organisations fails the run (its subjects would silently shrink otherwise).
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
		return err
	}
	if a.discovery == nil {
		a.discovery = &github.Discovery{Clients: clients, Orgs: a.Config.Catalog.GitHubDiscovery.Orgs, Concurrency: a.Config.Sync.Concurrency}
	}
	found, err := a.discovery.Find(ctx)
	if err != nil && found == nil {
		return err
	}
	if err != nil {
		a.Log.Warn("discovery: some catalog-info.yaml files could not be read", "err", err)
	}
	n := 0
	for _, f := range found {
		for _, s := range f.Services {
			a.Catalog.AddFound(s)
			n++
		}
	}
	a.discoveredAt = a.Now()
	a.Log.Info("discovery", "orgs", a.Config.Catalog.GitHubDiscovery.Orgs, "repositories", len(found), "services", n)
	return nil
}
