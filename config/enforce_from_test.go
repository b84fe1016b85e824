package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// enforce_from is written as a bare YAML date; a bad one is refused at load with its path.
func TestEnforceFromLoadsAndBadDatesAreRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	good := `scoring:
  rules:
    - {id: error-budget, dimension: observability, expr: "true", enforce_from: 2027-01-15}
  levels:
    bronze:
      rules:
        - {id: owner, expr: "true", enforce_from: "2027-02-01T09:00:00Z"}
`
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Scoring.Rules[0].EnforceFrom != "2027-01-15" || cfg.Scoring.Levels["bronze"].Rules[0].EnforceFrom != "2027-02-01T09:00:00Z" {
		t.Fatalf("enforce_from decoded as %q and %q", cfg.Scoring.Rules[0].EnforceFrom, cfg.Scoring.Levels["bronze"].Rules[0].EnforceFrom)
	}
	got := strings.Join(problems(t, strings.ReplaceAll(strings.ReplaceAll(good, "2027-01-15", "2027-02-30"), `"2027-02-01T09:00:00Z"`, "soon")), "\n")
	for _, want := range []string{
		`scoring.rules[0].enforce_from: rule "error-budget": want a date such as 2027-01-15`,
		`scoring.levels.bronze.rules[0].enforce_from: rule "owner": want a date`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
}
