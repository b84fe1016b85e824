package gate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/scoring"
)

// A rule whose enforce_from is ahead is not a reason of the gate: the weak dimension is
// explained by a signal that counts.
func TestGateIgnoresUpcomingRules(t *testing.T) {
	c := card("checkout", 50)
	obs := &c.Dimensions[2] // observability 0.5
	obs.Signals = append(obs.Signals, scoring.SignalResult{ID: "error-budget", Score: 0, Weight: 1, Outcome: scoring.OutcomeUpcoming,
		Reason: "fails from 2027-01-15: custom rule error-budget does not hold"})
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	d := gate.Decide(&c, gate.Request{Service: "checkout", Environment: "production", LastEventAt: now}, gate.Policy{}, now)
	for _, r := range d.Reasons {
		if strings.Contains(r.Text, "fails from") {
			t.Errorf("an upcoming rule became a gate reason: %q", r.Text)
		}
	}
	if d.Decision != gate.Block {
		t.Errorf("decision %s", d.Decision)
	}
}
