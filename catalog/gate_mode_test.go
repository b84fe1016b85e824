package catalog

import (
	"strings"
	"testing"

	"github.com/releaseops/releaseops"
)

func component(annotations string) []byte {
	return []byte("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\n  annotations:\n" + annotations + "spec:\n  owner: team-payments\n")
}

func TestBackstageGateMode(t *testing.T) {
	svcs, err := ParseBackstage(component("    releaseops.io/gate-mode: observe\n"), "catalog-info.yaml", "backstage:catalog-info.yaml")
	if err != nil || len(svcs) != 1 || svcs[0].GateMode != "observe" {
		t.Fatalf("observe annotation: %+v %v", svcs, err)
	}
	_, err = ParseBackstage(component("    releaseops.io/gate-mode: off\n"), "catalog-info.yaml", "backstage:catalog-info.yaml")
	if err == nil || !strings.Contains(err.Error(), `annotation releaseops.io/gate-mode: want enforce or observe, got "off"`) {
		t.Fatalf("bad annotation: %v", err)
	}
	if got := Merge(releaseops.Service{Name: "a", GateMode: "enforce"}, releaseops.Service{Name: "a", GateMode: "observe"}); got.GateMode != "observe" {
		t.Errorf("merge kept %q", got.GateMode)
	}
}

// A merged entry's Origin is where it was first declared, not where its gate_mode came from:
// GateModeOrigin names the file (or the config) that set the mode, so that a repository's
// catalog-info.yaml that stops enforcement is named in every answer it applies to.
func TestGateModeOriginFollowsTheSetting(t *testing.T) {
	local := releaseops.Service{Name: "search", Owner: "team-search", Repo: "acme/search", GateMode: "enforce", Origin: "backstage:catalog/search.yaml"}
	cfgEntry := releaseops.Service{Name: "search", GateMode: "observe"}
	ledger := releaseops.Service{Name: "ledger", Owner: "team-finance", Repo: "acme/ledger"}
	cat := New([]releaseops.Service{local, cfgEntry, ledger})
	if s, _ := cat.Get("search"); s.GateMode != "observe" || s.GateModeOrigin != "config" || s.Origin != "backstage:catalog/search.yaml" {
		t.Errorf("config over a local Backstage file: mode %q from %q (origin %q)", s.GateMode, s.GateModeOrigin, s.Origin)
	}
	if s, _ := New([]releaseops.Service{local}).Get("search"); s.GateModeOrigin != "backstage:catalog/search.yaml" {
		t.Errorf("a local Backstage file alone: from %q", s.GateModeOrigin)
	}

	cat.SetFound([]Found{found("acme/ledger", releaseops.Service{Name: "ledger", GateMode: "observe"})})
	if s, _ := cat.Get("ledger"); s.GateMode != "observe" || s.GateModeOrigin != "github:acme/ledger/catalog-info.yaml" || s.Origin != "config" {
		t.Errorf("a repository's file under a declared entry: mode %q from %q (origin %q)", s.GateMode, s.GateModeOrigin, s.Origin)
	}
	// The declared entry's own gate_mode wins over the file's, and keeps its origin.
	cat.SetFound([]Found{found("acme/search", releaseops.Service{Name: "search", Repo: "acme/search", GateMode: "enforce"})})
	if s, _ := cat.Get("search"); s.GateMode != "observe" || s.GateModeOrigin != "config" {
		t.Errorf("a file under a declared gate_mode: mode %q from %q", s.GateMode, s.GateModeOrigin)
	}
}
