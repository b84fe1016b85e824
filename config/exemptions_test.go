package config

import (
	"strings"
	"testing"
)

func TestExemptionsConfig(t *testing.T) {
	cfg, err := Parse([]byte("exemptions:\n  approvers: [U0ALICE]\nslack:\n  default_channel: C0OPS\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ExemptionsEnabled() || cfg.ExemptionMaxDays() != DefaultExemptionMaxDays || cfg.ExemptionChannel() != "C0OPS" {
		t.Errorf("defaults: enabled %v, max_days %d, channel %q", cfg.ExemptionsEnabled(), cfg.ExemptionMaxDays(), cfg.ExemptionChannel())
	}
	cfg, err = Parse([]byte("exemptions:\n  approvers: [U0ALICE]\n  max_days: 7\n  channel: C0EXEMPT\n"))
	if err != nil || cfg.ExemptionMaxDays() != 7 || cfg.ExemptionChannel() != "C0EXEMPT" {
		t.Errorf("set: %v %+v", err, cfg.Exemptions)
	}
	if cfg, _ := Parse(nil); cfg.ExemptionsEnabled() {
		t.Error("exemptions on without approvers")
	}
	for yaml, want := range map[string]string{
		"exemptions:\n  approvers: [alice]\n  channel: C1\n":      `exemptions.approvers[0]: want a Slack user id such as U024BE7LH, got "alice"`,
		"exemptions:\n  max_days: -1\n":                           "exemptions.max_days: must be at least 1",
		"exemptions:\n  max_days: 400\n":                          "exemptions.max_days: at most 365 days",
		"exemptions:\n  approvers: [U0ALICE]\n":                   "exemptions.channel: required when exemptions.approvers is set",
		"exemptions:\n  approvers: [U0ALICE]\n  channel: ' C1'\n": "exemptions.channel: has leading or trailing spaces",
		"exemptions:\n  aprovers: [U0ALICE]\n  channel: C1\n":     "exemptions.aprovers: unknown key",
	} {
		got := strings.Join(problems(t, yaml), "\n")
		if !strings.Contains(got, want) {
			t.Errorf("%q: problems %q, want %q", yaml, got, want)
		}
	}
}
