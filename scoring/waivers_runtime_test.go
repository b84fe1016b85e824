package scoring

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGrantedWaivers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Waivers = []Waiver{{Service: "checkout", Signal: "slo_defined", Reason: "SLOs being drafted", Author: "alice", Expires: "2026-11-25"}}
	e := mustCompile(t, cfg)
	granted := []GrantedWaiver{{Signal: "slo_defined", Reason: "vendor outage", Author: "U0BOB", Approver: "U0ALICE", Ref: "ex_1",
		Expires: now.Add(10 * 24 * time.Hour)}}
	in := Input{Service: baseService(), Now: now, Waivers: granted}
	s := signal(t, e.Score(in), "slo_defined")
	// The granted waiver outlives the config's, so it is the one shown.
	if !s.Waived || s.Waiver == nil || s.Waiver.Approver != "U0ALICE" || s.Waiver.Ref != "ex_1" || s.Waiver.Author != "U0BOB" ||
		!strings.Contains(s.Reason, "U0BOB (approved by U0ALICE)") {
		t.Fatalf("granted waiver: %+v", s)
	}
	if again := signal(t, e.Score(in), "slo_defined"); !slices.Equal([]string{again.Reason}, []string{s.Reason}) {
		t.Errorf("not deterministic: %q vs %q", again.Reason, s.Reason)
	}
	// Granted waivers do not leak between signals, and an expired one says so.
	in.Now = now.Add(11 * 24 * time.Hour)
	s = signal(t, e.Score(in), "slo_defined")
	if s.Waived || !strings.Contains(s.Reason, "a waiver by U0BOB (approved by U0ALICE) expired") {
		t.Errorf("expired granted waiver: %+v", s)
	}
	if s := signal(t, e.Score(Input{Service: baseService(), Now: now, Waivers: granted}), "alerting_wired"); s.Waived {
		t.Errorf("waiver leaked to another signal: %+v", s)
	}
	// Without granted waivers the config's still count.
	if s := signal(t, e.Score(Input{Service: baseService(), Now: now}), "slo_defined"); !s.Waived || s.Waiver.Author != "alice" || s.Waiver.Approver != "" {
		t.Errorf("config waiver: %+v", s)
	}
}

func TestSignalIDs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rules = []Rule{{ID: "has_owner_team", Expr: "true", Dimension: DimObservability, Description: "an owning team"}}
	e := mustCompile(t, cfg)
	ids := e.SignalIDs()
	if !slices.Contains(ids, "slo_defined") || !slices.Contains(ids, "has_owner_team") || !slices.IsSorted(ids) {
		t.Errorf("ids = %v", ids)
	}
	if n, ok := e.SignalName("has_owner_team"); !ok || n != "an owning team" {
		t.Errorf("rule name = %q %v", n, ok)
	}
	if _, ok := e.SignalName("nope"); ok {
		t.Error("unknown id named")
	}
}
