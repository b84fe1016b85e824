package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/risk"
)

// riskNow is the clock of the window and backtest command tests (a Friday).
var riskNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// riskDB stores a fixed history for the window and backtest commands, under a config that
// names the services, a Saturday blackout and risk.high_at 55, and returns the config file.
// No rescore runs, so every band is unknown (5 points) besides unknown on-call (7.5) and
// change size (10): 22.5 points for every deploy before time, incidents and failure rate.
//
//   - steady: 10 deploys Tue-Thu 10:00 from 2026-10-06, all fine: 22.5-30 points, low.
//   - evening: 10 weekday deploys at 20:00 (off-hours, 10.5) from 2026-10-05, the first two
//     failed: 38-43 points, medium.
//   - weekend: 6 Saturday 03:00 deploys (weekend, 15) from 2026-10-03 with an incident open
//     since 2026-10-01 (15) and the failure rate always unknown (5): 57.5-60, high; the
//     first three rolled back.
func riskDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`storage:
  sqlite_path: %s
services:
  - {name: steady, owner: team-a}
  - {name: evening, owner: team-b}
  - {name: weekend, owner: team-c, pagerduty_service_id: PWEEKEND}
risk:
  high_at: 55
gate:
  blackouts:
    - {name: weekend-freeze, reason: "the platform team migrates the load balancers", from: "2026-11-21", to: "2026-11-21"}
`, filepath.Join(dir, "risk.db"))
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Now: func() time.Time { return riskNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(ctx) //nolint:errcheck
	send := func(source string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		if _, err := a.ReplayPipeline().Receive(ctx, source, http.Header{}, b, false); err != nil {
			t.Fatalf("%s %s: %v", source, b, err)
		}
	}
	deploy := func(svc, id, status string, at time.Time) {
		send("deploy", map[string]any{"id": id, "service": svc, "environment": "production", "status": status, "finished_at": at})
		// A started event and a staging deploy are no production outcome: never counted.
		send("deploy", map[string]any{"id": id + "-s", "service": svc, "environment": "production", "status": "started", "started_at": at.Add(-time.Minute)})
		send("deploy", map[string]any{"id": id + "-stg", "service": svc, "environment": "staging", "status": "failed", "finished_at": at.Add(-time.Hour)})
	}
	weekday := func(start time.Time, i int) time.Time { return start.AddDate(0, 0, 7*(i/5)+i%5) }
	tue := time.Date(2026, 10, 6, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		deploy("steady", fmt.Sprintf("st-%d", i), "succeeded", tue.AddDate(0, 0, 7*(i/3)+i%3))
	}
	mon := time.Date(2026, 10, 5, 20, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		status := "succeeded"
		if i < 2 {
			status = "failed"
		}
		deploy("evening", fmt.Sprintf("ev-%d", i), status, weekday(mon, i))
	}
	opened := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	send("pagerduty", map[string]any{"event": map[string]any{"id": "pd-1", "event_type": "incident.triggered", "resource_type": "incident", "occurred_at": opened,
		"data": map[string]any{"id": "QWEEKEND1", "type": "incident", "number": 1, "status": "triggered", "title": "Queue backlog", "urgency": "high",
			"html_url": "https://acme.pagerduty.com/incidents/QWEEKEND1", "created_at": opened,
			"service": map[string]any{"id": "PWEEKEND", "type": "service_reference"}}}})
	sat := time.Date(2026, 10, 3, 3, 0, 0, 0, time.UTC)
	for i := 0; i < 6; i++ {
		status := "succeeded"
		if i < 3 {
			status = "rolled_back"
		}
		deploy("weekend", fmt.Sprintf("we-%d", i), status, sat.AddDate(0, 0, 7*i))
	}
	return path
}

func TestWindowCommand(t *testing.T) {
	cfg := riskDB(t)
	code, out, errs := runCmd(t, "window", "steady", "--config", cfg, "--now", riskNow.Format(time.RFC3339), "--hours", "24", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var resp struct {
		Service     string      `json:"service"`
		GeneratedAt time.Time   `json:"generated_at"`
		Hours       int         `json:"hours"`
		Slots       []risk.Slot `json:"slots"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if resp.Service != "steady" || !resp.GeneratedAt.Equal(riskNow) || resp.Hours != 24 || len(resp.Slots) != 24 {
		t.Fatalf("response %s %v %d, %d slots", resp.Service, resp.GeneratedAt, resp.Hours, len(resp.Slots))
	}
	open, closed := 0, 0
	for _, s := range resp.Slots {
		if s.Open {
			open++
			continue
		}
		closed++
		if s.Start.Weekday() != time.Saturday || !strings.Contains(s.Reasons[0], "weekend-freeze") {
			t.Errorf("closed slot %v: %v", s.Start, s.Reasons)
		}
	}
	// Friday 10:00-23:00 open, Saturday 00:00-09:00 in the blackout.
	if open != 14 || closed != 10 {
		t.Errorf("%d open, %d closed; want 14 and 10", open, closed)
	}
	// Friday's business hours tie (no deploy at them in the history): the earliest wins.
	if best := resp.Slots[0]; !best.Start.Equal(riskNow) || best.Score <= resp.Slots[len(resp.Slots)-closed-1].Score {
		t.Errorf("best slot %+v", best)
	}

	code, out, _ = runCmd(t, "window", "steady", "--config", cfg, "--now", riskNow.Format(time.RFC3339), "--hours", "24", "--top", "2")
	if code != 0 || !strings.Contains(out, " 1. Fri 2026-11-20 10:00 UTC") || !strings.Contains(out, "12 more open slots") ||
		!strings.Contains(out, "10 closed:") || !strings.Contains(out, "2026-11-21 00:00 to 2026-11-21 10:00 UTC: closed: blackout \"weekend-freeze\"") {
		t.Errorf("text output: exit %d\n%s", code, out)
	}
	if code, _, errs = runCmd(t, "window", "stedy", "--config", cfg); code != 1 || !strings.Contains(errs, `unknown service "stedy"; did you mean steady?`) {
		t.Errorf("unknown service: exit %d %s", code, errs)
	}
	for _, bad := range []string{"0", "337"} {
		if code, _, errs = runCmd(t, "window", "steady", "--config", cfg, "--hours", bad); code != 2 || !strings.Contains(errs, "--hours") {
			t.Errorf("--hours %s: exit %d %s", bad, code, errs)
		}
	}
	if code, _, errs = runCmd(t, "window", "steady", "--config", cfg, "--top", "0"); code != 2 || !strings.Contains(errs, "--top") {
		t.Errorf("--top 0: exit %d %s", code, errs)
	}
	if code, _, _ = runCmd(t, "window", "--config", cfg); code != 2 {
		t.Errorf("no service: exit %d", code)
	}
}
