package github

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

func syncRead(t *testing.T, s *Syncer, key string, prev syncer.State) (syncer.Result, *syncer.Stats) {
	t.Helper()
	var stats syncer.Stats
	ctx := syncer.WithStats(context.Background(), &stats)
	res, err := s.Read(ctx, syncer.Subject{Key: key, Subject: repoSubject(key)}, prev)
	if err != nil {
		t.Fatalf("Read(%s): %v", key, err)
	}
	return res, &stats
}

func syncObservation(t *testing.T, res syncer.Result, key string) syncer.Observation {
	t.Helper()
	for _, o := range res.Observations {
		if o.Key == key {
			return o
		}
	}
	var keys []string
	for _, o := range res.Observations {
		keys = append(keys, o.Key)
	}
	t.Fatalf("no observation %q among %v", key, keys)
	return syncer.Observation{}
}

func syncRepoState(t *testing.T, res syncer.Result) releaseops.RepoState {
	t.Helper()
	o := syncObservation(t, res, "branch")
	if len(o.Facts) != 1 || o.Facts[0].Kind != releaseops.FactRepoState || o.Facts[0].RepoState == nil {
		t.Fatalf("branch observation facts = %+v, want one repo_state", o.Facts)
	}
	return *o.Facts[0].RepoState
}

func TestSyncReadsRepoStateOfThreeRepositories(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/api", acmeAPI)
	g.serveRepo("acme/web", acmeWeb)
	g.serveRepo("acme/docs", acmeDocs)
	s := newTestSyncer(g)

	want := map[string]releaseops.RepoState{
		"acme/api": {Repo: "acme/api", DefaultBranch: "main", Codeowners: true, CodeownersPath: ".github/CODEOWNERS",
			Classic: &releaseops.BranchProtection{Repo: "acme/api", Pattern: "main", Action: "sync",
				RequiredApprovingReviews: 2, RequireCodeOwnerReview: true, DismissStaleReviews: true, AdminEnforced: true,
				RequiredStatusChecks: []string{"ci/build", "ci/test"}}},
		"acme/web": {Repo: "acme/web", DefaultBranch: "main", Codeowners: true, CodeownersPath: "CODEOWNERS",
			Rulesets: []releaseops.Ruleset{{Repo: "acme/web", ID: 901, Name: "ruleset 901 (repository acme/web)", Action: "sync",
				Target: "branch", Enforcement: "active", Includes: []string{"main"},
				RequiredApprovingReviews: 1, LinearHistory: true, SignedCommits: true}}},
		"acme/docs": {Repo: "acme/docs", DefaultBranch: "main"},
	}
	// Requests of a first read, and of a second one with nothing changed.
	wantFirst := map[string]int64{"acme/api": 17, "acme/web": 10, "acme/docs": 11}
	// A 404 carries no ETag, so what was absent is asked again; everything else is a 304.
	wantAgain := map[string][]string{
		"acme/web":  {"/contents/.github/CODEOWNERS", "/branches/main/protection", "/code-scanning/alerts"},
		"acme/docs": {"/contents/.github/CODEOWNERS", "/contents/CODEOWNERS", "/contents/docs/CODEOWNERS", "/branches/main/protection", "/dependabot/alerts", "/code-scanning/alerts"},
	}
	for _, key := range []string{"acme/api", "acme/web", "acme/docs"} {
		t.Run(key, func(t *testing.T) {
			g.Hits()
			res, stats := syncRead(t, s, key, syncer.State{})
			got := syncRepoState(t, res)
			if !reflect.DeepEqual(got, want[key]) {
				t.Errorf("repo state:\n got %s\nwant %s", syncJSON(got), syncJSON(want[key]))
			}
			o := syncObservation(t, res, "branch")
			f := o.Facts[0]
			if f.Subject != repoSubject(key) || !f.At.Equal(clock.Now()) {
				t.Errorf("fact subject %v at %v, want %v at %v", f.Subject, f.At, repoSubject(key), clock.Now())
			}
			if p := o.Requests[0].Path; p != "/repos/"+key+"/branches/main/protection" {
				t.Errorf("first request of the branch observation = %s, want the protection", p)
			}
			for _, q := range o.Requests {
				if (q.Status == http.StatusOK) != (len(q.Response) > 0) {
					t.Errorf("request %s %d: body %d bytes; want a body for 200s only", q.Path, q.Status, len(q.Response))
				}
				if q.Status == http.StatusOK && q.ETag == "" {
					t.Errorf("request %s: no ETag recorded", q.Path)
				}
			}
			if n := int64(len(g.Hits())); stats.Requests.Load() != n || n != wantFirst[key] {
				t.Errorf("first read: stats count %d requests, the fake answered %d; want %d", stats.Requests.Load(), n, wantFirst[key])
			}

			again, stats := syncRead(t, s, key, res.State)
			if len(again.Observations) != 0 {
				t.Errorf("unchanged read: %d observations, want none: %+v", len(again.Observations), again.Observations)
			}
			var asked []string
			hits := g.Hits()
			for _, h := range hits {
				if h.Status == http.StatusNotModified {
					continue
				}
				if h.IfNoneMatch != "" || (h.Status != http.StatusNotFound && h.Status != http.StatusForbidden) {
					t.Errorf("unchanged read: %s answered %d (If-None-Match %q); want 304, or a 404/403 asked again", h.Key, h.Status, h.IfNoneMatch)
				}
				asked = append(asked, h.Key)
			}
			if len(asked) != len(wantAgain[key]) {
				t.Errorf("unchanged read asked again %v; want only %v", asked, wantAgain[key])
			}
			for _, w := range wantAgain[key] {
				if !syncContains(asked, w) {
					t.Errorf("unchanged read did not ask %s again: %v", w, asked)
				}
			}
			if stats.Requests.Load() != int64(len(hits)) || stats.NotModified.Load() != int64(len(hits)-len(asked)) {
				t.Errorf("unchanged read stats: %d requests, %d not modified; the fake answered %d, %d of them 304",
					stats.Requests.Load(), stats.NotModified.Load(), len(hits), len(hits)-len(asked))
			}
			if !reflect.DeepEqual(again.State.ETags, res.State.ETags) {
				t.Errorf("unchanged read changed the ETags:\n got %v\nwant %v", again.State.ETags, res.State.ETags)
			}
			if !syncJSONEqual(again.State.Memory, res.State.Memory) {
				t.Errorf("unchanged read changed the memory:\n got %s\nwant %s", again.State.Memory, res.State.Memory)
			}
		})
	}
}

func TestSyncRebuildsBranchFromMemoryWhenOnePartChanges(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/web", acmeWeb)
	s := newTestSyncer(g)
	first, _ := syncRead(t, s, "acme/web", syncer.State{})

	// An organisation ruleset now applies too; the repository, CODEOWNERS and the absent
	// classic protection are as they were.
	g.ok("/repos/acme/web/rules/branches/main?per_page=100", "acme-web/rules.two-rulesets.json")
	g.Hits()
	res, _ := syncRead(t, s, "acme/web", first.State)
	got := syncRepoState(t, res)
	if !got.Codeowners || got.CodeownersPath != "CODEOWNERS" || got.Classic != nil || got.DefaultBranch != "main" {
		t.Errorf("pieces kept from memory lost: %s", syncJSON(got))
	}
	if len(got.Rulesets) != 2 || got.Rulesets[0].ID != 77 || got.Rulesets[1].ID != 901 {
		t.Fatalf("rulesets = %s, want 77 and 901", syncJSON(got.Rulesets))
	}
	org := got.Rulesets[0]
	if org.RequiredApprovingReviews != 2 || !org.RequireCodeOwnerReview || !org.BlocksDeletion || !org.BlocksForcePush || org.LinearHistory {
		t.Errorf("organisation ruleset = %s", syncJSON(org))
	}
	if repo := got.Rulesets[1]; repo.RequiredApprovingReviews != 1 || !repo.LinearHistory || !repo.SignedCommits || repo.BlocksForcePush {
		t.Errorf("repository ruleset = %s", syncJSON(repo))
	}
	if len(res.Observations) != 1 {
		t.Errorf("observations = %d, want the branch only", len(res.Observations))
	}
	for _, q := range syncObservation(t, res, "branch").Requests {
		if q.Path == "/repos/acme/web" && (q.Status != http.StatusNotModified || len(q.Response) != 0) {
			t.Errorf("the repository call should be a 304 without a body: %+v", q)
		}
	}
}

func TestSyncDefaultBranchRenamed(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/api", acmeAPI)
	s := newTestSyncer(g)
	first, _ := syncRead(t, s, "acme/api", syncer.State{})

	var repo map[string]any
	if err := json.Unmarshal(g.testdata("acme-api/repo.json"), &repo); err != nil {
		t.Fatal(err)
	}
	repo["default_branch"] = "trunk"
	body, _ := json.Marshal(repo)
	g.set("/repos/acme/api", syncRoute{status: http.StatusOK, body: body})
	// A branch with no rules and no pull requests answers empty lists, as GitHub does.
	g.ok("/repos/acme/api/rules/branches/trunk?per_page=100", "common/empty-list.json")
	g.ok("/repos/acme/api/pulls?state=closed&base=trunk&sort=updated&direction=desc&per_page=100", "common/empty-list.json")
	g.Hits()
	res, _ := syncRead(t, s, "acme/api", first.State)
	got := syncRepoState(t, res)
	if got.DefaultBranch != "trunk" || got.Classic != nil || !got.Codeowners {
		t.Errorf("after the rename: %s; want trunk, unprotected (404), CODEOWNERS found again", syncJSON(got))
	}
	for _, h := range g.Hits() {
		if strings.Contains(h.Key, "/trunk") && h.IfNoneMatch != "" {
			t.Errorf("%s asked conditionally with an ETag of another branch", h.Key)
		}
	}
}

func TestSyncSubjectsAndName(t *testing.T) {
	want := []syncer.Subject{{Key: "acme/api", Service: "api"}}
	s := &Syncer{List: func(context.Context) ([]syncer.Subject, error) { return want, nil }}
	got, err := s.Subjects(context.Background())
	if err != nil || !reflect.DeepEqual(got, want) || s.Name() != "github" {
		t.Errorf("Subjects = %v, %v; Name = %q", got, err, s.Name())
	}
	if _, err := (&Syncer{}).Subjects(context.Background()); err == nil {
		t.Error("Subjects without a list: no error")
	}
}

func syncContains(list []string, part string) bool {
	for _, s := range list {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

func syncJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func syncJSONEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
