package gate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/ingest"
)

// rrdApp is a service on a fresh database whose clock the test sets.
func rrdApp(t *testing.T, c *clock) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(t.TempDir(), "r.db")
	cfg.Services = []releaseops.Service{{Name: "checkout", Owner: "team", PagerDutyServiceID: "PCHECKOUT"}, {Name: "search", Owner: "team"}}
	a, err := app.New(context.Background(), &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) }) //nolint:errcheck
	return a
}

func rrdSend(t *testing.T, a *app.App, source string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	if _, err := a.ReplayPipeline().Receive(context.Background(), source, http.Header{}, b, false); err != nil {
		t.Fatalf("%s: %v", source, err)
	}
}

func rrdDeploy(t *testing.T, a *app.App, svc, id, status string, at time.Time) {
	rrdSend(t, a, "deploy", map[string]any{"id": id, "service": svc, "environment": "production", "status": status, "finished_at": at})
}

func rrdOnCall(t *testing.T, a *app.App, id string, at time.Time, user string, until time.Time) {
	t.Helper()
	_, err := a.Pipeline.RecordInternal(context.Background(), ingest.Internal{Type: "oncall", Service: "checkout", DeliveryID: id, Body: map[string]string{"id": id},
		Facts: []releaseops.Fact{{Kind: releaseops.FactOnCall, At: at, OnCall: &releaseops.OnCall{ServiceID: "PCHECKOUT",
			Levels: []releaseops.OnCallLevel{{Level: 1, User: user, Until: until}}}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// The backtest reader gives each deploy the on-call read before it, judged as of the deploy,
// and each incident its opening and resolution; a rehearsal and a started event are no
// outcome.
func TestReadBacktestOnCallAndIncidents(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	c := &clock{t: t0.AddDate(0, 0, 10)}
	a := rrdApp(t, c)
	rrdDeploy(t, a, "checkout", "before-any-read", "succeeded", t0.Add(-time.Hour))
	rrdOnCall(t, a, "oc-1", t0, "alice", t0.Add(8*time.Hour))
	rrdDeploy(t, a, "checkout", "covered", "succeeded", t0.Add(time.Hour))
	rrdDeploy(t, a, "checkout", "shift-over", "rolled_back", t0.Add(10*time.Hour))
	rrdOnCall(t, a, "oc-2", t0.Add(24*time.Hour), "bob", time.Time{})
	rrdDeploy(t, a, "checkout", "bob", "succeeded", t0.Add(25*time.Hour))
	rrdSend(t, a, "deploy", map[string]any{"id": "drill", "service": "checkout", "environment": "production", "status": "succeeded", "kind": "rehearsal", "finished_at": t0.Add(26 * time.Hour)})
	rrdSend(t, a, "deploy", map[string]any{"id": "wip", "service": "checkout", "environment": "production", "status": "started", "started_at": t0.Add(27 * time.Hour)})
	for _, st := range []struct {
		typ, status string
		at          time.Time
	}{{"incident.triggered", "triggered", t0.Add(2 * time.Hour)}, {"incident.resolved", "resolved", t0.Add(5 * time.Hour)}} {
		rrdSend(t, a, "pagerduty", map[string]any{"event": map[string]any{"id": "pd-" + st.status, "event_type": st.typ, "resource_type": "incident", "occurred_at": st.at,
			"data": map[string]any{"id": "QCO1", "type": "incident", "number": 1, "status": st.status, "title": "Errors", "created_at": t0.Add(2 * time.Hour),
				"service": map[string]any{"id": "PCHECKOUT", "type": "service_reference"}}}})
	}
	p, err := app.OfflineTiming(a.Config)
	if err != nil {
		t.Fatal(err)
	}
	in, err := gate.ReadBacktest(context.Background(), a.DB, p, gate.BacktestRequest{Services: []string{"checkout", "search"}, Since: t0.Add(-48 * time.Hour), Until: c.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range in.Deploys {
		oc := "unknown"
		if d.OnCall != nil {
			oc = fmt.Sprintf("covered=%v %s", d.OnCall.Covered, d.OnCall.Who)
		}
		got = append(got, fmt.Sprintf("%s failed=%v %s", d.ID, d.Failed, oc))
	}
	want := []string{"before-any-read failed=false unknown", "covered failed=false covered=true alice", "shift-over failed=true covered=false ", "bob failed=false covered=true bob"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deploys:\n got %q\nwant %q", got, want)
	}
	if len(in.Incidents) != 1 || !in.Incidents[0].Opened.Equal(t0.Add(2*time.Hour)) || !in.Incidents[0].Resolved.Equal(t0.Add(5*time.Hour)) {
		t.Errorf("incidents %+v", in.Incidents)
	}
	// As of a time, the latest read before it counts.
	oc, err := gate.LatestOnCall(context.Background(), a.DB, "checkout", t0.Add(12*time.Hour))
	if err != nil || oc == nil || oc.Covered {
		t.Errorf("on call after alice's shift: %+v %v", oc, err)
	}
	if oc, _ = gate.LatestOnCall(context.Background(), a.DB, "checkout", t0.Add(30*time.Hour)); oc == nil || oc.Who != "bob" {
		t.Errorf("on call later: %+v", oc)
	}
	if oc, _ = gate.LatestOnCall(context.Background(), a.DB, "search", t0); oc != nil {
		t.Errorf("search has no on-call data: %+v", oc)
	}
}

// The organisation's history is read once per TTL, not per request.
func TestOrgHoursCachedForTTL(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	c := &clock{t: t0}
	a := rrdApp(t, c)
	rrdDeploy(t, a, "checkout", "d1", "succeeded", t0.Add(-time.Hour))
	rrdDeploy(t, a, "search", "d2", "failed", t0.Add(-2*time.Hour))
	p, err := app.OfflineTiming(a.Config)
	if err != nil {
		t.Fatal(err)
	}
	org := &gate.OrgHours{DB: a.DB, Policy: p, TTL: 10 * time.Minute,
		Services: func(context.Context) ([]string, error) { return []string{"checkout", "search"}, nil }}
	totals := func(now time.Time) (int, int) {
		h, err := org.Get(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		return h.Totals()
	}
	if n, f := totals(t0); n != 2 || f != 1 {
		t.Fatalf("org totals %d/%d, want 2 deploys, 1 failed", n, f)
	}
	rrdDeploy(t, a, "search", "d3", "succeeded", t0.Add(time.Minute))
	if n, _ := totals(t0.Add(5 * time.Minute)); n != 2 {
		t.Errorf("within the TTL: %d deploys, want the cached 2", n)
	}
	if n, _ := totals(t0.Add(11 * time.Minute)); n != 3 {
		t.Errorf("after the TTL: %d deploys, want 3", n)
	}
}
