package app

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/config"
)

func gateAsk(t *testing.T, e *env, body string) (int, map[string]any) {
	t.Helper()
	return e.post("/api/v1/gate", map[string]string{"Authorization": "Bearer " + gateToken}, []byte(body))
}

func releaseReason(t *testing.T, res map[string]any) string {
	t.Helper()
	r, _ := res["risk"].(map[string]any)
	fs, _ := r["factors"].([]any)
	for _, f := range fs {
		if m := f.(map[string]any); m["id"] == "release_size" {
			return fmt.Sprint(m["reason"])
		}
	}
	t.Fatalf("no release_size factor in %v", res)
	return ""
}

// A release id groups production deploys only: a staging request tagged with it does not make
// production's release look bigger. A blank or control-character id is refused.
func TestGateReleaseIDs(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Services = append(c.Services, serviceT{Name: "billing", Owner: "team-billing"},
			serviceT{Name: "search", Owner: "team-search"})
	})
	if code, res := gateAsk(t, e, `{"service":"billing","environment":"staging","release":"r-7"}`); code != http.StatusOK {
		t.Fatalf("staging request: %d %v", code, res)
	}
	code, res := gateAsk(t, e, `{"service":"checkout","environment":"production","release":"r-7"}`)
	if code != http.StatusOK || strings.Contains(releaseReason(t, res), "billing") {
		t.Fatalf("a staging request counted in production's release: %d %v", code, releaseReason(t, res))
	}
	gateAsk(t, e, `{"service":"search","environment":"production","release":"r-7"}`)
	if _, res := gateAsk(t, e, `{"service":"billing","environment":"production","release":" r-7 "}`); !strings.Contains(releaseReason(t, res), "checkout, search") {
		t.Fatalf("production release members: %v", releaseReason(t, res))
	}
	for _, bad := range []string{`"   "`, `"r-7\u0007"`} {
		code, res := gateAsk(t, e, `{"service":"checkout","environment":"production","release":`+bad+`}`)
		if code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(res["error"]), "release") {
			t.Errorf("release %s: %d %v, want 422 naming release", bad, code, res)
		}
	}
}

func TestScorecardIncludeIsChecked(t *testing.T) {
	e := newEnv(t, nil)
	code, res := e.get("/api/v1/services/checkout?include=trsut", readToken)
	if code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(res["error"]), "include") {
		t.Fatalf("include=trsut: %d %v, want 422 naming include", code, res)
	}
}
