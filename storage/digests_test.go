package storage

import (
	"context"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

func TestDigestRunsOncePerPeriod(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		run := DigestRun{Scope: "team", Team: "team-payments", Period: "2026-W49", Channel: "C0PAY", SlotAt: t0,
			Outcome: DigestQueued, OutboxKey: "digest:team:team-payments:2026-W49", CreatedAt: t0}
		claims := 0
		for range 2 {
			write(t, db, func(tx *Tx) error {
				ok, err := ClaimDigest(tx, run)
				if ok {
					claims++
				}
				return err
			})
		}
		if claims != 1 {
			t.Fatalf("claimed the week %d times, want once", claims)
		}
		write(t, db, func(tx *Tx) error {
			other := run
			other.Team, other.Outcome, other.OutboxKey = "team-discovery", DigestSkipped, ""
			_, err := ClaimDigest(tx, other)
			return err
		})
		runs, err := db.DigestRuns(ctx, "team", "2026-W49")
		if err != nil || len(runs) != 2 || runs["team-payments"].OutboxKey != run.OutboxKey || runs["team-discovery"].Outcome != DigestSkipped ||
			!runs["team-payments"].SlotAt.Equal(t0) {
			t.Fatalf("runs = %+v, %v", runs, err)
		}
		if runs, err := db.DigestRuns(ctx, "org", "2026-W49"); err != nil || len(runs) != 0 {
			t.Fatalf("org runs = %+v, %v", runs, err)
		}
		list, err := db.ListDigestRuns(ctx, 1)
		if err != nil || len(list) != 1 || list[0].Team != "team-discovery" || list[0].Scope != "team" || !list[0].CreatedAt.Equal(t0) {
			t.Fatalf("list = %+v, %v", list, err)
		}
	})
}

func TestRegressionsBetween(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		for i, d := range []struct {
			source, typ string
			at          time.Time
		}{
			{releaseops.SourceInternal, "regression", t0.Add(-time.Millisecond)},
			{releaseops.SourceInternal, "regression", t0},
			{releaseops.SourceInternal, "gate.decision", t0.Add(time.Hour)},
			{releaseops.SourceDeploy, "regression", t0.Add(time.Hour)},
			{releaseops.SourceInternal, "regression", t0.Add(2 * time.Hour)},
			{releaseops.SourceInternal, "regression", t0.Add(3 * time.Hour)},
		} {
			write(t, db, func(tx *Tx) error {
				_, _, err := InsertDelivery(tx, &NewDelivery{Source: d.source, DeliveryID: string(rune('a' + i)), Type: d.typ, Service: "checkout",
					Outcome: releaseops.OutcomeStored, ReceivedAt: d.at, Headers: map[string]string{}, Body: []byte(`{"to":` + string(rune('0'+i)) + `}`)})
				return err
			})
		}
		got, err := db.RegressionsBetween(context.Background(), t0, t0.Add(3*time.Hour))
		if err != nil || len(got) != 2 || !got[0].At.Equal(t0) || string(got[1].Body) != `{"to":4}` || got[0].Service != "checkout" {
			t.Fatalf("regressions = %+v, %v", got, err)
		}
	})
}
