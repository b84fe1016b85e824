package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/internal/pgtest"
)

// The /gate/report page and GET /api/v1/gate/report show the same observe-mode evidence,
// through the real server: a service with no score yet would have been blocked.
func TestGateReportPageAndAPI(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Gate.Mode = "observe" })
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/gate", strings.NewReader(`{"service":"checkout","environment":"production","requested_by":"carol"}`))
	req.Header.Set("Authorization", "Bearer "+gateToken)
	req.Header.Set("Content-Type", "application/json")
	if code, out := e.do(req); code != http.StatusOK || out["decision"] != "allow" || out["would_decision"] != "block" {
		t.Fatalf("gate in observe mode: %d %v", code, out)
	}
	code, rep := e.get("/api/v1/gate/report?days=7", readToken)
	if code != http.StatusOK || rep["totals"].(map[string]any)["would_block"] != 1.0 {
		t.Fatalf("API report: %d %v", code, rep)
	}
	code, page := e.get("/gate/report?days=7", "")
	body, _ := page["_raw"].(string)
	if code != http.StatusOK || !strings.Contains(body, `<a class="service" href="/services/checkout">checkout</a>`) ||
		!strings.Contains(body, "would block") || !strings.Contains(body, "no score yet") || !strings.Contains(body, "observe mode by gate.mode") {
		t.Fatalf("page: %d\n%s", code, body)
	}
	if code, page := e.get("/gate/report?days=400", ""); code != http.StatusBadRequest || !strings.Contains(page["_raw"].(string), "days must be a whole number from 1 to 365") {
		t.Errorf("bad days on the page: %d", code)
	}
}

// The same on PostgreSQL: the observation is stored in the decision's transaction there too.
func TestGateReportOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	e := newEnv(t, func(c *config.Config) {
		c.Storage.Driver = "postgres"
		c.Storage.PostgresURL = config.NewSecret(url)
		c.Gate.ModeByEnvironment = map[string]string{"production": "observe"}
	})
	for _, env := range []string{"production", "production", "staging"} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/gate", strings.NewReader(`{"service":"checkout","environment":"`+env+`"}`))
		req.Header.Set("Authorization", "Bearer "+gateToken)
		req.Header.Set("Content-Type", "application/json")
		e.do(req)
	}
	code, rep := e.get("/api/v1/gate/report", readToken)
	tot, _ := rep["totals"].(map[string]any)
	if code != http.StatusOK || tot["requests"] != 2.0 || tot["would_block"] != 2.0 {
		t.Fatalf("report on PostgreSQL: %d %v", code, rep)
	}
}

// The report page shows evidence, so it needs the same sign-in as the other pages.
func TestGateReportPageNeedsSignIn(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Web.Auth = "proxy" })
	if code, _ := e.get("/gate/report", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /gate/report without the header = %d, want 401", code)
	}
}
