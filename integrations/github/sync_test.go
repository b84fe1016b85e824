package github

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
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
	// A first read asks the branch, then its protection only if it is protected, and the
	// root tree and the subtrees GitHub would look in for CODEOWNERS, only as far as the
	// first found. The rest (pull requests with reviews, deployments with statuses,
	// releases, alerts) is the same as ever: 11 calls for acme/api, 5 for the others.
	wantFirst := map[string]int{"acme/api": 19, "acme/web": 11, "acme/docs": 10}
	wantFirstHead := map[string][]string{
		"acme/api": {"/branches/main", "/branches/main/protection",
			"/git/trees/fc5060f85014c7dd7c29504f1916c4f1647938b4", "/git/trees/c9040a073e6ab5680be6f3069b4691b083c41a4a"},
		"acme/web": {"/branches/main", "/branches/main/protection",
			"/git/trees/283c8021921b92f3b3d14bdbfd478b50febcf5fc", "/git/trees/e389afabb55f0572cce252cbdaff3fdb99d92960"},
		"acme/docs": {"/branches/main",
			"/git/trees/1fce3308055c76d54881b5dbd9fb60f29e2b00f0", "/git/trees/44e20ed1e2d978b7154dbe9e1af07813c063516e"},
	}
	// Unchanged, every call is conditional and answers 304. What was absent is not asked:
	// an unchanged branch carries its protected flag and root tree, a ruleset-only
	// branch's 404 holds while the branch is unchanged, and a tool off stays off for a day.
	unchanged := []string{"", "/branches/main", "/rules/branches/main?per_page=100",
		"/pulls?state=closed&base=main&sort=updated&direction=desc&per_page=100", "/deployments?per_page=30", "/releases?per_page=30"}
	dependabot, codeScanning := "/dependabot/alerts?state=open&per_page=100", "/code-scanning/alerts?state=open&per_page=100"
	wantAgain := map[string][]string{
		"acme/api":  append(slices.Clone(unchanged), "/branches/main/protection", dependabot, codeScanning),
		"acme/web":  append(slices.Clone(unchanged), dependabot),
		"acme/docs": unchanged,
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
			if p := o.Requests[0].Path; p != "/repos/"+key+"/branches/main" {
				t.Errorf("first request of the branch observation = %s, want the branch", p)
			}
			for _, q := range o.Requests {
				if (q.Status == http.StatusOK) != (len(q.Response) > 0) {
					t.Errorf("request %s %d: body %d bytes; want a body for 200s only", q.Path, q.Status, len(q.Response))
				}
				if q.Status == http.StatusOK && q.ETag == "" {
					t.Errorf("request %s: no ETag recorded", q.Path)
				}
			}
			hits := g.Hits()
			if n := len(hits); stats.Requests.Load() != int64(n) || n != wantFirst[key] {
				t.Errorf("first read: stats count %d requests, the fake answered %d; want %d", stats.Requests.Load(), n, wantFirst[key])
			}
			var head []string
			for _, h := range hits {
				if rest := strings.TrimPrefix(h.Key, "/repos/"+key); strings.HasPrefix(rest, "/branches/") || strings.HasPrefix(rest, "/git/") {
					head = append(head, rest)
				}
			}
			if !slices.Equal(syncSorted(head), syncSorted(wantFirstHead[key])) {
				t.Errorf("first read asked\n %v\nwant\n %v", head, wantFirstHead[key])
			}

			again, stats := syncRead(t, s, key, res.State)
			if len(again.Observations) != 0 {
				t.Errorf("unchanged read: %d observations, want none: %+v", len(again.Observations), again.Observations)
			}
			hits = g.Hits()
			var asked, wantKeys []string
			for _, h := range hits {
				if h.Status != http.StatusNotModified || h.IfNoneMatch == "" {
					t.Errorf("unchanged read: %s answered %d (If-None-Match %q); want a conditional 304", h.Key, h.Status, h.IfNoneMatch)
				}
				asked = append(asked, h.Key)
			}
			for _, w := range wantAgain[key] {
				wantKeys = append(wantKeys, syncKey("/repos/"+key+w))
			}
			if !slices.Equal(syncSorted(asked), syncSorted(wantKeys)) {
				t.Errorf("unchanged read asked\n %v\nwant\n %v", syncSorted(asked), syncSorted(wantKeys))
			}
			if stats.Requests.Load() != int64(len(hits)) || stats.NotModified.Load() != int64(len(hits)) {
				t.Errorf("unchanged read stats: %d requests, %d not modified; the fake answered %d, all 304",
					stats.Requests.Load(), stats.NotModified.Load(), len(hits))
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
	// trunk points at the same commit, unprotected. A branch with no rules and no pull
	// requests answers empty lists, as GitHub does.
	var branch map[string]any
	if err := json.Unmarshal(g.testdata("acme-api/branch.json"), &branch); err != nil {
		t.Fatal(err)
	}
	branch["name"], branch["protected"] = "trunk", false
	body, _ = json.Marshal(branch)
	g.set("/repos/acme/api/branches/trunk", syncRoute{status: http.StatusOK, body: body})
	g.ok("/repos/acme/api/rules/branches/trunk?per_page=100", "common/empty-list.json")
	g.ok("/repos/acme/api/pulls?state=closed&base=trunk&sort=updated&direction=desc&per_page=100", "common/empty-list.json")
	g.Hits()
	res, _ := syncRead(t, s, "acme/api", first.State)
	got := syncRepoState(t, res)
	if got.DefaultBranch != "trunk" || got.Classic != nil || !got.Codeowners {
		t.Errorf("after the rename: %s; want trunk, unprotected, CODEOWNERS found again", syncJSON(got))
	}
	trees := 0
	for _, h := range g.Hits() {
		if strings.Contains(h.Key, "/trunk") && h.IfNoneMatch != "" {
			t.Errorf("%s asked conditionally with an ETag of another branch", h.Key)
		}
		if strings.Contains(h.Key, "/protection") {
			t.Errorf("asked %s of a branch that says it is not protected", h.Key)
		}
		if strings.Contains(h.Key, "/git/trees/") {
			trees++
		}
	}
	// A renamed default branch is read as new, its trees too.
	if trees != 2 {
		t.Errorf("read %d trees, want the root and .github again", trees)
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

func syncSorted(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return out
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
