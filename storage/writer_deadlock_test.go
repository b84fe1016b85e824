package storage

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseops/releaseops/internal/pgtest"
)

// batchOf makes db's writer commit reqs as one batch, in their order: every lane is held by a
// request of its own until reqs are queued behind them, then one lane is let go and takes
// them all at once. release lets the other lanes go.
func batchOf(t *testing.T, ctx context.Context, db *DB, reqs ...func()) (release func()) {
	t.Helper()
	hold := make(chan struct{})
	var started sync.WaitGroup
	var held []chan struct{}
	for i := 0; i < pgLanes; i++ {
		c := make(chan struct{})
		held = append(held, c)
		started.Add(1)
		go db.Writer.Do(ctx, func(*Tx) error { //nolint:errcheck
			started.Done()
			select {
			case <-c:
			case <-hold:
			case <-ctx.Done():
			}
			return nil
		})
		started.Wait() // each lane holds one
	}
	for _, r := range reqs {
		// Nothing leaves the queue while every lane is held; the replica's own lease
		// renewals may join it.
		before := db.Writer.Queued()
		go r()
		for db.Writer.Queued() == before {
			if ctx.Err() != nil {
				t.Fatal("request not queued")
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(held[0])
	return func() { close(hold) }
}

// A batch that renews a lease and stores a delivery, on one replica, and a batch that stores
// the same delivery and tries the same lease, on another, at the same moment: each holds the
// row the other waits for. PostgreSQL found the deadlock after deadlock_timeout (1 s) and the
// writer ran one batch again, so both batches' senders waited over a second. The same between
// two batches trying two leases in opposite orders (seen in the server's log). Leases are
// taken in a transaction of their own, so neither cycle can form: each batch runs once.
func TestNoDeadlockBetweenReplicasOverLeasesAndDuplicates(t *testing.T) {
	url := pgtest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open := func() *DB {
		db, err := OpenPostgres(ctx, url, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	lease := func(db *DB, name string) func() error {
		return func() error { _, _, err := db.AcquireLease(ctx, name, LeaseTTL); return err }
	}
	store := func(db *DB, id string) func() error {
		return func() error {
			return db.Writer.Do(ctx, func(t *Tx) error { _, _, err := InsertDelivery(t, delivery(id)); return err })
		}
	}
	for _, tc := range []struct {
		name       string
		aOps, bOps [2]func(db *DB) func() error
	}{
		{"lease and duplicate delivery",
			[2]func(*DB) func() error{func(db *DB) func() error { return lease(db, "l1") }, func(db *DB) func() error { return store(db, "dup-1") }},
			[2]func(*DB) func() error{func(db *DB) func() error { return store(db, "dup-1") }, func(db *DB) func() error { return lease(db, "l1") }}},
		{"two leases in opposite orders",
			[2]func(*DB) func() error{func(db *DB) func() error { return lease(db, "l2") }, func(db *DB) func() error { return lease(db, "l3") }},
			[2]func(*DB) func() error{func(db *DB) func() error { return lease(db, "l3") }, func(db *DB) func() error { return lease(db, "l2") }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The leases exist, held by a: b's tries lock the rows without taking them.
			for _, n := range []string{"l1", "l2", "l3"} {
				if err := lease(a, n)(); err != nil {
					t.Fatal(err)
				}
			}
			aReady, bReady := make(chan struct{}), make(chan struct{})
			var aRuns, bRuns atomic.Int32
			// pause runs between a batch's two requests: it lets the other replica's batch run
			// its first request too before either goes on to its second.
			pause := func(db *DB, runs *atomic.Int32, mine, theirs chan struct{}) func() error {
				return func() error {
					return db.Writer.Do(ctx, func(*Tx) error {
						if runs.Add(1) == 1 {
							close(mine)
						}
						select {
						case <-theirs:
						case <-ctx.Done():
						}
						return nil
					})
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, 6)
			run := func(f func() error) func() {
				wg.Add(1)
				return func() { defer wg.Done(); errs <- f() }
			}
			relA := batchOf(t, ctx, a, run(tc.aOps[0](a)), run(pause(a, &aRuns, aReady, bReady)), run(tc.aOps[1](a)))
			relB := batchOf(t, ctx, b, run(tc.bOps[0](b)), run(pause(b, &bRuns, bReady, aReady)), run(tc.bOps[1](b)))
			wg.Wait()
			relA()
			relB()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if aRuns.Load() != 1 || bRuns.Load() != 1 {
				t.Fatalf("a batch ran %d and %d times: one was rolled back (a deadlock) and run again", aRuns.Load(), bRuns.Load())
			}
		})
	}
}
