package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/integrations/github"
)

// githubClients returns the GitHub API clients of the configuration (a GitHub App, else
// github.token), built once and shared by the gate, release notes and sync: nil, nil when
// neither is configured.
func (a *App) githubClients() (*github.Clients, error) {
	a.githubOnce.Do(func() { a.github, a.githubErr = newGitHubClients(a.Config, a.Log) })
	return a.github, a.githubErr
}

func newGitHubClients(cfg *config.Config, log *slog.Logger) (*github.Clients, error) {
	if !cfg.GitHubAPI() {
		return nil, nil
	}
	c, err := github.NewClients(github.ClientOptions{
		Token:          cfg.GitHub.Token.Value(),
		AppID:          cfg.GitHub.AppID,
		PrivateKey:     []byte(cfg.GitHub.PrivateKey.Value()),
		InstallationID: cfg.GitHub.InstallationID,
		APIURL:         cfg.GitHub.APIURL,
		// Innermost, so it sees every call (token mints too): it waits out rate limits,
		// retries transient 5xx on reads and counts requests for the sync's summary.
		// A wait inside a request must end within the client's 30 s timeout; a limit that
		// resets later is handed back and the sync runner waits for it between two reads.
		Transport: github.NewRateLimitTransport(nil, github.RateLimitOptions{MaxWait: 20 * time.Second, Log: log.With("component", "github")}),
		Log:       log.With("component", "github"),
	})
	if err != nil {
		return nil, fmt.Errorf("github API clients: %w", err)
	}
	return c, nil
}
