package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// raceDetector is set under -race (race_test.go).
var raceDetector bool

func write(t *testing.T, db *DB, fn func(*Tx) error) {
	t.Helper()
	if err := db.Writer.Do(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestScoresAndHistory(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		for i, s := range []float64{40, 72.5, 91} {
			write(t, db, func(tx *Tx) error {
				return PutScore(tx, ScoreRow{Service: "checkout", Score: s, Band: "watch", Level: "bronze", Card: []byte(`{"s":1}`),
					Trend: []byte(`{"delta":1}`), UpdatedAt: t0.Add(time.Duration(i) * time.Hour)}, true)
			})
		}
		write(t, db, func(tx *Tx) error {
			return PutScore(tx, ScoreRow{Service: "Billing", Score: 10, Band: "blocked", Level: "none", Card: []byte(`{}`), UpdatedAt: t0}, false)
		})
		r, err := db.GetScore(ctx, "checkout")
		if err != nil || r.Score != 91 || string(r.Card) != `{"s":1}` || !r.UpdatedAt.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("score = %+v, %v", r, err)
		}
		if _, err := db.GetScore(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing score: %v", err)
		}
		list, err := db.ListScores(ctx)
		// bytewise order on both engines: upper case first
		if err != nil || len(list) != 2 || list[0].Service != "Billing" || string(list[1].Trend) != `{"delta":1}` || string(list[0].Trend) != "null" {
			t.Fatalf("list = %+v, %v", list, err)
		}
		h, err := db.History(ctx, "checkout", t0.Add(time.Hour))
		if err != nil || len(h) != 2 || h[0].Score != 72.5 {
			t.Fatalf("history = %+v, %v", h, err)
		}
		p, ok, err := db.ScoreAt(ctx, "checkout", t0.Add(90*time.Minute))
		if err != nil || !ok || p.Score != 72.5 {
			t.Fatalf("score at = %+v %v %v", p, ok, err)
		}
	})
}

func TestOutboxKeepsOrderAndKeys(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		for i, target := range []string{"C1", "C2", "C1"} {
			write(t, db, func(tx *Tx) error {
				ok, err := InsertOutbox(tx, OutboxRow{Key: fmt.Sprintf("k:%d", i), Kind: "slack.post", Target: target, Payload: []byte(`{"text":"hi"}`), CreatedAt: t0})
				if err == nil && !ok {
					err = errors.New("not inserted")
				}
				return err
			})
		}
		write(t, db, func(tx *Tx) error {
			if ok, err := InsertOutbox(tx, OutboxRow{Key: "k:0", Kind: "slack.post", Target: "C1", Payload: []byte(`{}`), CreatedAt: t0}); err != nil || ok {
				return fmt.Errorf("a key queued twice: %v %v", ok, err)
			}
			return nil
		})
		due, err := db.DueOutbox(ctx, t0, 10)
		if err != nil || len(due) != 2 || due[0].Key != "k:0" || due[1].Key != "k:1" {
			t.Fatalf("due = %+v, %v", due, err)
		}
		write(t, db, func(tx *Tx) error { return UpdateOutbox(tx, due[0].ID, "sent", 1, "", "1700.01", t0, t0) })
		due, _ = db.DueOutbox(ctx, t0, 10)
		if len(due) != 2 || due[1].Key != "k:2" {
			t.Fatalf("after the first is sent, due = %+v", due)
		}
		m, err := db.GetOutbox(ctx, "k:0")
		if err != nil || m.State != "sent" || m.Ref != "1700.01" || !m.SentAt.Equal(t0) {
			t.Fatalf("sent message = %+v, %v", m, err)
		}
		last, ok, err := db.LastOutboxWithPrefix(ctx, "k:")
		if err != nil || !ok || last.Key != "k:2" {
			t.Fatalf("last with prefix = %+v %v %v", last, ok, err)
		}
		write(t, db, func(tx *Tx) error {
			n, err := DisableWaitingOutbox(tx, "slack.post", "off", t0)
			if err == nil && n != 2 {
				err = fmt.Errorf("disabled %d, want 2", n)
			}
			return err
		})
		if next, ok, err := db.NextOutboxAttempt(ctx); err != nil || ok {
			t.Fatalf("next attempt = %v %v %v, want none", next, ok, err)
		}
	})
}

// Concurrent deciders of one approval, on separate connections (two handles to one database
// on PostgreSQL, as two replicas have): exactly one wins.
func TestApprovalIsDecidedOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		a := open(DefaultOptions())
		b := a
		if a.Driver() == DriverPostgres {
			b = open(DefaultOptions())
		}
		ctx := context.Background()
		score := 71.0
		write(t, a, func(tx *Tx) error {
			ok, err := InsertApproval(tx, ApprovalRow{ID: "ap-1", Service: "checkout", Environment: "production", Origin: "api", OriginKey: "req-1",
				Score: &score, Reasons: []byte(`[]`), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
			if err == nil && !ok {
				err = errors.New("not inserted")
			}
			return err
		})
		write(t, b, func(tx *Tx) error {
			if ok, err := InsertApproval(tx, ApprovalRow{ID: "ap-2", Origin: "api", OriginKey: "req-1", Reasons: []byte(`[]`), CreatedAt: t0, ExpiresAt: t0}); err != nil || ok {
				return fmt.Errorf("same origin key stored twice: %v %v", ok, err)
			}
			return nil
		})
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			db := a
			if i%2 == 1 {
				db = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.Writer.Do(ctx, func(tx *Tx) error {
					ok, err := DecideApproval(tx, "ap-1", "approved", fmt.Sprintf("U%d", i), t0.Add(time.Minute))
					if ok {
						wins.Add(1)
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d deciders won, want 1", wins.Load())
		}
		r, err := b.GetApproval(ctx, "ap-1")
		if err != nil || r.State != "approved" || r.Score == nil || *r.Score != 71 || r.DecidedAt.IsZero() {
			t.Fatalf("approval = %+v, %v", r, err)
		}
		exp, err := a.ExpiredApprovals(ctx, t0.Add(2*time.Hour), 10)
		if err != nil || len(exp) != 0 {
			t.Fatalf("expired = %+v, %v (a decided approval cannot expire)", exp, err)
		}
	})
}

// Appends from two handles never fork the chain: each append reads the head inside the
// writer's transaction, and on PostgreSQL the writer lock puts the two in turn.
func TestAuditAppendsNeverFork(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		a := open(DefaultOptions())
		b := a
		if a.Driver() == DriverPostgres {
			b = open(DefaultOptions())
		}
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			db := a
			if i%2 == 1 {
				db = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.Writer.Do(context.Background(), func(tx *Tx) error {
					seq, hash, err := LastAudit(tx)
					if err != nil {
						return err
					}
					return InsertAudit(tx, AuditRow{Seq: seq + 1, At: t0, Kind: "test", Detail: []byte(`{}`), PrevHash: hash, Hash: fmt.Sprintf("h%d", seq+1)})
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var prev string
		var n int64
		err := a.EachAudit(context.Background(), func(r AuditRow) error {
			n++
			if r.Seq != n || r.PrevHash != prev {
				return fmt.Errorf("entry %d: seq %d prev %q, want prev %q", n, r.Seq, r.PrevHash, prev)
			}
			prev = r.Hash
			return nil
		})
		if err != nil || n != 40 {
			t.Fatalf("chain: %d entries, %v", n, err)
		}
		err = a.Writer.Do(context.Background(), func(tx *Tx) error {
			_, err := tx.Exec(`UPDATE audit_log SET kind = 'edited' WHERE seq = 1`)
			return err
		})
		if err == nil {
			t.Fatal("audit_log accepted an UPDATE")
		}
	})
}

func TestSyncRecordsAndRuns(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		write(t, db, func(tx *Tx) error {
			return PutSyncSuccess(tx, "github", "acme/shop", "shop", t0, []byte(`{"etag":"x"}`))
		})
		write(t, db, func(tx *Tx) error { return PutSyncFailure(tx, "github", "acme/shop", "shop", t0.Add(time.Hour), "500") })
		write(t, db, func(tx *Tx) error {
			return InsertSyncRun(tx, SyncRun{Source: "github", Trigger: "start", Full: true, StartedAt: t0, FinishedAt: t0.Add(time.Second), Subjects: 1})
		})
		recs, err := db.SyncRecords(ctx, "github")
		r := recs["acme/shop"]
		if err != nil || r.Failures != 1 || string(r.State) != `{"etag":"x"}` || !r.LastSuccess.Equal(t0) || r.LastError != "500" {
			t.Fatalf("records = %+v, %v", recs, err)
		}
		run, ok, err := db.LastSyncRun(ctx, "github", true)
		if err != nil || !ok || !run.Full || run.Trigger != "start" {
			t.Fatalf("run = %+v %v %v", run, ok, err)
		}
		write(t, db, func(tx *Tx) error { return DeleteSyncRecords(tx, "github", []string{"acme/shop"}) })
		if recs, _ := db.SyncRecords(ctx, "github"); len(recs) != 0 {
			t.Fatalf("forgotten record still there: %+v", recs)
		}
	})
}

// One lease, two holders: the second gets it only once the first releases it (or it expires).
func TestLeaseHasOneHolder(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		oa, ob := DefaultOptions(), DefaultOptions()
		oa.Holder, ob.Holder = "replica-a", "replica-b"
		a := open(oa)
		b := open(ob) // on SQLite, a second handle on the same file: the lease SQL is shared
		ctx := context.Background()
		tok, held, err := a.AcquireLease(ctx, "outbox", LeaseTTL)
		if err != nil || !held || tok != 1 {
			t.Fatalf("first acquire = %d %v %v", tok, held, err)
		}
		if tok, held, _ := a.AcquireLease(ctx, "outbox", LeaseTTL); !held || tok != 1 {
			t.Fatalf("renewal = %d %v, want the same token", tok, held)
		}
		if _, held, err := b.AcquireLease(ctx, "outbox", LeaseTTL); err != nil || held {
			t.Fatalf("second holder acquired a held lease: %v %v", held, err)
		}
		if err := a.ReleaseLease(ctx, "outbox"); err != nil {
			t.Fatal(err)
		}
		tok, held, err = b.AcquireLease(ctx, "outbox", LeaseTTL)
		if err != nil || !held || tok != 1 {
			t.Fatalf("after release: %d %v %v", tok, held, err)
		}
		// An expired lease passes to the next asker with a new token.
		if _, _, err := b.AcquireLease(ctx, "short", time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		tok, held, err = a.AcquireLease(ctx, "short", LeaseTTL)
		if err != nil || !held || tok != 2 {
			t.Fatalf("expired lease: %d %v %v, want token 2", tok, held, err)
		}
		rows, err := a.Leases(ctx)
		if err != nil || len(rows) == 0 {
			t.Fatalf("leases = %+v, %v", rows, err)
		}
	})
}

// RunLeased runs the work at once on the only asker and stops it with the context.
func TestRunLeasedRunsAndStops(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			db.RunLeased(ctx, "work", func(ctx context.Context) {
				close(started)
				<-ctx.Done()
			})
		}()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("leased work did not start")
		}
		if got := db.HeldLeases(); !slices.Contains(got, "work") {
			t.Fatalf("held = %v", got)
		}
		cancel()
		<-stopped
	})
}

// An announcement on one handle wakes the subscribers of another (another replica).
func TestAnnounceWakesOtherReplicas(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		a := open(DefaultOptions())
		got := make(chan string, 64)
		a.Subscribe(TopicFacts, func(p string) {
			select {
			case got <- p:
			default:
			}
		})
		other := make(chan string, 64)
		a.Subscribe(TopicOutbox, func(p string) {
			if p != "" { // a reconnected listener's wake carries none
				other <- p
			}
		})
		from := a
		if a.Driver() == DriverPostgres {
			from = open(DefaultOptions())
		}
		// a's listener connects in the background, and its first wake (payload "") says nothing
		// about NOTIFY: announce until the payload itself comes back.
		deadline := time.After(10 * time.Second)
		for {
			from.AnnounceWith(TopicFacts, "facts-1")
			select {
			case p := <-got:
				if p != "facts-1" {
					continue
				}
				if len(other) != 0 {
					t.Fatalf("a facts announcement woke the outbox's subscriber: %q", <-other)
				}
				return
			case <-time.After(200 * time.Millisecond):
			case <-deadline:
				t.Fatal("the announcement's payload never reached the other handle")
			}
		}
	})
}

func TestReleaseMembers(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		for _, m := range []struct {
			svc string
			at  time.Time
		}{{"checkout", t0}, {"billing", t0.Add(time.Minute)}, {"search", t0.Add(-3 * time.Hour)}, {"billing", t0.Add(-time.Hour)}} {
			write(t, db, func(tx *Tx) error { return NoteRelease(tx, "r-42", m.svc, m.at) })
		}
		got, err := db.ReleaseServices(context.Background(), "r-42", "checkout", t0.Add(-2*time.Hour))
		if err != nil || len(got) != 1 || got[0] != "billing" {
			t.Fatalf("release services = %v, %v (an older sighting must not move billing back)", got, err)
		}
	})
}

// A message queued behind a target's head that is waiting out a retry is not "next": the
// sender must sleep until the head is due, not poll for the one behind it.
func TestNextOutboxAttemptCountsOnlyTargetHeads(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		for i, at := range []time.Time{t0, t0} {
			write(t, db, func(tx *Tx) error {
				_, err := InsertOutbox(tx, OutboxRow{Key: fmt.Sprintf("h:%d", i), Kind: "slack.post", Target: "C1", Payload: []byte(`{}`), CreatedAt: at})
				return err
			})
		}
		due, _ := db.DueOutbox(context.Background(), t0, 10)
		write(t, db, func(tx *Tx) error {
			return UpdateOutbox(tx, due[0].ID, "pending", 1, "429", "", t0.Add(time.Minute), time.Time{})
		})
		next, ok, err := db.NextOutboxAttempt(context.Background())
		if err != nil || !ok || !next.Equal(t0.Add(time.Minute)) {
			t.Fatalf("next attempt = %v %v %v, want the head's retry at %v", next, ok, err, t0.Add(time.Minute))
		}
	})
}
