package playbooks_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/playbooks"
	"github.com/releaseops/releaseops/scoring"
)

func TestEveryDimensionHasAPlaybook(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range scoring.Dimensions {
		if seen[d.ID] {
			t.Errorf("dimension id %s is not unique", d.ID)
		}
		seen[d.ID] = true
		b, ok := playbooks.Get(d.ID)
		if !ok {
			t.Errorf("dimension %s has no playbook (playbooks/%s.md)", d.ID, d.ID)
			continue
		}
		text := string(b)
		if got := playbooks.Title(d.ID); got != d.Name {
			t.Errorf("playbook %s is titled %q, want the dimension name %q", d.ID, got, d.Name)
		}
		for _, section := range []string{"## What is measured", "## Why it matters", "## How to improve", "## What evidence counts"} {
			if !strings.Contains(text, section) {
				t.Errorf("playbook %s lacks the section %q", d.ID, section)
			}
		}
	}
	for _, id := range playbooks.IDs() {
		if !seen[id] {
			t.Errorf("playbook %s matches no dimension", id)
		}
	}
}

func TestEverySignalNamesAnExistingPlaybook(t *testing.T) {
	ids := map[string]bool{}
	perDim := map[string]int{}
	for _, s := range scoring.Registry() {
		if ids[s.ID] {
			t.Errorf("signal id %s is not unique", s.ID)
		}
		ids[s.ID] = true
		perDim[s.Dimension]++
		if _, ok := scoring.DimensionByID(s.Dimension); !ok {
			t.Errorf("signal %s belongs to unknown dimension %q", s.ID, s.Dimension)
		}
		b, ok := playbooks.Get(s.Playbook)
		if !ok {
			t.Errorf("signal %s names playbook %q, which does not exist", s.ID, s.Playbook)
			continue
		}
		if !strings.Contains(string(b), "`"+s.ID+"`") {
			t.Errorf("playbook %s does not explain signal %s", s.Playbook, s.ID)
		}
		if s.Name == "" || s.Measures == "" {
			t.Errorf("signal %s needs a name and a description of what it measures", s.ID)
		}
	}
	for _, d := range scoring.Dimensions {
		if perDim[d.ID] == 0 {
			t.Errorf("dimension %s has no signal", d.ID)
		}
	}
}

func TestGet(t *testing.T) {
	for _, bad := range []string{"", "../go.mod", "branch_governance.md", "nope", "a/b"} {
		if _, ok := playbooks.Get(bad); ok {
			t.Errorf("Get(%q) found a playbook", bad)
		}
	}
	if !slices.IsSorted(playbooks.IDs()) || len(playbooks.IDs()) != len(scoring.Dimensions) {
		t.Errorf("IDs() = %v", playbooks.IDs())
	}
}
