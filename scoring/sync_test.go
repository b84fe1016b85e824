package scoring

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

const revoked = "401 bad credentials: the token was revoked or the App uninstalled"

// repoState adds a sync observation of acme/checkout, read at `at`.
func (b *fb) repoState(at time.Time, st releaseops.RepoState) {
	if st.Repo == "" {
		st.Repo = "acme/checkout"
	}
	if st.DefaultBranch == "" {
		st.DefaultBranch = "main"
	}
	b.add(releaseops.FactRepoState, "github", releaseops.EventSync, at, func(f *releaseops.Fact) {
		f.RepoState = &st
		f.Evidence.Path = "/repos/" + st.Repo + "/rules/branches/" + st.DefaultBranch
	})
}

func classic(reviews int) *releaseops.BranchProtection {
	return &releaseops.BranchProtection{Repo: "acme/checkout", Pattern: "main", RequiredApprovingReviews: reviews, LinearHistory: true}
}

func coverage(lastSuccess time.Time, err string) []releaseops.SyncCoverage {
	c := releaseops.SyncCoverage{Source: "github", Subject: "ACME/checkout", LastAttempt: now.Add(-10 * time.Minute), LastSuccess: lastSuccess, Error: err}
	if err != "" {
		c.Failures = 7
	}
	return []releaseops.SyncCoverage{c}
}

func scoreSync(t *testing.T, cfg Config, b *fb, sync []releaseops.SyncCoverage) Scorecard {
	t.Helper()
	return mustCompile(t, cfg).Score(Input{Service: baseService(), Facts: b.facts, Now: now, Sync: sync})
}

func wantSignal(t *testing.T, card Scorecard, id string, score float64, outcome Outcome, reason ...string) SignalResult {
	t.Helper()
	s := signal(t, card, id)
	if !approx(s.Score, score) || s.Outcome != outcome {
		t.Errorf("%s = %v (%s), want %v (%s); reason: %s", id, s.Score, s.Outcome, score, outcome, s.Reason)
	}
	for _, r := range reason {
		if !strings.Contains(s.Reason, r) {
			t.Errorf("%s reason %q lacks %q", id, s.Reason, r)
		}
	}
	return s
}

func evidenceIDs(s SignalResult) []string {
	var out []string
	for _, e := range s.Evidence {
		out = append(out, e.Delivery)
	}
	return out
}

func TestRepoStateAloneProtects(t *testing.T) {
	var b fb
	b.repoState(ago_(day), releaseops.RepoState{Classic: classic(2), Codeowners: true, CodeownersPath: ".github/CODEOWNERS"})
	cfg := DefaultConfig()
	cfg.Signals = map[string]SignalConfig{"required_reviewers": {Target: 2}}
	card := scoreSync(t, cfg, &b, nil) // no coverage record: the read's own time is fresh
	s := wantSignal(t, card, "default_branch_protected", 1, OutcomePass, "main is protected", "read from the GitHub API at 2026-11-19 12:00 UTC")
	if len(s.Evidence) != 1 || !s.Evidence[0].Synced() || s.Evidence[0].Path == "" {
		t.Errorf("evidence %+v, want the sync observation", s.Evidence)
	}
	wantSignal(t, card, "required_reviewers", 1, OutcomePass, "main requires 2 approving reviews (the policy wants 2; read from the GitHub API at")
	wantSignal(t, card, "linear_history", 1, OutcomePass)
	wantSignal(t, card, "signed_commits", 0, OutcomeFail, "does not require signed commits (read from the GitHub API")
	wantSignal(t, card, "code_owner_review", 0, OutcomeFail, "main does not require code-owner review (read from the GitHub API")
	wantSignal(t, card, "protection_continuity", 1, OutcomePass)

	b = fb{}
	b.repoState(ago_(day), releaseops.RepoState{Classic: &releaseops.BranchProtection{Pattern: "main", RequireCodeOwnerReview: true},
		Codeowners: true, CodeownersPath: ".github/CODEOWNERS"})
	wantSignal(t, scoreSync(t, DefaultConfig(), &b, nil), "code_owner_review", 1, OutcomePass,
		"main requires code-owner review; CODEOWNERS exists at .github/CODEOWNERS (both read from the GitHub API at 2026-11-19 12:00 UTC)")

	b = fb{}
	b.repoState(ago_(day), releaseops.RepoState{Classic: &releaseops.BranchProtection{Pattern: "main", RequireCodeOwnerReview: true}})
	wantSignal(t, scoreSync(t, DefaultConfig(), &b, nil), "code_owner_review", 0.5, OutcomePartial, "the file was not found when read from the GitHub API")
}

func TestRepoStateRulesetsAndDefaultBranch(t *testing.T) {
	var b fb
	// The read lists the rulesets that apply to trunk, without their conditions.
	b.repoState(ago_(2*day), releaseops.RepoState{DefaultBranch: "trunk",
		Rulesets: []releaseops.Ruleset{{ID: 9, Name: "protect trunk", RequiredApprovingReviews: 1, SignedCommits: true}}})
	card := scoreSync(t, DefaultConfig(), &b, coverage(ago_(time.Hour), ""))
	wantSignal(t, card, "default_branch_protected", 1, OutcomePass, "trunk is protected")
	wantSignal(t, card, "signed_commits", 1, OutcomePass, "trunk requires signed commits (read from")

	// A later repository_ruleset event for the id replaces what the read said of it (later than
	// the last successful sync too, which would otherwise have re-confirmed the read).
	b.add(releaseops.FactRuleset, "github", "repository_ruleset", ago_(30*time.Minute), func(f *releaseops.Fact) {
		f.Ruleset = &releaseops.Ruleset{Repo: "acme/checkout", ID: 9, Enforcement: "evaluate", Includes: []string{"~DEFAULT_BRANCH"}}
	})
	card = scoreSync(t, DefaultConfig(), &b, coverage(ago_(time.Hour), ""))
	wantSignal(t, card, "default_branch_protected", 0, OutcomeFail, "trunk is not protected")
	wantSignal(t, card, "protection_continuity", 0.5, OutcomePartial, "protection removed on trunk")
}

func TestWebhookDeletionAfterRepoState(t *testing.T) {
	var b fb
	b.repoState(ago_(5*day), releaseops.RepoState{Classic: classic(1)})                                                   // d-0001
	b.protection(ago_(2*day), releaseops.BranchProtection{Deleted: true, Action: "deleted", RequiredApprovingReviews: 1}) // d-0002
	b.push(ago_(2*day-time.Minute), releaseops.Push{After: "abc"})                                                        // d-0003
	card := scoreSync(t, DefaultConfig(), &b, coverage(ago_(4*day), revoked))
	// The webhook is newer than the read, so the state rests on it: a stale sync changes nothing.
	wantSignal(t, card, "default_branch_protected", 0, OutcomeFail, "main is not protected")
	s := wantSignal(t, card, "protection_continuity", 0, OutcomeFail, "protection removed on main at 2026-11-18 12:00 UTC and not restored", "1 push landed")
	for _, d := range []string{"d-0002", "d-0003"} {
		if !slices.Contains(evidenceIDs(s), d) {
			t.Errorf("evidence %v lacks %s", evidenceIDs(s), d)
		}
	}
}

// After a read, a deletion of a rule the read did not list is no lapse: the read said what
// existed, and a creation since would have come as an event too.
func TestDeletionOfUnknownRuleAfterRead(t *testing.T) {
	var b fb
	b.repoState(ago_(5*day), releaseops.RepoState{Rulesets: []releaseops.Ruleset{{ID: 3, RequiredApprovingReviews: 1}}})
	b.protection(ago_(2*day), releaseops.BranchProtection{Deleted: true, Action: "deleted", RequiredApprovingReviews: 2})
	card := scoreSync(t, DefaultConfig(), &b, coverage(ago_(time.Hour), ""))
	wantSignal(t, card, "protection_continuity", 1, OutcomePass)
	wantSignal(t, card, "required_reviewers", 1, OutcomePass, "main requires 1 approving review")
}

func TestNewerWeakerRepoStateWins(t *testing.T) {
	var b fb
	b.protection(ago_(60*day), releaseops.BranchProtection{RequiredApprovingReviews: 2, LinearHistory: true}) // d-0001
	b.repoState(ago_(day), releaseops.RepoState{Classic: classic(1)})                                         // d-0002
	cfg := DefaultConfig()
	cfg.Signals = map[string]SignalConfig{"required_reviewers": {Target: 2}}
	card := scoreSync(t, cfg, &b, coverage(ago_(time.Hour), ""))
	s := wantSignal(t, card, "required_reviewers", 0.5, OutcomePartial, "main requires 1 approving review (read from the GitHub API at 2026-11-19 12:00 UTC); the policy wants 2")
	// The read and the webhook it overrode are both shown, newest first.
	if got := evidenceIDs(s); !slices.Equal(got, []string{"d-0002", "d-0001"}) {
		t.Errorf("evidence %v, want the read then the webhook", got)
	}
	wantSignal(t, card, "protection_continuity", 0.5, OutcomePartial, "required reviews lowered from 2 to 1 on main, found when read from the GitHub API at 2026-11-19 12:00 UTC")

	// A stronger read closes the lapse.
	b.repoState(ago_(time.Hour), releaseops.RepoState{Classic: classic(2)})
	card = scoreSync(t, cfg, &b, coverage(ago_(time.Hour), ""))
	wantSignal(t, card, "required_reviewers", 1, OutcomePass)
	wantSignal(t, card, "protection_continuity", 0.5, OutcomePartial, "restored 23 h later")

	// A read without classic protection removes the webhook's rule.
	b.repoState(ago_(30*time.Minute), releaseops.RepoState{})
	card = scoreSync(t, cfg, &b, coverage(ago_(time.Minute), ""))
	wantSignal(t, card, "default_branch_protected", 0, OutcomeFail, "main is not protected (read from the GitHub API at 2026-11-20 11:30 UTC)")
}

func TestStaleSyncIsNoData(t *testing.T) {
	var b fb
	b.repoState(ago_(20*day), releaseops.RepoState{Classic: classic(2)})
	cfg := DefaultConfig()
	cfg.SyncStaleAfter = 72 * time.Hour
	card := scoreSync(t, cfg, &b, coverage(ago_(4*day), revoked))
	for _, id := range []string{"default_branch_protected", "required_reviewers", "linear_history", "protection_continuity"} {
		s := wantSignal(t, card, id, 0, OutcomeNoData, "last read from the GitHub API at 2026-11-16 12:00 UTC, more than sync.stale_after (72h) ago: the sync of acme/checkout is failing ("+revoked+"); fix the sync")
		if len(s.Evidence) == 0 {
			t.Errorf("%s: the stale read is not shown as evidence", id)
		}
	}
	wantSignal(t, card, "required_reviewers", 0, OutcomeNoData, "main requires 2 approving reviews, last read")
	// A failing result stays a failure: the read still shows the gap.
	wantSignal(t, card, "signed_commits", 0, OutcomeFail)
	// no_data counts as 0 in the dimension, like any signal without evidence.
	if d := card.Dimension(DimBranchGovernance); d.Score != 0 || d.NoData {
		t.Errorf("branch governance = %v (no_data %v), want 0 with data", d.Score, d.NoData)
	}
	if len(card.Sync) != 1 || card.Sync[0].Error != revoked || !card.Sync[0].LastSuccess.Equal(ago_(4*day)) {
		t.Errorf("card.Sync = %+v", card.Sync)
	}

	// Without a coverage record, the read's own time decides.
	card = scoreSync(t, cfg, &b, nil)
	wantSignal(t, card, "default_branch_protected", 0, OutcomeNoData, "last read from the GitHub API at 2026-10-31 12:00 UTC", "no sync of acme/checkout is recorded")

	// A sync that succeeded an hour ago vouches for a read from weeks ago: nothing changed since.
	card = scoreSync(t, cfg, &b, coverage(ago_(time.Hour), ""))
	wantSignal(t, card, "default_branch_protected", 1, OutcomePass)
	wantSignal(t, card, "required_reviewers", 1, OutcomePass)

	// A shorter stale_after makes the same read stale sooner.
	cfg.SyncStaleAfter = 30 * time.Minute
	wantSignal(t, scoreSync(t, cfg, &b, coverage(ago_(time.Hour), "")), "default_branch_protected", 0, OutcomeNoData,
		"more than sync.stale_after (30m) ago: the sync of acme/checkout has not run since 2026-11-20 11:50 UTC")

	// A webhook after the read shows GitHub sends events: the state rests on them, not on sync.
	b.add(releaseops.FactRuleset, "github", "repository_ruleset", ago_(5*day), func(f *releaseops.Fact) {
		f.Ruleset = &releaseops.Ruleset{Repo: "acme/checkout", ID: 4, Enforcement: "disabled", Includes: []string{"~ALL"}}
	})
	wantSignal(t, scoreSync(t, DefaultConfig(), &b, coverage(ago_(4*day), revoked)), "default_branch_protected", 1, OutcomePass)
}

func TestSyncStaleAfterConfig(t *testing.T) {
	if got := mustCompile(t, DefaultConfig()).SyncStaleAfter(); got != 72*time.Hour {
		t.Errorf("default sync.stale_after = %s", got)
	}
	cfg := DefaultConfig()
	cfg.SyncStaleAfter = -time.Hour
	if _, err := Compile(cfg, nil, ""); err == nil || !strings.Contains(err.Error(), "sync.stale_after: must not be negative") {
		t.Errorf("negative stale_after: %v", err)
	}
}

func TestSyncSummary(t *testing.T) {
	for _, tc := range []struct {
		c    releaseops.SyncCoverage
		want string
	}{
		{coverage(ago_(4*day), revoked)[0], "GitHub sync of ACME/checkout failing (last successful read 2026-11-16 12:00 UTC; 7 failed attempts in a row): " + revoked},
		{releaseops.SyncCoverage{Source: "github", Subject: "acme/api", Failures: 1, Error: "timeout"}, "GitHub sync of acme/api failing (never read successfully; 1 failed attempt): timeout"},
		{coverage(ago_(time.Hour), "")[0], "GitHub sync of ACME/checkout: last read 2026-11-20 11:00 UTC"},
	} {
		if got := SyncSummary(tc.c); got != tc.want {
			t.Errorf("SyncSummary = %q, want %q", got, tc.want)
		}
	}
}

// syncHistory is a year of sync reads of acme/checkout mixed with webhook rule changes.
func syncHistory(r *rand.Rand) []releaseops.Fact {
	var out []releaseops.Fact
	for i := 0; i < 40; i++ {
		at := ago_(time.Duration(r.Int64N(int64(85*day))) + time.Hour)
		st := releaseops.RepoState{Repo: "acme/checkout", DefaultBranch: "main", Codeowners: r.IntN(2) == 0}
		if r.IntN(4) != 0 {
			st.Classic = &releaseops.BranchProtection{Pattern: "main", RequiredApprovingReviews: r.IntN(3), RequireCodeOwnerReview: r.IntN(2) == 0,
				LinearHistory: true, RequiredStatusChecks: []string{"terraform plan"}}
		}
		if r.IntN(3) == 0 {
			st.Rulesets = []releaseops.Ruleset{{ID: 9, Name: "main", RequiredApprovingReviews: r.IntN(3), SignedCommits: true}}
		}
		f := releaseops.Fact{Kind: releaseops.FactRepoState, At: at, Service: "checkout", RepoState: &st,
			Evidence: releaseops.Evidence{Source: "github", Event: releaseops.EventSync, Delivery: "sync-" + at.Format(time.RFC3339Nano), At: at, Path: "/repos/acme/checkout"}}
		out = append(out, f)
		if r.IntN(3) == 0 {
			rs := releaseops.Ruleset{Repo: "acme/checkout", ID: 9, Enforcement: "active", Includes: []string{"~DEFAULT_BRANCH"}, RequiredApprovingReviews: 2, Deleted: r.IntN(2) == 0}
			wat := at.Add(time.Duration(1+r.IntN(48)) * time.Hour)
			out = append(out, releaseops.Fact{Kind: releaseops.FactRuleset, At: wat, Service: "checkout", Ruleset: &rs,
				Evidence: releaseops.Evidence{Source: "github", Event: "repository_ruleset", Delivery: "rs-" + wat.Format(time.RFC3339Nano), At: wat}})
		}
	}
	return out
}

// The same input, with its facts and coverage records in any order, gives the same card.
func TestSyncDeterminism(t *testing.T) {
	e := goldenEngine(t)
	r := rand.New(rand.NewPCG(5, 6))
	facts := append(history(800), syncHistory(r)...)
	sync := append(coverage(ago_(4*day), revoked),
		releaseops.SyncCoverage{Source: "pagerduty", Subject: "PCHK123", LastSuccess: ago_(time.Hour)},
		releaseops.SyncCoverage{Source: "github", Subject: "acme/checkout-infra", LastSuccess: ago_(2 * time.Hour)})
	want := marshal(t, e.Score(Input{Service: checkoutService(), Facts: facts, Now: now, Sync: sync}))
	if !bytes.Contains(want, []byte(`"sync": [`)) {
		t.Fatal("the card does not list the sync coverage")
	}
	for i := range 5 {
		fs, ss := slices.Clone(facts), slices.Clone(sync)
		r.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		r.Shuffle(len(ss), func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
		got := marshal(t, e.Score(Input{Service: checkoutService(), Facts: fs, Now: now, Sync: ss}))
		if !bytes.Equal(got, want) {
			t.Fatalf("shuffle %d changed the scorecard:\n%s", i, firstDiff(want, got))
		}
	}
}

// A repository renamed in case leaves two records of one subject: the newer success decides,
// whichever spelling sorts last.
func TestCoveragePicksLatestOfCaseVariants(t *testing.T) {
	var b fb
	b.repoState(ago_(20*day), releaseops.RepoState{Classic: classic(2)})
	fresh := releaseops.SyncCoverage{Source: "github", Subject: "ACME/checkout", LastAttempt: ago_(time.Hour), LastSuccess: ago_(time.Hour)}
	old := releaseops.SyncCoverage{Source: "github", Subject: "acme/checkout", LastAttempt: ago_(2 * time.Hour), LastSuccess: ago_(10 * day),
		Failures: 3, Error: revoked}
	for _, sync := range [][]releaseops.SyncCoverage{{fresh, old}, {old, fresh}} {
		wantSignal(t, scoreSync(t, DefaultConfig(), &b, sync), "default_branch_protected", 1, OutcomePass)
	}
	// Equal successes: the later attempt decides.
	a := releaseops.SyncCoverage{Source: "github", Subject: "ACME/checkout", LastAttempt: ago_(time.Hour), LastSuccess: ago_(4 * day)}
	c := releaseops.SyncCoverage{Source: "github", Subject: "acme/checkout", LastAttempt: ago_(2 * time.Hour), LastSuccess: ago_(4 * day), Error: revoked}
	x := newFacts(&Input{Service: baseService(), Now: now})
	x.sync = sortedCoverage([]releaseops.SyncCoverage{c, a})
	if got := x.coverage("github", "acme/CHECKOUT"); got == nil || got.Subject != "ACME/checkout" {
		t.Errorf("coverage = %+v, want the record attempted last", got)
	}
}

// branchSignals are the branch governance signals a re-confirmation can move.
var branchSignals = []string{"default_branch_protected", "required_reviewers", "code_owner_review", "linear_history", "signed_commits", "protection_continuity"}

// lostDeletion is the scenario of a protection deleted while ReleaseOps was down: a read finds
// main unprotected (d-0001, 5 days ago), a webhook reports protection created with two reviews
// (d-0002, 3 days ago), its deletion event is lost, and a push lands in between (d-0003) and
// after the next read (d-0004, 30 minutes ago). That read, an hour ago, saw what the first one
// saw, so sync recorded no fact, only its coverage record.
func lostDeletion() *fb {
	var b fb
	b.repoState(ago_(5*day), releaseops.RepoState{})
	b.protection(ago_(3*day), releaseops.BranchProtection{Action: "created", RequiredApprovingReviews: 2})
	b.push(ago_(2*day), releaseops.Push{After: "aaa"})
	b.push(ago_(30*time.Minute), releaseops.Push{After: "bbb"})
	return &b
}

func TestReconfirmedReadOverridesNewerWebhook(t *testing.T) {
	b := lostDeletion()
	cfg := DefaultConfig()
	cfg.Signals = map[string]SignalConfig{"required_reviewers": {Target: 2}}
	// Without the coverage record the webhook is the newest word: protected, two reviews.
	card := scoreSync(t, cfg, b, nil)
	wantSignal(t, card, "default_branch_protected", 1, OutcomePass)
	wantSignal(t, card, "required_reviewers", 1, OutcomePass)

	card = scoreSync(t, cfg, b, coverage(ago_(time.Hour), ""))
	const read = "read from the GitHub API at 2026-11-15 12:00 UTC, confirmed unchanged at 2026-11-20 11:00 UTC"
	s := wantSignal(t, card, "default_branch_protected", 0, OutcomeFail, "main is not protected ("+read+")")
	if got := evidenceIDs(s); !slices.Contains(got, "d-0001") {
		t.Errorf("evidence %v lacks the read's delivery", got)
	}
	for _, e := range s.Evidence {
		if e.Delivery == "d-0001" && !e.At.Equal(ago_(5*day)) {
			t.Errorf("the read's evidence is dated %s, want its fetch time", e.At)
		}
	}
	wantSignal(t, card, "required_reviewers", 0, OutcomeFail, "main is not protected ("+read+"), so no review is required")
	// The lapse opens when the read found it, and only the push after that counts.
	s = wantSignal(t, card, "protection_continuity", 0, OutcomeFail,
		"protection removed on main, found when "+read+" and not restored; 1 push landed on main meanwhile")
	if got := evidenceIDs(s); !slices.Equal(got, []string{"d-0004", "d-0001"}) {
		t.Errorf("continuity evidence %v, want the push after the read, then the read", got)
	}

	// The other way round: a deletion webhook contradicted by a later read (its re-creation
	// event lost) is a lapse the read closes, and the state then rests on the read, so it goes
	// stale with the sync.
	var r fb
	r.repoState(ago_(10*day), releaseops.RepoState{Classic: classic(2)})
	r.protection(ago_(5*day), releaseops.BranchProtection{Action: "deleted", Deleted: true, RequiredApprovingReviews: 2, LinearHistory: true})
	card = scoreSync(t, cfg, &r, coverage(ago_(day), ""))
	wantSignal(t, card, "required_reviewers", 1, OutcomePass, "(the policy wants 2; read from the GitHub API at 2026-11-10 12:00 UTC, confirmed unchanged at 2026-11-19 12:00 UTC)")
	wantSignal(t, card, "protection_continuity", 0.5, OutcomePartial, "protection removed on main at 2026-11-15 12:00 UTC, restored 4 days later")
	wantSignal(t, scoreSync(t, cfg, &r, coverage(ago_(4*day), revoked)), "default_branch_protected", 0, OutcomeNoData,
		"main is protected, last read from the GitHub API at 2026-11-16 12:00 UTC, more than sync.stale_after (72h) ago: the sync of acme/checkout is failing")

	// A coverage record newer than the card's time was not known then: the webhook stands.
	for _, future := range []time.Time{now.Add(time.Second), now.Add(time.Hour)} {
		card = scoreSync(t, DefaultConfig(), b, coverage(future, ""))
		want := scoreSync(t, DefaultConfig(), b, nil)
		for _, id := range branchSignals {
			if got, w := signal(t, card, id), signal(t, want, id); got.Score != w.Score || got.Outcome != w.Outcome || got.Reason != w.Reason {
				t.Errorf("coverage at %s moved %s: %s (%s), want %s (%s)", future, id, got.Outcome, got.Reason, w.Outcome, w.Reason)
			}
		}
	}
	// With no event after the read, the read is still the newest word: nothing is repeated.
	var quiet fb
	quiet.repoState(ago_(5*day), releaseops.RepoState{})
	s = wantSignal(t, scoreSync(t, DefaultConfig(), &quiet, coverage(ago_(time.Hour), "")), "default_branch_protected", 0, OutcomeFail,
		"main is not protected (read from the GitHub API at 2026-11-15 12:00 UTC)")
	if strings.Contains(s.Reason, "confirmed") {
		t.Errorf("reason %q mentions a re-confirmation that changed nothing", s.Reason)
	}
	// One at the card's time counts.
	wantSignal(t, scoreSync(t, DefaultConfig(), b, coverage(now, "")), "default_branch_protected", 0, OutcomeFail, "confirmed unchanged at 2026-11-20 12:00 UTC")
	// So does one older than the webhook, to no effect: the read is placed no earlier than its time.
	wantSignal(t, scoreSync(t, DefaultConfig(), b, coverage(ago_(4*day), "")), "default_branch_protected", 1, OutcomePass)
}

// A re-confirmation of a read that agrees with the webhooks since changes no result: the
// state keeps resting on the webhooks, so even a sync that has failed since does not stale it.
func TestReconfirmationAgreeingWithWebhookChangesNothing(t *testing.T) {
	var b fb
	b.repoState(ago_(10*day), releaseops.RepoState{Classic: classic(2)})                                                       // d-0001
	b.protection(ago_(5*day), releaseops.BranchProtection{Action: "edited", RequiredApprovingReviews: 2, LinearHistory: true}) // d-0002
	cfg := DefaultConfig()
	cfg.Signals = map[string]SignalConfig{"required_reviewers": {Target: 2}}
	want := scoreSync(t, cfg, &b, nil)
	for _, sync := range [][]releaseops.SyncCoverage{coverage(ago_(time.Hour), ""), coverage(ago_(4*day), revoked)} {
		card := scoreSync(t, cfg, &b, sync)
		for _, id := range branchSignals {
			got, w := signal(t, card, id), signal(t, want, id)
			if got.Score != w.Score || got.Outcome != w.Outcome || got.Value != w.Value {
				t.Errorf("last success %s: %s = %v (%s), want %v (%s); reason: %s", sync[0].LastSuccess, id, got.Score, got.Outcome, w.Score, w.Outcome, got.Reason)
			}
		}
		wantSignal(t, card, "protection_continuity", 1, OutcomePass)
	}

	// The read still stands in the rule table: a ruleset reported after the read that the
	// re-confirmation did not list is gone, so deleting the classic rule leaves main unprotected.
	b.add(releaseops.FactRuleset, "github", "repository_ruleset", ago_(3*day), func(f *releaseops.Fact) {
		f.Ruleset = &releaseops.Ruleset{Repo: "acme/checkout", ID: 7, Enforcement: "active", Includes: []string{"~DEFAULT_BRANCH"}, RequiredApprovingReviews: 2}
	})
	b.protection(ago_(30*time.Minute), releaseops.BranchProtection{Action: "deleted", Deleted: true, RequiredApprovingReviews: 2, LinearHistory: true})
	wantSignal(t, scoreSync(t, cfg, &b, nil), "default_branch_protected", 1, OutcomePass, "main is protected (1 rule covers it)")
	card := scoreSync(t, cfg, &b, coverage(ago_(time.Hour), ""))
	wantSignal(t, card, "default_branch_protected", 0, OutcomeFail, "main is not protected")
	wantSignal(t, card, "protection_continuity", 0.5, OutcomePartial, "protection removed on main at 2026-11-20 11:30 UTC and not restored")
}

// Re-confirmed reads give the same card whatever the order of the facts and coverage records.
func TestReconfirmationDeterminism(t *testing.T) {
	e := goldenEngine(t)
	r := rand.New(rand.NewPCG(21, 22))
	facts := append(append(history(300), syncHistory(r)...), lostDeletion().facts...)
	sync := append(coverage(ago_(time.Hour), ""),
		releaseops.SyncCoverage{Source: "github", Subject: "acme/CHECKOUT", LastAttempt: ago_(time.Hour), LastSuccess: ago_(3 * day), Error: revoked},
		releaseops.SyncCoverage{Source: "pagerduty", Subject: "PCHK123", LastSuccess: ago_(time.Hour)})
	want := marshal(t, e.Score(Input{Service: checkoutService(), Facts: facts, Now: now, Sync: sync}))
	if !bytes.Contains(want, []byte("confirmed unchanged at 2026-11-20 11:00 UTC")) {
		t.Fatal("no reason mentions the re-confirmation")
	}
	for i := range 5 {
		fs, ss := slices.Clone(facts), slices.Clone(sync)
		r.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		r.Shuffle(len(ss), func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
		got := marshal(t, e.Score(Input{Service: checkoutService(), Facts: fs, Now: now, Sync: ss}))
		if !bytes.Equal(got, want) {
			t.Fatalf("shuffle %d changed the scorecard:\n%s", i, firstDiff(want, got))
		}
	}
}
