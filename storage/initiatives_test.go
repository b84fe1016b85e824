package storage

import (
	"context"
	"testing"
)

func TestInitiativesStoredOnceAndDeleted(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		var first, second bool
		write(t, db, func(tx *Tx) error {
			var err error
			first, err = InsertInitiative(tx, InitiativeRow{ID: "protect-main", Spec: []byte(`{"id":"protect-main"}`), CreatedBy: "ci", CreatedAt: t0})
			return err
		})
		write(t, db, func(tx *Tx) error {
			var err error
			second, err = InsertInitiative(tx, InitiativeRow{ID: "protect-main", Spec: []byte(`{"id":"other"}`), CreatedBy: "ops", CreatedAt: t0})
			return err
		})
		write(t, db, func(tx *Tx) error {
			_, err := InsertInitiative(tx, InitiativeRow{ID: "oncall", Spec: []byte(`{}`), CreatedBy: "ops", CreatedAt: t0.Add(1)})
			return err
		})
		if !first || second {
			t.Fatalf("inserted %v then %v, want true then false", first, second)
		}
		list, err := db.ListInitiatives(ctx)
		if err != nil || len(list) != 2 || list[0].ID != "oncall" || list[1].ID != "protect-main" ||
			string(list[1].Spec) != `{"id":"protect-main"}` || list[1].CreatedBy != "ci" || !list[1].CreatedAt.Equal(t0) {
			t.Fatalf("list = %+v, %v", list, err)
		}
		var gone, again bool
		write(t, db, func(tx *Tx) error {
			var err error
			if gone, err = DeleteInitiative(tx, "oncall"); err != nil {
				return err
			}
			again, err = DeleteInitiative(tx, "oncall")
			return err
		})
		if !gone || again {
			t.Fatalf("deleted %v then %v", gone, again)
		}
		if list, err := db.ListInitiatives(ctx); err != nil || len(list) != 1 {
			t.Fatalf("after delete: %+v, %v", list, err)
		}
	})
}
