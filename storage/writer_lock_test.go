package storage

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Two replicas store deliveries concurrently (on PostgreSQL under the shared writer lock, four
// lanes each, with a request now and then that needs the exclusive lock after its delivery)
// while a reader follows the facts feed and another reads one service's facts, index and
// tail. The feed must hand out every fact exactly once in id order, though lower ids commit
// after higher ones; the service's facts must never shrink while the indexer moves the tail.
func TestFeedFollowsConcurrentCommitters(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		opts := DefaultOptions()
		opts.IndexInterval = 5 * time.Millisecond // the indexer races the writers too
		a, b := open(opts), open(opts)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()

		const writers, each = 8, 60
		var wg sync.WaitGroup
		var writeErr atomic.Value
		for g := 0; g < writers; g++ {
			db := a
			if g%2 == 1 {
				db = b
			}
			wg.Add(1)
			go func(g int, db *DB) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					d := delivery(fmt.Sprintf("race-%d-%d", g, i))
					mixed := i%10 == 9
					err := db.Writer.Do(ctx, func(t *Tx) error {
						if _, _, err := InsertDelivery(t, d); err != nil {
							return err
						}
						if mixed { // a statement outside the shared set, after a shared one
							return InsertSyncRun(t, SyncRun{Source: "github", Trigger: "race", StartedAt: t0, FinishedAt: t0})
						}
						return nil
					})
					if err != nil {
						writeErr.Store(err)
						return
					}
				}
			}(g, db)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()

		var seen []int64
		var cursor int64
		shrunk := ""
		lastCount := 0
		follow := func() error {
			for {
				facts, err := a.FactsAfter(ctx, cursor, 37)
				if err != nil {
					return err
				}
				for _, f := range facts {
					if f.ID <= cursor {
						return fmt.Errorf("fact %d after cursor %d: out of order", f.ID, cursor)
					}
					cursor = f.ID
					seen = append(seen, f.ID)
				}
				if len(facts) < 37 {
					return nil
				}
			}
		}
		for running := true; running; {
			select {
			case <-done:
				running = false
			case <-time.After(2 * time.Millisecond):
			}
			if err := follow(); err != nil {
				t.Fatal(err)
			}
			fs, err := b.FactsForService(ctx, "checkout", time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) < lastCount && shrunk == "" {
				shrunk = fmt.Sprintf("service facts went from %d to %d", lastCount, len(fs))
			}
			lastCount = len(fs)
		}
		if err, _ := writeErr.Load().(error); err != nil {
			t.Fatal(err)
		}
		if err := follow(); err != nil {
			t.Fatal(err)
		}
		if shrunk != "" {
			t.Fatal(shrunk)
		}
		rows, err := a.query(ctx, `SELECT id FROM facts ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		var all []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			all = append(all, id)
		}
		rows.Close()
		if len(all) != writers*each {
			t.Fatalf("stored %d facts, want %d", len(all), writers*each)
		}
		if len(seen) != len(all) {
			t.Fatalf("the feed handed out %d facts of %d: it skipped some", len(seen), len(all))
		}
		for i := range all {
			if seen[i] != all[i] {
				t.Fatalf("feed position %d: fact %d, want %d", i, seen[i], all[i])
			}
		}
		if err := a.IndexNow(ctx); err != nil {
			t.Fatal(err)
		}
		var indexed int
		if err := a.queryRow(ctx, `SELECT count(*) FROM fact_index`).Scan(&indexed); err != nil || indexed != len(all) {
			t.Fatalf("indexed %d facts (%v), want %d", indexed, err, len(all))
		}
	})
}

// The statements meant to run under PostgreSQL's shared writer lock do, and the others take
// the exclusive one (a statement missing from sharedStatements would serialize ingestion
// again without failing anything else).
func TestSharedWriterLockCoversIngestion(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		modeOf := func(name string, fn func(*Tx) error) lockMode {
			var m lockMode
			write(t, db, func(tx *Tx) error {
				if err := fn(tx); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if tx.lk != nil {
					m = tx.lk.mode
				}
				return nil
			})
			return m
		}
		want := lockShared
		if db.Driver() == DriverSQLite {
			want = lockNone // one writer: no lock at all
		}
		for name, fn := range map[string]func(*Tx) error{
			"delivery": func(tx *Tx) error { _, _, err := InsertDelivery(tx, delivery("lock-1")); return err },
			"discovered": func(tx *Tx) error {
				return RecordDiscovered(tx, "svc", delivery("x").Subject, t0)
			},
			"score": func(tx *Tx) error {
				return PutScore(tx, ScoreRow{Service: "svc", Card: []byte(`{}`), UpdatedAt: t0}, true)
			},
			"cursor": func(tx *Tx) error { return SetCursor(tx, "test", 1) },
			"scores": func(tx *Tx) error {
				return PutScores(tx, []ScoreRow{{Service: "svc2", Card: []byte(`{}`), UpdatedAt: t0}}, []bool{true})
			},
			"outbox": func(tx *Tx) error {
				_, err := InsertOutbox(tx, OutboxRow{Key: "k", Kind: "slack.post", Target: "C1", Payload: []byte(`{}`), CreatedAt: t0})
				if err == nil {
					err = UpdateOutbox(tx, 1, "sent", 1, "", "", t0, t0)
				}
				return err
			},
			"index": func(tx *Tx) error {
				hz := &idHorizons{facts: 1, deliveries: 1}
				if db.pg == nil {
					hz = nil
				}
				_, err := indexServices(tx, hz)
				return err
			},
		} {
			if m := modeOf(name, fn); m != want {
				t.Errorf("%s: lock mode %d, want %d", name, m, want)
			}
		}
		if db.Driver() == DriverSQLite {
			return
		}
		// A delivery and then a sync run: the request is run again under the exclusive lock.
		if m := modeOf("mixed", func(tx *Tx) error {
			if _, _, err := InsertDelivery(tx, delivery("lock-2")); err != nil {
				return err
			}
			return InsertSyncRun(tx, SyncRun{Source: "github", Trigger: "cli", StartedAt: t0, FinishedAt: t0})
		}); m != lockExclusive {
			t.Errorf("mixed: lock mode %d, want exclusive", m)
		}
	})
}

// PutScores stores each row as PutScore does, history only where asked, on both engines.
func TestPutScoresIsPutScoreEach(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		write(t, db, func(tx *Tx) error {
			return PutScore(tx, ScoreRow{Service: "a", Score: 1, Card: []byte(`{}`), UpdatedAt: t0}, true)
		})
		write(t, db, func(tx *Tx) error {
			return PutScores(tx, []ScoreRow{
				{Service: "a", Score: 50, Band: "watch", Level: "bronze", Card: []byte(`{"a":1}`), Trend: []byte(`{"delta":49}`), UpdatedAt: t0.Add(time.Hour)},
				{Service: "b", Score: 90, Band: "ready", Level: "gold", Card: []byte(`{"b":1}`), UpdatedAt: t0.Add(time.Hour)},
			}, []bool{true, false})
		})
		a, err := db.GetScore(ctx, "a")
		if err != nil || a.Score != 50 || string(a.Card) != `{"a":1}` || !a.UpdatedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("a = %+v, %v", a, err)
		}
		list, err := db.ListScores(ctx)
		if err != nil || len(list) != 2 || string(list[0].Trend) != `{"delta":49}` || string(list[1].Trend) != "null" || list[1].Level != "gold" {
			t.Fatalf("list = %+v, %v", list, err)
		}
		ha, _ := db.History(ctx, "a", time.Time{})
		hb, _ := db.History(ctx, "b", time.Time{})
		if len(ha) != 2 || ha[1].Score != 50 || len(hb) != 0 {
			t.Fatalf("history a = %+v, b = %+v", ha, hb)
		}
	})
}
