package app

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"weak"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/integrations/github"
)

// githubClients returns the GitHub API clients of the configuration (a GitHub App, else
// github.token), built once and shared by the gate, release notes and sync: nil, nil when
// neither is configured.
func (a *App) githubClients() (*github.Clients, error) {
	m := githubMemoOf(a)
	m.once.Do(func() { m.clients, m.err = newGitHubClients(a.Config, a.Log) })
	return m.clients, m.err
}

type githubMemo struct {
	once    sync.Once
	clients *github.Clients
	err     error
}

// githubMemos keeps each App's clients beside the App rather than in its struct. The key is
// weak and a cleanup drops the entry, so the many short-lived Apps of tests do not pile up.
var githubMemos sync.Map // weak.Pointer[App] → *githubMemo

func githubMemoOf(a *App) *githubMemo {
	key := weak.Make(a)
	if v, ok := githubMemos.Load(key); ok {
		return v.(*githubMemo)
	}
	v, loaded := githubMemos.LoadOrStore(key, &githubMemo{})
	if !loaded {
		runtime.AddCleanup(a, func(k weak.Pointer[App]) { githubMemos.Delete(k) }, key)
	}
	return v.(*githubMemo)
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
		Log:            log.With("component", "github"),
	})
	if err != nil {
		return nil, fmt.Errorf("github API clients: %w", err)
	}
	return c, nil
}
