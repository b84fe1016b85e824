package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// TestWebPagesReadTheGate: a gate request through the real server shows on /audit, with the
// chain verified over the entries it wrote, and its approval, if it needs one, on /approvals
// and on its owner's team page.
func TestWebPagesReadTheGate(t *testing.T) {
	e := newEnv(t, nil)
	// A watch-band score with fresh data: the gate asks checkout's approver.
	now := e.clock.Now()
	card, _ := json.Marshal(scoring.Scorecard{Service: "checkout", Score: 70, Band: scoring.BandWatch, Level: "none", UpdatedAt: now,
		Dimensions: []scoring.DimensionScore{{ID: scoring.DimBranchGovernance, Name: "Branch governance", Score: 0.7, Applicable: true}}})
	err := e.app.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
		if err := storage.PutScore(tx, storage.ScoreRow{Service: "checkout", Score: 70, Band: scoring.BandWatch, Level: "none", Card: card, UpdatedAt: now}, true); err != nil {
			return err
		}
		_, _, err := storage.InsertDelivery(tx, &storage.NewDelivery{Source: releaseops.SourceDeploy, DeliveryID: "fresh-checkout", Type: "deploy",
			Subject: releaseops.Subject{Kind: releaseops.SubjectService, Key: "checkout"}, Service: "checkout", Outcome: releaseops.OutcomeIgnored,
			ReceivedAt: now.Add(-time.Hour), Headers: map[string]string{}, Body: []byte(`{}`)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code, res := e.post("/api/v1/gate", map[string]string{"Authorization": "Bearer " + gateToken},
		[]byte(`{"service":"checkout","environment":"production","version":"v1.2.3","requested_by":"dave"}`))
	if code != http.StatusOK {
		t.Fatalf("gate request = %d %v", code, res)
	}
	page := func(path string) string {
		t.Helper()
		c, out := e.get(path, "")
		if c != http.StatusOK {
			t.Fatalf("GET %s = %d", path, c)
		}
		return out["_raw"].(string)
	}
	audit := page("/audit")
	for _, want := range []string{"<code>gate.decision</code>", "Chain verified up to entry "} {
		if !strings.Contains(audit, want) {
			t.Errorf("/audit lacks %q", want)
		}
	}
	if !strings.Contains(page("/teams"), `href="/teams/team-payments"`) {
		t.Error("/teams does not list checkout's owner")
	}
	id, _ := res["approval_id"].(string)
	if id == "" {
		t.Fatalf("a watch-band deploy got %v without an approval: the approval half of this test checks nothing", res["decision"])
	}
	for _, path := range []string{"/approvals", "/teams/team-payments"} {
		if body := page(path); !strings.Contains(body, `<tr id="apr-`+id+`">`) || !strings.Contains(body, "dave") {
			t.Errorf("%s does not show the pending approval %s", path, id)
		}
	}
}

// TestTeamPageListsItsInitiatives: an initiative in the config shows on the page of each team
// it covers, with that team's part, and not on a team it does not cover.
func TestTeamPageListsItsInitiatives(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Services = []releaseops.Service{
			{Name: "checkout", Owner: "team-payments", StructuredLogging: true},
			{Name: "ledger", Owner: "team-payments"},
			{Name: "search", Owner: "team-discovery"},
		}
		c.Initiatives = []initiative.Spec{{ID: "json-logs", Name: "Structured logs everywhere",
			Filter: initiative.Filter{Owner: "team-payments"}, Target: initiative.Target{Signal: "structured_logging"}, Deadline: "2026-12-10"}}
	})
	// Scored by the real engine: checkout declares structured logging, ledger does not.
	if err := e.app.Worker.RescoreAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, out := e.get("/teams/team-payments", "")
	body := out["_raw"].(string)
	for _, want := range []string{`<h2 id="initiatives">Initiatives</h2>`, `<a href="/initiatives/json-logs">Structured logs everywhere</a>`,
		`<time datetime="2026-12-10">2026-12-10</time>`, `<span class="score">1 of 2</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("team-payments page lacks %s", want)
		}
	}
	_, out = e.get("/teams/team-discovery", "")
	if body := out["_raw"].(string); strings.Contains(body, "json-logs") || !strings.Contains(body, "None of the team's services is in an initiative.") {
		t.Errorf("team-discovery page:\n%s", body)
	}
}
