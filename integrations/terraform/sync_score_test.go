package terraform

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// The services the recorded workspaces belong to, as the catalog has them.
var syncServices = map[string]releaseops.Service{
	"checkout": {Name: "checkout", Owner: "team-payments", TerraformWorkspaces: []string{"acme/checkout-prod"}},
	"search":   {Name: "search", Owner: "team-search", TerraformWorkspaces: []string{"search-prod"}},
	"legacy":   {Name: "legacy", Owner: "team-platform", TerraformWorkspaces: []string{"acme/legacy-infra"}},
}

// deliverNotification stores a Terraform notification the way ingestion does: parsed by the
// webhook source, its facts carrying the delivery as evidence.
func deliverNotification(t *testing.T, db *storage.DB, service, name string, received time.Time) {
	t.Helper()
	body := readSyncdata(t, name)
	p, err := New("secret").Parse(http.Header{}, body)
	if err != nil {
		t.Fatal(err)
	}
	d := &storage.NewDelivery{Source: releaseops.SourceTerraform, DeliveryID: p.DeliveryID, Type: p.Type, Subject: p.Subject, Service: service,
		Outcome: releaseops.OutcomeStored, ReceivedAt: received, Headers: map[string]string{}, Body: body}
	for _, f := range p.Facts {
		f.Service = service
		f.Evidence = releaseops.Evidence{Source: releaseops.SourceTerraform, Event: p.Type, Delivery: p.DeliveryID, At: received}
		d.Facts = append(d.Facts, f)
	}
	if err := d.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := db.Writer.Do(context.Background(), func(tx *storage.Tx) error { _, _, err := storage.InsertDelivery(tx, d); return err }); err != nil {
		t.Fatal(err)
	}
}

// score scores a service from what the database holds, as the rescoring worker does.
func (h *harness) score(t *testing.T, e *scoring.Engine, service string) map[string]scoring.SignalResult {
	t.Helper()
	now := h.clock.Now()
	stored, err := h.db.FactsForService(context.Background(), service, now.Add(-e.Lookback()))
	if err != nil {
		t.Fatal(err)
	}
	facts := make([]releaseops.Fact, len(stored))
	for i, f := range stored {
		facts[i] = f.Fact
	}
	cov, err := h.db.SyncCoverage(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	card := e.Score(scoring.Input{Service: syncServices[service], Facts: facts, Now: now, Sync: cov})
	out := map[string]scoring.SignalResult{}
	for _, d := range card.Dimensions {
		for _, s := range d.Signals {
			out[s.ID] = s
		}
	}
	return out
}

func engine(t *testing.T, signals map[string]scoring.SignalConfig) *scoring.Engine {
	t.Helper()
	cfg := scoring.DefaultConfig()
	for k, v := range signals {
		cfg.Signals[k] = v
	}
	e, err := scoring.Compile(cfg, nil, "https://releaseops.example.com")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func expectSignal(t *testing.T, sigs map[string]scoring.SignalResult, id string, outcome scoring.Outcome, score float64, reason string) scoring.SignalResult {
	t.Helper()
	s, ok := sigs[id]
	if !ok {
		t.Fatalf("no signal %s", id)
	}
	if s.Outcome != outcome || s.Score != score || !strings.Contains(s.Reason, reason) {
		t.Errorf("%s: %s %.3f %q; want %s %.3f containing %q", id, s.Outcome, s.Score, s.Reason, outcome, score, reason)
	}
	return s
}

func syncedEvidence(t *testing.T, s scoring.SignalResult, path string) {
	t.Helper()
	for _, ev := range s.Evidence {
		if ev.Source == "terraform" && ev.Event == releaseops.EventSync && strings.HasPrefix(ev.Path, path) {
			return
		}
	}
	t.Errorf("%s: no evidence read from %s: %+v", s.ID, path, s.Evidence)
}

// Drift and recency move as docs/scoring.md says once the assessments are read: a workspace
// that never sent a notification is measured, a clean read newer than a drift notification
// triages it, and the evidence is the API read.
func TestSyncedAssessmentsScoreDriftAndRecency(t *testing.T) {
	h := newHarness(t, recordedFake(t), recordedSubjects())
	e := engine(t, nil)
	// search-prod sent one notification, 54 h ago: drift found.
	deliverNotification(t, h.db, "search", "notification.search-prod.drifted.json", time.Date(2026, 11, 29, 6, 0, 5, 0, time.UTC))

	before := h.score(t, e, "checkout")
	expectSignal(t, before, "drift_assessment_recent", scoring.OutcomeNoData, 0, "no health assessment received")
	expectSignal(t, before, "no_open_drift", scoring.OutcomeNoData, 0, "no health assessment received")
	before = h.score(t, e, "search")
	expectSignal(t, before, "no_open_drift", scoring.OutcomeFail, 0, "1 drift open, the oldest (workspace search-prod) for 2 days, past the 12 h target")

	if sum := h.run(t); len(sum.Failures) != 0 {
		t.Fatalf("failures %+v", sum.Failures)
	}

	// checkout-prod never sent anything; its latest assessment found drift 18 h ago.
	checkout := h.score(t, e, "checkout")
	s := expectSignal(t, checkout, "drift_assessment_recent", scoring.OutcomeFail, 0, "last health assessment 18 h ago (workspace checkout-prod), older than 6 h")
	syncedEvidence(t, s, "/api/v2/workspaces/"+checkoutID+"/current-assessment-result")
	// 18 h open against 12 h: 0.5 on the age curve, as the reference's example.
	s = expectSignal(t, checkout, "no_open_drift", scoring.OutcomePartial, 0.5, "1 drift open, the oldest (workspace checkout-prod) for 18 h, past the 12 h target")
	syncedEvidence(t, s, "/api/v2/workspaces/"+checkoutID+"/current-assessment-result")
	expectSignal(t, checkout, "drift_triaged", scoring.OutcomePartial, 0.5, "1 of 1 drift in 30 days not triaged within 12 h")
	expectSignal(t, checkout, "no_unapproved_destroy", scoring.OutcomePass, 1, "no destroy applied in the last 30 days (3 runs seen)")

	// search-prod: the clean assessment 2 days ago came 6 h after the drift notification.
	search := h.score(t, e, "search")
	expectSignal(t, search, "no_open_drift", scoring.OutcomePass, 1, "no drift open")
	expectSignal(t, search, "drift_triaged", scoring.OutcomePass, 1, "all 1 drift in 30 days triaged within 12 h")
	// 48 h is past twice the default 6 h target: measured (no longer no data), and failing.
	s = expectSignal(t, search, "drift_assessment_recent", scoring.OutcomeFail, 0, "last health assessment 2 days ago (workspace search-prod), older than 6 h")
	syncedEvidence(t, s, "/api/v2/workspaces/"+searchID+"/current-assessment-result")
	expectSignal(t, search, "no_unapproved_destroy", scoring.OutcomePass, 1, "all 1 applied destroy in 30 days waited for a confirmation")

	// Against a target an organisation whose assessments run daily may set, 2 days passes.
	lax := h.score(t, engine(t, map[string]scoring.SignalConfig{"drift_assessment_recent": {Within: releaseops.Duration(72 * time.Hour)}}), "search")
	s = expectSignal(t, lax, "drift_assessment_recent", scoring.OutcomePass, 1, "last health assessment 2 days ago (workspace search-prod); the target is every 3 days")
	syncedEvidence(t, s, "/api/v2/workspaces/"+searchID+"/current-assessment-result")
}

func TestSyncedWorkspaceSettingsAndRunsFailSignals(t *testing.T) {
	h := newHarness(t, recordedFake(t), recordedSubjects())
	h.run(t)
	e := engine(t, nil)
	legacy := h.score(t, e, "legacy")
	s := expectSignal(t, legacy, "drift_assessment_recent", scoring.OutcomeFail, 0,
		"enable health assessments for workspace acme/legacy-infra: they are off (read from the HCP Terraform API")
	syncedEvidence(t, s, "/api/v2/organizations/acme/workspaces/legacy-infra")
	s = expectSignal(t, legacy, "no_unapproved_destroy", scoring.OutcomeFail, 0,
		`1 of 1 applied destroy in 30 days ran without waiting for a confirmation (auto-applied: "run-LgDe5tRoY6uI7oP8")`)
	syncedEvidence(t, s, "/api/v2/workspaces/"+legacyID+"/runs")

	// Turned on in HCP Terraform: the next read says so, and the finding goes.
	on := strings.Replace(string(readSyncdata(t, "legacy-infra/workspace.json")), `"assessments-enabled": false`, `"assessments-enabled": true`, 1)
	h.fake.set("legacy-infra", "workspace", []byte(on))
	h.clock.Sleep(context.Background(), time.Hour)
	if sum := h.run(t); sum.Facts != 1 {
		t.Fatalf("%d facts written, want the workspace's new settings only", sum.Facts)
	}
	expectSignal(t, h.score(t, e, "legacy"), "drift_assessment_recent", scoring.OutcomeNoData, 0,
		"no health assessment has completed yet for workspace acme/legacy-infra (health assessments are on; read from the HCP Terraform API")
}
