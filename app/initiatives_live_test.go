package app

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// restamp stores svc's card again with the signal's outcome set and the stamp at, as the
// rescoring worker would after a new fact (or another replica with its own clock).
func restamp(t *testing.T, a *App, svc, signal string, outcome scoring.Outcome, at time.Time) {
	t.Helper()
	ctx := context.Background()
	row, err := a.DB.GetScore(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	var card scoring.Scorecard
	if err := json.Unmarshal(row.Card, &card); err != nil {
		t.Fatal(err)
	}
	found := false
	for d := range card.Dimensions {
		for s := range card.Dimensions[d].Signals {
			if card.Dimensions[d].Signals[s].ID == signal {
				card.Dimensions[d].Signals[s].Outcome, found = outcome, true
			}
		}
	}
	if !found {
		t.Fatalf("%s's card has no signal %s", svc, signal)
	}
	b, err := json.Marshal(card)
	if err != nil {
		t.Fatal(err)
	}
	row.Card, row.UpdatedAt = b, at
	if err := a.DB.Writer.Do(ctx, func(tx *storage.Tx) error { return storage.PutScore(tx, row, false) }); err != nil {
		t.Fatal(err)
	}
}

// The live progress keeps its judgements between calls and re-reads only the cards whose
// stamp moved: a card stored since the last look must still change the count, whether it
// comes within the slack of the highest stamp, well after it, or stamped below it (a replica
// whose clock is behind), the last within a minute.
func TestInitiativeLiveProgressFollowsNewCards(t *testing.T) {
	slack := newFakeSlackPosts(t)
	cfg := initiativeConfig(t.TempDir(), slack.srv.URL)
	clock := &testClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	a := startInitiativeApp(t, cfg, clock)
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	ctx := context.Background()
	done := func(step string) int {
		t.Helper()
		reps, err := a.InitiativeReports(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(reps) != 1 || reps[0].Total != 4 {
			t.Fatalf("%s: reports %+v, want json-logs over 4 services", step, reps)
		}
		return reps[0].Done
	}
	if n := done("start"); n != 2 {
		t.Fatalf("start: %d done, want 2 (checkout and docs)", n)
	}
	// Within stampSlack of the highest stamp seen.
	clock.Advance(time.Second)
	restamp(t, a, "ledger", "structured_logging", scoring.OutcomePass, clock.Now())
	if n := done("ledger passes"); n != 3 {
		t.Fatalf("ledger's new card passes: %d done, want 3", n)
	}
	// Past the slack: only the stamps above the highest are read.
	clock.Advance(10 * time.Second)
	restamp(t, a, "search", "structured_logging", scoring.OutcomePass, clock.Now())
	if n := done("search passes"); n != 4 {
		t.Fatalf("search's new card passes: %d done, want 4", n)
	}
	// A card stamped below the highest: found by the full read within stampsFull.
	restamp(t, a, "docs", "structured_logging", scoring.OutcomeFail, clock.Now().Add(-time.Hour))
	clock.Advance(stampsFull)
	if n := done("docs fails"); n != 3 {
		t.Fatalf("docs' card stamped in the past fails: %d done after %s, want 3", n, stampsFull)
	}
}
