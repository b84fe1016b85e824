package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/ingest"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

const (
	prevSHA = "41ab0c2000000000000000000000000000000000"
	headSHA = "9f2c1ab000000000000000000000000000000000"
)

// fakeGitHub serves the two calls release notes make, under /api/v3/ as GitHub Enterprise
// does (so a client that ignores the base URL fails loudly).
type fakeGitHub struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []string
	down  int // answer 502 to this many requests first
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	g := &fakeGitHub{}
	commits := []map[string]any{
		{"sha": "c1000000", "html_url": "https://github.example/acme/checkout/commit/c1", "commit": map[string]any{"message": "feat: reorder (#101)"}, "author": map[string]any{"login": "bob"}},
		{"sha": "c2000000", "html_url": "https://github.example/acme/checkout/commit/c2", "commit": map[string]any{"message": "wip on coupons"}, "author": map[string]any{"login": "carol"}},
		{"sha": "c3000000", "html_url": "https://github.example/acme/checkout/commit/c3", "commit": map[string]any{"message": "Coupons <!channel> (#102)"}, "author": map[string]any{"login": "carol"}},
		{"sha": "c4000000", "html_url": "https://github.example/acme/checkout/commit/c4", "commit": map[string]any{"message": "fix: typo in banner", "author": map[string]any{"name": "Dave Direct"}}},
	}
	merged := "2026-11-20T09:00:00Z"
	prs := map[string][]map[string]any{
		"c1000000": {{"number": 101, "title": "feat: one-click reorder", "html_url": "https://github.example/acme/checkout/pull/101", "user": map[string]any{"login": "bob"}, "merged_at": merged}},
		"c2000000": {{"number": 102, "title": "Coupons <!channel>", "html_url": "https://github.example/acme/checkout/pull/102", "user": map[string]any{"login": "carol"}, "labels": []map[string]any{{"name": "bug"}}, "merged_at": merged}},
		"c3000000": {{"number": 102, "title": "Coupons <!channel>", "html_url": "https://github.example/acme/checkout/pull/102", "user": map[string]any{"login": "carol"}, "labels": []map[string]any{{"name": "bug"}}, "merged_at": merged},
			{"number": 99, "title": "an open PR containing it", "merged_at": nil}},
		"c4000000": {},
	}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.calls = append(g.calls, r.URL.Path)
		fail := g.down > 0
		if fail {
			g.down--
		}
		g.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		if r.Header.Get("Authorization") != "Bearer ghp-test" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch p := r.URL.Path; {
		case p == "/api/v3/repos/acme/checkout/compare/"+prevSHA+"..."+headSHA:
			json.NewEncoder(w).Encode(map[string]any{"total_commits": 4, "html_url": "https://github.example/acme/checkout/compare/41ab0c2...9f2c1ab", "commits": commits})
		case strings.HasPrefix(p, "/api/v3/repos/acme/checkout/commits/") && strings.HasSuffix(p, "/pulls"):
			sha := strings.TrimSuffix(strings.TrimPrefix(p, "/api/v3/repos/acme/checkout/commits/"), "/pulls")
			json.NewEncoder(w).Encode(prs[sha])
		default:
			w.WriteHeader(http.StatusNotFound)
			io := `{"message":"Not Found"}`
			w.Write([]byte(io))
		}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (h *harness) recordDeploy(id, commit string, finished time.Time, status string) {
	h.t.Helper()
	h.recordDeployOf(id, commit, "", finished, status)
}

// recordDeployOf records a production deploy whose pipeline said it replaced previous.
func (h *harness) recordDeployOf(id, commit, previous string, finished time.Time, status string) {
	h.t.Helper()
	fin := finished
	f := releaseops.Fact{Kind: releaseops.FactDeploy, At: finished, Deploy: &releaseops.Deploy{ID: id, Environment: "production", Status: status,
		Kind: "deploy", Version: "v-" + id, CommitSHA: commit, PreviousSHA: previous, Actor: "alice", URL: "https://ci.example.com/runs/" + id, FinishedAt: &fin}}
	if _, err := h.pipe.RecordInternal(context.Background(), ingest.Internal{Type: "deploy", DeliveryID: id, Service: "checkout", Body: map[string]string{"id": id}, Facts: []releaseops.Fact{f}}); err != nil {
		h.t.Fatal(err)
	}
}

// listen hands every stored fact to the listener, as the rescoring worker does.
func (h *harness) listen() {
	h.t.Helper()
	facts, err := h.db.FactsAfter(context.Background(), 0, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	h.work(facts)
}

// work does what the rescoring worker does with a batch: listeners first, then the rescore of
// the service saved with the cursor past the batch.
func (h *harness) work(facts []storage.StoredFact) {
	h.t.Helper()
	h.bot.OnFacts(context.Background(), facts)
	if len(facts) == 0 {
		return
	}
	all, err := h.db.FactsForService(context.Background(), "checkout", time.Time{})
	if err != nil {
		h.t.Fatal(err)
	}
	fs := make([]releaseops.Fact, len(all))
	for i := range all {
		fs[i] = all[i].Fact
	}
	svc, _ := h.cat.Get("checkout")
	card := h.engine.Score(scoring.Input{Service: svc, Facts: fs, Now: h.clock.Now()})
	h.storeCard(&card)
	last := facts[len(facts)-1].ID
	if err := h.db.Writer.Do(context.Background(), func(t *storage.Tx) error { return storage.SetCursor(t, "rescore", last) }); err != nil {
		h.t.Fatal(err)
	}
}

func TestReleaseNotesAfterProductionDeploy(t *testing.T) {
	gh := newFakeGitHub(t)
	notes, err := NewGitHubNotes("ghp-test", gh.srv.URL+"/api/v3", gh.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOpts{notes: notes})
	card := testCard()
	card.Score, card.Band = 81.5, "healthy"
	h.storeCard(card)
	now := h.clock.Now()
	h.recordDeploy("old-deploy", prevSHA, now.Add(-48*time.Hour), releaseops.DeploySucceeded)
	h.recordDeploy("deploy-8842-finished", headSHA, now.Add(-time.Minute), releaseops.DeploySucceeded)
	h.recordDeploy("failed-one", "ffff", now.Add(-30*time.Second), releaseops.DeployFailed)
	h.listen()
	h.listen() // the worker may replay a batch after a crash
	h.deliver(10)

	posts := h.slack.posts("chat.postMessage")
	if len(posts) != 1 {
		t.Fatalf("want one release notes post (not for the failed or the 2-day-old deploy), got %d", len(posts))
	}
	p := posts[0]
	if p.Channel != "C0CHECKOUT" {
		t.Errorf("posted to %s", p.Channel)
	}
	for _, w := range []string{"#101 feat: one-click reorder", "*Features* (1)", "*Fixes* (2)", "#102 Coupons &lt;!channel&gt;", "Dave Direct",
		"fix: typo in banner", "band ⬇ healthy → ", "compare/41ab0c2...9f2c1ab"} {
		if !strings.Contains(p.Blocks, jsonEscape(w)) && !strings.Contains(p.Blocks, w) {
			t.Errorf("release notes lack %q:\n%s", w, p.Blocks)
		}
	}
	if strings.Contains(p.Blocks, "an open PR") || strings.Contains(p.Blocks, "wip on coupons") {
		t.Error("an open PR, or a commit of a merged PR, is listed")
	}
	// Delivery is evidence for the release communication signals.
	facts, _ := h.db.FactsAfter(context.Background(), 0, 1000)
	var n *releaseops.Notification
	for _, f := range facts {
		if f.Kind == releaseops.FactNotification {
			n = f.Notification
		}
	}
	if n == nil || n.Kind != "release_notes" || n.Ref != "deploy-8842-finished" || n.Channel != "C0CHECKOUT" {
		t.Errorf("notification fact %+v", n)
	}
}

// A burst of production deploys makes one post from the commit the first deploy replaced (its
// previous_sha) to the last deploy's commit, without needing the earlier deploy on record.
func TestReleaseNotesOfBurstStartAtFirstDeploysPrevious(t *testing.T) {
	gh := newFakeGitHub(t)
	notes, _ := NewGitHubNotes("ghp-test", gh.srv.URL+"/api/v3", gh.srv.Client())
	h := newHarness(t, harnessOpts{notes: notes})
	now := h.clock.Now()
	h.recordDeployOf("b1", "c0ffee", prevSHA, now.Add(-2*time.Minute), releaseops.DeploySucceeded)
	h.recordDeployOf("b2", headSHA, "c0ffee", now.Add(-time.Minute), releaseops.DeploySucceeded)
	h.listen() // both deploys in one batch: one post
	h.deliver(10)
	posts := h.slack.posts("chat.postMessage")
	if len(posts) != 1 {
		t.Fatalf("want one post for the burst, got %d", len(posts))
	}
	if !strings.Contains(posts[0].Blocks, "compare/41ab0c2...9f2c1ab") {
		t.Errorf("the post does not compare the first deploy's previous commit with the last commit:\n%s", posts[0].Blocks)
	}
}

func TestReleaseNotesWhenGitHubIsDown(t *testing.T) {
	gh := newFakeGitHub(t)
	gh.down = 1000
	notes, _ := NewGitHubNotes("ghp-test", gh.srv.URL+"/api/v3/", gh.srv.Client())
	h := newHarness(t, harnessOpts{notes: notes})
	now := h.clock.Now()
	h.recordDeploy("d0", prevSHA, now.Add(-5*time.Hour), releaseops.DeploySucceeded)
	h.recordDeploy("d1", headSHA, now, releaseops.DeploySucceeded)
	facts, _ := h.db.FactsAfter(context.Background(), 0, 1000)
	h.work(facts[1:]) // only the new deploy is new
	h.deliver(20)
	posts := h.slack.posts("chat.postMessage")
	if len(posts) != 1 {
		t.Fatalf("the post must go out without GitHub: %d posts", len(posts))
	}
	if !strings.Contains(posts[0].Blocks, "Release notes unavailable: GitHub is failing") {
		t.Errorf("the post does not say why the notes are missing:\n%s", posts[0].Blocks)
	}
	if got := len(gh.calls); got != 3 {
		t.Errorf("GitHub was tried %d times, want 3 (GitHubAttempts)", got)
	}
}

func TestReleaseNotesWithoutGitHubOrSlack(t *testing.T) {
	h := newHarness(t, harnessOpts{noToken: true})
	h.recordDeploy("d1", headSHA, h.clock.Now(), releaseops.DeploySucceeded)
	h.listen()
	h.deliver(10)
	ms := h.messages(outbox.StateDisabled)
	if len(ms) != 1 || ms[0].Key != "release_notes:checkout:d1" || !strings.Contains(string(ms[0].Payload), "no GitHub token is configured") {
		t.Fatalf("want the rendered post kept as disabled: %+v", ms)
	}
}

func TestRegressionPostedOnTransitionsOnly(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	recorded := 0
	hook := h.bot.WrapRegression(func(context.Context, *scoring.Regression, *scoring.Scorecard) error { recorded++; return nil })
	reg := func(from, to float64, fromBand, toBand string, after time.Duration) {
		r := testRegression()
		r.From, r.To, r.Drop, r.FromBand, r.ToBand, r.BandFell = from, to, from-to, fromBand, toBand, fromBand != toBand
		r.At = at.Add(after)
		if err := hook(context.Background(), r, nil); err != nil {
			t.Fatal(err)
		}
	}
	reg(81, 74, "healthy", "watch", 0)              // posted
	reg(76, 74.5, "healthy", "watch", time.Hour)    // flapped back and fell again: not posted
	reg(74, 68, "watch", "watch", 2*time.Hour)      // 6.5 points below the last post: posted
	reg(61, 59, "watch", "blocked", 3*time.Hour)    // a lower band: posted
	reg(62, 59.5, "watch", "blocked", 4*time.Hour)  // flap: not posted
	reg(62, 59.5, "watch", "blocked", 30*time.Hour) // a day later: posted again
	h.deliver(20)
	posts := h.slack.posts("chat.postMessage")
	if recorded != 6 {
		t.Errorf("every regression must still be recorded: %d", recorded)
	}
	var titles []string
	for _, p := range posts {
		titles = append(titles, p.Text)
	}
	if len(posts) != 4 {
		t.Fatalf("want 4 posts, got %d:\n%s", len(posts), strings.Join(titles, "\n"))
	}
	for _, p := range posts {
		if p.Channel != "C0CHECKOUT" {
			t.Errorf("posted to %s", p.Channel)
		}
	}
}

func TestRegressionIsNew(t *testing.T) {
	last := &RegressionMark{From: 80, To: 70, FromBand: "healthy", ToBand: "watch", At: at}
	r := func(to float64, band string, after time.Duration) *scoring.Regression {
		return &scoring.Regression{To: to, ToBand: band, At: at.Add(after)}
	}
	cases := []struct {
		name string
		reg  *scoring.Regression
		want bool
	}{
		{"same level soon after", r(70, "watch", time.Hour), false},
		{"a little lower", r(66, "watch", time.Hour), false},
		{"exactly alert points lower", r(65, "watch", time.Hour), true},
		{"a lower band", r(69, "blocked", time.Hour), true},
		{"the next day", r(70, "watch", 24*time.Hour), true},
	}
	for _, c := range cases {
		if got := RegressionIsNew(last, c.reg, 5, 24*time.Hour); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if !RegressionIsNew(nil, r(70, "watch", 0), 5, time.Hour) {
		t.Error("a first regression must be posted")
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		title  string
		labels []string
		want   Group
	}{
		{"feat: add x", nil, GroupFeatures},
		{"feat(api)!: break y", nil, GroupFeatures},
		{"fix(ui): z", nil, GroupFixes},
		{"Fix: capitalised", nil, GroupFixes},
		{"chore: deps", nil, GroupOther},
		{"Add x", []string{"enhancement"}, GroupFeatures},
		{"feat: labelled a bug", []string{"Bug"}, GroupFixes},
		{"plain title", nil, GroupOther},
		{"fixed: not a prefix we know", nil, GroupOther},
	}
	for _, c := range cases {
		if got := Classify(c.title, c.labels); got != c.want {
			t.Errorf("Classify(%q, %v) = %s, want %s", c.title, c.labels, got, c.want)
		}
	}
}

// While GitHub keeps failing, later release notes get one try each, not GitHubAttempts.
func TestReleaseNotesStopRetryingWhileGitHubStaysDown(t *testing.T) {
	gh := newFakeGitHub(t)
	gh.down = 1000
	notes, _ := NewGitHubNotes("ghp-test", gh.srv.URL+"/api/v3/", gh.srv.Client())
	h := newHarness(t, harnessOpts{notes: notes})
	h.bot.notesFailures.Store(notesBreakerAfter) // GitHub has failed that many times in a row
	now := h.clock.Now()
	h.recordDeploy("d0", prevSHA, now.Add(-5*time.Hour), releaseops.DeploySucceeded)
	h.recordDeploy("d1", headSHA, now, releaseops.DeploySucceeded)
	facts, _ := h.db.FactsAfter(context.Background(), 0, 1000)
	h.work(facts[1:])
	h.deliver(20)
	if posts := h.slack.posts("chat.postMessage"); len(posts) != 1 || !strings.Contains(posts[0].Blocks, "Release notes unavailable") {
		t.Fatalf("want one post without the changes, got %d", len(posts))
	}
	if got := len(gh.calls); got != 1 {
		t.Errorf("GitHub was tried %d times, want 1 while it keeps failing", got)
	}
}
