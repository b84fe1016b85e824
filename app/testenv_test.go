package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
)

const (
	ghSecret     = "gh-secret-for-tests"
	pdSecret     = "pd-secret-for-tests"
	deploySecret = "deploy-secret-for-tests"
	tfSecret     = "tf-secret-for-tests"
	readToken    = "read-token-0123456789"
	gateToken    = "gate-token-0123456789"
)

// testClock is the injected clock of end-to-end tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	t     *testing.T
	app   *App
	srv   *httptest.Server
	clock *testClock
}

// newEnv builds the whole service on a fresh SQLite file with every source configured, and
// serves it on an httptest server. Workers are not started: tests drive them with Step.
func newEnv(t *testing.T, mutate func(*config.Config)) *env {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(t.TempDir(), "releaseops.db")
	cfg.GitHub.WebhookSecret = config.NewSecret(ghSecret)
	cfg.PagerDuty.WebhookSecrets = []config.Secret{config.NewSecret(pdSecret)}
	cfg.Deploy.WebhookSecret = config.NewSecret(deploySecret)
	cfg.Terraform.WebhookSecret = config.NewSecret(tfSecret)
	cfg.API.Tokens = []config.APIToken{
		{Name: "reader", Token: config.NewSecret(readToken), Scopes: []string{"read"}},
		{Name: "ci", Token: config.NewSecret(gateToken), Scopes: []string{"read", "gate"}},
	}
	cfg.Services = []releaseops.Service{{Name: "checkout", Repo: "acme/checkout", Owner: "team-payments", SlackChannel: "C0CHECKOUT", Approvers: []string{"U0ALICE"}}}
	if mutate != nil {
		mutate(&cfg)
	}
	clock := &testClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	a, err := New(context.Background(), &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Server.Echo())
	t.Cleanup(func() {
		srv.Close()
		a.Shutdown(context.Background())
	})
	return &env{t: t, app: a, srv: srv, clock: clock}
}

func (e *env) post(path string, h map[string]string, body []byte) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return e.do(req)
}

func (e *env) get(path, token string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{"_raw": string(b)}
	}
	return resp.StatusCode, out
}

// settle runs the rescoring worker until it has processed every committed fact.
func (e *env) settle() {
	e.t.Helper()
	for {
		n, err := e.app.Worker.Step(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}
