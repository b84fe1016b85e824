package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/storage"
)

// initiativeConfig is a catalog of four services in three teams and one initiative: declare
// structured logging by 2026-12-10 (a Thursday). checkout and docs have; ledger (payments,
// its own channel) and search (discovery, no channel: the default one) have not.
func initiativeConfig(dir, slackURL string) *config.Config {
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(dir, "releaseops.db")
	cfg.API.Tokens = []config.APIToken{
		{Name: "reader", Token: config.NewSecret(readToken), Scopes: []string{"read"}},
		{Name: "ci", Token: config.NewSecret(gateToken), Scopes: []string{"read", "gate"}},
	}
	cfg.Slack.BotToken = config.NewSecret("xoxb-initiatives")
	cfg.Slack.APIURL = slackURL + "/api/"
	cfg.Slack.DefaultChannel = "C0DEFAULT"
	cfg.Services = []releaseops.Service{
		{Name: "checkout", Owner: "team-payments", SlackChannel: "C0CHECKOUT", StructuredLogging: true},
		{Name: "ledger", Owner: "team-payments", SlackChannel: "C0LEDGER"},
		{Name: "search", Owner: "team-discovery"},
		{Name: "docs", Owner: "team-docs", SlackChannel: "C0DOCS", StructuredLogging: true},
	}
	cfg.Initiatives = []initiative.Spec{{ID: "json-logs", Name: "Structured logs everywhere",
		Target: initiative.Target{Signal: "structured_logging"}, Deadline: "2026-12-10"}}
	return &cfg
}

type fakeSlackPosts struct {
	mu    sync.Mutex
	posts []url.Values
	srv   *httptest.Server
}

func newFakeSlackPosts(t *testing.T) *fakeSlackPosts {
	f := &fakeSlackPosts{}
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

func (f *fakeSlackPosts) take() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.posts
	f.posts = nil
	return out
}

func startInitiativeApp(t *testing.T, cfg *config.Config, clock *testClock) *App {
	t.Helper()
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Worker.RescoreAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a
}

func deliver(t *testing.T, a *App) {
	t.Helper()
	for range 3 {
		if _, err := a.Outbox.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func round(t *testing.T, a *App) int {
	t.Helper()
	n, err := a.NudgeRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Nudges go on the schedule (Monday 09:00 UTC, 7 and 1 days before the deadline) to each
// team with work left, in the channels of its remaining services, listing only those; a team
// that is done gets none; a slot is sent once across rounds and a restart.
func TestInitiativeNudgesOnScheduleOnce(t *testing.T) {
	slack := newFakeSlackPosts(t)
	dir := t.TempDir()
	cfg := initiativeConfig(dir, slack.srv.URL)
	clock := &testClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)} // a Friday
	a := startInitiativeApp(t, cfg, clock)

	if n := round(t, a); n != 0 {
		t.Fatalf("Friday: %d nudges, want none (no reminder is due)", n)
	}
	clock.t = time.Date(2026, 11, 23, 9, 0, 30, 0, time.UTC) // Monday, just after 09:00
	if n := round(t, a); n != 2 {
		t.Fatalf("Monday 09:00: %d nudges, want 2 (payments in C0LEDGER, discovery in C0DEFAULT)", n)
	}
	if n := round(t, a); n != 0 {
		t.Fatalf("a second round in the same slot queued %d", n)
	}
	deliver(t, a)
	posts := slack.take()
	byChannel := map[string]string{}
	for _, p := range posts {
		byChannel[p.Get("channel")] = p.Get("blocks")
	}
	if len(posts) != 2 || byChannel["C0LEDGER"] == "" || byChannel["C0DEFAULT"] == "" {
		t.Fatalf("posts went to %v, want C0LEDGER and C0DEFAULT", byChannel)
	}
	if b := byChannel["C0LEDGER"]; !strings.Contains(b, "ledger") || strings.Contains(b, "checkout") || !strings.Contains(b, "1 of 2 of your services meet it") ||
		!strings.Contains(b, "/playbooks/observability") || !strings.Contains(b, "structured logging not declared") {
		t.Errorf("payments' nudge lists something else than ledger with its playbook:\n%s", b)
	}
	if b := byChannel["C0DEFAULT"]; !strings.Contains(b, "search") || !strings.Contains(b, "team-discovery") {
		t.Errorf("discovery's nudge:\n%s", b)
	}

	// A restart within the slot queues nothing again.
	clock.t = clock.t.Add(time.Hour)
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	a = startInitiativeApp(t, cfg, clock)
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	if n := round(t, a); n != 0 {
		t.Fatalf("after a restart in the same slot: %d nudges queued again", n)
	}

	// Thursday 2026-12-03 09:00 is 7 days before the deadline.
	clock.t = time.Date(2026, 12, 3, 9, 5, 0, 0, time.UTC)
	if n := round(t, a); n != 2 {
		t.Fatalf("7 days before: %d nudges, want 2", n)
	}
	deliver(t, a)
	for _, p := range slack.take() {
		if !strings.Contains(p.Get("blocks"), "Initiative reminder: 7 days left") {
			t.Errorf("the 7-days-before nudge does not say so:\n%s", p.Get("blocks"))
		}
	}
	// A slot missed by more than the grace is not sent late.
	clock.t = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC) // Monday 12-07 09:00 was 15 h ago
	if n := round(t, a); n != 0 {
		t.Fatalf("a reminder 15 h late: %d queued", n)
	}
	// After the deadline: no more reminders.
	clock.t = time.Date(2026, 12, 14, 9, 1, 0, 0, time.UTC)
	if n := round(t, a); n != 0 {
		t.Fatalf("after the deadline: %d queued", n)
	}
	msgs, err := a.Outbox.List(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	nudges := 0
	for _, m := range msgs {
		if m.Kind == "slack.nudge" {
			nudges++
			if !strings.HasPrefix(m.Key, "nudge:json-logs:") || strings.Contains(m.Key, "team-docs") || strings.Contains(m.Key, "C0CHECKOUT") {
				t.Errorf("unexpected nudge %s", m.Key)
			}
		}
	}
	if nudges != 4 {
		t.Errorf("%d nudges in the outbox, want 4 (two slots × two teams)", nudges)
	}
}

func auditKinds(t *testing.T, db *storage.DB) []string {
	t.Helper()
	var kinds []string
	if err := db.EachAudit(context.Background(), func(r storage.AuditRow) error {
		kinds = append(kinds, r.Kind+" "+r.Actor)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return kinds
}

func TestInitiativesAPI(t *testing.T) {
	slack := newFakeSlackPosts(t)
	cfg := initiativeConfig(t.TempDir(), slack.srv.URL)
	clock := &testClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	a := startInitiativeApp(t, cfg, clock)
	srv := httptest.NewServer(a.Server.Echo())
	t.Cleanup(func() { srv.Close(); a.Shutdown(context.Background()) })
	e := &env{t: t, app: a, srv: srv, clock: clock}
	gateAuth := map[string]string{"Authorization": "Bearer " + gateToken}

	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"unknown signal", `{"id":"oncall","name":"On call","target":{"signal":"oncall_configurd"},"deadline":"2027-01-15"}`, 400,
			`target.signal: unknown signal \"oncall_configurd\"`},
		{"unknown dimension", `{"id":"obs","name":"Obs","target":{"dimension":"observabilty","min":0.8},"deadline":"2027-01-15"}`, 400,
			`target.dimension: unknown dimension`},
		{"past deadline", `{"id":"late","name":"Late","target":{"level":"bronze"},"deadline":"2026-11-19"}`, 400,
			`deadline: 2026-11-19 has already passed (today is 2026-11-20, UTC)`},
		{"unknown field", `{"id":"x","name":"X","target":{"level":"bronze"},"deadline":"2027-01-15","owner":"me"}`, 400, `unknown field \"owner\"`},
		{"not JSON", `id: x`, 400, `body: want an initiative as JSON`},
		{"two bodies", `{"id":"x","name":"X","target":{"level":"bronze"},"deadline":"2027-01-15"}{"id":"y"}`, 400, `body: want one initiative as JSON, got more after it`},
		{"config id", `{"id":"json-logs","name":"Again","target":{"level":"bronze"},"deadline":"2027-01-15"}`, 409, `defined in the config file (initiatives[0])`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, res := e.post("/api/v1/initiatives", gateAuth, []byte(tc.body))
			if status != tc.status || !strings.Contains(fmt.Sprintf("%q", fmt.Sprint(res["error"])), tc.want) {
				t.Errorf("POST = %d %v, want %d with %s", status, res, tc.status, tc.want)
			}
		})
	}
	if status, _ := e.post("/api/v1/initiatives", map[string]string{"Authorization": "Bearer " + readToken},
		[]byte(`{"id":"x","name":"X","target":{"level":"bronze"},"deadline":"2027-01-15"}`)); status != http.StatusForbidden {
		t.Errorf("a read token created an initiative: %d", status)
	}
	if rows, _ := a.DB.ListInitiatives(context.Background()); len(rows) != 0 || len(auditKinds(t, a.DB)) != 0 {
		t.Fatalf("refused requests left %d initiatives and audit %v", len(rows), auditKinds(t, a.DB))
	}

	body := `{"id":"silver","name":"Payments at silver","filter":{"owner":"team-payments"},"target":{"level":"silver"},"deadline":"2027-01-15"}`
	status, res := e.post("/api/v1/initiatives", gateAuth, []byte(body))
	if status != http.StatusCreated || res["id"] != "silver" || res["total"] != float64(2) {
		t.Fatalf("create = %d %v", status, res)
	}
	if _, ok := res["warnings"]; ok {
		t.Errorf("a filter that matches services got warnings: %v", res["warnings"])
	}
	status, res = e.post("/api/v1/initiatives", gateAuth, []byte(`{"id":"nobody","name":"Nobody","filter":{"owner":"team-ghost"},"target":{"level":"bronze"},"deadline":"2027-01-15"}`))
	if w := fmt.Sprint(res["warnings"]); status != http.StatusCreated || !strings.Contains(w, "filter: matches none of the 4 catalogued services") {
		t.Errorf("a filter matching nothing = %d, warnings %s", status, w)
	}
	if status, res := e.post("/api/v1/initiatives", gateAuth, []byte(body)); status != http.StatusConflict || !strings.Contains(fmt.Sprint(res["error"]), "exists already") {
		t.Errorf("create twice = %d %v", status, res)
	}
	if got := auditKinds(t, a.DB); len(got) != 2 || got[0] != "initiative.created token:ci" {
		t.Errorf("audit = %v", got)
	}

	status, res = e.get("/api/v1/initiatives", readToken)
	list, _ := res["initiatives"].([]any)
	if status != 200 || len(list) != 3 {
		t.Fatalf("list = %d %v", status, res)
	}
	first := list[0].(map[string]any)
	if first["id"] != "json-logs" || first["done"] != float64(2) || first["total"] != float64(4) {
		t.Errorf("json-logs progress = %v", first)
	}
	// Before the background backfill has run, the past days are absent and said to be coming.
	status, res = e.get("/api/v1/initiatives/json-logs", readToken)
	if burn, _ := res["burn_up"].([]any); status != 200 || len(burn) != 1 || res["backfilling"] != float64(30) {
		t.Fatalf("detail before the backfill = %d, %d points, backfilling %v", status, len(burn), res["backfilling"])
	}
	if n, err := a.BackfillRound(context.Background()); err != nil || n != 30 {
		t.Fatalf("backfill stored %d points, %v; want 30", n, err)
	}
	status, res = e.get("/api/v1/initiatives/json-logs", readToken)
	burn, _ := res["burn_up"].([]any)
	teams, _ := res["teams"].([]any)
	if _, ok := res["backfilling"]; ok {
		t.Errorf("backfilling %v after the backfill", res["backfilling"])
	}
	if status != 200 || len(burn) != 31 || len(teams) != 3 {
		t.Fatalf("detail = %d, %d burn-up points, %d teams: %v", status, len(burn), len(teams), res)
	}
	last := burn[len(burn)-1].(map[string]any)
	if last["done"] != float64(2) || last["total"] != float64(4) || last["at"] != "2026-11-20T10:00:00Z" {
		t.Errorf("today's point = %v", last)
	}
	pay := teams[2].(map[string]any) // team-discovery, team-docs, team-payments
	rem := pay["remaining"].([]any)
	if pay["owner"] != "team-payments" || len(rem) != 1 || rem[0].(map[string]any)["service"] != "ledger" {
		t.Errorf("payments = %v", pay)
	}
	// The pages are served by the same app (web.auth none on a loopback address).
	if status, res := e.get("/initiatives/json-logs", ""); status != 200 || !strings.Contains(fmt.Sprint(res["_raw"]), `<a class="service" href="/services/ledger">ledger</a>`) {
		t.Errorf("GET /initiatives/json-logs = %d", status)
	}
	if status, _ := e.get("/api/v1/initiatives/nope", readToken); status != http.StatusNotFound {
		t.Errorf("unknown id = %d", status)
	}

	del := func(id string) int {
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/api/v1/initiatives/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+gateToken)
		status, _ := e.do(req)
		return status
	}
	if s := del("json-logs"); s != http.StatusConflict {
		t.Errorf("DELETE of a configured initiative = %d", s)
	}
	if s := del("silver"); s != http.StatusNoContent {
		t.Errorf("DELETE = %d", s)
	}
	if s := del("silver"); s != http.StatusNotFound {
		t.Errorf("DELETE again = %d", s)
	}
	if got := auditKinds(t, a.DB); len(got) != 3 || got[2] != "initiative.deleted token:ci" {
		t.Errorf("audit = %v", got)
	}
	if v, err := gate.Verify(context.Background(), a.DB); err != nil || !v.OK {
		t.Errorf("audit chain: %+v %v", v, err)
	}
}
