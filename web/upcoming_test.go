package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// A rule whose enforce_from is ahead shows as upcoming, with when it starts to fail, in the
// signals table, the levels and the custom rules.
func TestServicePageShowsUpcomingRules(t *testing.T) {
	f := newFixture(t)
	from := time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
	card := scoring.Scorecard{Service: "pending", Score: 80, Band: "healthy", Level: "bronze", UpdatedAt: now.Add(-time.Hour),
		Dimensions: []scoring.DimensionScore{{ID: scoring.DimObservability, Name: "Observability", Score: 1, Applicable: true,
			Signals: []scoring.SignalResult{{ID: "error-budget", Name: "an error budget policy is linked", Custom: true, Weight: 1,
				Outcome: scoring.OutcomeUpcoming, Reason: "fails from 2027-01-15: custom rule error-budget does not hold: an error budget policy is linked"}}}},
		Levels: []scoring.LevelResult{{Level: "bronze", Passed: true, Achieved: true, Rules: []scoring.RuleResult{
			{ID: "slo-reviewed", Description: "the SLO was reviewed", Expr: "false", EnforceFrom: &from, Upcoming: "fails from 2027-01-15: the SLO was reviewed (level bronze)"}}}},
		Rules: []scoring.RuleResult{{ID: "error-budget", Expr: "false", Dimension: scoring.DimObservability, Custom: true, EnforceFrom: &from,
			Upcoming: "fails from 2027-01-15: an error budget policy is linked"}},
	}
	raw, _ := json.Marshal(card)
	err := f.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
		return storage.PutScore(tx, storage.ScoreRow{Service: "pending", Score: 80, Band: "healthy", Level: "bronze", Card: raw, UpdatedAt: card.UpdatedAt}, true)
	})
	if err != nil {
		t.Fatal(err)
	}
	code, body := f.get(t, "/services/pending")
	if code != http.StatusOK {
		t.Fatalf("GET /services/pending = %d", code)
	}
	for _, want := range []string{
		`<span class="outcome outcome-na">upcoming</span>`,
		"fails from 2027-01-15: custom rule error-budget does not hold",
		`<li class="upcoming"><span class="mark" aria-label="upcoming">⏳</span> the SLO was reviewed`,
		`<span class="muted">fails from 2027-01-15: the SLO was reviewed (level bronze)</span>`,
		"⏳ upcoming<br><span class=\"muted\">fails from 2027-01-15: an error budget policy is linked</span>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("service page lacks %q", want)
		}
	}
}
