package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

const cliGateToken = "cli-gate-token-0123456789"

// gateServer runs the real service with three scored services: mature, watch, blocked.
func gateServer(t *testing.T) (*app.App, *httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "releaseops.db")
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte("storage:\n  sqlite_path: "+dbPath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Storage.SQLitePath = dbPath
	cfg.API.Tokens = []config.APIToken{{Name: "ci", Token: config.NewSecret(cliGateToken), Scopes: []string{"read", "gate"}}}
	cfg.Services = []releaseops.Service{{Name: "payments"}, {Name: "checkout", SlackChannel: "C0CHECKOUT", Approvers: []string{"U0BOB"}}, {Name: "legacy"}}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	a, err := app.New(context.Background(), &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for name, score := range map[string]float64{"payments": 90, "checkout": 70, "legacy": 40} {
		c := scoring.Scorecard{Service: name, Score: score, Dimensions: []scoring.DimensionScore{{ID: "observability", Name: "Observability", Score: 0.3,
			Applicable: true, Playbook: "https://releaseops.example.com/playbooks/observability"}}}
		b, _ := json.Marshal(c)
		err := a.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
			if err := storage.PutScore(tx, storage.ScoreRow{Service: name, Score: score, Card: b, UpdatedAt: now}, false); err != nil {
				return err
			}
			_, _, err := storage.InsertDelivery(tx, &storage.NewDelivery{Source: releaseops.SourceDeploy, DeliveryID: "d-" + name, Type: "deploy",
				Subject: releaseops.Subject{Kind: releaseops.SubjectService, Key: name}, Service: name, Outcome: releaseops.OutcomeIgnored,
				ReceivedAt: now.Add(-time.Hour), Headers: map[string]string{}, Body: []byte(`{}`)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(a.Server.Echo())
	t.Cleanup(func() { srv.Close(); a.Shutdown(context.Background()) })
	return a, srv, cfgPath
}

func TestGateCommandExitCodes(t *testing.T) {
	a, srv, _ := gateServer(t)
	ask := func(extra ...string) (int, string) {
		var out, errb bytes.Buffer
		args := append([]string{"gate", "--server", srv.URL, "--token", cliGateToken, "--env", "production"}, extra...)
		code := run(context.Background(), args, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := ask("--service", "payments"); code != 0 || !strings.Contains(out, "ALLOW") {
		t.Errorf("mature: %d %s", code, out)
	}
	if code, out := ask("--service", "legacy"); code != 2 || !strings.Contains(out, "playbooks/observability") {
		t.Errorf("blocked: %d %s", code, out)
	}
	code, out := ask("--service", "checkout", "--requested-by", "dave")
	if code != 3 || !strings.Contains(out, srv.URL+"/api/v1/approvals/apr_") || !strings.Contains(out, "C0CHECKOUT") {
		t.Errorf("watch: %d %s", code, out)
	}
	if code, out := ask("--service", "chekout"); code != 1 || !strings.Contains(out, "did you mean checkout") {
		t.Errorf("unknown service: %d %s", code, out)
	}
	if code, out := ask("--service", "legacy", "--break-glass", "SEV1 hotfix"); code != 0 || !strings.Contains(out, "break glass") {
		t.Errorf("break glass: %d %s", code, out)
	}

	// --wait: an approver decides while the command polls.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			rows, _ := a.DB.ExpiredApprovals(context.Background(), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), 10)
			for _, r := range rows {
				if r.RequestedBy == "erin" {
					a.Gate.Click(context.Background(), r.ID, "U0BOB", true)
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	code, out = ask("--service", "checkout", "--requested-by", "erin", "--wait", "1m")
	<-done
	if code != 0 || !strings.Contains(out, "approved by U0BOB") {
		t.Errorf("wait: %d %s", code, out)
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	_, srv, cfgPath := gateServer(t)
	for range 3 {
		var out bytes.Buffer
		if code := run(context.Background(), []string{"gate", "--server", srv.URL, "--token", cliGateToken, "--service", "payments", "--env", "production"}, &out, &out); code != 0 {
			t.Fatalf("gate: %d %s", code, out.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify", "--config", cfgPath}, &out, &out); code != 0 || !strings.Contains(out.String(), "3 entries") {
		t.Fatalf("verify: %d %s", code, out.String())
	}
	dbPath := filepath.Join(filepath.Dir(cfgPath), "releaseops.db")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"audit", "verify", "--config", cfgPath}, &out, &out); code != 1 || !strings.Contains(out.String(), "entry 2") {
		t.Fatalf("verify after tampering: %d %s", code, out.String())
	}
}
