package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
)

// A log whose newest entries were deleted is still a valid chain: `audit verify` passes on the
// chain alone and fails, naming the cut, with the published checkpoints.
func TestAuditVerifyCatchesATruncatedTailWithAnchors(t *testing.T) {
	a, srv, cfgPath := gateServer(t)
	pubKey, key, _ := ed25519.GenerateKey(rand.Reader)
	anchors := filepath.Join(t.TempDir(), "anchors.jsonl")
	an := &gate.Anchorer{DB: a.DB, Key: key, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), File: anchors}
	gateN := func(n int) {
		for range n {
			var out bytes.Buffer
			if code := run(context.Background(), []string{"gate", "--server", srv.URL, "--token", cliGateToken, "--service", "payments", "--env", "production"}, &out, &out); code != 0 {
				t.Fatalf("gate: %d %s", code, out.String())
			}
		}
		if _, _, err := an.Anchor(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	gateN(3) // entries 1-3, checkpoint 4
	gateN(2) // entries 5-6, checkpoint 7
	pub := base64.StdEncoding.EncodeToString(pubKey)
	verify := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(context.Background(), append([]string{"audit", "verify", "--config", cfgPath}, args...), &out, &out)
		return code, out.String()
	}
	if code, out := verify("--anchors", anchors, "--public-key", pub); code != 0 || !strings.Contains(out, "published: 2 verified") {
		t.Fatalf("intact log: %d %s", code, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfgPath), "releaseops.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER audit_log_no_delete`, `DELETE FROM audit_log WHERE seq > 4`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := verify(); code != 0 {
		t.Fatalf("the cut log is a valid chain, so the chain check alone passes: %d %s", code, out)
	}
	if code, out := verify("--anchors", anchors, "--public-key", pub); code != 1 || !strings.Contains(out, "the log ends at 4 but checkpoint 6 was published at") {
		t.Fatalf("cut log with anchors: %d %s", code, out)
	}
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	os.WriteFile(empty, []byte("not a checkpoint\n"), 0o600)
	if code, out := verify("--anchors", empty, "--public-key", pub); code != 2 || !strings.Contains(out, "no checkpoint lines") {
		t.Fatalf("an anchors file with no checkpoint passed: %d %s", code, out)
	}
	if code, out := verify("--anchors", anchors); code != 2 || !strings.Contains(out, "public key") {
		t.Fatalf("anchors without a key: %d %s", code, out)
	}
	if code, out := verify("--anchors", anchors, "--public-key", "bm90IGEga2V5"); code != 2 || !strings.Contains(out, "--public-key") {
		t.Fatalf("a bad key: %d %s", code, out)
	}
}

func TestAuditKeygenAndTheLoopbackKey(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"audit", "keygen"}, &out, &out); code != 0 || !strings.Contains(out.String(), "public key") {
		t.Fatalf("keygen: %d %s", code, out.String())
	}
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(t.TempDir(), "r.db")
	out.Reset()
	if err := ensureAuditKey(&cfg, &out); err != nil || !cfg.Audit.SigningKey.IsSet() || !strings.Contains(out.String(), "public key") {
		t.Fatalf("first start: %v %q", err, out.String())
	}
	st, err := os.Stat(auditKeyFile(&cfg))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	first := cfg.Audit.SigningKey.Value()
	again := config.Default()
	again.Storage.SQLitePath = cfg.Storage.SQLitePath
	out.Reset()
	if err := ensureAuditKey(&again, &out); err != nil || again.Audit.SigningKey.Value() != first || out.Len() != 0 {
		t.Fatalf("second start: %v, same key %v, printed %q", err, again.Audit.SigningKey.Value() == first, out.String())
	}
	os.Chmod(auditKeyFile(&cfg), 0o644)
	third := config.Default()
	third.Storage.SQLitePath = cfg.Storage.SQLitePath
	if err := ensureAuditKey(&third, io.Discard); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a shared key file: %v", err)
	}
	remote := config.Default()
	remote.Listen = "0.0.0.0:8080"
	if err := ensureAuditKey(&remote, io.Discard); err != nil || remote.Audit.SigningKey.IsSet() {
		t.Fatalf("a key was generated for a non-loopback server: %v", err)
	}
}
