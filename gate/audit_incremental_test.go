package gate

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/storage"
)

func (e *anchorEnv) status(c *ChainCheck) ChainStatus {
	e.t.Helper()
	st, err := c.Status(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *anchorEnv) exec(q string, args ...any) {
	e.t.Helper()
	err := e.db.Writer.Do(context.Background(), func(t *storage.Tx) error {
		for _, trigger := range []string{"audit_log_no_update", "audit_log_no_delete"} {
			if _, err := t.Exec(`DROP TRIGGER IF EXISTS ` + trigger); err != nil {
				return err
			}
		}
		_, err := t.Exec(q, args...)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestChainCheckWalksInStepsAndResumes: a look hashes at most Step entries and the next one
// carries on from there, so a long log costs each page view a bounded amount.
func TestChainCheckWalksInStepsAndResumes(t *testing.T) {
	e := newAnchorEnv(t)
	c := &ChainCheck{DB: e.db, Step: 2}
	if st := e.status(c); st.VerifiedUpTo != 0 || st.Last != 0 || !st.OK() {
		t.Fatalf("empty log: %+v", st)
	}
	e.append(5)
	for _, want := range []int64{2, 4, 5, 5} {
		if st := e.status(c); st.VerifiedUpTo != want || st.Last != 5 || !st.OK() {
			t.Fatalf("status = %+v, want verified up to %d of 5", st, want)
		}
	}
	e.append(1)
	if st := e.status(c); st.VerifiedUpTo != 6 || st.Last != 6 {
		t.Fatalf("after one more entry: %+v", st)
	}
}

// TestChainCheckFindsWhatVerifyFinds tampers with the log the ways Verify catches and checks
// that the stepwise walk names the same entry with the same words, however far it had got.
func TestChainCheckFindsWhatVerifyFinds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper string
		arg    int64
		bad    int64
		sound  int64 // the last sound entry
	}{
		{"edited detail", `UPDATE audit_log SET detail = '{"i":99}' WHERE seq = ?`, 3, 3, 2},
		{"deleted in the middle", `DELETE FROM audit_log WHERE seq = ?`, 4, 5, 3},
		{"first entry's prev_hash", `UPDATE audit_log SET prev_hash = 'x' WHERE seq = ?`, 1, 1, 0},
		{"edited at the step boundary", `UPDATE audit_log SET actor = 'mallory' WHERE seq = ?`, 4, 4, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAnchorEnv(t)
			e.append(6)
			c := &ChainCheck{DB: e.db, Step: 4}
			if st := e.status(c); st.VerifiedUpTo != 4 || !st.OK() {
				t.Fatalf("before tampering: %+v", st)
			}
			e.exec(tc.tamper, tc.arg)
			v, err := Verify(context.Background(), e.db)
			if err != nil || v.OK || v.FirstBad != tc.bad {
				t.Fatalf("Verify = %+v, %v; want entry %d bad", v, err, tc.bad)
			}
			var st ChainStatus
			for range 3 {
				st = e.status(c)
			}
			if st.FirstBad != v.FirstBad || st.Problem != v.Problem || st.VerifiedUpTo != tc.sound {
				t.Fatalf("ChainCheck = %+v\nVerify     = %+v", st, v)
			}
		})
	}
}

// The entry the last look stopped at is re-hashed on every look, so a rewrite of the log's
// newest entry is seen at the next look, without waiting for the re-walk.
func TestChainCheckRereadsWhereItStopped(t *testing.T) {
	e := newAnchorEnv(t)
	e.append(4)
	c := &ChainCheck{DB: e.db, Step: 1000}
	if st := e.status(c); st.VerifiedUpTo != 4 {
		t.Fatalf("%+v", st)
	}
	e.exec(`UPDATE audit_log SET kind = 'x' WHERE seq = ?`, 4)
	if st := e.status(c); st.FirstBad != 4 || st.VerifiedUpTo != 3 {
		t.Fatalf("rewritten last entry: %+v", st)
	}
}

// Besides the new entries, each look re-checks Sweep entries from the start: the time that
// re-check last reached the end is reported, and it moves only when one does.
func TestChainCheckReportsTheLastFullWalk(t *testing.T) {
	e := newAnchorEnv(t)
	e.append(5)
	clock := e.now
	c := &ChainCheck{DB: e.db, Step: 3, Sweep: 2, Now: func() time.Time { return clock }}
	var swept []time.Time
	for range 6 {
		clock = clock.Add(time.Minute)
		swept = append(swept, e.status(c).SweptAt)
	}
	// looks: 1-3 new, 1-2 again; 4-5 new, 3-4 again; 5 again (done); 1-2; 3-4; 5 (done)
	start := e.now
	want := []time.Time{{}, {}, start.Add(3 * time.Minute), start.Add(3 * time.Minute), start.Add(3 * time.Minute), start.Add(6 * time.Minute)}
	for i := range want {
		if !swept[i].Equal(want[i]) {
			t.Fatalf("swept after look %d = %v, want %v (all: %v)", i+1, swept[i], want[i], swept)
		}
	}
}

// BenchmarkChainCheckLook times one look at a log of 50,000 entries once the new ones are
// checked: what a view of /audit costs when nothing was appended, the re-check's Sweep.
func BenchmarkChainCheckLook(b *testing.B) {
	db, err := storage.Open(context.Background(), b.TempDir()+"/bench.db", storage.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 50; i++ {
		err := db.Writer.Do(context.Background(), func(t *storage.Tx) error {
			entries := make([]audit, 1000)
			for j := range entries {
				entries[j] = audit{Kind: AuditGateDecision, Service: "checkout", Actor: "token:ci",
					Detail: map[string]any{"decision": "needs_approval", "environment": "production", "reasons": []string{"score 66.4 is in the watch band"}}}
			}
			return appendAudit(t, at, entries...)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	c := &ChainCheck{DB: db}
	for range 3 {
		if _, err := c.Status(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := c.Status(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// chainDB opens an empty database of the driver, and tamper runs a statement on its audit log
// with the append-only triggers out of the way, as someone holding the database would.
func chainDB(t *testing.T, driver string) (db *storage.DB, tamper func(q string, args ...any)) {
	t.Helper()
	ctx := context.Background()
	var err error
	var lift []string
	if driver == storage.DriverPostgres {
		db, err = storage.OpenPostgres(ctx, pgtest.URL(t), storage.DefaultOptions())
		lift = []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`}
	} else {
		db, err = storage.Open(ctx, filepath.Join(t.TempDir(), "chain.db"), storage.DefaultOptions())
		lift = []string{`DROP TRIGGER IF EXISTS audit_log_no_update`, `DROP TRIGGER IF EXISTS audit_log_no_delete`}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, func(q string, args ...any) {
		t.Helper()
		err := db.Writer.Do(ctx, func(tx *storage.Tx) error {
			for _, s := range lift {
				if _, err := tx.Exec(s); err != nil {
					return fmt.Errorf("%s: %w", s, err)
				}
			}
			_, err := tx.Exec(q, args...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestChainCheckAgreesWithVerifyOnBothDrivers edits rows of a real database, on SQLite and
// PostgreSQL, after the stepwise check has got part way, and compares each look with what
// `releaseops audit verify` (Verify) says of the same log. The case of two edits, one in an
// entry checked before and one in an entry not yet checked, is the one the re-check used to
// skip: the later failure hid the earlier, which is the one Verify names.
func TestChainCheckAgreesWithVerifyOnBothDrivers(t *testing.T) {
	for _, driver := range []string{storage.DriverSQLite, storage.DriverPostgres} {
		for _, tc := range []struct {
			name  string
			edits []string // each run with the entry number
			seqs  []int64
			bad   int64
		}{
			{"an entry checked before", []string{`UPDATE audit_log SET detail = '{"i":99}' WHERE seq = ?`}, []int64{3}, 3},
			{"an entry not yet checked", []string{`UPDATE audit_log SET actor = 'mallory' WHERE seq = ?`}, []int64{7}, 7},
			{"one checked and one not", []string{`UPDATE audit_log SET detail = '{"i":99}' WHERE seq = ?`,
				`UPDATE audit_log SET actor = 'mallory' WHERE seq = ?`}, []int64{2, 7}, 2},
			{"a deleted entry checked before", []string{`DELETE FROM audit_log WHERE seq = ?`}, []int64{4}, 5},
		} {
			t.Run(driver+"/"+tc.name, func(t *testing.T) {
				db, tamper := chainDB(t, driver)
				at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
				for i := range 10 {
					err := db.Writer.Do(context.Background(), func(tx *storage.Tx) error {
						return appendAudit(tx, at.Add(time.Duration(i)*time.Minute), audit{Kind: AuditGateDecision, Service: "checkout",
							Actor: "token:ci", Detail: map[string]any{"i": i}})
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				c := &ChainCheck{DB: db, Step: 5, Sweep: 2}
				if st, err := c.Status(context.Background()); err != nil || st.VerifiedUpTo != 5 || !st.OK() {
					t.Fatalf("before tampering: %+v, %v", st, err)
				}
				for i, q := range tc.edits {
					tamper(q, tc.seqs[i])
				}
				v, err := Verify(context.Background(), db)
				if err != nil || v.OK || v.FirstBad != tc.bad {
					t.Fatalf("Verify = %+v, %v; want entry %d bad", v, err, tc.bad)
				}
				// Within log length / Sweep looks the re-check has walked the whole log.
				var st ChainStatus
				for range 6 {
					if st, err = c.Status(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				if st.FirstBad != v.FirstBad || st.Problem != v.Problem || st.VerifiedUpTo != v.Entries-1 {
					t.Fatalf("ChainCheck = %+v\nVerify     = %+v", st, v)
				}
			})
		}
	}
}
