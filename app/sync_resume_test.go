package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/fakegithub"
	"github.com/releaseops/releaseops/storage"
	"github.com/releaseops/releaseops/syncer"
)

// A sync killed part-way resumes where it stopped: what was committed is not read into the
// database again, and what was not is read on the next run. Cancelling the run after two
// subjects and reopening the database in a new app stands in for SIGKILL and a restart;
// the runner commits each subject's observations with its state in one transaction, so
// the cut can only fall between two subjects or lose an uncommitted read.
func TestCancelledSyncResumesWithEveryFactExactlyOnce(t *testing.T) {
	repos := fakegithub.Synthetic("acme", 6, syncNow)
	var services strings.Builder
	for _, r := range repos {
		fmt.Fprintf(&services, "  - {name: %s, repo: %s, owner: team-x}\n", strings.TrimPrefix(r.FullName, "acme/"), r.FullName)
	}
	opts := worldOpts{services: services.String(), extra: "sync:\n  concurrency: 1\n"}

	// The same fleet read in one go is what the resumed database must hold.
	control := newSyncWorld(t, newSyncGitHub(t, repos...), opts)
	if sum := control.sync(context.Background(), syncer.Options{}); len(sum.Failures) != 0 || sum.Subjects != 6 {
		t.Fatalf("uninterrupted sync: %+v", sum)
	}
	_, want := control.stored()

	gh := newSyncGitHub(t, repos...)
	w := newSyncWorld(t, gh, opts)
	ctx, cancel := context.WithCancel(context.Background())
	cut := w.sync(ctx, syncer.Options{Progress: func(done, total int, s syncer.Subject, err error) {
		if done == 2 {
			cancel()
		}
	}})
	recs, err := w.app.DB.SyncRecords(context.Background(), releaseops.SourceGitHub)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("the cut run recorded %d subjects; want the two read before the cancel", len(recs))
	}
	for _, r := range recs {
		if r.LastError != "" || r.LastSuccess.IsZero() {
			t.Errorf("recorded %s as %+v; only whole reads are recorded", r.Subject, r)
		}
	}
	for _, f := range cut.Failures {
		if !strings.Contains(f.Error, "context canceled") {
			t.Errorf("the read cut short failed for another reason: %+v", f)
		}
	}
	_, partial := w.stored()

	w.restart()
	gh.ResetCounts()
	sum := w.sync(context.Background(), syncer.Options{})
	if len(sum.Failures) != 0 || sum.Subjects != 6 {
		t.Fatalf("resumed sync: %+v", sum)
	}
	_, got := w.stored()
	if g, wnt := factKeys(t, got), factKeys(t, want); !slices.Equal(g, wnt) {
		t.Errorf("after the cut and the resumed run: %d facts, want %d (those of one uninterrupted run)\n got %v\nwant %v", len(g), len(wnt), g, wnt)
	}
	keys := factKeys(t, got)
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			t.Errorf("fact stored twice: %s", keys[i])
		}
	}
	// The two subjects committed before the cut cost only revalidations on the resumed run.
	for _, r := range repos[:2] {
		if n := gh.Counts().ByPath["GET /repos/"+r.FullName]; n != 1 {
			t.Errorf("%s read %d times on resume", r.FullName, n)
		}
	}
	t.Logf("cut after 2 of 6 subjects with %d facts committed; resumed run wrote %d facts (%d requests, %d not modified); %d facts in all, as one uninterrupted run",
		len(partial), sum.Facts, sum.Requests, sum.NotModified, len(got))
}

// factKeys names each stored fact by what it says (kind, subject, content), without when it
// was read or the delivery it came in: two runs reading the same state agree on these.
func factKeys(t *testing.T, facts []storage.StoredFact) []string {
	t.Helper()
	out := make([]string, 0, len(facts))
	for _, f := range facts {
		c := f.Fact
		c.Evidence, c.Service = releaseops.Evidence{}, ""
		if c.Kind == releaseops.FactRepoState {
			c.At = time.Time{} // a state's time is when it was read
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}
