package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkExemptionsEndingAfter is the read each rescoring round adds: the approved
// exemptions, here 100 of them among 10,000 requests.
func BenchmarkExemptionsEndingAfter(b *testing.B) {
	db, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	err = db.Writer.Do(context.Background(), func(t *Tx) error {
		for i := range 10000 {
			id := fmt.Sprintf("exm_%05d", i)
			if _, err := InsertExemption(t, ExemptionRow{ID: id, Service: fmt.Sprintf("svc-%d", i%500), Signal: "slo_defined", Days: 10,
				Reason: "r", RequestedBy: "U1", OriginKey: id, CreatedAt: t0}); err != nil {
				return err
			}
			state := ExemptionDenied
			if i%100 == 0 {
				state = ExemptionApproved
			}
			if _, err := DecideExemption(t, id, state, "U2", t0, t0.Add(10*24*time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		rows, err := db.ExemptionsEndingAfter(context.Background(), t0)
		if err != nil || len(rows) != 100 {
			b.Fatal(len(rows), err)
		}
	}
}
