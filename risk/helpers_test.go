package risk

import (
	"strings"
	"testing"
	"time"
)

// wed is a plain business moment in UTC: Wednesday 2026-06-10 11:00.
var wed = time.Date(2026, 6, 10, 11, 0, 0, 0, time.UTC)

func mustModel(t *testing.T, c Config) *Model {
	t.Helper()
	m, p := Compile(c)
	if len(p) > 0 {
		t.Fatalf("Compile: %v", p)
	}
	return m
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// factorOf assesses in and returns the factor id; it fails when the factor is missing.
func factorOf(t *testing.T, m *Model, in Input, id string) Factor {
	t.Helper()
	for _, f := range m.Assess(in).Factors {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("factor %s missing from the assessment", id)
	return Factor{}
}

// wantWords fails unless s holds every word (case-sensitive: reasons are read as written).
func wantWords(t *testing.T, what, s string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(s, w) {
			t.Errorf("%s %q: want it to mention %q", what, s, w)
		}
	}
}

// notWords fails when s holds any of words.
func notWords(t *testing.T, what, s string, words ...string) {
	t.Helper()
	for _, w := range words {
		if strings.Contains(s, w) {
			t.Errorf("%s %q: want it not to mention %q", what, s, w)
		}
	}
}

// baseInput is a calm deploy: small change, on its own, covered, no incident, a good history.
func baseInput() Input {
	in := Input{
		Service: "payments", Environment: "production", Now: wed,
		Change:               &Change{Base: "aaa", Head: "bbb", Files: 1, Additions: 5, Deletions: 5, Commits: 1},
		OnCall:               &OnCall{Covered: true, Who: "ana"},
		LastProductionDeploy: wed.Add(-24 * time.Hour),
		Band:                 "mature",
	}
	for i := 0; i < 10; i++ {
		in.Deploys = append(in.Deploys, Deploy{ID: "d" + string(rune('0'+i)), At: wed.Add(-time.Duration(i+1) * 24 * time.Hour)})
	}
	return in
}

// approx reports whether a and b agree to 1e-9.
func approx(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
