package app

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/internal/pgtest"
)

// Two replicas on one PostgreSQL database reach the same reminder slot at once: the outbox
// key lets each team's nudge be queued once, and the Slack fake sees each once.
func TestInitiativeNudgesOnceAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	slack := newFakeSlackPosts(t)
	clock := &testClock{t: time.Date(2026, 11, 23, 9, 0, 30, 0, time.UTC)} // Monday, just after 09:00
	var apps []*App
	for range 2 {
		cfg := initiativeConfig(t.TempDir(), slack.srv.URL)
		cfg.Storage.Driver = "postgres"
		cfg.Storage.PostgresURL = config.NewSecret(url)
		a := startInitiativeApp(t, cfg, clock)
		t.Cleanup(func() { a.Shutdown(context.Background()) })
		apps = append(apps, a)
	}
	var wg sync.WaitGroup
	counts := make([]int, len(apps))
	for i, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				n, err := a.NudgeRound(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				counts[i] += n
			}
		}()
	}
	wg.Wait()
	if counts[0]+counts[1] != 2 {
		t.Fatalf("replicas queued %v nudges, want 2 in all", counts)
	}
	deliver(t, apps[0])
	deliver(t, apps[1])
	if posts := slack.take(); len(posts) != 2 {
		t.Fatalf("Slack got %d posts, want 2", len(posts))
	}
}

// Two replicas on one PostgreSQL database record and backfill the same burn-up at once (as
// a lease handover may let them): each (initiative, day) is stored once, with one writer's
// teams, and both serve the same burn-up.
func TestInitiativeBurnUpOnceAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	slack := newFakeSlackPosts(t)
	clock := &testClock{t: time.Date(2026, 11, 21, 0, 0, 30, 0, time.UTC)} // just after midnight
	var apps []*App
	for range 2 {
		cfg := initiativeConfig(t.TempDir(), slack.srv.URL)
		cfg.Storage.Driver = "postgres"
		cfg.Storage.PostgresURL = config.NewSecret(url)
		a := startInitiativeApp(t, cfg, clock)
		t.Cleanup(func() { a.Shutdown(context.Background()) })
		apps = append(apps, a)
	}
	var wg sync.WaitGroup
	recorded := make([]int, len(apps))
	replayed := make([]int, len(apps))
	for i, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				n, err := a.RecordRound(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				recorded[i] += n
				if n, err = a.BackfillRound(context.Background()); err != nil {
					t.Error(err)
					return
				}
				replayed[i] += n
			}
		}()
	}
	wg.Wait()
	if recorded[0]+recorded[1] != 1 || replayed[0]+replayed[1] != 29 {
		t.Fatalf("recorded %v and replayed %v points, want 1 and 29 in all (2026-10-22 to 2026-11-20)", recorded, replayed)
	}
	teams, err := apps[0].DB.InitiativeDayTeams(context.Background(), "json-logs", "2026-11-20")
	if err != nil || len(teams) != 3 {
		t.Fatalf("teams of the recorded day = %+v, %v", teams, err)
	}
	a, b := report(t, apps[0], "json-logs"), report(t, apps[1], "json-logs")
	if len(a.BurnUp) != 31 || a.Backfilling != 0 || len(b.BurnUp) != 31 {
		t.Fatalf("replica burn-ups: %d and %d points, backfilling %d", len(a.BurnUp), len(b.BurnUp), a.Backfilling)
	}
	for i := range a.BurnUp {
		if a.BurnUp[i] != b.BurnUp[i] {
			t.Fatalf("replicas disagree on %s: %+v and %+v", a.BurnUp[i].Day, a.BurnUp[i], b.BurnUp[i])
		}
	}
}
