package storage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

// manualIndex is options whose indexer never runs by itself, so a test decides which rows
// are indexed and which are still in the tail.
func manualIndex() Options {
	opts := DefaultOptions()
	opts.IndexInterval = time.Hour
	return opts
}

func store(t *testing.T, db *DB, ds ...*NewDelivery) {
	t.Helper()
	for _, d := range ds {
		if err := db.Writer.Do(context.Background(), func(tx *Tx) error { _, _, err := InsertDelivery(tx, d); return err }); err != nil {
			t.Fatal(err)
		}
	}
}

func deployAt(id, service string, at time.Time) *NewDelivery {
	d := delivery(id)
	d.Service, d.ReceivedAt = service, at
	d.Subject = releaseops.Subject{Kind: releaseops.SubjectService, Key: service}
	d.Facts[0].Service, d.Facts[0].Subject, d.Facts[0].At = service, d.Subject, at
	return d
}

// Every read by service sees the same rows whether they are indexed, still in the tail, or
// half and half, and never a row twice.
func TestServiceReadsSeeIndexAndTail(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(manualIndex())
		ctx := context.Background()
		base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		for i := 0; i < 6; i++ {
			store(t, db, deployAt(fmt.Sprintf("a-%d", i), "checkout", base.Add(time.Duration(i)*time.Minute)),
				deployAt(fmt.Sprintf("b-%d", i), "billing", base.Add(time.Duration(i)*time.Minute)))
			if i == 2 {
				if err := db.IndexNow(ctx); err != nil { // the first three of each are indexed
					t.Fatal(err)
				}
			}
		}
		check := func(stage string) {
			t.Helper()
			facts, err := db.FactsForService(ctx, "checkout", base.Add(time.Minute))
			if err != nil || len(facts) != 5 {
				t.Fatalf("%s: facts since minute 1 = %d, %v; want 5", stage, len(facts), err)
			}
			for i := 1; i < len(facts); i++ {
				if facts[i].ID <= facts[i-1].ID {
					t.Fatalf("%s: facts not in id order: %d after %d", stage, facts[i].ID, facts[i-1].ID)
				}
			}
			recent, err := db.RecentFacts(ctx, "checkout", releaseops.FactDeploy, base.Add(5*time.Minute), 4)
			if err != nil || len(recent) != 4 || recent[0].Deploy.ID != "a-4" || recent[3].Deploy.ID != "a-1" {
				t.Fatalf("%s: recent = %d facts, %v; want a-4..a-1", stage, len(recent), err)
			}
			rows, err := db.ListDeliveries(ctx, DeliveryFilter{Service: "checkout"})
			if err != nil || len(rows) != 6 || rows[0].DeliveryID != "a-5" {
				t.Fatalf("%s: deliveries = %d, %v; want 6, newest a-5", stage, len(rows), err)
			}
			last, ok, err := db.LastEventAt(ctx, "checkout", 0)
			if err != nil || !ok || !last.Equal(base.Add(5*time.Minute)) {
				t.Fatalf("%s: last event = %v %v %v; want minute 5", stage, last, ok, err)
			}
			// Leaving out the newest delivery (the request being decided) finds the one before.
			last, _, _ = db.LastEventAt(ctx, "checkout", rows[0].ID)
			if !last.Equal(base.Add(4 * time.Minute)) {
				t.Fatalf("%s: last event without %d = %v; want minute 4", stage, rows[0].ID, last)
			}
		}
		check("half indexed")
		if err := db.IndexNow(ctx); err != nil {
			t.Fatal(err)
		}
		check("all indexed")
		var tail int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM facts WHERE id > `+tailFacts).Scan(&tail); err != nil || tail != 0 {
			t.Fatalf("tail after IndexNow = %d, %v", tail, err)
		}
	})
}

// A subject claimed after its facts were indexed (with no service) is found under the
// service at once, and indexing again adds nothing twice.
func TestClaimAfterIndexing(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(manualIndex())
		ctx := context.Background()
		d := unmappedDelivery("pd-1")
		store(t, db, d)
		if err := db.IndexNow(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.Writer.Do(ctx, func(t *Tx) error { _, err := ClaimSubject(t, d.Subject, "checkout"); return err }); err != nil {
			t.Fatal(err)
		}
		for _, stage := range []string{"claimed", "indexed again"} {
			facts, _ := db.FactsForService(ctx, "checkout", time.Time{})
			rows, _ := db.ListDeliveries(ctx, DeliveryFilter{Service: "checkout"})
			_, ok, _ := db.LastEventAt(ctx, "checkout", 0)
			if len(facts) != 1 || len(rows) != 1 || !ok {
				t.Fatalf("%s: facts %d, deliveries %d, last event known %v; want 1, 1, true", stage, len(facts), len(rows), ok)
			}
			if err := db.IndexNow(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A backlog larger than one indexing transaction is indexed in steps, all of it.
func TestIndexNowTakesLongBacklogInSteps(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(manualIndex())
		ctx := context.Background()
		const n = indexRoundLimit + 50
		// In writes of 1,000: one transaction of them all outlasted the writer's 30 s under
		// -race on a loaded machine.
		for from := 0; from < n; from += 1000 {
			err := db.Writer.Do(ctx, func(tx *Tx) error {
				for i := from; i < min(from+1000, n); i++ {
					if _, _, err := InsertDelivery(tx, delivery(fmt.Sprintf("bulk-%d", i))); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := db.IndexNow(ctx); err != nil {
			t.Fatal(err)
		}
		var indexed int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM fact_index WHERE service = 'checkout'`).Scan(&indexed); err != nil || indexed != n {
			t.Fatalf("indexed %d, %v; want %d", indexed, err, n)
		}
	})
}
