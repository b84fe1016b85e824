package gate

import (
	"context"
	"testing"
	"time"

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
