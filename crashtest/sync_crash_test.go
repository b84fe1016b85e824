package crashtest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/releaseops/releaseops/internal/fakegithub"
)

// TestSyncKilledResumesWithoutDuplicates kills `releaseops sync` with SIGKILL at random
// moments of a run over 60 repositories, several times, then lets a last run finish. The
// database must then hold exactly what one uninterrupted sync of the same repositories
// stores: each observation once, no fact twice, every repository's record a success.
func TestSyncKilledResumesWithoutDuplicates(t *testing.T) {
	bin := binary(t)
	const repos = 60
	now := time.Now().UTC()
	fleet := fakegithub.Synthetic("acme", repos, now)
	key, pemKey, err := fakegithub.AppKey()
	if err != nil {
		t.Fatal(err)
	}
	gh := fakegithub.New(fakegithub.Options{Latency: 10 * time.Millisecond})
	defer gh.Close()
	gh.AddRepo(fleet...)
	gh.SetApp(fakegithub.App{ID: 4242, PublicKey: &key.PublicKey, Installations: []fakegithub.Installation{fakegithub.InstalledOn(77, "acme")}})

	config := func(dir string) string {
		keyPath := filepath.Join(dir, "app.pem")
		if err := os.WriteFile(keyPath, pemKey, 0o600); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "storage: {sqlite_path: %q}\nlog: {level: warn}\n", filepath.Join(dir, "releaseops.db"))
		fmt.Fprintf(&b, "github: {app_id: 4242, private_key: %q, api_url: %q}\nsync: {concurrency: 4}\nservices:\n", "file:"+keyPath, gh.APIURL())
		for _, r := range fleet {
			fmt.Fprintf(&b, "  - {name: %s, repo: %s}\n", strings.TrimPrefix(r.FullName, "acme/"), r.FullName)
		}
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	run := func(cfg string, killAfter time.Duration) (killed bool) {
		var out bytes.Buffer
		cmd := exec.Command(bin, "sync", "--config", cfg)
		cmd.Stdout, cmd.Stderr = &out, &out
		dieWithTest(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if killAfter > 0 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("sync failed before the kill: %v\n%s", err, out.String())
				}
				return false
			case <-time.After(killAfter):
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-done
				return true
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("the last sync failed: %v\n%s", err, out.String())
		}
		return false
	}

	// The control: one uninterrupted sync.
	control := t.TempDir()
	run(config(control), 0)
	want := contents(t, filepath.Join(control, "releaseops.db"))
	if want.facts == 0 || want.records != repos {
		t.Fatalf("control sync stored %+v", want)
	}

	dir := t.TempDir()
	cfg := config(dir)
	r := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for i := 0; i < iterations(t)/2+2; i++ {
		if run(cfg, time.Duration(100+r.IntN(700))*time.Millisecond) {
			kills++
		}
	}
	run(cfg, 0)
	got := contents(t, filepath.Join(dir, "releaseops.db"))
	t.Logf("%d SIGKILLs mid-sync, then a full run: %+v (control %+v)", kills, got, want)
	if kills == 0 {
		t.Fatal("no run was killed mid-sync: the kill came too late for this machine")
	}
	if got.duplicates != 0 {
		t.Errorf("%d observations stored more than once", got.duplicates)
	}
	if got.facts != want.facts || got.observations != want.observations {
		t.Errorf("after the kills: %d facts in %d observations; one uninterrupted sync stores %d in %d", got.facts, got.observations, want.facts, want.observations)
	}
	if got.records != repos || got.failing != 0 {
		t.Errorf("sync records: %d (%d failing), want %d ok", got.records, got.failing, repos)
	}
	if got.integrity != "ok" {
		t.Errorf("integrity_check: %s", got.integrity)
	}
}

type syncContents struct {
	facts, observations, duplicates, records, failing int
	integrity                                         string
}

// contents counts what a sync stored. An observation is a delivery of type sync; one stored
// twice is two deliveries for the same subject and observation key (its id without the time).
func contents(t *testing.T, path string) syncContents {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var c syncContents
	q := func(dst any, query string) {
		if err := db.QueryRowContext(ctx, query).Scan(dst); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	q(&c.facts, `SELECT count(*) FROM facts f JOIN deliveries d ON d.id = f.delivery WHERE d.event_type = 'sync'`)
	q(&c.observations, `SELECT count(*) FROM deliveries WHERE event_type = 'sync'`)
	// sync:{subject}:{key}:{ms}:{hash}: the same subject and key twice is a duplicate (the
	// fleet does not change between runs).
	rows, err := db.QueryContext(ctx, `SELECT delivery_id FROM deliveries WHERE event_type = 'sync'`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(id, ":")
		k := strings.Join(parts[:len(parts)-2], ":")
		if seen[k] {
			c.duplicates++
		}
		seen[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	q(&c.records, `SELECT count(*) FROM sync_subjects`)
	q(&c.failing, `SELECT count(*) FROM sync_subjects WHERE last_error <> ''`)
	q(&c.integrity, `PRAGMA integrity_check`)
	return c
}
