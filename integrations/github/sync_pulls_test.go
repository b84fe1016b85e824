package github

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

func pullKeys(res syncer.Result) []string {
	var keys []string
	for _, o := range res.Observations {
		if strings.HasPrefix(o.Key, "pull:") {
			keys = append(keys, o.Key)
		}
	}
	sort.Strings(keys)
	return keys
}

func TestSyncMergedPullRequestsWithReviews(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/api", acmeAPI)
	s := newTestSyncer(g)
	res, _ := syncRead(t, s, "acme/api", syncer.State{})

	// #41 was closed without merging; #12 was merged before the window, and stops the walk
	// before page 3.
	if got, want := pullKeys(res), []string{"pull:37", "pull:40", "pull:42"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pull observations = %v, want %v", got, want)
	}
	hits := g.Hits()
	for _, h := range hits {
		if strings.Contains(h.Key, "&page=3") || strings.Contains(h.Key, "/pulls/41/") || strings.Contains(h.Key, "/pulls/12/") {
			t.Errorf("asked %s: beyond the window or not merged", h.Key)
		}
	}

	o := syncObservation(t, res, "pull:40")
	pr := o.Facts[0]
	merged := time.Date(2026, 11, 20, 17, 5, 30, 0, time.UTC)
	want := releaseops.PullRequest{Repo: "acme/api", Number: 40, Title: "Fix retry storm on 503", Author: "alice", MergedAt: merged,
		MergeCommitSHA: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d", BaseRef: "main", Labels: []string{"bug"},
		URL: "https://github.com/acme/api/pull/40"}
	if pr.Kind != releaseops.FactPullRequest || !pr.At.Equal(merged) || !reflect.DeepEqual(*pr.PullRequest, want) {
		t.Errorf("pull request fact at %v:\n got %s\nwant %s", pr.At, syncJSON(pr.PullRequest), syncJSON(want))
	}
	// The reviews of #40 come on two pages.
	var reviews []string
	for _, f := range o.Facts[1:] {
		if f.Kind != releaseops.FactReview || f.Review.PRNumber != 40 || f.Review.Repo != "acme/api" || f.Review.Action != "submitted" {
			t.Errorf("review fact = %s", syncJSON(f))
		}
		reviews = append(reviews, f.Review.Reviewer+":"+f.Review.State+"@"+f.At.Format(time.RFC3339))
	}
	wantReviews := []string{"carol:changes_requested@2026-11-19T10:00:00Z", "dave:dismissed@2026-11-19T12:30:00Z", "carol:approved@2026-11-20T16:44:02Z"}
	if !reflect.DeepEqual(reviews, wantReviews) {
		t.Errorf("reviews of #40 = %v, want %v", reviews, wantReviews)
	}
	if len(o.Requests) != 3 || !strings.Contains(o.Requests[0].Path, "/pulls?") || !strings.Contains(o.Requests[2].Path, "page=2") {
		t.Errorf("requests of pull:40 = %v; want the list, then both review pages", requestPaths(o))
	}
	if !strings.Contains(string(o.Requests[0].Response), `"number": 40`) || strings.Contains(string(o.Requests[0].Response), `"number": 42`) {
		t.Error("the list request's evidence should be pull request 40's item alone")
	}

	// Later: #42 has a new review (its updated_at moved); nothing else changed. Only #42's
	// reviews are read again.
	g.ok("/repos/acme/api/pulls?state=closed&base=main&sort=updated&direction=desc&per_page=100", "acme-api/pulls.page1.later.json",
		"/repos/acme/api/pulls?state=closed&base=main&sort=updated&direction=desc&per_page=100&page=2")
	g.ok("/repos/acme/api/pulls/42/reviews?per_page=100", "acme-api/reviews.42.later.json")
	again, _ := syncRead(t, s, "acme/api", res.State)
	if got := pullKeys(again); !reflect.DeepEqual(got, []string{"pull:42"}) {
		t.Errorf("after a new review: pull observations %v, want pull:42 only", got)
	}
	var asked, listed []string
	for _, h := range g.Hits() {
		if strings.Contains(h.Key, "/reviews") {
			asked = append(asked, h.Key)
		}
		if strings.Contains(h.Key, "/pulls?") {
			listed = append(listed, h.Key)
		}
	}
	if len(asked) != 1 || !strings.Contains(asked[0], "/pulls/42/reviews") {
		t.Errorf("reviews asked again: %v, want #42's only", asked)
	}
	// #41, next on page 1, was last updated before the newest pull request the first walk
	// saw: the walk stops there, and page 2 is not asked again.
	for _, k := range listed {
		if strings.Contains(k, "&page=2") {
			t.Errorf("asked %s again; nothing on it changed", k)
		}
	}
	if o := syncObservation(t, again, "pull:42"); len(o.Facts) != 4 {
		t.Errorf("pull:42 facts = %d, want the pull request and 3 reviews", len(o.Facts))
	}
}

func TestSyncPullMemoryForgetsMergesBeforeTheWindow(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/api", acmeAPI)
	s := newTestSyncer(g)
	res, _ := syncRead(t, s, "acme/api", syncer.State{})
	// 50 days on, #37 (merged 2026-10-15) is out of the 90 days.
	clock.Sleep(t.Context(), 50*24*time.Hour)
	again, _ := syncRead(t, s, "acme/api", res.State)
	mem := s.loadMemory("acme/api", again.State.Memory)
	if _, ok := mem.Pulls.PRs[37]; ok || len(mem.Pulls.PRs) != 2 {
		t.Errorf("pull memory = %v; want #40 and #42 only", mem.Pulls.PRs)
	}
}

func requestPaths(o syncer.Observation) []string {
	var p []string
	for _, q := range o.Requests {
		p = append(p, q.Path)
	}
	return p
}
