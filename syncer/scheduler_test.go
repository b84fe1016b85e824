package syncer

import (
	"context"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
)

// waitRun waits for the source's n-th recorded run, with a deadline (not a sleep).
func waitRun(t *testing.T, db *storage.DB, n int64) storage.SyncRun {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if run, ok, err := db.LastSyncRun(context.Background(), "github", false); err != nil {
			t.Fatal(err)
		} else if ok && run.ID >= n {
			return run
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no run %d recorded", n)
	return storage.SyncRun{}
}

// counting counts reads per subject.
type counting struct {
	fakeSource
	reads map[string]int
}

func (c *counting) Read(ctx context.Context, s Subject, prev State) (Result, error) {
	c.mu.Lock()
	c.reads[s.Key]++
	c.mu.Unlock()
	return c.fakeSource.Read(ctx, s, prev)
}

func (c *counting) count(key string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.reads[key] }

func TestSchedulerStartTriggersAndRestart(t *testing.T) {
	db := openDB(t)
	src := &counting{fakeSource: fakeSource{states: map[string]releaseops.RepoState{}, errs: map[string]error{}}, reads: map[string]int{}}
	start := func() (*Scheduler, context.CancelFunc, chan struct{}) {
		s := &Scheduler{Runner: &Runner{DB: db, Concurrency: 2}, Sources: []Source{src}, Interval: time.Hour}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		return s, cancel, done
	}

	// A database never synced: the start is a full run of every subject.
	s, cancel, done := start()
	run := waitRun(t, db, 1)
	if run.Trigger != "start" || !run.Full || run.Subjects != 3 {
		t.Fatalf("first start: %+v", run)
	}
	// The run's record commits before the scheduler sets its next run: wait for both.
	var st []SourceStatus
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st, err = s.Status(context.Background())
		if err != nil || len(st) != 1 || st[0].NextRun != nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(st) != 1 || st[0].NextRun == nil || st[0].Subjects.Total != 3 {
		t.Fatalf("status after the start: %+v %v", st, err)
	}
	if next := st[0].NextRun.Sub(run.FinishedAt); next < 54*time.Minute || next > 66*time.Minute+time.Second {
		t.Errorf("next run %v after the start run, want the interval (1h) within a tenth", next)
	}
	// An installation event names one repository: it alone is read, at once.
	s.Trigger("github", "ACME/API")
	run = waitRun(t, db, 2)
	if run.Trigger != "event" || run.Full || run.Subjects != 1 || src.count("acme/api") != 2 || src.count("acme/web") != 1 {
		t.Fatalf("triggered run: %+v, reads %v", run, src.reads)
	}
	cancel()
	<-done

	// A restart within the interval reads only subjects never read before: none here.
	_, cancel, done = start()
	run = waitRun(t, db, 3)
	if run.Trigger != "start" || run.Full || run.Subjects != 0 {
		t.Fatalf("restart within the interval: %+v", run)
	}
	cancel()
	<-done
}
