package storage

import (
	"context"
	"testing"
	"time"

	"github.com/releaseops/releaseops/internal/pgtest"
)

func TestObservationsStoredOnceAndReadSince(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		score := 41.5
		obs := []Observation{
			{OriginKey: "gr_old", At: t0.Add(-40 * 24 * time.Hour), Service: "checkout", Environment: "production", ModeFrom: "gate.mode",
				WouldDecision: "block", Band: "blocked", Score: &score, Reasons: []byte(`[{"kind":"band","text":"old"}]`)},
			{OriginKey: "github:d1", At: t0, Service: "checkout", Environment: "production", ModeFrom: "gate.mode",
				WouldDecision: "needs_approval", Band: "watch", Score: &score, Reasons: []byte(`[]`)},
			{OriginKey: "gr_new", At: t0.Add(time.Minute), Service: "ledger", Environment: "staging", ModeFrom: "gate.mode_by_environment.staging",
				WouldDecision: "block", Band: "unknown", Reasons: []byte(`[{"kind":"unknown","text":"no score"}]`)},
		}
		write(t, db, func(tx *Tx) error {
			for _, o := range obs {
				if err := InsertObservation(tx, o); err != nil {
					return err
				}
			}
			// A replayed delivery: the first row stays.
			dup := obs[1]
			dup.WouldDecision = "block"
			return InsertObservation(tx, dup)
		})
		got, err := db.Observations(context.Background(), t0.Add(-30*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].OriginKey != "github:d1" || got[0].WouldDecision != "needs_approval" || *got[0].Score != 41.5 ||
			!got[0].At.Equal(t0) || got[1].Score != nil || string(got[1].Reasons) != `[{"kind":"unknown","text":"no score"}]` ||
			got[1].ModeFrom != "gate.mode_by_environment.staging" {
			t.Fatalf("observations %+v", got)
		}
	})
}

// migrate-db carries the observations over: the report reads the same on PostgreSQL.
func TestObservationsCopiedIntoPostgres(t *testing.T) {
	url := pgtest.URL(t)
	src := openSQLite(t)
	score := 72.5
	write(t, src, func(tx *Tx) error {
		if err := InsertObservation(tx, Observation{OriginKey: "gr_1", At: t0, Service: "checkout", Environment: "production", ModeFrom: "gate.mode",
			WouldDecision: "needs_approval", Band: "watch", Score: &score, Reasons: []byte(`[{"kind":"band","text":"watch"}]`)}); err != nil {
			return err
		}
		return InsertObservation(tx, Observation{OriginKey: "github:d2", At: t0.Add(time.Second), Service: "ledger", Environment: "production",
			ModeFrom: "gate.mode", WouldDecision: "block", Band: "unknown", Reasons: []byte(`[]`)})
	})
	dst := openPG(t, url)
	if _, err := CopyInto(context.Background(), src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := dst.Observations(context.Background(), t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || *got[0].Score != 72.5 || got[1].Score != nil || string(got[0].Reasons) != `[{"kind":"band","text":"watch"}]` || !got[1].At.Equal(t0.Add(time.Second)) {
		t.Fatalf("copied observations %+v", got)
	}
}
