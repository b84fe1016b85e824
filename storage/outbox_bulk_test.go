package storage

import (
	"context"
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
