package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/demo"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/storage"
)

// raceDetector is set by race_test.go in a -race build.
var raceDetector bool

// seedDemoDB builds the database `serve --demo` builds, plus gate requests for every service
// (audit entries, approvals, their Slack posts), and returns a config file naming it.
func seedDemoDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(dir, "demo.db")
	end := time.Now()
	demo.Apply(&cfg, end)
	clock := &demo.Clock{}
	a, err := app.New(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(ctx, a.DB, a.ReplayPipeline(), a.Worker, clock, end); err != nil {
		a.Shutdown(ctx) //nolint:errcheck
		t.Fatal(err)
	}
	for _, svc := range a.Catalog.Names() {
		if _, err := a.Gate.Check(ctx, gate.Request{Service: svc, Environment: "production", Version: "v9"}, "test"); err != nil {
			a.Shutdown(ctx) //nolint:errcheck
			t.Fatalf("gate %s: %v", svc, err)
		}
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("storage:\n  sqlite_path: "+cfg.Storage.SQLitePath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMigrateDBDemoIntoPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds the demo's 45 days of events")
	}
	url := pgtest.URL(t)
	cfgPath := seedDemoDB(t)
	code, out, errs := runCmd(t, "migrate-db", "--to", url, "--config", cfgPath)
	if code != 0 {
		t.Fatalf("migrate-db: exit %d\n%s\n%s", code, out, errs)
	}
	for _, table := range storage.CopyTables() {
		if !strings.Contains(out, table) {
			t.Errorf("no count of %s in:\n%s", table, out)
		}
	}
	if !strings.Contains(out, "audit log: OK") || !strings.Contains(out, "scores: identical (10 services)") {
		t.Fatalf("verdicts missing:\n%s", out)
	}
	for _, noise := range []string{"lease acquired", "renew lease", "lease lost", "acquire lease", url} {
		if strings.Contains(errs, noise) {
			t.Errorf("stderr has %q:\n%s", noise, errs)
		}
	}

	// Check the target independently of the command's own verdict.
	ctx := context.Background()
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := storage.DefaultOptions()
	opts.IndexInterval = time.Hour
	src, err := storage.Open(ctx, cfg.Storage.SQLitePath, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := storage.OpenPostgres(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	settle(ctx, src, nil)
	settle(ctx, dst, nil)
	want, err := src.TableCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dst.TableCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range storage.CopyTables() {
		if got[table] != want[table] {
			t.Errorf("%s: %d rows on the target, %d in the demo", table, got[table], want[table])
		}
	}
	for _, table := range []string{"deliveries", "facts", "scores", "score_history", "audit_log", "approvals", "outbox", "cursors"} {
		if want[table] == 0 {
			t.Errorf("the demo left %s empty: the test would prove nothing about it", table)
		}
	}
	scores, err := src.ListScores(ctx)
	if err != nil || len(scores) != 10 {
		t.Fatalf("demo scores: %d, %v", len(scores), err)
	}
	for _, s := range scores {
		a, err := src.GetScore(ctx, s.Service)
		if err != nil {
			t.Fatal(err)
		}
		b, err := dst.GetScore(ctx, s.Service)
		if err != nil || !bytes.Equal(a.Card, b.Card) || a.Score != b.Score || a.Band != b.Band || !a.UpdatedAt.Equal(b.UpdatedAt) {
			t.Errorf("scorecard of %s differs on the target (%v)", s.Service, err)
		}
	}

	// Closed before the commands below open the same databases: two holders contend for the
	// indexer lease, and a command closing during an attempt trips the race detector in
	// AcquireLease (see settle).
	src.Close()
	dst.Close()

	// `audit verify` on a config that points at the target, as an operator would run it. It
	// closes its database within milliseconds of opening it, which under the race detector can
	// trip the race in AcquireLease (see settle) that is no part of this test; there the chain
	// is verified on a database the test holds open instead.
	if raceDetector {
		check, err := storage.OpenPostgres(ctx, url, opts)
		if err != nil {
			t.Fatal(err)
		}
		settle(ctx, check, nil)
		v, err := gate.Verify(ctx, check)
		check.Close()
		if err != nil || !v.OK || v.Entries == 0 {
			t.Fatalf("audit chain on the target: %+v, %v", v, err)
		}
	} else {
		t.Setenv("RELEASEOPS_CONFIG", "")
		t.Setenv("RELEASEOPS_STORAGE_DRIVER", "postgres")
		t.Setenv("RELEASEOPS_STORAGE_POSTGRES_URL", url)
		code, out, errs = runCmd(t, "audit", "verify")
		if code != 0 || !strings.Contains(out, "audit log OK: ") || strings.Contains(out, "empty") {
			t.Fatalf("audit verify on the target: exit %d\n%s\n%s", code, out, errs)
		}
	}

	// A second run finds the target full and writes nothing.
	code, _, errs = runCmd(t, "migrate-db", "--to", url, "--config", cfgPath)
	if code != 1 || !strings.Contains(errs, "not empty") || !strings.Contains(errs, "deliveries has") || !strings.Contains(errs, "nothing was written") {
		t.Fatalf("second migrate-db: exit %d\n%s", code, errs)
	}
	check, err := storage.OpenPostgres(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	settle(ctx, check, nil)
	if again, _ := check.TableCounts(ctx); again["deliveries"] != want["deliveries"] {
		t.Fatalf("the refused run changed deliveries: %d, want %d", again["deliveries"], want["deliveries"])
	}
}

// No SQLite file: refused before any connection is made, saying which path.
func TestMigrateDBNeedsTheSource(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	missing := filepath.Join(dir, "nope.db")
	os.WriteFile(cfg, []byte("storage:\n  sqlite_path: "+missing+"\n"), 0o600)
	code, _, errs := runCmd(t, "migrate-db", "--to", "postgres://postgres@127.0.0.1:1/none", "--config", cfg)
	if code != 1 || !strings.Contains(errs, "no SQLite database at "+missing) {
		t.Fatalf("missing source: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("migrate-db created the source it was to copy")
	}
	code, _, errs = runCmd(t, "migrate-db", "--config", cfg)
	if code != 2 || !strings.Contains(errs, "--to") {
		t.Fatalf("no target: exit %d\n%s", code, errs)
	}
	code, _, errs = runCmd(t, "migrate-db", "--to", "postgres://u:s3cret@[::1/db", "--config", cfg)
	if code != 2 || !strings.Contains(errs, "--to is not a valid") || strings.Contains(errs, "s3cret") {
		t.Fatalf("a bad --to: exit %d\n%s", code, errs)
	}
}

// A copy that does not verify exits 1 and says why: here the source's audit chain was already
// broken, so the target's is too.
func TestMigrateDBReportsABrokenAuditChain(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "r.db")
	db, err := storage.Open(ctx, path, storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	settle(ctx, db, nil)
	err = db.Writer.Do(ctx, func(tx *storage.Tx) error {
		_, err := tx.Exec(`INSERT INTO audit_log (seq, at, kind, detail, prev_hash, hash) VALUES (1, 5, 'gate.decision', '{}', 'not-genesis', 'h1')`)
		return err
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("storage:\n  sqlite_path: "+path+"\n"), 0o600)
	code, out, errs := runCmd(t, "migrate-db", "--to", url, "--config", cfg)
	if code != 1 || !strings.Contains(out, "audit log: broken at entry 1") || !strings.Contains(errs, "the source's is broken too") ||
		!strings.Contains(errs, "does not match the source") {
		t.Fatalf("broken chain: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "audit_log       1       1") {
		t.Errorf("counts table:\n%s", out)
	}
}
