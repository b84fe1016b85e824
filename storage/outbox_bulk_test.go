package storage

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
)

func TestInsertOutboxesKeepsOrderAndKeys(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		row := func(key, target string) OutboxRow {
			return OutboxRow{Key: key, Kind: "slack.post", Target: target, Payload: []byte(`{"k":"` + key + `"}`), CreatedAt: t0}
		}
		write(t, db, func(tx *Tx) error { _, err := InsertOutbox(tx, row("old", "C1")); return err })
		var got []bool
		write(t, db, func(tx *Tx) error {
			var err error
			got, err = InsertOutboxes(tx, []OutboxRow{row("z", "C1"), row("old", "C1"), row("a", "C1"), row("z", "C2"), row("m", "C2")})
			return err
		})
		if want := []bool{true, false, true, false, true}; !reflect.DeepEqual(got, want) {
			t.Fatalf("inserted = %v, want %v", got, want)
		}
		rows, err := db.ListOutbox(context.Background(), "", 10)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[int64]string{}
		var ids []int64
		for _, r := range rows {
			byID[r.ID] = r.Key + "@" + r.Target
			ids = append(ids, r.ID)
		}
		// ids follow the order given: old < z < a < m, and z went to C1 (its first listing)
		order := []string{}
		for _, id := range sortedIDs(ids) {
			order = append(order, byID[id])
		}
		if want := []string{"old@C1", "z@C1", "a@C1", "m@C2"}; !reflect.DeepEqual(order, want) {
			t.Fatalf("queued in id order %v, want %v", order, want)
		}
	})
}

func sortedIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestFoldOutboxOnlyWhileWaiting(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		var id int64
		write(t, db, func(tx *Tx) error {
			if _, err := InsertOutbox(tx, OutboxRow{Key: "notes:2", Kind: "release_notes", Target: "release_notes:svc", Payload: []byte(`{}`), CreatedAt: t0}); err != nil {
				return err
			}
			return tx.QueryRow(`SELECT id FROM outbox WHERE key = ?`, "notes:2").Scan(&id)
		})
		write(t, db, func(tx *Tx) error { return FoldOutbox(tx, id, "post:1", t0) })
		err := db.Writer.Do(context.Background(), func(tx *Tx) error { return FoldOutbox(tx, id, "post:other", t0) })
		if !errors.Is(err, ErrOutboxNotWaiting) {
			t.Fatalf("folding a sent message again: %v, want ErrOutboxNotWaiting", err)
		}
		rows, _ := db.ListOutbox(context.Background(), "", 10)
		if len(rows) != 1 || rows[0].State != "sent" || rows[0].Ref != "post:1" {
			t.Fatalf("outbox = %+v", rows)
		}
	})
}
