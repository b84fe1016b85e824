package storage

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestWebApprovalReads: pending approvals soonest-expiry first and counted by service; decided
// ones newest decision first, paged by a cursor that neither skips nor repeats approvals decided
// in the same millisecond; votes of many approvals in one read.
func TestWebApprovalReads(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		for i, svc := range []string{"checkout", "checkout", "ledger", "search", "search", "search"} {
			id := fmt.Sprintf("ap-%d", i)
			write(t, db, func(tx *Tx) error {
				_, err := InsertApproval(tx, ApprovalRow{ID: id, Service: svc, Environment: "production", Origin: "api", OriginKey: "req-" + id,
					Reasons: []byte(`[]`), CreatedAt: t0, ExpiresAt: t0.Add(time.Duration(10-i) * time.Minute), Quorum: 2})
				return err
			})
		}
		// ap-3 and ap-4 are decided in the same millisecond; ap-5 later.
		for id, at := range map[string]time.Time{"ap-3": t0.Add(time.Minute), "ap-4": t0.Add(time.Minute), "ap-5": t0.Add(2 * time.Minute)} {
			write(t, db, func(tx *Tx) error { _, err := DecideApproval(tx, id, "denied", "U0BOB", at); return err })
		}
		write(t, db, func(tx *Tx) error {
			for _, v := range []struct {
				id, who string
				at      time.Duration
			}{{"ap-0", "U0BOB", 2}, {"ap-0", "U0ALICE", 1}, {"ap-2", "U0CAROL", 3}} {
				if _, err := AddVote(tx, v.id, v.who, t0.Add(v.at*time.Second)); err != nil {
					return err
				}
			}
			return nil
		})

		pending, err := db.PendingApprovals(ctx, 10)
		if err != nil || ids(pending) != "ap-2 ap-1 ap-0" {
			t.Fatalf("pending = %s, %v; want soonest expiry first", ids(pending), err)
		}
		if counts, err := db.PendingApprovalCounts(ctx); err != nil || len(counts) != 2 || counts["checkout"] != 2 || counts["ledger"] != 1 {
			t.Fatalf("pending counts = %v, %v", counts, err)
		}
		var pages []string
		var cur DecisionCursor
		for range 4 {
			page, err := db.DecidedApprovals(ctx, cur, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			pages = append(pages, ids(page))
			last := page[len(page)-1]
			cur = DecisionCursor{DecidedAt: last.DecidedAt, ID: last.ID}
		}
		if fmt.Sprint(pages) != "[ap-5 ap-4 ap-3]" {
			t.Fatalf("decided pages = %q, want newest first, each once", pages)
		}
		votes, err := db.VotesOn(ctx, []string{"ap-0", "ap-1", "ap-2"})
		if err != nil || len(votes) != 2 || len(votes["ap-0"]) != 2 || votes["ap-0"][0].Approver != "U0ALICE" || votes["ap-2"][0].Approver != "U0CAROL" {
			t.Fatalf("votes = %+v, %v", votes, err)
		}
		if votes, err := db.VotesOn(ctx, nil); err != nil || len(votes) != 0 {
			t.Fatalf("votes of no approval = %v, %v", votes, err)
		}
	})
}

func ids(rows []ApprovalRow) string {
	s := ""
	for i, r := range rows {
		if i > 0 {
			s += " "
		}
		s += r.ID
	}
	return s
}

func TestAuditAfter(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		write(t, db, func(tx *Tx) error {
			for seq := int64(1); seq <= 5; seq++ {
				if err := InsertAudit(tx, AuditRow{Seq: seq, At: t0, Kind: "k", Detail: []byte(`{}`), PrevHash: "p", Hash: "h"}); err != nil {
					return err
				}
			}
			return nil
		})
		rows, err := db.AuditAfter(context.Background(), 2, 2)
		if err != nil || len(rows) != 2 || rows[0].Seq != 3 || rows[1].Seq != 4 {
			t.Fatalf("after 2 = %+v, %v", rows, err)
		}
	})
}

// BenchmarkDecidedApprovals times a page of /approvals' decisions over 50,000 decided
// approvals in SQLite, the first and one from the middle: read from the approvals_decided
// index, neither sorts the others (before the index: 233 ms the first page, on a busy machine;
// after: 2 ms).
func BenchmarkDecidedApprovals(b *testing.B) {
	db, err := Open(context.Background(), b.TempDir()+"/bench.db", DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for batch := 0; batch < 50; batch++ {
		err := db.Writer.Do(context.Background(), func(tx *Tx) error {
			for i := 0; i < 1000; i++ {
				id := fmt.Sprintf("apr_%02d_%04d", batch, i)
				at := t0.Add(time.Duration(batch*1000+i) * time.Second)
				if _, err := InsertApproval(tx, ApprovalRow{ID: id, Service: "checkout", Environment: "production", Origin: "api", OriginKey: id,
					Reasons: []byte(`[{"kind":"band","text":"score 66.4 is in the watch band"}]`), CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
					return err
				}
				if _, err := DecideApproval(tx, id, "approved", "U0BOB", at.Add(time.Minute)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	middle := DecisionCursor{DecidedAt: t0.Add(25000*time.Second + time.Minute), ID: "apr_25_0000"}
	for name, cur := range map[string]DecisionCursor{"first": {}, "middle": middle} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				rows, err := db.DecidedApprovals(context.Background(), cur, 26)
				if err != nil || len(rows) != 26 {
					b.Fatalf("%d rows, %v", len(rows), err)
				}
			}
		})
	}
}
