package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/pgtest"
)

// copyOpts keeps the indexers still, so that counts compare exactly (see CopyInto).
func copyOpts() Options {
	o := DefaultOptions()
	o.IndexInterval = time.Hour
	return o
}

func openSQLite(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "src.db"), copyOpts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	holdIndexer(t, db)
	return db
}

func openPG(t *testing.T, url string) *DB {
	t.Helper()
	db, err := OpenPostgres(context.Background(), url, copyOpts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	holdIndexer(t, db)
	return db
}

// holdIndexer waits for the indexer's first lease acquisition: a DB closed while it is still
// in the writer trips the race detector in AcquireLease (the write function sets the call's
// results after Do returned ctx.Err()), and these tests close soon after opening.
func holdIndexer(t *testing.T, db *DB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(db.HeldLeases(), LeaseIndexer) {
		if time.Now().After(deadline) {
			t.Fatal("the indexer lease was not taken")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seedEveryTable puts rows in every copied table, with what SQLite's typing allows and a copy
// must carry over: NULLs, text stored in BLOB columns, an unindexed tail, a big body.
func seedEveryTable(t *testing.T, db *DB) {
	t.Helper()
	big := []byte(`{"pad":"` + strings.Repeat("x", 1<<20) + `"}`)
	for i := range 30 {
		body := []byte(fmt.Sprintf(`{"n":%d}`, i))
		if i == 7 {
			body = big
		}
		write(t, db, func(tx *Tx) error {
			_, _, err := InsertDelivery(tx, &NewDelivery{Source: "deploy", DeliveryID: fmt.Sprintf("d%d", i), Type: "deploy",
				Subject: releaseops.Subject{Kind: "service", Key: "checkout"}, Service: "checkout", Outcome: "stored",
				ReceivedAt: t0.Add(time.Duration(i) * time.Minute), Headers: map[string]string{"X-N": fmt.Sprint(i)}, Body: body,
				Facts: []releaseops.Fact{{Kind: releaseops.FactDeploy, Service: "checkout", Subject: releaseops.Subject{Kind: "service", Key: "checkout"},
					At: t0.Add(time.Duration(i) * time.Minute)}}})
			return err
		})
		if i == 19 {
			if err := db.IndexNow(context.Background()); err != nil { // rows 20..29 stay the tail
				t.Fatal(err)
			}
		}
	}
	score := 61.5
	write(t, db, func(tx *Tx) error {
		for _, q := range []string{
			`INSERT INTO discovered_services (name, subject, first_seen) VALUES ('orphan', 'repository:org/orphan', 1700000000000)`,
			`INSERT INTO cursors (name, value) VALUES ('rescore.facts', 17)`,
			`INSERT INTO outbox (key, kind, target, payload, state, created_at, next_attempt) VALUES ('k1', 'slack.post', 'C1', '{"text":"as text"}', 'pending', 1, 2)`,
			`INSERT INTO outbox (key, kind, target, payload, state, created_at, next_attempt, sent_at) VALUES ('k2', 'slack.post', 'C1', X'7B7D', 'sent', 1, 2, 3)`,
			`INSERT INTO sync_subjects (source, subject, service) VALUES ('github', 'org/checkout', 'checkout')`,
			`INSERT INTO audit_log (seq, at, kind, detail, prev_hash, hash) VALUES (1, 5, 'gate.decision', '{}', 'p', 'h1'), (2, 6, 'approval.click', X'7B7D', 'h1', 'h2')`,
			// Tables added after copyTables was written: found, not listed.
			`INSERT INTO release_members (release, service, at) VALUES ('r1', 'checkout', 7)`,
			`INSERT INTO approval_votes (approval_id, approver, at) VALUES ('apr1', 'U1', 8)`,
		} {
			if _, err := tx.Exec(q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		for i, s := range []string{"checkout", "Billing"} {
			if err := PutScore(tx, ScoreRow{Service: s, Score: score + float64(i)/3, Band: "watch", Level: "bronze", Card: []byte(`{"card":"` + s + `"}`),
				Trend: []byte(`{"delta":-2.5}`), UpdatedAt: t0.Add(time.Duration(i) * time.Second)}, true); err != nil {
				return err
			}
		}
		if _, err := InsertApproval(tx, ApprovalRow{ID: "apr1", Service: "checkout", Environment: "production", Origin: "api", OriginKey: "gr1",
			Score: &score, Reasons: []byte(`[]`), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			return err
		}
		if _, err := InsertApproval(tx, ApprovalRow{ID: "apr2", Service: "ledger", Environment: "production", Origin: "github", OriginKey: "gh1",
			Reasons: []byte(`[]`), Callback: []byte(`{"url":"x"}`), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			return err
		}
		return InsertSyncRun(tx, SyncRun{Source: "github", Trigger: "cli", Full: true, StartedAt: t0, FinishedAt: t0.Add(time.Second), Subjects: 1})
	})
}

func TestCopyIntoPostgres(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	src := openSQLite(t)
	seedEveryTable(t, src)
	dst := openPG(t, url)

	rep, err := CopyInto(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep.Schema, "t_") {
		t.Errorf("report names schema %q, want pgtest's", rep.Schema)
	}
	copied := map[string]bool{}
	for i, tc := range rep.Tables {
		copied[tc.Table] = true
		if i < len(copyTables) && tc.Table != copyTables[i] {
			t.Errorf("table %d copied is %s, want %s: parents go first", i, tc.Table, copyTables[i])
		}
		if tc.Copied != tc.Source {
			t.Errorf("%s: source %d, copied %d", tc.Table, tc.Source, tc.Copied)
		}
	}
	for _, table := range append(CopyTables(), "release_members", "approval_votes") {
		if !copied[table] {
			t.Errorf("%s was not copied", table)
		}
	}
	for _, tc := range rep.Tables {
		if tc.Source == 0 && (slices.Contains(copyTables, tc.Table) || tc.Table == "release_members" || tc.Table == "approval_votes") {
			t.Errorf("%s: the seed left it empty, so the test proves nothing about it", tc.Table)
		}
	}
	if copied["leases"] || copied["schema_migrations"] {
		t.Error("leases and schema_migrations are each engine's own, not copied")
	}
	want, err := src.TableCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dst.TableCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("the target counts %d tables, the source %d", len(got), len(want))
	}
	for table := range want {
		if got[table] != want[table] {
			t.Errorf("%s: %d rows on the target, %d on the source", table, got[table], want[table])
		}
	}
	if diffs, err := CompareScores(ctx, src, dst); err != nil || len(diffs) != 0 {
		t.Fatalf("scores differ: %v %v", diffs, err)
	}

	// What was copied reads back the same through the package's own reads.
	d, err := dst.GetDelivery(ctx, "deploy", "d7")
	if sd, _ := src.GetDelivery(ctx, "deploy", "d7"); err != nil || len(d.Body) < 1<<20 || !bytes.Equal(d.Body, sd.Body) || d.Headers["X-N"] != "7" {
		t.Fatalf("big body: %d bytes, %v", len(d.Body), err)
	}
	// The tail above the index cursor is served on the target as on the source.
	for _, db := range []*DB{src, dst} {
		facts, err := db.FactsForService(ctx, "checkout", t0)
		if err != nil || len(facts) != 30 {
			t.Fatalf("%s: %d facts of checkout, %v", db.Driver(), len(facts), err)
		}
	}
	o, err := dst.GetOutbox(ctx, "k1")
	if err != nil || string(o.Payload) != `{"text":"as text"}` || !o.SentAt.IsZero() {
		t.Fatalf("outbox k1 = %+v, %v", o, err)
	}
	a, err := dst.GetApproval(ctx, "apr2")
	if err != nil || a.Score != nil || string(a.Callback) != `{"url":"x"}` {
		t.Fatalf("approval apr2 = %+v, %v", a, err)
	}
	if a, err := dst.GetApproval(ctx, "apr1"); err != nil || a.Score == nil || *a.Score != 61.5 || a.Callback != nil {
		t.Fatalf("approval apr1 = %+v, %v", a, err)
	}
	recs, err := dst.SyncRecords(ctx, "github")
	if err != nil || len(recs) != 1 {
		t.Fatalf("sync records = %+v, %v", recs, err)
	}
	audit, err := dst.ListAudit(ctx, "", 0, 10)
	if err != nil || len(audit) != 2 || string(audit[1].Detail) != "{}" || audit[0].Hash != "h2" {
		t.Fatalf("audit = %+v, %v", audit, err)
	}

	// A second copy into the same target is refused and writes nothing.
	_, err = CopyInto(ctx, src, dst)
	if !errors.Is(err, ErrTargetNotEmpty) || !strings.Contains(err.Error(), fmt.Sprintf("deliveries has %d rows", want["deliveries"])) {
		t.Fatalf("second copy: %v", err)
	}
	if again, _ := dst.TableCounts(ctx); again["deliveries"] != want["deliveries"] || again["audit_log"] != want["audit_log"] {
		t.Fatalf("the refused copy wrote: %v", again)
	}

	// The identities moved past the copied ids: new rows take the next ones. Two writes: a
	// transaction that stores a delivery and then needs the exclusive writer lock is run
	// again under it (writer_lock.go), and its first attempt's id is not given back.
	var id int64
	write(t, dst, func(tx *Tx) error {
		id, _, err = InsertDelivery(tx, &NewDelivery{Source: "deploy", DeliveryID: "new", Type: "deploy", Outcome: "stored", ReceivedAt: t0, Body: []byte(`{}`)})
		return err
	})
	write(t, dst, func(tx *Tx) error {
		return InsertSyncRun(tx, SyncRun{Source: "github", Trigger: "cli", StartedAt: t0, FinishedAt: t0})
	})
	if id != 31 {
		t.Fatalf("new delivery id %d, want 31", id)
	}
}

// A target with any row is refused before anything is written, naming the table.
func TestCopyIntoRefusesNonEmptyTarget(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	src := openSQLite(t)
	seedEveryTable(t, src)
	dst := openPG(t, url)
	write(t, dst, func(tx *Tx) error { return SetCursor(tx, "someone.was.here", 1) })
	_, err := CopyInto(ctx, src, dst)
	if !errors.Is(err, ErrTargetNotEmpty) || !strings.Contains(err.Error(), "cursors has 1 rows") {
		t.Fatalf("copy into a non-empty target: %v", err)
	}
	counts, err := dst.TableCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range counts {
		if table != "cursors" && n != 0 {
			t.Errorf("%s: %d rows written by a refused copy", table, n)
		}
	}
}

// A row PostgreSQL cannot take fails the whole copy, naming table, row and column, and leaves
// the target empty: the copy is one transaction.
func TestCopyIntoFailureLeavesNothing(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	src := openSQLite(t)
	seedEveryTable(t, src)
	write(t, src, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO sync_runs (source, trigger, "full", started_at, finished_at, subjects, observations, facts, requests,
			not_modified, rate_waits, failures, error) VALUES ('github', 'cli', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ?)`, "bad \xff byte")
		return err
	})
	dst := openPG(t, url)
	_, err := CopyInto(ctx, src, dst)
	if err == nil || !strings.Contains(err.Error(), "copy sync_runs") || !strings.Contains(err.Error(), "column error") || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("copy of a bad row: %v", err)
	}
	counts, err := dst.TableCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range counts {
		if n != 0 {
			t.Errorf("%s: %d rows left by a failed copy", table, n)
		}
	}
}

func TestCopyIntoNeedsSQLiteIntoPostgres(t *testing.T) {
	a, b := openSQLite(t), openSQLite(t)
	if _, err := CopyInto(context.Background(), a, b); err == nil || !strings.Contains(err.Error(), "only SQLite into PostgreSQL") {
		t.Fatalf("sqlite into sqlite: %v", err)
	}
}

// SQLite hands back whatever type a value was stored with; each converter gives the target
// column's type or says why not.
func TestCopyConverters(t *testing.T) {
	for _, c := range []struct {
		typ     string
		in, out any
		bad     bool
	}{
		{"bytea", "{}", []byte("{}"), false},
		{"bytea", []byte{0, 1}, []byte{0, 1}, false},
		{"bytea", nil, nil, false},
		{"bytea", int64(1), nil, true},
		{"bigint", int64(5), int64(5), false},
		{"bigint", 5.0, int64(5), false},
		{"bigint", 5.5, nil, true},
		{"bigint", "12", int64(12), false},
		{"double precision", int64(3), 3.0, false},
		{"double precision", 2.5, 2.5, false},
		{"text", []byte("abc"), "abc", false},
		{"text", "a\x00b", nil, true},
		{"text", nil, nil, false},
	} {
		conv, err := converterFor(c.typ)
		if err != nil {
			t.Fatal(err)
		}
		got, err := conv(c.in)
		if (err != nil) != c.bad || fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", c.out) {
			t.Errorf("%s(%#v) = %#v, %v", c.typ, c.in, got, err)
		}
	}
	if _, err := converterFor("jsonb"); err == nil {
		t.Error("an unknown column type must be refused, not guessed")
	}
}

// A table one schema has and the other has not means they are at different versions: the copy
// is refused, naming it, rather than dropping the table.
func TestCopyIntoRefusesDifferentTables(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	src := openSQLite(t)
	seedEveryTable(t, src)
	write(t, src, func(tx *Tx) error {
		_, err := tx.Exec(`CREATE TABLE stray (x INTEGER)`)
		return err
	})
	dst := openPG(t, url)
	if _, err := CopyInto(ctx, src, dst); err == nil || !strings.Contains(err.Error(), "the target has no table stray") {
		t.Fatalf("copy with a table the target lacks: %v", err)
	}
	if counts, _ := dst.TableCounts(ctx); counts["deliveries"] != 0 {
		t.Fatalf("the refused copy wrote %d deliveries", counts["deliveries"])
	}
}

func TestTablesToCopyPutsParentsFirst(t *testing.T) {
	got := tablesToCopy([]string{"zeta", "facts", "leases", "alpha", "deliveries", "schema_migrations"})
	if want := []string{"deliveries", "facts", "alpha", "zeta"}; !slices.Equal(got, want) {
		t.Fatalf("tablesToCopy = %v, want %v", got, want)
	}
}
