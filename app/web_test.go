package app

import (
	"net/http"
	"testing"

	"github.com/releaseops/releaseops/config"
)

// TestWebAuthWiring: with web.auth set, the evidence pages need a sign-in through the real
// server, while the playbooks, health, metrics and the bearer-token API keep their own rules.
func TestWebAuthWiring(t *testing.T) {
	// The header is believed only from 192.0.2.1, and the test's requests come from
	// 127.0.0.1: every page that shows evidence must be refused even with the header.
	e := newEnv(t, func(c *config.Config) {
		c.Web.Auth = "proxy"
		c.Web.Proxy.TrustedProxies = []string{"192.0.2.1"}
	})
	for path, want := range map[string]int{
		"/":                             http.StatusForbidden,
		"/services/checkout":            http.StatusForbidden,
		"/heatmap":                      http.StatusForbidden,
		"/events/deploy/x":              http.StatusForbidden,
		"/playbooks":                    http.StatusOK,
		"/playbooks/rollback_readiness": http.StatusOK,
		"/healthz":                      http.StatusOK,
		"/readyz":                       http.StatusOK,
		"/metrics":                      http.StatusOK,
	} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Header.Set("X-Forwarded-Email", "alice@example.com")
		if code, _ := e.do(req); code != want {
			t.Errorf("GET %s = %d, want %d", path, code, want)
		}
	}
	if code, _ := e.get("/api/v1/services", ""); code != http.StatusUnauthorized {
		t.Errorf("API without a token = %d, want 401 as before", code)
	}
	if code, _ := e.get("/api/v1/services", readToken); code != http.StatusOK {
		t.Errorf("API with a token = %d", code)
	}

	// Trusted from anywhere (the replicas sit behind the proxy only): the header admits.
	e = newEnv(t, func(c *config.Config) { c.Web.Auth = "proxy" })
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/heatmap", nil)
	req.Header.Set("X-Forwarded-Email", "alice@example.com")
	if code, _ := e.do(req); code != http.StatusOK {
		t.Errorf("GET /heatmap through the proxy = %d", code)
	}
	if code, _ := e.get("/heatmap", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /heatmap without the header = %d, want 401", code)
	}
}
