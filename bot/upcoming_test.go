package bot

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/scoring"
)

func TestScorecardShowsUpcomingRules(t *testing.T) {
	from := time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
	card := &scoring.Scorecard{Service: "checkout", Score: 80, Band: "healthy", Level: "gold",
		Levels: []scoring.LevelResult{{Level: "bronze", Passed: true, Achieved: true, Rules: []scoring.RuleResult{
			{ID: "slo", Passed: false, EnforceFrom: &from, Upcoming: "fails from 2027-01-15: the <b>SLO</b> was reviewed (level bronze)"},
			{ID: "later", Passed: true, EnforceFrom: &from, Upcoming: "counts from 2027-01-15 (holds now): later (level bronze)"},
		}}}}
	raw, err := json.Marshal(ScorecardMessage(card, CardView{PublicURL: testPublicURL}))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	if !strings.Contains(s, "*Upcoming* (not counted yet)") || !strings.Contains(s, "⏳ fails from 2027-01-15: the \\u0026lt;b\\u0026gt;SLO") {
		t.Errorf("no escaped upcoming line: %s", s)
	}
	if strings.Contains(s, "counts from") {
		t.Error("a passing pending rule is listed as upcoming")
	}
	raw, _ = json.Marshal(ScorecardMessage(&scoring.Scorecard{Service: "checkout", Score: 80}, CardView{}))
	if strings.Contains(string(raw), "Upcoming") {
		t.Error("an Upcoming section without upcoming rules")
	}
}
