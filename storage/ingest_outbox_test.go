package storage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The messages waiting behind one to the same target: pending only, after it, in order, and
// never another target's.
func TestWaitingOutboxAfter(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		for i, target := range []string{"notes:a", "notes:b", "notes:a", "notes:a", "notes:a"} {
			write(t, db, func(tx *Tx) error {
				_, err := InsertOutbox(tx, OutboxRow{Key: fmt.Sprintf("k%d", i), Kind: "github.release_notes", Target: target, Payload: []byte(`{}`), CreatedAt: t0})
				return err
			})
		}
		ctx := context.Background()
		k3, err := db.GetOutbox(ctx, "k3")
		if err != nil {
			t.Fatal(err)
		}
		write(t, db, func(tx *Tx) error { return UpdateOutbox(tx, k3.ID, "sent", 1, "", "ts", t0, t0) })
		k0, _ := db.GetOutbox(ctx, "k0")
		got, err := db.WaitingOutboxAfter(ctx, "notes:a", k0.ID, 10)
		if err != nil || len(got) != 2 || got[0].Key != "k2" || got[1].Key != "k4" {
			t.Fatalf("waiting after k0 = %+v, %v; want k2, k4", got, err)
		}
		if got, _ := db.WaitingOutboxAfter(ctx, "notes:a", k0.ID, 1); len(got) != 1 || got[0].Key != "k2" {
			t.Fatalf("limit 1 = %+v", got)
		}
	})
}

// A target's head is its oldest waiting message, in doubt ("sending") or pending, whichever
// came first; what comes after it waits.
func TestOutboxHeadIsTheOldestWaitingOfEitherState(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		for i := range 3 {
			write(t, db, func(tx *Tx) error {
				_, err := InsertOutbox(tx, OutboxRow{Key: fmt.Sprintf("m%d", i), Kind: "slack.post", Target: "C1", Payload: []byte(`{}`), CreatedAt: t0})
				return err
			})
		}
		m0, _ := db.GetOutbox(ctx, "m0")
		m1, _ := db.GetOutbox(ctx, "m1")
		write(t, db, func(tx *Tx) error { return UpdateOutbox(tx, m0.ID, "sent", 1, "", "ts", t0, t0) })
		write(t, db, func(tx *Tx) error { return UpdateOutbox(tx, m1.ID, "sending", 1, "", "", t0, time.Time{}) })
		head, due, err := db.NextOutboxFor(ctx, "C1", t0)
		if err != nil || !due || head.Key != "m1" {
			t.Fatalf("head = %s due %v (%v), want m1 (sending, older than the pending m2)", head.Key, due, err)
		}
		heads, err := db.DueOutbox(ctx, t0, 10)
		if err != nil || len(heads) != 1 || heads[0].Key != "m1" {
			t.Fatalf("due = %+v, %v", heads, err)
		}
		if _, _, err := db.NextOutboxFor(ctx, "C2", t0); err != nil {
			t.Fatalf("a target with nothing waiting: %v", err)
		}
	})
}

// On SQLite the head lookups seek the (target, state, id) index and sort nothing: the
// queue of one busy channel must not be read whole for each message sent.
func TestOutboxHeadQueriesSeekTheIndex(t *testing.T) {
	db := openSQLite(t)
	plan := func(q string, args ...any) string {
		rows, err := db.read.Query(`EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	next := plan(`SELECT id FROM outbox WHERE id = (SELECT min(m) FROM (`+headOf+`) AS heads)`, "C1", "C1")
	if strings.Contains(next, "TEMP B-TREE") || !strings.Contains(next, "outbox_target") {
		t.Errorf("next message plan: %s", next)
	}
	due := plan(`SELECT id FROM outbox o WHERE state IN ('pending', 'sending') AND next_attempt <= 0 AND ` + isHead)
	if !strings.Contains(due, "outbox_target (target=? AND state=? AND id<?)") {
		t.Errorf("due messages plan: %s", due)
	}
}
