package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check-config loads an initiative whose deadline has passed, and one whose filter matches no
// service, and says so as warnings: exit 0.
func TestCheckConfigWarnsAboutInitiatives(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := `services:
  - {name: checkout, owner: payments}
initiatives:
  - {id: y2k, name: Y2K, deadline: 2000-01-01, target: {level: bronze}}
  - {id: nobody, name: Nobody, deadline: 2999-01-01, target: {level: bronze}, filter: {owner: search}}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "check-config", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"config ok", "warning: initiatives[0].deadline: 2000-01-01 has already passed",
		"warning: initiatives[1].filter: matches none of the 1 catalogued services"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
