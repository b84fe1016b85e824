package storage

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/internal/pgtest"
)

// A burst of announcements is sent as at most one NOTIFY per notifySpacing, and the last of
// them still reaches the other replica.
func TestPostgresAnnouncementsAreSpaced(t *testing.T) {
	base := pgtest.URL(t)
	b := openPG(t, base) // first: it takes the indexer's lease, which a then leaves alone
	proxy, url := pgtest.NewProxy(t, base+"&sslmode=disable")
	a, err := OpenPostgres(context.Background(), url, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got := make(chan string, 16)
	b.Subscribe(TopicOutbox, func(p string) {
		if p != "" {
			select {
			case got <- p:
			default:
			}
		}
	})
	// b's listener connects in the background: wait until an announcement gets through.
	deadline := time.After(10 * time.Second)
	for ready := false; !ready; {
		a.AnnounceWith(TopicOutbox, "ready")
		select {
		case <-got:
			ready = true
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("b never heard a")
		}
	}
	time.Sleep(2 * notifySpacing) // the round that carried "ready" is over
	tally := proxy.Count()
	start := time.Now()
	for i := 0; i < 300; i++ {
		a.Announce(TopicFacts)
		time.Sleep(200 * time.Microsecond)
	}
	a.AnnounceWith(TopicOutbox, "last")
	select {
	case p := <-got:
		if p != "last" {
			t.Fatalf("b heard %q, want last", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the last announcement of the burst never reached b")
	}
	elapsed := time.Since(start)
	tally.Stop()
	sent := 0
	for _, trip := range tally.Trips() {
		for _, q := range trip {
			if strings.Contains(q, "pg_notify") {
				sent++
			}
		}
	}
	if max := int(elapsed/notifySpacing) + 2; sent > max || sent == 0 {
		t.Fatalf("%d NOTIFY statements for 301 announcements over %v: want 1 to %d (one per %v)", sent, elapsed, max, notifySpacing)
	}
	t.Logf("%d NOTIFY statements for 301 announcements over %v", sent, elapsed)
}
