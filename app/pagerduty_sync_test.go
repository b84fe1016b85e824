package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/syncer"
)

// The PagerDuty sync (releaseops sync, the scheduler) records each mapped service's
// escalation depth; an unknown service id fails alone, named, and stores nothing.
func TestPagerDutySyncRecordsEscalationLevels(t *testing.T) {
	pd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Token token=pd-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/services/PCHK123"):
			w.Write([]byte(`{"service":{"id":"PCHK123","name":"Checkout","status":"active","escalation_policy":{"id":"PEP1","type":"escalation_policy_reference"}}}`))
		case strings.HasSuffix(r.URL.Path, "/escalation_policies/PEP1"):
			w.Write([]byte(`{"escalation_policy":{"id":"PEP1","escalation_rules":[{"id":"R1","escalation_delay_in_minutes":10},{"id":"R2","escalation_delay_in_minutes":10},{"id":"R3","escalation_delay_in_minutes":10}]}}`))
		case strings.HasSuffix(r.URL.Path, "/incidents"):
			w.Write([]byte(`{"incidents":[],"limit":100,"offset":0,"more":false,"total":null}`))
		case strings.HasSuffix(r.URL.Path, "/oncalls"):
			w.Write([]byte(`{"oncalls":[],"limit":100,"offset":0,"more":false,"total":null}`))
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
	sources, err := e.app.SyncSources()
	if err != nil {
		t.Fatal(err)
	}
	var src syncer.Source
	for _, s := range sources {
		if s.Name() == releaseops.SourcePagerDuty {
			src = s
		}
	}
	if src == nil {
		t.Fatal("pagerduty.token set but no PagerDuty sync source")
	}
	for run := range 2 {
		sum, err := e.app.SyncRunner().Run(context.Background(), src, syncer.Options{Trigger: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.Failures) != 1 || sum.Failures[0].Subject != "PGONE" || !strings.Contains(sum.Failures[0].Error, "PGONE") {
			t.Fatalf("run %d: want the unknown service named as the one failure, got %+v", run, sum.Failures)
		}
	}
	e.settle()
	sig := signal(t, e, "checkout", "operational_coordination", "escalation_levels")
	if sig["value"].(float64) != 3 || !strings.Contains(sig["reason"].(string), "synced from PagerDuty") {
		t.Fatalf("escalation_levels = %v", sig)
	}
	rows, _ := e.app.DB.ListDeliveries(context.Background(), storageFilter(releaseops.SourcePagerDuty, releaseops.EventSync))
	if len(rows) != 2 { // the service, and who is on call (nobody); the second, unchanged run adds none
		t.Fatalf("%d sync deliveries after two runs, want 2 (one per observation, written once)", len(rows))
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
