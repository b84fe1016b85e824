package app

import (
	"context"
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
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// digestSlack is a fake Slack Web API that records chat.postMessage calls.
type digestSlack struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts []digestPost
}

type digestPost struct{ Channel, Text, Blocks string }

func newDigestSlack(t *testing.T) *digestSlack {
	f := &digestSlack{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/chat.postMessage" {
			http.NotFound(w, r)
			return
		}
		r.ParseForm()
		f.mu.Lock()
		f.posts = append(f.posts, digestPost{Channel: r.Form.Get("channel"), Text: r.Form.Get("text"), Blocks: r.Form.Get("blocks")})
		n := len(f.posts)
		f.mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1764489600.%06d"}`, r.Form.Get("channel"), n)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *digestSlack) taken() []digestPost {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.posts
	f.posts = nil
	return out
}

func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// digestConfig: two teams (one posting to its services' channel, one to the default
// channel), a service with no owner, team digests on Monday 09:00 in Berlin and the
// organisation digest on Monday 08:00 UTC.
func digestConfig(slack *digestSlack, storagePath string) *config.Config {
	cfg := config.Default()
	cfg.Storage.SQLitePath = storagePath
	cfg.Slack.BotToken = config.NewSecret("xoxb-digests")
	cfg.Slack.APIURL = slack.srv.URL + "/api/"
	cfg.Slack.DefaultChannel = "C0DEFAULT"
	cfg.Services = []releaseops.Service{
		{Name: "checkout", Owner: "team-payments", SlackChannel: "C0PAY"},
		{Name: "ledger", Owner: "team-payments", SlackChannel: "C0PAY"},
		{Name: "refunds", Owner: "team-payments", SlackChannel: "C0REFUNDS"},
		{Name: "search", Owner: "team-discovery"},
		{Name: "orphan"},
	}
	cfg.Scoring.Waivers = []scoring.Waiver{
		{Service: "checkout", Signal: "signed_commits", Reason: "HSM rollout <!channel>", Author: "alice", Expires: "2026-12-05"},
		{Service: "search", Signal: "signed_commits", Reason: "bot commits", Author: "alice", Expires: "2027-01-31"},
	}
	hour := 8
	cfg.Digests = config.Digests{
		Team: config.DigestSchedule{Enabled: true, Day: "monday", Timezone: "Europe/Berlin"},
		Org:  config.OrgDigest{Enabled: true, Hour: &hour, Channel: "C0ORG"},
	}
	return &cfg
}

func openDigestApp(t *testing.T, cfg *config.Config, clock *testClock) *App {
	t.Helper()
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// seedWeek stores score history around the week of Monday 30 November 2026 and one regression
// recorded in it, through the same storage calls the rescoring worker makes.
func seedWeek(t *testing.T, a *App, clock *testClock) {
	t.Helper()
	put := func(svc string, score float64, band string, at time.Time) {
		err := a.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
			return storage.PutScore(tx, storage.ScoreRow{Service: svc, Score: score, Band: band, Level: "bronze", Card: []byte(`{}`), UpdatedAt: at}, true)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("checkout", 82, scoring.BandHealthy, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	put("ledger", 80, scoring.BandHealthy, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	put("search", 70, scoring.BandWatch, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	put("checkout", 64.5, scoring.BandWatch, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	clock.Set(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	reg := &scoring.Regression{Service: "checkout", From: 82, To: 64.5, Drop: 17.5, FromBand: scoring.BandHealthy, ToBand: scoring.BandWatch, BandFell: true, At: clock.Now()}
	if err := a.recordRegression(context.Background(), reg, nil); err != nil {
		t.Fatal(err)
	}
}

func runDigests(t *testing.T, a *App) {
	t.Helper()
	if err := a.digests.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := a.Outbox.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func channels(ps []digestPost) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Channel)
	}
	return strings.Join(out, ",")
}

// TestDigestsOncePerPeriodAcrossRestarts: each week's digests go out once at their slot, not
// again after a restart; a slot missed by downtime is posted late once when the service is
// back within digests.catch_up, and skipped (not posted days late) beyond it.
func TestDigestsOncePerPeriodAcrossRestarts(t *testing.T) {
	for _, driver := range []string{storage.DriverSQLite, storage.DriverPostgres} {
		t.Run(driver, func(t *testing.T) {
			slack := newDigestSlack(t)
			cfg := digestConfig(slack, filepath.Join(t.TempDir(), "releaseops.db"))
			if driver == storage.DriverPostgres {
				cfg.Storage.Driver = storage.DriverPostgres
				cfg.Storage.PostgresURL = config.NewSecret(pgtest.URL(t))
			}
			clock := &testClock{}
			a := openDigestApp(t, cfg, clock)
			seedWeek(t, a, clock)

			// Monday 30 November 07:59 UTC: before either slot. The week before's slots
			// passed a week ago, long past digests.catch_up: skipped, not posted.
			clock.Set(time.Date(2026, 11, 30, 7, 59, 0, 0, time.UTC))
			runDigests(t, a)
			if ps := slack.taken(); len(ps) != 0 {
				t.Fatalf("before the slot: posted to %s", channels(ps))
			}
			if runs, err := a.DB.DigestRuns(context.Background(), digestTeam, "2026-W48"); err != nil || len(runs) != 2 || runs["team-payments"].Outcome != storage.DigestSkipped {
				t.Fatalf("week 48 runs = %+v, %v; want both teams skipped", runs, err)
			}

			// 08:00 UTC is 09:00 in Berlin and the organisation's 08:00 UTC: all three go out.
			clock.Set(time.Date(2026, 11, 30, 8, 0, 30, 0, time.UTC))
			runDigests(t, a)
			ps := slack.taken()
			got := map[string]int{}
			for _, p := range ps {
				got[p.Channel]++
			}
			if len(ps) != 3 || got["C0PAY"] != 1 || got["C0DEFAULT"] != 1 || got["C0ORG"] != 1 {
				t.Fatalf("at the slot: posted to %s, want C0PAY (team-payments: most of its services), C0DEFAULT (team-discovery) and C0ORG", channels(ps))
			}
			for _, p := range ps {
				switch p.Channel {
				case "C0PAY":
					for _, want := range []string{"team-payments", "2026-W49", "checkout", "82.0 (healthy) → 64.5 (watch)", "New regressions (1)", "refunds",
						"Exemptions expiring", "*signed_commits* expires Sun 6 Dec 00:59 CET (in 6 days): HSM rollout \\u0026lt;!channel\\u0026gt;"} {
						if !strings.Contains(p.Blocks, want) {
							t.Errorf("team-payments digest lacks %q:\n%s", want, p.Blocks)
						}
					}
					if strings.Contains(p.Blocks, "search") || strings.Contains(p.Blocks, "orphan") {
						t.Errorf("team-payments digest lists another team's service:\n%s", p.Blocks)
					}
				case "C0DEFAULT":
					if !strings.Contains(p.Blocks, "team-discovery") || !strings.Contains(p.Blocks, "search") || !strings.Contains(p.Blocks, "first scored") ||
						strings.Contains(p.Blocks, "Exemptions expiring") {
						t.Errorf("team-discovery digest:\n%s", p.Blocks)
					}
				case "C0ORG":
					for _, want := range []string{"5 services", "Biggest falls", "checkout", "not scored yet"} {
						if !strings.Contains(p.Blocks, want) {
							t.Errorf("org digest lacks %q:\n%s", want, p.Blocks)
						}
					}
				}
			}
			// No digest for "orphan", which has no owner, beyond the org digest.
			if runs, _ := a.DB.DigestRuns(context.Background(), digestTeam, "2026-W49"); len(runs) != 2 {
				t.Errorf("week 49 team runs = %+v, want the two teams", runs)
			}

			// The scheduler runs again in the same week: nothing new.
			clock.Set(time.Date(2026, 11, 30, 8, 5, 0, 0, time.UTC))
			runDigests(t, a)
			if ps := slack.taken(); len(ps) != 0 {
				t.Fatalf("second run in the week posted to %s", channels(ps))
			}

			// Restart: a new process on the same database, same week.
			if err := a.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			a = openDigestApp(t, cfg, clock)
			clock.Set(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
			runDigests(t, a)
			if ps := slack.taken(); len(ps) != 0 {
				t.Fatalf("after a restart in the same week: posted again to %s", channels(ps))
			}

			// Down across the next slot (Monday 7 December), back six hours later: the
			// missed digests go out late, once.
			if err := a.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			a = openDigestApp(t, cfg, clock)
			clock.Set(time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC))
			runDigests(t, a)
			if ps := slack.taken(); len(ps) != 3 || !strings.Contains(ps[0].Blocks, "2026-W50") {
				t.Fatalf("back within catch_up: %d posts to %s, want the three week-50 digests once", len(ps), channels(ps))
			}
			runDigests(t, a)
			if ps := slack.taken(); len(ps) != 0 {
				t.Fatalf("late digests posted twice: %s", channels(ps))
			}

			// Down across Monday 14 December, back on Wednesday: past catch_up, that week is
			// skipped; the next Monday's go out on time.
			if err := a.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			a = openDigestApp(t, cfg, clock)
			defer a.Shutdown(context.Background())
			clock.Set(time.Date(2026, 12, 16, 10, 0, 0, 0, time.UTC))
			runDigests(t, a)
			if ps := slack.taken(); len(ps) != 0 {
				t.Fatalf("two days after the slot: posted to %s, want the week skipped", channels(ps))
			}
			if runs, _ := a.DB.DigestRuns(context.Background(), digestOrg, "2026-W51"); runs[""].Outcome != storage.DigestSkipped {
				t.Errorf("week 51 org run = %+v, want skipped", runs)
			}
			clock.Set(time.Date(2026, 12, 21, 8, 0, 0, 0, time.UTC))
			runDigests(t, a)
			if ps := slack.taken(); len(ps) != 3 {
				t.Fatalf("the week after the skip: %d posts, want 3", len(ps))
			}
			sent, err := a.Outbox.List(context.Background(), outbox.StateSent, 100)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, m := range sent {
				if m.Kind == "slack.digest" {
					n++
				}
			}
			if n != 9 {
				t.Errorf("%d digests sent in all, want 9 (three weeks of three)", n)
			}
		})
	}
}

// Two replicas on one PostgreSQL database run their schedulers at the same moment (as they
// would for the seconds of a lease handover): each week's digests are queued once.
func TestDigestsOnceWithTwoReplicas(t *testing.T) {
	url := pgtest.URL(t)
	slack := newDigestSlack(t)
	cfg := digestConfig(slack, "")
	cfg.Storage.Driver = storage.DriverPostgres
	cfg.Storage.PostgresURL = config.NewSecret(url)
	clock := &testClock{}
	a := openDigestApp(t, cfg, clock)
	defer a.Shutdown(context.Background())
	b := openDigestApp(t, cfg, clock)
	defer b.Shutdown(context.Background())
	seedWeek(t, a, clock)
	clock.Set(time.Date(2026, 11, 30, 8, 1, 0, 0, time.UTC))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := a
			if i%2 == 1 {
				app = b
			}
			errs[i] = app.digests.RunOnce(context.Background())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if _, err := a.Outbox.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if ps := slack.taken(); len(ps) != 3 {
		t.Fatalf("eight schedulers on two replicas posted %d digests (%s), want 3", len(ps), channels(ps))
	}
}

// Started like serve starts it, the scheduler runs under its lease and its digests reach
// Slack through the outbox worker.
func TestDigestsRunUnderTheLease(t *testing.T) {
	slack := newDigestSlack(t)
	cfg := digestConfig(slack, filepath.Join(t.TempDir(), "releaseops.db"))
	clock := &testClock{}
	a := openDigestApp(t, cfg, clock)
	defer a.Shutdown(context.Background())
	seedWeek(t, a, clock)
	clock.Set(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	a.Start()
	var ps []digestPost
	for deadline := time.Now().Add(20 * time.Second); len(ps) < 3 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		ps = append(ps, slack.taken()...)
	}
	if len(ps) != 3 {
		t.Fatalf("posted %d digests (%s), want 3", len(ps), channels(ps))
	}
	leases, err := a.DB.Leases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	held := false
	for _, l := range leases {
		held = held || l.Name == storage.LeaseDigests
	}
	if !held {
		t.Errorf("no %s lease among %+v", storage.LeaseDigests, leases)
	}
}

// A team whose services split evenly between channels gets its digest in the first by name;
// a team with no channel at all (no slack_channel, no slack.default_channel) is skipped for
// the week and recorded, not retried every minute.
func TestDigestTeamChannel(t *testing.T) {
	slack := newDigestSlack(t)
	cfg := digestConfig(slack, filepath.Join(t.TempDir(), "releaseops.db"))
	cfg.Slack.DefaultChannel = ""
	cfg.Scoring.Waivers = nil
	cfg.API.Tokens = []config.APIToken{{Name: "reader", Token: config.NewSecret(readToken), Scopes: []string{"read"}}}
	cfg.Services = []releaseops.Service{
		{Name: "a", Owner: "team-split", SlackChannel: "C0ZED"},
		{Name: "b", Owner: "team-split", SlackChannel: "C0ALPHA"},
		{Name: "c", Owner: "team-nowhere"},
	}
	clock := &testClock{}
	a := openDigestApp(t, cfg, clock)
	defer a.Shutdown(context.Background())
	teams := a.digestTeams()
	if len(teams) != 2 || teams[0].Owner != "team-nowhere" || teams[0].Channel != "" || teams[1].Channel != "C0ALPHA" {
		t.Fatalf("teams = %+v", teams)
	}
	clock.Set(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	runDigests(t, a)
	got := map[string]int{}
	for _, p := range slack.taken() {
		got[p.Channel]++
	}
	if len(got) != 2 || got["C0ALPHA"] != 1 || got["C0ORG"] != 1 {
		t.Errorf("posts by channel = %v, want team-split in C0ALPHA and the org digest", got)
	}
	runs, err := a.DB.DigestRuns(context.Background(), digestTeam, "2026-W49")
	if err != nil || runs["team-nowhere"].Outcome != storage.DigestSkipped || runs["team-split"].Outcome != storage.DigestQueued {
		t.Errorf("runs = %+v, %v", runs, err)
	}

	srv := httptest.NewServer(a.Server.Echo())
	defer srv.Close()
	e := &env{t: t, app: a, srv: srv, clock: clock}
	status, res := e.get("/api/v1/digests", readToken)
	list := fmt.Sprint(res["digests"])
	if status != http.StatusOK || !strings.Contains(list, "team-nowhere") || !strings.Contains(list, "skipped") || !strings.Contains(list, "digest:team:team-split:2026-W49") {
		t.Errorf("GET /api/v1/digests: %d %v", status, res)
	}
	if status, _ := e.get("/api/v1/digests?limit=0", readToken); status != http.StatusBadRequest {
		t.Errorf("limit=0: %d, want 400", status)
	}
	if status, _ := e.get("/api/v1/digests", ""); status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", status)
	}
}
