package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/internal/fakegithub"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/syncer"
)

var governanceSignals = []string{"default_branch_protected", "required_reviewers", "code_owner_review", "linear_history", "signed_commits", "protection_continuity"}

type gateAnswer struct {
	Decision string `json:"decision"`
	Unknown  bool   `json:"unknown"`
	Reasons  []struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"reasons"`
}

func (w *syncWorld) gate(service string) gateAnswer {
	w.t.Helper()
	code, body := w.request(http.MethodPost, "/api/v1/gate", gateToken, []byte(`{"service":"`+service+`","environment":"production"}`), nil)
	if code != http.StatusOK {
		w.t.Fatalf("POST /api/v1/gate: %d %s", code, body)
	}
	var g gateAnswer
	if err := json.Unmarshal(body, &g); err != nil {
		w.t.Fatal(err)
	}
	return g
}

// A fresh install knows nothing of the repositories' protection until something tells it; one
// sync reads what webhooks would take months to mention, and the second costs only 304s.
func TestFirstSyncReadsBranchGovernanceAndTheSecondOnlyRevalidates(t *testing.T) {
	ctx := context.Background()
	gh := newSyncGitHub(t, threeRepos(syncNow)...)
	w := newSyncWorld(t, gh, worldOpts{services: threeServices})
	w.rescoreAll()
	for _, svc := range []string{"checkout", "payments", "search"} {
		for _, id := range governanceSignals {
			if s := cardSignal(t, w.card(svc), id); s.Outcome != scoring.OutcomeNoData {
				t.Errorf("%s %s before any sync: %s (%s), want no_data", svc, id, s.Outcome, s.Reason)
			}
		}
	}
	g := w.gate("checkout")
	if !g.Unknown || g.Decision != "block" || len(g.Reasons) == 0 || !strings.Contains(g.Reasons[0].Text, "no sync has read it") {
		t.Errorf("gate before any sync: %+v; want on_unknown (block), saying no sync has read it", g)
	}

	sum := w.sync(ctx, syncer.Options{})
	if sum.Subjects != 3 || len(sum.Failures) != 0 || sum.Facts == 0 {
		t.Fatalf("first sync: %+v", sum)
	}
	checkout, payments, search := w.card("checkout"), w.card("payments"), w.card("search")
	expect := func(c *scoring.Scorecard, id string, outcome scoring.Outcome, value any, reason string) {
		t.Helper()
		s := cardSignal(t, c, id)
		if s.Outcome != outcome || (value != nil && s.Value != value) || !strings.Contains(s.Reason, reason) {
			t.Errorf("%s %s: %s, value %v, %q; want %s, %v, mentioning %q", c.Service, id, s.Outcome, s.Value, s.Reason, outcome, value, reason)
		}
	}
	expect(checkout, "default_branch_protected", scoring.OutcomePass, true, "read from the GitHub API")
	expect(checkout, "required_reviewers", scoring.OutcomePass, 2.0, "requires 2 approving reviews")
	expect(checkout, "code_owner_review", scoring.OutcomePass, true, "CODEOWNERS exists at .github/CODEOWNERS")
	expect(payments, "linear_history", scoring.OutcomePass, true, "linear history")
	expect(payments, "signed_commits", scoring.OutcomePass, true, "signed commits")
	expect(payments, "required_reviewers", scoring.OutcomePass, 1.0, "requires 1 approving review (the policy wants 1")
	expect(search, "default_branch_protected", scoring.OutcomeFail, false, "is not protected")
	expect(search, "pr_approval_share", scoring.OutcomePass, nil, "2 of 2 pull requests")
	ev := cardSignal(t, checkout, "default_branch_protected").Evidence
	if len(ev) == 0 || ev[0].Event != releaseops.EventSync || !strings.Contains(ev[0].Describe(), "read from the GitHub API") {
		t.Errorf("evidence of a synced protection: %+v", ev)
	}
	if len(checkout.Sync) != 1 || checkout.Sync[0].Subject != "acme/checkout" || checkout.Sync[0].LastSuccess.IsZero() || checkout.Sync[0].Failing() {
		t.Errorf("the card's sync coverage: %+v", checkout.Sync)
	}
	if g := w.gate("checkout"); g.Unknown {
		t.Errorf("gate after a successful sync is still unknown: %+v", g)
	}

	deliveries, facts := w.stored()
	gh.ResetCounts()
	again := w.sync(ctx, syncer.Options{})
	d2, f2 := w.stored()
	if len(again.Failures) != 0 || again.Facts != 0 || again.Observations != 0 || d2 != deliveries || len(f2) != len(facts) {
		t.Errorf("unchanged sync: %+v; deliveries %d → %d, facts %d → %d; want nothing new", again, deliveries, d2, len(facts), len(f2))
	}
	c := gh.Counts()
	for _, h := range gh.Hits() {
		if h.IfNoneMatch == "" || h.Status != http.StatusNotModified {
			t.Errorf("unchanged sync sent %s %s (If-None-Match %q): %d; want only conditional requests answered 304", h.Method, h.Path, h.IfNoneMatch, h.Status)
		}
	}
	if c.Requests == 0 || again.NotModified != int64(c.NotModified) {
		t.Errorf("the summary counts %d not modified, the fake answered %d of %d", again.NotModified, c.NotModified, c.Requests)
	}
	t.Logf("second sync of 3 unchanged repositories: %d requests, %d answered 304 (%.0f%%), %d facts written",
		c.Requests, c.NotModified, 100*c.NotModifiedShare(), again.Facts)
}

// GitHub refusing the credentials fails the source by name, everywhere a person looks, and
// stores nothing of the refused read.
func TestRevokedTokenFailsTheSyncVisiblyAndStoresNothing(t *testing.T) {
	ctx := context.Background()
	gh := newSyncGitHub(t, threeRepos(syncNow)...)
	w := newSyncWorld(t, gh, worldOpts{services: threeServices})
	if sum := w.sync(ctx, syncer.Options{}); len(sum.Failures) != 0 {
		t.Fatalf("first sync: %+v", sum.Failures)
	}
	// A change a working read would store, so that storing nothing means something.
	gh.Update("acme/checkout", func(r *fakegithub.Repo) { r.Classic.RequiredReviews = 1 })
	gh.RefuseInstallation(syncInstallationID, true)
	deliveries, facts := w.stored()
	sum := w.sync(ctx, syncer.Options{})
	if len(sum.Failures) != 3 {
		t.Fatalf("failures: %+v; want the three repositories", sum.Failures)
	}
	for _, f := range sum.Failures {
		if !strings.Contains(f.Error, f.Subject) || !strings.Contains(f.Error, "401") || !strings.Contains(f.Error, "bad credentials") {
			t.Errorf("failure of %s does not say what happened: %s", f.Subject, f.Error)
		}
	}
	if d, f := w.stored(); d != deliveries || len(f) != len(facts) {
		t.Errorf("a refused read stored something: deliveries %d → %d, facts %d → %d", deliveries, d, len(facts), len(f))
	}

	card := w.card("checkout")
	failing := card.FailingSyncs()
	if len(failing) != 1 || failing[0].Subject != "acme/checkout" || !strings.Contains(failing[0].Error, "bad credentials") || failing[0].LastSuccess.IsZero() {
		t.Errorf("the scorecard's sync: %+v", card.Sync)
	}
	if s := cardSignal(t, card, "required_reviewers"); s.Value != 2.0 {
		t.Errorf("required_reviewers after a failed read: %v; want the last good read's 2", s.Value)
	}

	if code, _ := w.request(http.MethodGet, "/api/v1/sync", "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/sync without a token: %d", code)
	}
	code, body := w.request(http.MethodGet, "/api/v1/sync", readToken, nil, nil)
	var st struct {
		Sources []syncer.SourceStatus `json:"sources"`
	}
	if err := json.Unmarshal(body, &st); err != nil || code != http.StatusOK {
		t.Fatalf("GET /api/v1/sync: %d %s", code, body)
	}
	var gh0 *syncer.SourceStatus
	for i := range st.Sources {
		if st.Sources[i].Source == releaseops.SourceGitHub {
			gh0 = &st.Sources[i]
		}
	}
	if gh0 == nil || gh0.Subjects.Failing != 3 || len(gh0.Failures) != 3 || !strings.Contains(gh0.Failures[0].Error, "bad credentials") ||
		gh0.LastRun == nil || gh0.LastRun.Failures != 3 {
		t.Errorf("GET /api/v1/sync: %s", body)
	}
}

// The one test that waits in real time (about three seconds): the rate-limit transport inside
// the app takes its clock from the wall, and a spent budget resets on GitHub's clock.
func TestSpentRateLimitIsWaitedOutAndTheRunCompletes(t *testing.T) {
	gh := newSyncGitHub(t, threeRepos(syncNow)...)
	w := newSyncWorld(t, gh, worldOpts{services: threeServices})
	gh.ExhaustRateLimit(time.Now().Add(2 * time.Second))
	sum := w.sync(context.Background(), syncer.Options{})
	if len(sum.Failures) != 0 || sum.RateWaits == 0 || sum.Subjects != 3 {
		t.Fatalf("summary: %+v; want every subject read after at least one wait", sum)
	}
	if c := gh.Counts(); c.RateLimited == 0 {
		t.Errorf("the fake answered no rate limit: %+v", c)
	}
	if s := cardSignal(t, w.card("checkout"), "default_branch_protected"); s.Outcome != scoring.OutcomePass {
		t.Errorf("after the wait: %s %s", s.Outcome, s.Reason)
	}
}

// An App installed on one more repository says so with installation_repositories: the
// repository is read at once, not at the next scheduled run.
func TestInstallationEventTriggersAnImmediateRead(t *testing.T) {
	gh := newSyncGitHub(t, threeRepos(time.Now())...)
	gh.UpdateApp(func(a *fakegithub.App) { a.Installations[0].Repos = []string{"acme/checkout", "acme/payments"} })
	w := newSyncWorld(t, gh, worldOpts{services: threeServices, wall: true})
	sum := w.sync(context.Background(), syncer.Options{})
	if len(sum.Failures) != 1 || sum.Failures[0].Subject != "acme/search" || !strings.Contains(sum.Failures[0].Error, "not installed") {
		t.Fatalf("before the App has acme/search: %+v", sum.Failures)
	}
	w.app.Start()

	gh.UpdateApp(func(a *fakegithub.App) { a.Installations[0].Repos = append(a.Installations[0].Repos, "acme/search") })
	body := []byte(`{"action":"added","installation":{"id":77,"account":{"login":"acme","id":1001,"type":"Organization"},"app_id":4242},` +
		`"repository_selection":"selected","repositories_added":[{"id":5003,"name":"search","full_name":"acme/search","private":true}],` +
		`"repositories_removed":[],"requester":null,"sender":{"login":"octocat","id":1,"type":"User"}}`)
	code, resp := w.request(http.MethodPost, "/webhooks/github", "", body, map[string]string{"X-GitHub-Event": "installation_repositories",
		"X-GitHub-Delivery": "3f1c2a7e-install-added", "X-Hub-Signature-256": github.Sign(ghSecret, body)})
	if code != http.StatusAccepted {
		t.Fatalf("webhook: %d %s", code, resp)
	}
	// The subject's record commits before the run's, so both are waited for.
	waitFor(t, "acme/search to be read by a run the event triggered", 10*time.Second, func() bool {
		rec, ok, err := w.app.DB.SyncRecordOf(context.Background(), releaseops.SourceGitHub, "acme/search")
		run, ran, rerr := w.app.DB.LastSyncRun(context.Background(), releaseops.SourceGitHub, false)
		return err == nil && ok && !rec.LastSuccess.IsZero() && rec.LastError == "" && rerr == nil && ran && run.Trigger == "event"
	})
	if run, _, _ := w.app.DB.LastSyncRun(context.Background(), releaseops.SourceGitHub, false); run.Subjects != 1 || run.Failures != 0 {
		t.Errorf("the read that followed the event: %+v; want acme/search alone", run)
	}
}

// A refused credential is not a rate limit: the read fails at once, without waiting, and the
// summary counts no rate-limit wait. (Fails while syncer.Runner.read retries every
// *github.SyncError: SyncError implements RetryAt for any status, with a zero Reset.)
func TestRefusedCredentialsAreNotWaitedForAsARateLimit(t *testing.T) {
	gh := newSyncGitHub(t, threeRepos(syncNow)...)
	w := newSyncWorld(t, gh, worldOpts{services: threeServices, token: true})
	gh.RevokeToken(syncPAT)
	sum := w.sync(context.Background(), syncer.Options{})
	if len(sum.Failures) != 3 {
		t.Fatalf("failures: %+v", sum.Failures)
	}
	if sum.RateWaits != 0 {
		t.Errorf("a revoked token counted %d rate-limit waits (%s waited); want 0", sum.RateWaits, sum.RateWaited)
	}
	if n := gh.Counts().ByPath["GET /repos/acme/checkout"]; n != 1 {
		t.Errorf("GET /repos/acme/checkout was sent %d times after a 401; want once", n)
	}
}
