package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/risk"
)

// The stored history of riskDB replays to a table known by hand (see riskDB).
func TestRiskBacktestCommand(t *testing.T) {
	cfg := riskDB(t)
	code, out, errs := runCmd(t, "risk", "backtest", "--config", cfg, "--now", riskNow.Format(time.RFC3339), "--days", "90", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var c risk.Calibration
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if c.Deploys != 26 || c.Failed != 5 || c.FailedRatedHigh != 3 || c.Services != 3 {
		t.Fatalf("totals %+v", c)
	}
	want := []risk.CalibrationRow{
		{Level: risk.Low, Deploys: 10, Failed: 0},
		{Level: risk.Medium, Deploys: 10, Failed: 2, FailureRate: 0.2},
		{Level: risk.High, Deploys: 6, Failed: 3, FailureRate: 0.5},
	}
	for i, w := range want {
		g := c.Levels[i]
		if g.Level != w.Level || g.Deploys != w.Deploys || g.Failed != w.Failed || g.FailureRate != w.FailureRate {
			t.Errorf("%s: %+v, want %+v", w.Level, g, w)
		}
	}
	if first := time.Date(2026, 10, 3, 3, 0, 0, 0, time.UTC); !c.From.Equal(first) {
		t.Errorf("from %v, want the first deploy %v", c.From, first)
	}

	code, out, _ = runCmd(t, "risk", "backtest", "--config", cfg, "--now", riskNow.Format(time.RFC3339), "--days", "90")
	for _, line := range []string{
		"the last 90 days: 26 production deploys of 3 services",
		"low            10        0          0.0%",
		"medium         10        2         20.0%",
		"high            6        3         50.0%",
		"failed deploys rated high: 3 of 5 (60.0%)",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("text output lacks %q: exit %d\n%s", line, code, out)
		}
	}
	// Ten days back holds none of it.
	code, out, _ = runCmd(t, "risk", "backtest", "--config", cfg, "--now", riskNow.Format(time.RFC3339), "--days", "10")
	if code != 0 || !strings.Contains(out, "0 production deploys") || !strings.Contains(out, "nothing to judge the model by yet") {
		t.Errorf("empty span: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"risk"}, {"risk", "forecast"}, {"risk", "backtest", "--days", "0"}, {"risk", "backtest", "--now", "yesterday"}} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
