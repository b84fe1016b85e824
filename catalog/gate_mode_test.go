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
