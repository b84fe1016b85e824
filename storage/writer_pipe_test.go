package storage

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

// pipeDelivery is a deploy delivery with one fact, as ingest stores it.
func pipeDelivery(id, service string) *NewDelivery {
	subj := releaseops.Subject{Kind: releaseops.SubjectService, Key: service}
	return &NewDelivery{Source: "deploy", DeliveryID: id, Type: "deploy", Subject: subj, Service: service, Outcome: "stored",
		ReceivedAt: t0, Body: []byte(`{"id":"` + id + `"}`), Facts: []releaseops.Fact{{Kind: releaseops.FactDeploy, Subject: subj, Service: service, At: t0,
			Evidence: releaseops.Evidence{Source: "deploy", Event: "deploy", Delivery: id, At: t0},
			Deploy:   &releaseops.Deploy{ID: id, Environment: "production", Status: "succeeded", Kind: "deploy"}}}}
}

// holdLanes keeps every lane of db's writer inside a transaction until the returned release
// is called with the number of lanes to free, so that what is submitted meanwhile queues and is
// then taken as one batch by the first freed lane.
func holdLanes(t *testing.T, db *DB) (release func(n int)) {
	t.Helper()
	lanes := 1
	if db.d.name == DriverPostgres {
		lanes = pgLanes
	}
	started, free := make(chan struct{}), make(chan struct{}, lanes)
	var wg sync.WaitGroup
	for range lanes { // one at a time: each blocker must take a lane of its own
		wg.Add(1)
		go func() {
			defer wg.Done()
			db.Writer.Do(context.Background(), func(*Tx) error { started <- struct{}{}; <-free; return nil }) //nolint:errcheck
		}()
		<-started
	}
	t.Cleanup(func() {
		for range lanes {
			select {
			case free <- struct{}{}:
			default:
			}
		}
		wg.Wait()
	})
	return func(n int) {
		for range n {
			free <- struct{}{}
		}
	}
}

// storeQueued submits ds at once, waits until all are queued behind held lanes, frees one
// lane and returns each call's outcome.
func storeQueued(t *testing.T, db *DB, ds []*NewDelivery, discovered []map[string]releaseops.Subject) (dups []bool, errs []error) {
	t.Helper()
	release := holdLanes(t, db)
	dups, errs = make([]bool, len(ds)), make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dups[i], errs[i] = db.Writer.StoreDelivery(context.Background(), d, discovered[i], t0)
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); db.Writer.Queued() < len(ds); {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes queued", db.Writer.Queued(), len(ds))
		}
		time.Sleep(time.Millisecond)
	}
	release(1)
	wg.Wait()
	return dups, errs
}

func TestStoreDeliveryBatchesDedupeAndDiscover(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		var ds []*NewDelivery
		disc := make([]map[string]releaseops.Subject, 12)
		for i := range 10 {
			ds = append(ds, pipeDelivery(fmt.Sprintf("d-%d", i), "svc"))
		}
		ds = append(ds, pipeDelivery("d-3", "svc"), pipeDelivery("new-1", "newsvc")) // a repeat; a delivery that discovers a service
		disc[11] = map[string]releaseops.Subject{"newsvc": {Kind: releaseops.SubjectRepo, Key: "acme/newsvc"}}
		dups, errs := storeQueued(t, db, ds, disc)
		nd := 0
		for i := range ds {
			if errs[i] != nil {
				t.Fatalf("delivery %d: %v", i, errs[i])
			}
			if dups[i] {
				nd++
				if ds[i].DeliveryID != "d-3" {
					t.Fatalf("%s reported a duplicate", ds[i].DeliveryID)
				}
			}
		}
		if nd != 1 {
			t.Fatalf("%d of the two d-3 deliveries reported duplicate, want exactly one", nd)
		}
		rows, err := db.ListDeliveries(ctx, DeliveryFilter{Limit: 100})
		if err != nil || len(rows) != 11 {
			t.Fatalf("stored %d deliveries, want 11 (%v)", len(rows), err)
		}
		counts, err := db.TableCounts(ctx)
		if err != nil || counts["facts"] != 11 {
			t.Fatalf("stored %d facts, want 11 (%v)", counts["facts"], err)
		}
		found, err := db.ListDiscovered(ctx)
		if err != nil || len(found) != 1 || found[0].Name != "newsvc" || found[0].Subject != "repo:acme/newsvc" {
			t.Fatalf("discovered = %+v, %v", found, err)
		}
		if db.d.name == DriverPostgres && db.Writer.pipedBatches.Load() == 0 {
			t.Fatal("no batch was committed as a pgx batch on PostgreSQL")
		}
	})
}

// A delivery PostgreSQL refuses (a NUL in a text column) fails the pgx batch as a whole; the
// writer commits the batch again in a transaction, where only that delivery fails.
func TestStoreDeliveryFailedBatchKeepsTheOthers(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		if db.d.name != DriverPostgres {
			t.Skip("SQLite stores a NUL in text; the pgx batch is PostgreSQL's")
		}
		ctx := context.Background()
		ds := []*NewDelivery{pipeDelivery("ok-1", "svc"), pipeDelivery("bad\x00id", "svc"), pipeDelivery("ok-2", "svc")}
		_, errs := storeQueued(t, db, ds, make([]map[string]releaseops.Subject, 3))
		if errs[0] != nil || errs[2] != nil || errs[1] == nil {
			t.Fatalf("errors = %v, want only the NUL delivery's", errs)
		}
		if db.Writer.pipedFallbacks.Load() == 0 {
			t.Fatal("the failing batch did not fall back to transactions")
		}
		rows, err := db.ListDeliveries(ctx, DeliveryFilter{Limit: 100})
		if err != nil || len(rows) != 2 {
			t.Fatalf("stored %d deliveries, want 2 (%v)", len(rows), err)
		}
	})
}

// A rescoring round's scores and cursor are one write, all or nothing; on PostgreSQL a piped
// one on the express lane, which commits while every other lane is busy.
func TestStoreScoresWithCursorOnTheExpressLane(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		rows := []ScoreRow{
			{Service: "a", Score: 80, Band: "gold", Level: "L3", Card: []byte(`{"service":"a"}`), UpdatedAt: t0},
			{Service: "b", Score: 40, Band: "bronze", Level: "L1", Card: []byte(`{"service":"b"}`), Trend: []byte(`{"delta":-2}`), UpdatedAt: t0},
		}
		cursor := int64(42)
		if db.d.name == DriverPostgres {
			release := holdLanes(t, db)
			queued := make(chan error, 1)
			go func() { _, err := db.Writer.StoreDelivery(ctx, pipeDelivery("behind", "a"), nil, t0); queued <- err }()
			if err := db.Writer.StoreScores(ctx, rows, []bool{true, false}, "rescore-test", &cursor); err != nil {
				t.Fatalf("scores while every lane is held: %v", err)
			}
			if db.Writer.pipedBatches.Load() == 0 {
				t.Fatal("the scores were not committed in a pgx batch")
			}
			release(1)
			if err := <-queued; err != nil {
				t.Fatalf("the delivery queued behind the held lanes: %v", err)
			}
		} else if err := db.Writer.StoreScores(ctx, rows, []bool{true, false}, "rescore-test", &cursor); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			got, err := db.GetScore(ctx, r.Service)
			if err != nil || got.Score != r.Score || got.Band != r.Band || string(got.Card) != string(r.Card) {
				t.Fatalf("score of %s = %+v, %v", r.Service, got, err)
			}
		}
		if v, err := db.Cursor(ctx, "rescore-test"); err != nil || v != 42 {
			t.Fatalf("cursor = %d, %v; want 42", v, err)
		}
		counts, err := db.TableCounts(ctx)
		if err != nil || counts["score_history"] != 1 {
			t.Fatalf("history rows = %d, want 1 (only a's snapshot) (%v)", counts["score_history"], err)
		}
		if err := db.Writer.StoreScores(ctx, rows, []bool{true}, "rescore-test", nil); err == nil {
			t.Fatal("StoreScores took 2 rows with 1 snapshot flag")
		}
	})
}

// DoExpress commits on PostgreSQL while every ordinary lane is held; on SQLite it is Do.
func TestDoExpressPassesHeldLanes(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		if db.d.name != DriverPostgres {
			t.Skip("SQLite has one writer and no express lane")
		}
		holdLanes(t, db)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := db.Writer.DoExpress(ctx, func(t *Tx) error { return SetCursor(t, "express-test", 7) }); err != nil {
			t.Fatalf("express write while the lanes are held: %v", err)
		}
		if v, err := db.Cursor(ctx, "express-test"); err != nil || v != 7 {
			t.Fatalf("cursor = %d, %v; want 7", v, err)
		}
	})
}
