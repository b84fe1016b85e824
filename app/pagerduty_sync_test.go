package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
)

func TestPagerDutySyncRecordsEscalationLevels(t *testing.T) {
	pd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Token token=pd-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/services/PCHK123"):
			w.Write([]byte(`{"service":{"id":"PCHK123","escalation_policy":{"id":"PEP1","type":"escalation_policy_reference"}}}`))
		case strings.HasSuffix(r.URL.Path, "/escalation_policies/PEP1"):
			w.Write([]byte(`{"escalation_policy":{"id":"PEP1","escalation_rules":[{"id":"R1","escalation_delay_in_minutes":10},{"id":"R2","escalation_delay_in_minutes":10},{"id":"R3","escalation_delay_in_minutes":10}]}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"message":"Not Found","code":2100}}`))
		}
	}))
	defer pd.Close()
	e := newEnv(t, func(c *config.Config) {
		c.PagerDuty.Token = config.NewSecret("pd-token")
		c.PagerDuty.APIURL = pd.URL + "/"
		c.Services[0].PagerDutyServiceID = "PCHK123"
		c.Services = append(c.Services, releaseops.Service{Name: "ghost", PagerDutyServiceID: "PGONE"})
	})
	s := e.app.newPagerDutySync()
	err := s.syncAll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "PGONE") {
		t.Fatalf("want the unknown service named in the error, got %v", err)
	}
	if err := s.syncAll(context.Background()); err == nil {
		t.Fatal("second sync: the unknown service still fails")
	}
	e.settle()
	sig := signal(t, e, "checkout", "operational_coordination", "escalation_levels")
	if sig["value"].(float64) != 3 || !strings.Contains(sig["reason"].(string), "synced from PagerDuty") {
		t.Fatalf("escalation_levels = %v", sig)
	}
	rows, _ := e.app.DB.ListDeliveries(context.Background(), storageFilter("releaseops", "pagerduty.sync"))
	if len(rows) != 1 {
		t.Fatalf("synced %d times in one day, want 1", len(rows))
	}
}

func signal(t *testing.T, e *env, service, dim, id string) map[string]any {
	t.Helper()
	for _, s := range dimension(t, e, service, dim)["signals"].([]any) {
		if m := s.(map[string]any); m["id"] == id {
			return m
		}
	}
	t.Fatalf("no signal %s", id)
	return nil
}
