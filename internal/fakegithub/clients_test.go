package fakegithub_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/internal/fakegithub"
	"github.com/releaseops/releaseops/syncer"
)

// The fake is only worth its name if ReleaseOps's own GitHub code (go-github, ghinstallation,
// the sync) works against it unchanged.

func appClients(t *testing.T, s *fakegithub.Server) *github.Clients {
	t.Helper()
	_, pemKey, err := fakegithub.AppKey()
	if err != nil {
		t.Fatal(err)
	}
	c, err := github.NewClients(github.ClientOptions{AppID: appID, PrivateKey: pemKey, APIURL: s.APIURL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGitHubAppClientsAgainstTheFake(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, nil)
	s.AddRepo(fakegithub.Repo{FullName: "other/secret"})
	c := appClients(t, s)
	cl, inst, err := c.ForRepo(ctx, "acme/api")
	if err != nil || inst != instID {
		t.Fatalf("ForRepo: installation %d, %v", inst, err)
	}
	repo, _, err := cl.Repositories.Get(ctx, "acme", "api")
	if err != nil || repo.GetDefaultBranch() != "main" || !repo.GetPrivate() {
		t.Fatalf("GET /repos/acme/api as the installation: %v %v", repo, err)
	}
	if _, _, err := c.ForRepo(ctx, "other/secret"); !errors.Is(err, github.ErrNotInstalled) {
		t.Errorf("a repository the App is not installed on: %v", err)
	}
	insts, err := c.Installations(ctx)
	if err != nil || len(insts) != 1 || insts[0].GetAccount().GetLogin() != "acme" {
		t.Errorf("installations: %v %v", insts, err)
	}
	repos, err := c.InstallationRepos(ctx, instID)
	if err != nil || len(repos) != 2 {
		t.Errorf("installation repositories: %d, %v", len(repos), err)
	}
	perms, err := c.Permissions(ctx, instID)
	if err != nil || perms["administration"] != "read" {
		t.Errorf("permissions: %v %v", perms, err)
	}
	counts := s.Counts()
	if counts.Minted != 1 || counts.ByRoute["GET /repos/{owner}/{repo}/installation"] != 2 {
		t.Errorf("one token minted and reused, two lookups: %+v", counts)
	}
}

func TestSyncReadsProtectionRulesetsAndCodeownersFromTheFake(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, nil)
	s.AddRepo(fakegithub.Repo{FullName: "acme/web", CodeownersAt: "CODEOWNERS",
		Rulesets: []fakegithub.Ruleset{{ID: 901, Rules: []fakegithub.Rule{fakegithub.LinearHistoryRule(), fakegithub.SignedCommitsRule(), fakegithub.PullRequestRule(1, false)}}}})
	sy := &github.Syncer{Clients: appClients(t, s), Now: func() time.Time { return t0 }}

	states := map[string]releaseops.RepoState{}
	mem := map[string]syncer.State{}
	for _, repo := range []string{"acme/api", "acme/web", "acme/docs"} {
		res, err := sy.Read(ctx, syncer.Subject{Key: repo}, syncer.State{})
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		mem[repo] = res.State
		for _, o := range res.Observations {
			for _, f := range o.Facts {
				if f.RepoState != nil {
					states[repo] = *f.RepoState
				}
			}
		}
	}
	api, web, docs := states["acme/api"], states["acme/web"], states["acme/docs"]
	if api.Classic == nil || api.Classic.RequiredApprovingReviews != 2 || !api.Classic.RequireCodeOwnerReview || api.CodeownersPath != ".github/CODEOWNERS" {
		t.Errorf("acme/api: %+v classic %+v", api, api.Classic)
	}
	if web.Classic != nil || len(web.Rulesets) != 1 || !web.Rulesets[0].LinearHistory || !web.Rulesets[0].SignedCommits ||
		web.Rulesets[0].RequiredApprovingReviews != 1 || web.CodeownersPath != "CODEOWNERS" {
		t.Errorf("acme/web: %+v", web)
	}
	if docs.Classic != nil || len(docs.Rulesets) != 0 || docs.Codeowners {
		t.Errorf("acme/docs: %+v", docs)
	}

	s.ResetCounts()
	for repo, st := range mem {
		res, err := sy.Read(ctx, syncer.Subject{Key: repo}, st)
		if err != nil || len(res.Observations) != 0 {
			t.Fatalf("unchanged %s: %d observations, %v", repo, len(res.Observations), err)
		}
	}
	for _, h := range s.Hits() {
		if h.Status != http.StatusNotModified && h.Status != http.StatusNotFound {
			t.Errorf("unchanged read fetched %s %s again: %d", h.Method, h.Path, h.Status)
		}
	}
	c := s.Counts()
	t.Logf("unchanged read of 3 repositories: %d requests, %d not modified (%.0f%%)", c.Requests, c.NotModified, 100*c.NotModifiedShare())
}
