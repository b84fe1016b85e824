package storage

import (
	"context"
	"fmt"
	"testing"
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
