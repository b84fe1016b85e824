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
