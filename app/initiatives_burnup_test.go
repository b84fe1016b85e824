package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/storage"
)

func backfill(t *testing.T, a *App) int {
	t.Helper()
	n, err := a.BackfillRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func record(t *testing.T, a *App) int {
	t.Helper()
	n, err := a.RecordRound(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func report(t *testing.T, a *App, id string) initiative.Report {
	t.Helper()
	rep, ok, err := a.InitiativeReport(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("report %s: %v %v", id, ok, err)
	}
	return rep
}

// The burn-up's past days are replayed once in the background, then each day is recorded from
// the stored cards just after it ends, once; a day no replica recorded in time is replayed; an
// edited target replays the span again; the request path only reads.
func TestInitiativeBurnUpRecordedOnceAndBackfilled(t *testing.T) {
	slack := newFakeSlackPosts(t)
	dir := t.TempDir()
	cfg := initiativeConfig(dir, slack.srv.URL)
	clock := &testClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	a := startInitiativeApp(t, cfg, clock)
	t.Cleanup(func() { a.Shutdown(context.Background()) })

	if rep := report(t, a, "json-logs"); len(rep.BurnUp) != 1 || rep.Backfilling != 30 || rep.BurnUp[0].Source != initiative.SourceLive {
		t.Fatalf("before the backfill: %d points, backfilling %d", len(rep.BurnUp), rep.Backfilling)
	}
	if n := backfill(t, a); n != 30 {
		t.Fatalf("backfill stored %d points, want 30 (2026-10-21 to 2026-11-19)", n)
	}
	if n := backfill(t, a); n != 0 {
		t.Fatalf("a second backfill stored %d", n)
	}
	if n := record(t, a); n != 0 {
		t.Fatalf("10:00: recorded %d points, want none (no day has just ended)", n)
	}
	rep := report(t, a, "json-logs")
	if len(rep.BurnUp) != 31 || rep.Backfilling != 0 {
		t.Fatalf("after the backfill: %d points, backfilling %d", len(rep.BurnUp), rep.Backfilling)
	}
	for _, p := range rep.BurnUp[:30] {
		// checkout and docs declare structured logging in the catalog, ledger and search do not.
		if p.Source != initiative.SourceReplayed || p.Done != 2 || p.Total != 4 || !p.At.Equal(initiative.EndOfDay(p.At)) {
			t.Fatalf("replayed point %+v", p)
		}
	}
	teams, err := a.DB.InitiativeDayTeams(context.Background(), "json-logs", "2026-11-19")
	if err != nil || len(teams) != 3 || teams[2] != (storage.InitiativeTeamCount{Owner: "team-payments", Done: 1, Total: 2}) {
		t.Fatalf("teams of 2026-11-19 = %+v, %v", teams, err)
	}

	// Just after midnight the day that ended is recorded from the cards, once.
	clock.t = time.Date(2026, 11, 21, 0, 0, 30, 0, time.UTC)
	if n := record(t, a); n != 1 {
		t.Fatalf("00:00:30: recorded %d points, want 1", n)
	}
	if n := record(t, a) + backfill(t, a); n != 0 {
		t.Fatalf("a second round stored %d", n)
	}
	rep = report(t, a, "json-logs")
	if p := rep.BurnUp[len(rep.BurnUp)-2]; len(rep.BurnUp) != 31 || p.Day != "2026-11-20" || p.Source != initiative.SourceRecorded || !p.At.Equal(clock.t) || p.Done != 2 {
		t.Fatalf("recorded point = %+v (%d points)", p, len(rep.BurnUp))
	}

	// ledger is fixed: today's point moves, the recorded past does not.
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg.Services[1].StructuredLogging = true
	a = startInitiativeApp(t, cfg, clock)
	rep = report(t, a, "json-logs")
	if live, last := rep.BurnUp[len(rep.BurnUp)-1], rep.BurnUp[len(rep.BurnUp)-2]; live.Done != 3 || live.Source != initiative.SourceLive || last.Done != 2 {
		t.Fatalf("after the fix: live %+v, yesterday %+v", live, last)
	}

	// No replica ran at midnight: the next day is replayed rather than judged from later cards.
	clock.t = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	if n := record(t, a); n != 0 {
		t.Fatalf("03:00: recorded %d, want none (past the grace)", n)
	}
	if rep := report(t, a, "json-logs"); rep.Backfilling != 1 {
		t.Fatalf("2026-11-21 missing: backfilling %d", rep.Backfilling)
	}
	if n := backfill(t, a); n != 1 {
		t.Fatalf("backfill of 2026-11-21 stored %d", n)
	}
	rep = report(t, a, "json-logs")
	if p := rep.BurnUp[len(rep.BurnUp)-2]; p.Day != "2026-11-21" || p.Source != initiative.SourceReplayed || p.Done != 3 {
		t.Fatalf("2026-11-21 = %+v", p)
	}

	// Another target counts something else: the page says the span is being backfilled, and
	// the backfill replaces every point.
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg.Initiatives[0].Filter = initiative.Filter{Owner: "team-payments"}
	a = startInitiativeApp(t, cfg, clock)
	rec := httptest.NewRecorder()
	a.Server.Echo().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/initiatives/json-logs", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "30 past days are being replayed") {
		t.Fatalf("page after the edit = %d:\n%s", rec.Code, rec.Body.String())
	}
	if n := backfill(t, a); n != 30 {
		t.Fatalf("backfill after the edit stored %d, want 30", n)
	}
	for _, p := range report(t, a, "json-logs").BurnUp {
		if p.Total != 2 {
			t.Fatalf("point %+v still counts the old filter", p)
		}
	}
}

// Deleting an initiative created through the API removes its points with it.
func TestInitiativeDeleteRemovesPoints(t *testing.T) {
	slack := newFakeSlackPosts(t)
	cfg := initiativeConfig(t.TempDir(), slack.srv.URL)
	clock := &testClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	a := startInitiativeApp(t, cfg, clock)
	srv := httptest.NewServer(a.Server.Echo())
	t.Cleanup(func() { srv.Close(); a.Shutdown(context.Background()) })
	e := &env{t: t, app: a, srv: srv, clock: clock}
	auth := map[string]string{"Authorization": "Bearer " + gateToken}
	if status, res := e.post("/api/v1/initiatives", auth, []byte(`{"id":"silver","name":"Silver","target":{"level":"silver"},"deadline":"2027-01-15"}`)); status != http.StatusCreated {
		t.Fatalf("create = %d %v", status, res)
	}
	clock.t = time.Date(2026, 11, 21, 0, 1, 0, 0, time.UTC)
	if n := record(t, a); n != 2 {
		t.Fatalf("recorded %d, want 2 (json-logs and silver)", n)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/api/v1/initiatives/silver", nil)
	req.Header.Set("Authorization", "Bearer "+gateToken)
	if status, _ := e.do(req); status != http.StatusNoContent {
		t.Fatalf("DELETE = %d", status)
	}
	if days, err := a.DB.InitiativeDays(context.Background(), "silver", "2026-01-01", "2027-12-31"); err != nil || len(days) != 0 {
		t.Fatalf("points of a deleted initiative: %+v %v", days, err)
	}
	if days, _ := a.DB.InitiativeDays(context.Background(), "json-logs", "2026-01-01", "2027-12-31"); len(days) != 1 {
		t.Fatalf("json-logs lost its point: %+v", days)
	}
}

// A service exempted in Slack counts as done in the live progress (the rescoring worker
// passes its waiver to the engine); the days replayed since the approval must count it too,
// and the days before it not, so the stored burn-up agrees with the live one.
func TestInitiativeBurnUpReplaysSlackExemptions(t *testing.T) {
	slack := newFakeSlackPosts(t)
	cfg := initiativeConfig(t.TempDir(), slack.srv.URL)
	clock := &testClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	a := startInitiativeApp(t, cfg, clock)
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	approved := time.Date(2026, 11, 10, 15, 0, 0, 0, time.UTC)
	err := a.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
		if _, err := storage.InsertExemption(tx, storage.ExemptionRow{ID: "ex-1", Service: "ledger", Signal: "structured_logging", Days: 60,
			Reason: "migrating the logger", RequestedBy: "U0DEV", OriginKey: "cmd-1", Channel: "C0LEDGER", CreatedAt: approved.Add(-time.Hour)}); err != nil {
			return err
		}
		_, err := storage.DecideExemption(tx, "ex-1", storage.ExemptionApproved, "U0LEAD", approved, approved.AddDate(0, 0, 60))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Worker.RescoreAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := backfill(t, a); n != 30 {
		t.Fatalf("backfill stored %d points, want 30", n)
	}
	rep := report(t, a, "json-logs")
	if live := rep.BurnUp[len(rep.BurnUp)-1]; live.Source != initiative.SourceLive || live.Done != 3 {
		t.Fatalf("live point %+v, want 3 done (ledger exempted)", live)
	}
	for _, p := range rep.BurnUp[:len(rep.BurnUp)-1] {
		want := 2
		if !p.At.Before(approved) {
			want = 3
		}
		if p.Source != initiative.SourceReplayed || p.Done != want {
			t.Errorf("replayed %s: %d done, want %d (exemption approved %s)", p.Day, p.Done, want, approved.Format(time.DateOnly))
		}
	}
	clock.t = time.Date(2026, 11, 21, 0, 0, 30, 0, time.UTC)
	if n := record(t, a); n != 1 {
		t.Fatalf("recorded %d points, want 1", n)
	}
	if p := report(t, a, "json-logs").BurnUp; p[len(p)-2].Source != initiative.SourceRecorded || p[len(p)-2].Done != 3 {
		t.Errorf("recorded 2026-11-20 = %+v, want 3 done like the replayed days before it", p[len(p)-2])
	}
}
