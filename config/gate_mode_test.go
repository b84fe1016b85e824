package config

import (
	"strings"
	"testing"
)

func TestGateModeMistakesNameTheirPath(t *testing.T) {
	got := strings.Join(problems(t, `gate:
  mode: observing
  mode_by_environment:
    production: enforce
    staging: obsrve
services:
  - name: checkout
    gate_mode: Observe
`), "\n")
	for _, want := range []string{
		`gate.mode: must be enforce or observe, got "observing"`,
		`gate.mode_by_environment.staging: must be enforce or observe, got "obsrve"`,
		`services[0].gate_mode: must be enforce or observe, got "Observe"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q do not contain %q", got, want)
		}
	}
	if strings.Contains(got, "gate.mode_by_environment.production") {
		t.Errorf("a valid environment mode was refused: %q", got)
	}
}

func TestGateModeLoads(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gate.Mode != "enforce" {
		t.Errorf("default gate.mode %q, want enforce", cfg.Gate.Mode)
	}
	cfg, err = Load("", []string{"RELEASEOPS_GATE_MODE=observe"})
	if err != nil || cfg.Gate.Mode != "observe" {
		t.Errorf("RELEASEOPS_GATE_MODE: %q %v", cfg.Gate.Mode, err)
	}
}
