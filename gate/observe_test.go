package gate_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/storage"
)

// fakeSlack records chat.postMessage calls as Slack's Web API receives them.
type fakeSlack struct {
	mu    sync.Mutex
	srv   *httptest.Server
	posts []url.Values
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/chat.postMessage" {
			http.NotFound(w, r)
			return
		}
		r.ParseForm()
		f.mu.Lock()
		f.posts = append(f.posts, r.Form)
		n := len(f.posts)
		f.mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1763633000.%06d"}`, r.Form.Get("channel"), n)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// in returns the blocks of every post to channel.
func (f *fakeSlack) in(channel string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.posts {
		if p.Get("channel") == channel {
			out = append(out, p.Get("blocks"))
		}
	}
	return out
}

func withSlack(f *fakeSlack) func(*config.Config) {
	return func(c *config.Config) {
		c.Slack.BotToken = config.NewSecret("xoxb-observe")
		c.Slack.APIURL = f.srv.URL + "/api/"
	}
}

func reasonsOf(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, r := range list {
		out = append(out, str(r.(map[string]any)["text"]))
	}
	return out
}

// Observe mode end to end: the gate allows, says what it would have decided and why in the
// answer, the audit log and the service's channel, requests no approval, and the report
// counts it.
// It runs on both drivers: gate_observations is written in the decision's transaction.
func TestObserveModeEndToEnd(t *testing.T) {
	observe := func(slack *fakeSlack) func(*config.Config) {
		return func(c *config.Config) {
			withSlack(slack)(c)
			c.Gate.ModeByEnvironment = map[string]string{"production": "observe"}
		}
	}
	t.Run(storage.DriverSQLite, func(t *testing.T) {
		slack := newFakeSlack(t)
		observeEndToEnd(t, newEnv(t, observe(slack)), slack)
	})
	t.Run(storage.DriverPostgres, func(t *testing.T) {
		url := pgtest.URL(t)
		slack := newFakeSlack(t)
		e := newEnv(t, func(c *config.Config) {
			observe(slack)(c)
			c.Storage.Driver, c.Storage.PostgresURL = storage.DriverPostgres, config.NewSecret(url)
		})
		observeEndToEnd(t, e, slack)
	})
}

func observeEndToEnd(t *testing.T, e *env, slack *fakeSlack) {
	e.setScore("legacy", 20)   // blocked
	e.setScore("checkout", 70) // watch
	e.setScore("payments", 91) // mature

	out := e.gate(map[string]any{"service": "legacy", "environment": "production", "version": "v9", "requested_by": "carol"})
	if out["decision"] != "allow" || out["mode"] != "observe" || out["mode_from"] != "gate.mode_by_environment.production" ||
		out["would_decision"] != "block" || out["approval_id"] != nil || out["band"] != "blocked" {
		t.Fatalf("blocked service in observe mode: %v", out)
	}
	would := reasonsOf(out["would_reasons"])
	if len(would) == 0 || !strings.Contains(would[0], "blocked band") {
		t.Fatalf("would_reasons %v", would)
	}
	if rs := reasonsOf(out["reasons"]); !strings.Contains(rs[0], "observe mode (gate.mode_by_environment.production): the gate would block") {
		t.Errorf("first reason %q", rs[0])
	}

	out = e.gate(map[string]any{"service": "checkout", "environment": "production", "version": "v2", "requested_by": "alice"})
	if out["decision"] != "allow" || out["would_decision"] != "needs_approval" || out["approval_id"] != nil {
		t.Fatalf("watch service in observe mode: %v", out)
	}
	out = e.gate(map[string]any{"service": "payments", "environment": "production", "requested_by": "carol"})
	if out["decision"] != "allow" || out["would_decision"] != "allow" || out["would_reasons"] != nil {
		t.Fatalf("mature service in observe mode: %v", out)
	}
	// Other environments keep enforcing.
	out = e.gate(map[string]any{"service": "legacy", "environment": "staging", "requested_by": "carol"})
	if out["decision"] != "block" || out["mode"] != "enforce" || out["mode_from"] != "gate.mode" || out["would_decision"] != nil {
		t.Fatalf("staging is enforced: %v", out)
	}

	for _, m := range e.messagesOf("checkout") {
		if strings.HasPrefix(m.Key, "approval:") {
			t.Fatalf("observe mode requested an approval: %s", m.Key)
		}
	}
	entries := e.audit("legacy")
	if len(entries) != 2 {
		t.Fatalf("audit of legacy: %v", entries)
	}
	d := entries[0]["detail"].(map[string]any)["decision"].(map[string]any)
	if entries[0]["kind"] != gate.AuditGateDecision || d["decision"] != "allow" || d["would_decision"] != "block" || d["mode"] != "observe" ||
		len(reasonsOf(d["would_reasons"])) == 0 {
		t.Fatalf("audit entry %v", entries[0])
	}
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify %v", v)
	}

	e.deliver()
	posts := slack.in("C0LEGACY")
	if len(posts) != 1 || !strings.Contains(posts[0], "Observe mode: legacy to production would block") || !strings.Contains(posts[0], "blocked band") {
		t.Fatalf("legacy channel got %q", posts)
	}
	posts = slack.in(checkoutCh)
	if len(posts) != 1 || !strings.Contains(posts[0], "would need approval") || !strings.Contains(posts[0], "No approval was requested") ||
		strings.Contains(posts[0], "releaseops_approve") {
		t.Fatalf("checkout channel got %q", posts)
	}
	if posts := slack.in("C0PAY"); len(posts) != 0 {
		t.Errorf("an observed allow was posted: %q", posts)
	}

	code, rep := e.request(http.MethodGet, "/api/v1/gate/report?days=30", readToken, nil)
	if code != http.StatusOK {
		t.Fatalf("report: %d %v", code, rep)
	}
	tot := rep["totals"].(map[string]any)
	if tot["requests"] != 3.0 || tot["would_block"] != 1.0 || tot["would_need_approval"] != 1.0 || tot["allowed"] != 1.0 {
		t.Fatalf("totals %v", tot)
	}
	svcs := rep["services"].([]any)
	first := svcs[0].(map[string]any)
	if len(svcs) != 3 || first["service"] != "legacy" || svcs[1].(map[string]any)["service"] != "checkout" {
		t.Fatalf("services %v", svcs)
	}
	dec := first["decisions"].([]any)[0].(map[string]any)
	top := dec["top_reasons"].([]any)[0].(map[string]any)
	if dec["decision"] != "block" || dec["count"] != 1.0 || dec["first_seen"] != "2026-11-20T10:00:00Z" ||
		top["reason"] != "score in the blocked band for production" || top["count"] != 1.0 {
		t.Fatalf("legacy's decisions %v", first["decisions"])
	}
	// A month later the window has moved past them.
	e.clock.Advance(31 * 24 * time.Hour)
	_, rep = e.request(http.MethodGet, "/api/v1/gate/report", readToken, nil)
	if rep["days"] != 30.0 || rep["totals"].(map[string]any)["requests"] != 0.0 {
		t.Errorf("a month later: %v", rep)
	}
	_, rep = e.request(http.MethodGet, "/api/v1/gate/report?days=60", readToken, nil)
	if rep["totals"].(map[string]any)["requests"] != 3.0 {
		t.Errorf("60 days: %v", rep["totals"])
	}
}

func TestObserveReportBadDays(t *testing.T) {
	e := newEnv(t, nil)
	for _, days := range []string{"0", "-3", "366", "abc", "1.5", "30d"} {
		code, out := e.request(http.MethodGet, "/api/v1/gate/report?days="+url.QueryEscape(days), readToken, nil)
		if code != http.StatusBadRequest || !strings.Contains(str(out["error"]), "days must be a whole number from 1 to 365") {
			t.Errorf("days=%s: %d %v", days, code, out)
		}
	}
	if code, _ := e.request(http.MethodGet, "/api/v1/gate/report", "", nil); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", code)
	}
}

// The most specific setting wins: the service's gate_mode over the environment's over
// gate.mode, and the answer names the one that applied.
func TestObserveModePrecedence(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Gate.Mode = "observe"
		c.Gate.ModeByEnvironment = map[string]string{"production": "enforce"}
		c.Services[0].GateMode = "observe" // checkout
		c.Services[2].GateMode = "enforce" // legacy
	})
	e.setScore("checkout", 20)
	e.setScore("payments", 20)
	e.setScore("legacy", 20)
	cases := []struct {
		service, env, decision, mode, from string
	}{
		{"checkout", "production", "allow", "observe", "gate_mode of service checkout"},
		{"payments", "production", "block", "enforce", "gate.mode_by_environment.production"},
		{"payments", "staging", "allow", "observe", "gate.mode"},
		{"legacy", "staging", "block", "enforce", "gate_mode of service legacy"},
	}
	for _, tc := range cases {
		out := e.gate(map[string]any{"service": tc.service, "environment": tc.env, "requested_by": "carol"})
		if out["decision"] != tc.decision || out["mode"] != tc.mode || out["mode_from"] != tc.from {
			t.Errorf("%s to %s: decision %v mode %v from %v; want %s %s %s", tc.service, tc.env, out["decision"], out["mode"], out["mode_from"], tc.decision, tc.mode, tc.from)
		}
	}
	p := gate.ModePolicy{}
	if m, from := p.ModeFor(releaseops.Service{Name: "x"}, "production"); m != gate.ModeEnforce || from != "default" {
		t.Errorf("zero policy: %s %s", m, from)
	}
	// The file that set the mode is named, not the one the entry was first declared in.
	found := releaseops.Service{Name: "ledger", Origin: "config", GateMode: "observe", GateModeOrigin: "github:acme/ledger/catalog-info.yaml"}
	if _, from := p.ModeFor(found, "production"); from != "gate_mode of service ledger (github:acme/ledger/catalog-info.yaml)" {
		t.Errorf("a repository's file under a config entry: %q", from)
	}
	declared := releaseops.Service{Name: "search", Origin: "backstage:catalog/search.yaml", GateMode: "observe", GateModeOrigin: "config"}
	if _, from := p.ModeFor(declared, "production"); from != "gate_mode of service search" {
		t.Errorf("config over a local Backstage file: %q", from)
	}
}

// A GitHub deployment protection rule in observe mode is approved, and the comment says what
// enforcement would have decided.
func TestObserveProtectionRuleApproved(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Gate.Mode = "observe" })
	e.setScore("legacy", 20)
	e.setScore("checkout", 70)
	e.protectionRule("d-obs-blocked", "acme/legacy", "production", "carol", 701)
	e.protectionRule("d-obs-watch", "acme/checkout", "production", "alice", 702)
	e.settle()
	e.deliver()
	got := map[string]map[string]string{}
	for _, r := range e.gh.Reviews() {
		got[r["path"]] = r
	}
	blocked := got["/api/repos/acme/legacy/actions/runs/701/deployment_protection_rule"]
	watch := got["/api/repos/acme/checkout/actions/runs/702/deployment_protection_rule"]
	if blocked["state"] != "approved" || !strings.Contains(blocked["comment"], "the gate would block") || !strings.Contains(blocked["comment"], "blocked band") {
		t.Errorf("blocked service's review %v", blocked)
	}
	if watch["state"] != "approved" || !strings.Contains(watch["comment"], "would need approval") {
		t.Errorf("watch service's review %v", watch)
	}
	for _, m := range e.messagesOf("checkout") {
		if strings.HasPrefix(m.Key, "approval:") {
			t.Fatalf("observe mode requested an approval: %s", m.Key)
		}
	}
	_, rep := e.request(http.MethodGet, "/api/v1/gate/report", readToken, nil)
	if tot := rep["totals"].(map[string]any); tot["would_block"] != 1.0 || tot["would_need_approval"] != 1.0 {
		t.Errorf("report after protection rules: %v", tot)
	}
}

// Break glass in observe mode is still recorded and posted; the decision it overrode is what
// enforcement would have made.
func TestObserveBreakGlass(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Gate.Mode = "observe" })
	e.setScore("legacy", 20)
	out := e.gate(map[string]any{"service": "legacy", "environment": "production", "requested_by": "carol", "break_glass": map[string]any{"reason": "hotfix"}})
	if out["decision"] != "allow" || out["break_glass"] != true || out["would_decision"] != "block" {
		t.Fatalf("break glass in observe mode: %v", out)
	}
	kinds := map[string]bool{}
	for _, en := range e.audit("legacy") {
		kinds[str(en["kind"])] = true
	}
	if !kinds[gate.AuditBreakGlass] {
		t.Errorf("no break-glass audit entry: %v", kinds)
	}
	if _, ok := e.message("break_glass:" + str(out["request_id"])); !ok {
		t.Error("no break-glass post")
	}
}

// failingObserver fails to queue the observe-mode post, as a full disk or a lost connection
// would in the middle of the decision's transaction.
type failingObserver struct{ gate.Notifier }

func (failingObserver) ObservedDecision(*storage.Tx, *gate.ObservedNotice, time.Time) error {
	return fmt.Errorf("the outbox is unavailable")
}

// The observation is part of the decision's transaction: when the decision cannot be stored
// whole, no observation is left for the report to count, on either driver.
func TestObservationRolledBackWithItsDecision(t *testing.T) {
	run := func(t *testing.T, e *env) {
		e.setScore("legacy", 20)
		// The gate's lazy init (which reads Notifier) runs here first, not on the PostgreSQL
		// listener's goroutine at the same time as the swap below (a data race under -race).
		e.app.Gate.WakeLocal()
		real := e.app.Gate.Notifier
		e.app.Gate.Notifier = failingObserver{real}
		b := []byte(`{"service":"legacy","environment":"production","requested_by":"carol"}`)
		if code, out := e.request(http.MethodPost, "/api/v1/gate", gateToken, b); code != http.StatusInternalServerError {
			t.Fatalf("a decision whose post failed: %d %v", code, out)
		}
		_, rep := e.request(http.MethodGet, "/api/v1/gate/report", readToken, nil)
		if tot := rep["totals"].(map[string]any); tot["requests"] != 0.0 {
			t.Fatalf("an observation outlived its rolled-back decision: %v", tot)
		}
		if entries := e.audit("legacy"); len(entries) != 0 {
			t.Fatalf("audit of a rolled-back decision: %v", entries)
		}
		e.app.Gate.Notifier = real
		e.gate(map[string]any{"service": "legacy", "environment": "production", "requested_by": "carol"})
		_, rep = e.request(http.MethodGet, "/api/v1/gate/report", readToken, nil)
		if tot := rep["totals"].(map[string]any); tot["requests"] != 1.0 || tot["would_block"] != 1.0 {
			t.Fatalf("after the outbox came back: %v", tot)
		}
	}
	observe := func(c *config.Config) { c.Gate.Mode = "observe" }
	t.Run(storage.DriverSQLite, func(t *testing.T) { run(t, newEnv(t, observe)) })
	t.Run(storage.DriverPostgres, func(t *testing.T) {
		url := pgtest.URL(t)
		run(t, newEnv(t, func(c *config.Config) {
			observe(c)
			c.Storage.Driver, c.Storage.PostgresURL = storage.DriverPostgres, config.NewSecret(url)
		}))
	})
}
