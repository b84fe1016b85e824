package storage

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestExemptionLifecycle(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		req := ExemptionRow{ID: "ex_1", Service: "checkout", Signal: "slo_defined", Days: 10, Reason: "vendor outage",
			RequestedBy: "U0BOB", OriginKey: "trigger-1", Channel: "C0EXEMPT", CreatedAt: t0}
		write(t, db, func(tx *Tx) error {
			ok, err := InsertExemption(tx, req)
			if err == nil && !ok {
				err = errors.New("not inserted")
			}
			return err
		})
		// The same invocation again stores nothing.
		write(t, db, func(tx *Tx) error {
			dup := req
			dup.ID = "ex_2"
			if ok, err := InsertExemption(tx, dup); err != nil || ok {
				t.Errorf("replayed invocation stored: %v %v", ok, err)
			}
			r, err := ExemptionByOriginTx(tx, "trigger-1")
			if err != nil || r.ID != "ex_1" {
				t.Errorf("by origin = %+v %v", r, err)
			}
			return nil
		})
		got, err := db.GetExemption(ctx, "ex_1")
		if err != nil || got.State != ExemptionPending || got.Days != 10 || !got.CreatedAt.Equal(t0) || !got.ExpiresAt.IsZero() || got.Status(t0) != "pending" {
			t.Fatalf("stored = %+v %v", got, err)
		}
		if _, err := db.GetExemption(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing: %v", err)
		}
		decided, expires := t0.Add(time.Hour), t0.Add(time.Hour+10*24*time.Hour)
		var first, second bool
		write(t, db, func(tx *Tx) error {
			var err error
			if first, err = DecideExemption(tx, "ex_1", ExemptionApproved, "U0ALICE", decided, expires); err != nil {
				return err
			}
			second, err = DecideExemption(tx, "ex_1", ExemptionDenied, "U0CAROL", decided, expires)
			return err
		})
		if !first || second {
			t.Fatalf("decided first=%v second=%v: want exactly the first", first, second)
		}
		got, _ = db.GetExemption(ctx, "ex_1")
		if got.State != ExemptionApproved || got.DecidedBy != "U0ALICE" || !got.ExpiresAt.Equal(expires) || got.Status(expires) != ExemptionExpired {
			t.Fatalf("approved = %+v", got)
		}
		live, err := db.ExemptionsEndingAfter(ctx, expires.Add(-time.Millisecond))
		if err != nil || len(live) != 1 {
			t.Fatalf("live = %+v %v", live, err)
		}
		if live, _ := db.ExemptionsEndingAfter(ctx, expires); len(live) != 0 {
			t.Errorf("live at expiry: %+v", live)
		}
		if soon, _ := db.ExemptionsExpiringBetween(ctx, expires.Add(-time.Hour), expires.Add(time.Hour)); len(soon) != 1 {
			t.Errorf("expiring = %+v", soon)
		}
		if soon, _ := db.ExemptionsExpiringBetween(ctx, expires.Add(time.Millisecond), expires.Add(time.Hour)); len(soon) != 0 {
			t.Errorf("expiring after: %+v", soon)
		}
		const before = 3 * 24 * time.Hour
		next, ok, err := db.NextExemptionEvent(ctx, before)
		if err != nil || !ok || !next.Equal(expires.Add(-before)) {
			t.Fatalf("next event = %v %v %v", next, ok, err)
		}
		if due, _ := db.ExemptionsToRemind(ctx, expires.Add(-before-time.Minute), before); len(due) != 0 {
			t.Errorf("reminded early: %+v", due)
		}
		due, err := db.ExemptionsToRemind(ctx, expires.Add(-before), before)
		if err != nil || len(due) != 1 {
			t.Fatalf("to remind = %+v %v", due, err)
		}
		write(t, db, func(tx *Tx) error {
			a, err := MarkExemptionReminded(tx, "ex_1", expires.Add(-before))
			if err != nil {
				return err
			}
			b, err := MarkExemptionReminded(tx, "ex_1", expires.Add(-before))
			if !a || b {
				t.Errorf("reminded twice: %v %v", a, b)
			}
			return err
		})
		if next, ok, _ := db.NextExemptionEvent(ctx, before); !ok || !next.Equal(expires) {
			t.Errorf("next after the reminder = %v %v", next, ok)
		}
		if lapsed, _ := db.ExemptionsLapsed(ctx, expires); len(lapsed) != 1 {
			t.Errorf("lapsed = %+v", lapsed)
		}
		write(t, db, func(tx *Tx) error {
			_, err := MarkExemptionLapsed(tx, "ex_1", expires)
			return err
		})
		if _, ok, _ := db.NextExemptionEvent(ctx, before); ok {
			t.Error("an event is left after the lapse")
		}
		list, err := db.ListExemptions(ctx, 10)
		if err != nil || len(list) != 1 || list[0].RemindedAt.IsZero() || list[0].LapsedAt.IsZero() {
			t.Errorf("list = %+v %v", list, err)
		}
	})
}

// A request granted for no longer than the reminder lead gets no reminder: it would come the
// moment it was approved.
func TestShortExemptionIsNotReminded(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		write(t, db, func(tx *Tx) error {
			if _, err := InsertExemption(tx, ExemptionRow{ID: "ex_s", Service: "s", Signal: "slo_defined", Days: 2, Reason: "r",
				RequestedBy: "U1", OriginKey: "k", CreatedAt: t0}); err != nil {
				return err
			}
			_, err := DecideExemption(tx, "ex_s", ExemptionApproved, "U2", t0, t0.Add(48*time.Hour))
			return err
		})
		if due, _ := db.ExemptionsToRemind(context.Background(), t0.Add(time.Hour), 72*time.Hour); len(due) != 0 {
			t.Errorf("short exemption reminded: %+v", due)
		}
		if next, ok, _ := db.NextExemptionEvent(context.Background(), 72*time.Hour); !ok || !next.Equal(t0.Add(48*time.Hour)) {
			t.Errorf("next = %v %v, want its expiry", next, ok)
		}
	})
}

// A card stored before an exemption's approval, or before the end of one that ended, is
// stale; one stored at or after it is not, and neither is one outside the window.
func TestServicesWithStaleWaivers(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		decided := t0.Add(time.Hour)
		expires := decided.Add(24 * time.Hour)
		scored := func(service string, at time.Time) {
			write(t, db, func(tx *Tx) error {
				return PutScore(tx, ScoreRow{Service: service, Score: 50, Band: "watch", Card: []byte(`{}`), Trend: []byte(`null`), UpdatedAt: at}, false)
			})
		}
		for i, svc := range []string{"fresh", "stale", "pending"} {
			write(t, db, func(tx *Tx) error {
				id := "ex_" + svc
				if _, err := InsertExemption(tx, ExemptionRow{ID: id, Service: svc, Signal: "slo_defined", Days: 1, Reason: "r",
					RequestedBy: "U1", OriginKey: id, CreatedAt: t0}); err != nil {
					return err
				}
				if i == 2 {
					return nil
				}
				_, err := DecideExemption(tx, id, ExemptionApproved, "U2", decided, expires)
				return err
			})
		}
		scored("fresh", decided)
		scored("stale", decided.Add(-time.Second))
		scored("pending", t0)
		got, err := db.ServicesWithStaleWaivers(ctx, decided.Add(-10*time.Minute), decided.Add(time.Minute))
		if err != nil || len(got) != 1 || got[0] != "stale" {
			t.Fatalf("after the approval: %v %v, want [stale]", got, err)
		}
		if got, _ := db.ServicesWithStaleWaivers(ctx, decided.Add(time.Minute), decided.Add(20*time.Minute)); len(got) != 0 {
			t.Errorf("outside the window: %v", got)
		}
		// At the end: both cards were scored before it; the rescore of one settles it.
		scored("fresh", expires)
		got, _ = db.ServicesWithStaleWaivers(ctx, expires.Add(-10*time.Minute), expires.Add(time.Minute))
		if len(got) != 1 || got[0] != "stale" {
			t.Errorf("after the end: %v, want [stale]", got)
		}
	})
}
