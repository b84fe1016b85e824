package github

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// headHits are the calls of the branch's head (the branch, its protection, git trees),
// relative to the repository, with their status.
func headHits(hits []syncHit, repo string) []string {
	var out []string
	for _, h := range hits {
		rest := strings.TrimPrefix(h.Key, "/repos/"+repo)
		if strings.HasPrefix(rest, "/branches/") || strings.HasPrefix(rest, "/git/") {
			out = append(out, rest+" "+http.StatusText(h.Status))
		}
	}
	slices.Sort(out)
	return out
}

// editJSON serves a testdata file with some fields changed.
func (g *syncGitHub) editJSON(path, file string, edit func(map[string]any)) {
	g.t.Helper()
	var v map[string]any
	if err := json.Unmarshal(g.testdata(file), &v); err != nil {
		g.t.Fatal(err)
	}
	edit(v)
	body, err := json.Marshal(v)
	if err != nil {
		g.t.Fatal(err)
	}
	g.set(path, syncRoute{status: http.StatusOK, body: body})
}

func TestSyncCodeownersTreesAreReadOnlyWhenTheirShaChanges(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/web", acmeWeb)
	s := newTestSyncer(g)
	first, _ := syncRead(t, s, "acme/web", syncer.State{})
	const root, dotGithub = "283c8021921b92f3b3d14bdbfd478b50febcf5fc", "e389afabb55f0572cce252cbdaff3fdb99d92960"

	// A push that changes src only: a new head and root tree, the same .github tree.
	const head2, root2 = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	g.editJSON("/repos/acme/web/branches/main", "acme-web/branch.json", func(b map[string]any) {
		c := b["commit"].(map[string]any)
		c["sha"] = head2
		c["commit"].(map[string]any)["tree"].(map[string]any)["sha"] = root2
	})
	g.editJSON("/repos/acme/web/git/trees/"+root2, "acme-web/tree.json", func(tr map[string]any) {
		tr["sha"] = root2
		for _, e := range tr["tree"].([]any) {
			if e := e.(map[string]any); e["path"] == "src" {
				e["sha"] = "3333333333333333333333333333333333333333"
			}
		}
	})
	g.Hits()
	second, _ := syncRead(t, s, "acme/web", first.State)
	// The branch changed, so its ruleset-only 404 is asked again; .github is as it was.
	want := []string{"/branches/main OK", "/branches/main/protection Not Found", "/git/trees/" + root2 + " OK"}
	if got := headHits(g.Hits(), "acme/web"); !slices.Equal(got, want) {
		t.Errorf("after a push to src: asked\n %v\nwant\n %v", got, want)
	}
	if len(second.Observations) != 0 {
		t.Errorf("after a push to src: %d observations, want none: CODEOWNERS is where it was", len(second.Observations))
	}

	// A push that adds .github/CODEOWNERS: only the changed subtree is read, and it now
	// takes precedence over the root CODEOWNERS.
	g.ok("/repos/acme/web/branches/main", "acme-web/branch.later.json")
	g.tree("acme/web", "acme-web/tree.later.json")
	g.tree("acme/web", "acme-web/tree.github.later.json")
	third, _ := syncRead(t, s, "acme/web", second.State)
	want = []string{"/branches/main OK", "/branches/main/protection Not Found",
		"/git/trees/afef38ab7aab505208bcd7acd1c3807e80359180 OK", "/git/trees/ed14c22f66339c076f873775375500e1e1843bd5 OK"}
	if got := headHits(g.Hits(), "acme/web"); !slices.Equal(got, want) {
		t.Errorf("after .github changed: asked\n %v\nwant\n %v", got, want)
	}
	st := syncRepoState(t, third)
	if !st.Codeowners || st.CodeownersPath != ".github/CODEOWNERS" || len(st.Rulesets) != 1 || st.Classic != nil {
		t.Errorf("after .github changed: %s", syncJSON(st))
	}
	for _, sha := range []string{root, dotGithub, root2} {
		if strings.Contains(string(third.State.Memory), sha) {
			t.Errorf("memory still names tree %s, which the head no longer has", sha)
		}
	}
	for path := range third.State.ETags {
		if strings.Contains(path, "/git/trees/") {
			t.Errorf("ETag kept for %s: a tree sha never needs one", path)
		}
	}
}

func TestSyncRulesetOnlyBranchAsksProtectionAgainAfterADay(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/web", acmeWeb)
	s := newTestSyncer(g)
	res, _ := syncRead(t, s, "acme/web", syncer.State{})
	for _, wait := range []time.Duration{time.Hour, 22 * time.Hour} {
		clock.Sleep(t.Context(), wait)
		g.Hits()
		res, _ = syncRead(t, s, "acme/web", res.State)
		if got := headHits(g.Hits(), "acme/web"); !slices.Equal(got, []string{"/branches/main Not Modified"}) {
			t.Errorf("%v after the 404: asked %v; want the branch only", clock.Now().Sub(newSyncClock().Now()), got)
		}
	}
	clock.Sleep(t.Context(), time.Hour)
	g.Hits()
	res, _ = syncRead(t, s, "acme/web", res.State)
	want := []string{"/branches/main Not Modified", "/branches/main/protection Not Found"}
	if got := headHits(g.Hits(), "acme/web"); !slices.Equal(got, want) {
		t.Errorf("a day after the 404: asked %v; want %v", got, want)
	}
	if len(res.Observations) != 0 {
		t.Errorf("a day after the 404: %d observations, want none", len(res.Observations))
	}
	// The 404 of a day later is the one believed for the next day.
	clock.Sleep(t.Context(), time.Hour)
	g.Hits()
	syncRead(t, s, "acme/web", res.State)
	if got := headHits(g.Hits(), "acme/web"); !slices.Equal(got, []string{"/branches/main Not Modified"}) {
		t.Errorf("an hour after the second 404: asked %v; want the branch only", got)
	}
}

func TestSyncProtectionSwitchedOnChangesTheBranch(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/docs", acmeDocs)
	s := newTestSyncer(g)
	first, _ := syncRead(t, s, "acme/docs", syncer.State{})
	if st := syncRepoState(t, first); st.Classic != nil {
		t.Fatalf("unprotected branch read as protected: %s", syncJSON(st))
	}

	// Protecting the branch changes its answer (and so its ETag): the protection is read.
	g.editJSON("/repos/acme/docs/branches/main", "acme-docs/branch.json", func(b map[string]any) { b["protected"] = true })
	g.ok("/repos/acme/docs/branches/main/protection", "acme-api/protection.json")
	g.Hits()
	res, _ := syncRead(t, s, "acme/docs", first.State)
	want := []string{"/branches/main OK", "/branches/main/protection OK"}
	if got := headHits(g.Hits(), "acme/docs"); !slices.Equal(got, want) {
		t.Errorf("asked %v; want %v (the root tree is the same)", got, want)
	}
	st := syncRepoState(t, res)
	if st.Classic == nil || st.Classic.RequiredApprovingReviews != 2 || st.Classic.Repo != "acme/docs" {
		t.Errorf("after protecting: %s", syncJSON(st))
	}

	// Switched off again: no protection call, and none kept.
	g.ok("/repos/acme/docs/branches/main", "acme-docs/branch.json")
	again, _ := syncRead(t, s, "acme/docs", res.State)
	if got := headHits(g.Hits(), "acme/docs"); !slices.Equal(got, []string{"/branches/main OK"}) {
		t.Errorf("after unprotecting: asked %v; want the branch only", got)
	}
	if st := syncRepoState(t, again); st.Classic != nil {
		t.Errorf("after unprotecting: %s", syncJSON(st))
	}
	if _, ok := again.State.ETags["/repos/acme/docs/branches/main/protection"]; ok {
		t.Error("the protection's ETag is kept although it was not asked")
	}
}

func TestSyncEmptyRepositoryHasNoBranch(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/docs", acmeDocs)
	g.set("/repos/acme/docs/branches/main", syncRoute{status: http.StatusNotFound, body: []byte(`{"message":"Branch not found","documentation_url":"https://docs.github.com/rest/branches/branches#get-a-branch","status":"404"}`)})
	res, _ := syncRead(t, newTestSyncer(g), "acme/docs", syncer.State{})
	if st := syncRepoState(t, res); st.Classic != nil || st.Codeowners {
		t.Errorf("empty repository: %s", syncJSON(st))
	}
	if got := headHits(g.Hits(), "acme/docs"); !slices.Equal(got, []string{"/branches/main Not Found"}) {
		t.Errorf("asked %v; want the branch only", got)
	}
}
