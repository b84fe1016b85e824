package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// An append with the head hint appends only while the hint is the log's head: not after
// another replica appended (PostgreSQL: a second handle) nor after the append that left the
// hint rolled back; the rows are then where they were and the caller reads the head.
func TestInsertAuditsAfterChecksTheHead(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		row := func(seq int64) AuditRow {
			return AuditRow{Seq: seq, At: t0, Kind: "test", Detail: []byte(`{}`), PrevHash: fmt.Sprintf("h%d", seq-1), Hash: fmt.Sprintf("h%d", seq)}
		}
		after := func(db *DB, seq int64, hash string, rows ...AuditRow) (ok bool) {
			t.Helper()
			write(t, db, func(tx *Tx) error {
				var err error
				ok, err = InsertAuditsAfter(tx, seq, hash, rows...)
				return err
			})
			return ok
		}
		if !after(db, 0, "", row(1), row(2)) {
			t.Fatal("the first entries were not appended to the empty log")
		}
		write(t, db, func(tx *Tx) error {
			if seq, hash, ok := AuditHeadHint(tx); !ok || seq != 2 || hash != "h2" {
				return fmt.Errorf("hint = %d %q %v, want 2 h2", seq, hash, ok)
			}
			return nil
		})
		if after(db, 1, "h1", row(2)) || after(db, 0, "", row(1)) {
			t.Fatal("appended after a head that is not the head")
		}
		// The hint of an append rolled back is stale.
		boom := errors.New("rolled back")
		if err := db.Writer.Do(context.Background(), func(tx *Tx) error {
			if err := InsertAudits(tx, row(3)); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if after(db, 3, "h3", row(4)) {
			t.Fatal("appended after an entry that was rolled back")
		}
		other := db
		if db.Driver() == DriverPostgres {
			other = open(DefaultOptions()) // another replica
		}
		write(t, other, func(tx *Tx) error { return InsertAudits(tx, row(3)) })
		if db != other && after(db, 2, "h2", row(3)) {
			t.Fatal("appended after another replica moved the head")
		}
		if !after(db, 3, "h3", row(4)) {
			t.Fatal("not appended after the true head")
		}
		var seqs []int64
		if err := db.EachAudit(context.Background(), func(r AuditRow) error { seqs = append(seqs, r.Seq); return nil }); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seqs) != "[1 2 3 4]" {
			t.Fatalf("log = %v, want [1 2 3 4]", seqs)
		}
	})
}
