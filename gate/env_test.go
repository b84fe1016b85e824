package gate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	ghsrc "github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

const (
	readToken  = "read-token-0123456789"
	gateToken  = "gate-token-0123456789"
	ghSecret   = "gh-webhook-secret-for-tests"
	ghToken    = "gh-api-token-for-tests"
	checkoutCh = "C0CHECKOUT"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fakeGitHub serves the deployment protection rule callback under a non-empty base path, so a
// request that ignored github.api_url would miss it.
type fakeGitHub struct {
	mu      sync.Mutex
	srv     *httptest.Server
	reviews []map[string]string
	auth    []string
	fail    []int // statuses to answer before succeeding, in order
}

func newFakeGitHub(t testing.TB) *fakeGitHub {
	f := &fakeGitHub{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/api/repos/") || !strings.HasSuffix(r.URL.Path, "/deployment_protection_rule") {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.fail) > 0 {
			code := f.fail[0]
			f.fail = f.fail[1:]
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprint(w, `{"message":"try later"}`)
			return
		}
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, `{"message":"bad json"}`, http.StatusBadRequest)
			return
		}
		body["path"] = r.URL.Path
		f.reviews = append(f.reviews, body)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) Reviews() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]string(nil), f.reviews...)
}

func (f *fakeGitHub) FailNext(codes ...int) {
	f.mu.Lock()
	f.fail = append(f.fail, codes...)
	f.mu.Unlock()
}

type env struct {
	t     testing.TB
	cfg   *config.Config
	app   *app.App
	srv   *httptest.Server
	clock *clock
	gh    *fakeGitHub
}

func testConfig(t testing.TB, gh *fakeGitHub) *config.Config {
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(t.TempDir(), "releaseops.db")
	cfg.Storage.Synchronous = "NORMAL"
	cfg.PublicURL = "https://releaseops.example.com"
	cfg.GitHub.WebhookSecret = config.NewSecret(ghSecret)
	cfg.GitHub.Token = config.NewSecret(ghToken)
	cfg.GitHub.APIURL = gh.srv.URL + "/api/"
	cfg.Slack.DefaultChannel = "C0DEFAULT"
	cfg.API.Tokens = []config.APIToken{
		{Name: "reader", Token: config.NewSecret(readToken), Scopes: []string{"read"}},
		{Name: "ci", Token: config.NewSecret(gateToken), Scopes: []string{"read", "gate"}},
	}
	cfg.Gate.OnUnknown = "block"
	cfg.Gate.Users = map[string]string{"alice": "U0ALICE"}
	cfg.Services = []releaseops.Service{
		{Name: "checkout", Repo: "acme/checkout", SlackChannel: checkoutCh, Approvers: []string{"U0ALICE", "U0BOB"}},
		{Name: "payments", Repo: "acme/payments", SlackChannel: "C0PAY", Approvers: []string{"U0ALICE"}},
		{Name: "legacy", Repo: "acme/legacy", SlackChannel: "C0LEGACY", Approvers: []string{"U0BOB"}},
		{Name: "newborn", Repo: "acme/newborn"},
	}
	return &cfg
}

// newEnv builds the whole service with app.New on a fresh SQLite file; workers are not
// started, tests drive them (outbox, rescore, expiry) on the injected clock.
func newEnv(t testing.TB, mutate func(*config.Config)) *env {
	t.Helper()
	gh := newFakeGitHub(t)
	cfg := testConfig(t, gh)
	if mutate != nil {
		mutate(cfg)
	}
	e := &env{t: t, cfg: cfg, clock: &clock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}, gh: gh}
	e.open()
	return e
}

func (e *env) open() {
	e.t.Helper()
	a, err := app.New(context.Background(), e.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	e.app, e.srv = a, httptest.NewServer(a.Server.Echo())
	e.t.Cleanup(e.close)
}

func (e *env) close() {
	if e.srv != nil {
		e.srv.Close()
		e.app.Shutdown(context.Background())
		e.srv = nil
	}
}

// restart closes the app and opens a new one on the same database, as after a crash.
func (e *env) restart() { e.close(); e.open() }

// card is a scorecard with the composite given and five dimensions of known scores.
func card(service string, score float64) scoring.Scorecard {
	c := scoring.Scorecard{Service: service, Score: score, FloorsApplied: []scoring.FloorApplied{}}
	for _, d := range []struct {
		id    string
		score float64
	}{{"branch_governance", 0.9}, {"rollback_readiness", 0.2}, {"observability", 0.5}, {"deployment_maturity", 1}, {"release_auditability", 0.4}} {
		c.Dimensions = append(c.Dimensions, scoring.DimensionScore{ID: d.id, Name: d.id, Score: d.score, Applicable: true,
			Playbook: "https://releaseops.example.com/playbooks/" + d.id,
			Signals:  []scoring.SignalResult{{ID: d.id + "_signal", Score: d.score, Weight: 1, Reason: d.id + " needs work", Outcome: scoring.OutcomePartial}}})
	}
	return c
}

// setScore stores a scorecard for the service and an event received an hour ago, so the data
// is fresh.
func (e *env) setScore(service string, score float64) {
	e.t.Helper()
	c := card(service, score)
	b, _ := json.Marshal(c)
	now := e.clock.Now()
	err := e.app.DB.Writer.Do(context.Background(), func(t *storage.Tx) error {
		if err := storage.PutScore(t, storage.ScoreRow{Service: service, Score: score, Band: "x", Level: "none", Card: b, UpdatedAt: now}, false); err != nil {
			return err
		}
		_, _, err := storage.InsertDelivery(t, &storage.NewDelivery{Source: releaseops.SourceDeploy, DeliveryID: "fresh-" + service + now.String(), Type: "deploy",
			Subject: releaseops.Subject{Kind: releaseops.SubjectService, Key: service}, Service: service, Outcome: releaseops.OutcomeIgnored,
			ReceivedAt: now.Add(-time.Hour), Headers: map[string]string{}, Body: []byte(`{}`)})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) request(method, path, token string, body []byte) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		out = map[string]any{"_raw": string(raw)}
	}
	return resp.StatusCode, out
}

// gate asks POST /api/v1/gate and fails the test unless it answers 200.
func (e *env) gate(body map[string]any) map[string]any {
	e.t.Helper()
	b, _ := json.Marshal(body)
	code, out := e.request(http.MethodPost, "/api/v1/gate", gateToken, b)
	if code != http.StatusOK {
		e.t.Fatalf("POST /api/v1/gate %s: %d %v", b, code, out)
	}
	return out
}

func (e *env) approval(id string) map[string]any {
	e.t.Helper()
	code, out := e.request(http.MethodGet, "/api/v1/approvals/"+id, readToken, nil)
	if code != http.StatusOK {
		e.t.Fatalf("GET approval %s: %d %v", id, code, out)
	}
	return out
}

func (e *env) message(key string) (outbox.Stored, bool) {
	e.t.Helper()
	m, err := e.app.Outbox.Get(context.Background(), key)
	if err != nil {
		return m, false
	}
	return m, true
}

// messagesOf returns every queued message about the service.
func (e *env) messagesOf(service string) []outbox.Stored {
	e.t.Helper()
	all, err := e.app.Outbox.List(context.Background(), "", 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []outbox.Stored
	for _, m := range all {
		if m.Service == service {
			out = append(out, m)
		}
	}
	return out
}

// audit returns the audit entries of a service, oldest first.
func (e *env) audit(service string) []map[string]any {
	e.t.Helper()
	code, out := e.request(http.MethodGet, "/api/v1/audit?service="+service+"&limit=1000", readToken, nil)
	if code != http.StatusOK {
		e.t.Fatalf("GET audit: %d %v", code, out)
	}
	var entries []map[string]any
	list, _ := out["entries"].([]any)
	for i := len(list) - 1; i >= 0; i-- {
		entries = append(entries, list[i].(map[string]any))
	}
	return entries
}

func (e *env) verify() map[string]any {
	e.t.Helper()
	code, out := e.request(http.MethodGet, "/api/v1/audit/verify", readToken, nil)
	if code != http.StatusOK {
		e.t.Fatalf("GET audit/verify: %d %v", code, out)
	}
	return out
}

// deliver runs the outbox until nothing is due.
func (e *env) deliver() {
	e.t.Helper()
	for range 20 {
		n, err := e.app.Outbox.DeliverDue(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// settle runs the rescoring worker (and so the gate's listener) over every committed fact.
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

// protectionRule sends a signed deployment_protection_rule webhook for repo and environment.
func (e *env) protectionRule(delivery, repo, env, creator string, runID int) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"action": "requested", "environment": env, "event": "push",
		"deployment_callback_url": fmt.Sprintf("https://api.github.com/repos/%s/actions/runs/%d/deployment_protection_rule", repo, runID),
		"deployment": map[string]any{"id": runID * 10, "sha": "9f2c1e0a9f2c1e0a9f2c1e0a9f2c1e0a9f2c1e0a", "ref": "main", "environment": env,
			"creator": map[string]any{"login": creator}, "created_at": "2026-11-20T09:00:00Z"},
		"repository":   map[string]any{"full_name": repo, "name": strings.Split(repo, "/")[1]},
		"installation": map[string]any{"id": 42},
	})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "deployment_protection_rule")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", ghsrc.Sign(ghSecret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("webhook: %d", resp.StatusCode)
	}
}

func str(v any) string { s, _ := v.(string); return s }
