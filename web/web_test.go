package web

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares a page with testdata/<name>.golden.html. The stylesheet is replaced by a
// marker: it is embedded verbatim from static/style.css, which reviewers read there, and
// copying it into every golden file would bury the markup changes they are for.
func golden(t *testing.T, name, body string) {
	t.Helper()
	got := []byte(strings.Replace(body, stylesheet, "/* static/style.css */", 1))
	path := filepath.Join("testdata", name+".golden.html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./web -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s; run go test ./web -update and review the diff\n%s", name, path, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first differing line, enough to find the change in a long page.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n- " + w + "\n+ " + g
		}
	}
	return ""
}

func TestGoldenPages(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, path string }{
		{"list", "/"},
		{"list_by_score_desc", "/?sort=score&dir=desc"},
		{"service", "/services/checkout"},
		{"service_blocked", "/services/search"},
		{"heatmap", "/heatmap"},
		{"event", "/events/deploy/checkout-deploy-031"},
		{"playbooks", "/playbooks"},
		{"playbook", "/playbooks/rollback_readiness"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.get(t, tc.path)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200\n%s", tc.path, code, body)
			}
			golden(t, tc.name, body)
		})
	}
}
