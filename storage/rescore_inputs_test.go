package storage

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// The round's reads on PostgreSQL must equal what each service's own reads return.
func TestRescoreInputsEqualEachServiceReads(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		write(t, db, func(tx *Tx) error {
			for i, s := range []float64{40, 55, 70, 91} { // checkout: one before since, three after
				if err := PutScore(tx, ScoreRow{Service: "checkout", Score: s, Band: "watch", Level: "bronze", Card: []byte(`{}`),
					UpdatedAt: t0.Add(time.Duration(i) * time.Hour)}, true); err != nil {
					return err
				}
			}
			if err := PutScore(tx, ScoreRow{Service: "billing", Score: 10, Band: "blocked", Level: "none", Card: []byte(`{}`), UpdatedAt: t0.Add(-time.Hour)}, true); err != nil {
				return err
			}
			if err := PutSyncSuccess(tx, "github", "acme/checkout", "checkout", t0, []byte(`{}`)); err != nil {
				return err
			}
			if err := PutSyncFailure(tx, "pagerduty", "P123", "checkout", t0.Add(time.Minute), "403 forbidden"); err != nil {
				return err
			}
			return PutSyncSuccess(tx, "github", "acme/billing", "billing", t0, []byte(`{}`))
		})
		since := t0.Add(30 * time.Minute)
		names := []string{"billing", "checkout", "quiet"} // quiet has nothing stored
		got, err := db.RescoreInputs(ctx, names, since)
		if err != nil {
			t.Fatal(err)
		}
		if db.d.name != DriverPostgres {
			if got != nil {
				t.Fatalf("SQLite returned %d inputs; it reads per service", len(got))
			}
			return
		}
		for _, n := range names {
			want := &RescoreInput{}
			if want.Coverage, err = db.SyncCoverage(ctx, n); err != nil {
				t.Fatal(err)
			}
			if p, ok, err := db.ScoreAt(ctx, n, since); err != nil {
				t.Fatal(err)
			} else if ok {
				want.Base = &p
			}
			if want.History, err = db.History(ctx, n, since); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[n], want) {
				t.Errorf("%s: round read %+v, per-service reads %+v", n, got[n], want)
			}
		}
		if c := got["checkout"]; c == nil || len(c.History) != 3 || c.Base == nil || c.Base.Score != 40 || len(c.Coverage) != 2 {
			t.Fatalf("checkout = %+v", c)
		}
	})
}

func TestScoreSummaries(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		write(t, db, func(tx *Tx) error {
			for i, n := range []string{"a", "b", "c"} {
				if err := PutScore(tx, ScoreRow{Service: n, Score: float64(10 * (i + 1)), Band: "watch", Level: "none", Card: []byte(`{}`), UpdatedAt: t0}, false); err != nil {
					return err
				}
			}
			return nil
		})
		names := []string{"c", "a", "missing"}
		for i := range summariesPerQuery + 10 { // past one query's worth of names
			names = append(names, fmt.Sprintf("none-%d", i))
		}
		got, err := db.ScoreSummaries(context.Background(), names)
		want := map[string]ScoreSummary{"a": {10, "watch"}, "c": {30, "watch"}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("summaries = %v, %v; want %v", got, err, want)
		}
	})
}
