package pagerduty

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/releaseops/releaseops"
)

// fakePagerDuty serves the two REST calls under a non-empty base path, so a client that
// ignored the configured endpoint would fail loudly.
func fakePagerDuty(t *testing.T) (*httptest.Server, *[]string) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []string
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pd/services/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		if got := r.Header.Get("Authorization"); got != "Token token=pd-token" {
			http.Error(w, "bad auth", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.PathValue("id") {
		case "PCHK123":
			_, _ = w.Write([]byte(`{"service":{"id":"PCHK123","type":"service","name":"checkout","escalation_policy":{"id":"PEP2","type":"escalation_policy_reference"}}}`))
		case "PNOPOL":
			_, _ = w.Write([]byte(`{"service":{"id":"PNOPOL","type":"service","name":"orphan"}}`))
		case "PBROKEN":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":{"message":"boom","code":2001}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"message":"Not Found","code":2100}}`))
		}
	})
	mux.HandleFunc("GET /pd/escalation_policies/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") != "PEP2" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"message":"Not Found","code":2100}}`))
			return
		}
		_, _ = w.Write([]byte(`{"escalation_policy":{"id":"PEP2","type":"escalation_policy","name":"checkout","num_loops":1,
			"escalation_rules":[
				{"id":"R1","escalation_delay_in_minutes":15,"targets":[{"id":"PSCHED","type":"schedule_reference"}]},
				{"id":"R2","escalation_delay_in_minutes":30,"targets":[{"id":"PUSER","type":"user_reference"}]}
			]}}`))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestEscalationLevels(t *testing.T) {
	srv, seen := fakePagerDuty(t)
	c := NewClient("pd-token", srv.URL+"/pd/", srv.Client())
	n, err := c.EscalationLevels(context.Background(), "PCHK123")
	if err != nil {
		t.Fatalf("EscalationLevels: %v", err)
	}
	if n != 2 {
		t.Errorf("levels = %d, want 2", n)
	}
	if got := strings.Join(*seen, " "); got != "/pd/services/PCHK123 /pd/escalation_policies/PEP2" {
		t.Errorf("requests = %s", got)
	}

	n, err = c.EscalationLevels(context.Background(), "PNOPOL")
	if err != nil || n != 0 {
		t.Errorf("service without a policy: %d, %v", n, err)
	}
}

func TestEscalationLevelsErrors(t *testing.T) {
	srv, _ := fakePagerDuty(t)
	c := NewClient("pd-token", srv.URL+"/pd", nil)
	cases := []struct {
		id, code string
	}{
		{"PUNKNOWN", releaseops.ENOTFOUND},
		{"PBROKEN", releaseops.EUNAVAILABLE},
		{"", releaseops.EINVALID},
	}
	for _, c2 := range cases {
		_, err := c.EscalationLevels(context.Background(), c2.id)
		if code := releaseops.ErrorCode(err); code != c2.code {
			t.Errorf("%q: code %s (%v), want %s", c2.id, code, err, c2.code)
		}
		if err != nil && strings.Contains(err.Error(), "pd-token") {
			t.Errorf("%q: error leaks the token: %v", c2.id, err)
		}
	}

	bad := NewClient("wrong-token", srv.URL+"/pd", nil)
	_, err := bad.EscalationLevels(context.Background(), "PCHK123")
	if code := releaseops.ErrorCode(err); code != releaseops.EUNAVAILABLE {
		t.Errorf("bad token: code %s (%v)", code, err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("error leaks the token: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.EscalationLevels(ctx, "PCHK123"); err == nil {
		t.Errorf("cancelled context: no error")
	}
}

func TestEscalationLevelsEscapesID(t *testing.T) {
	srv, seen := fakePagerDuty(t)
	c := NewClient("pd-token", srv.URL+"/pd", nil)
	_, err := c.EscalationLevels(context.Background(), "../escalation_policies/PEP2")
	if releaseops.ErrorCode(err) != releaseops.ENOTFOUND {
		t.Errorf("path-escaped id: %v", err)
	}
	for _, p := range *seen {
		if strings.HasPrefix(p, "/pd/escalation_policies") {
			t.Errorf("an id with a slash reached another endpoint: %s", p)
		}
	}
}
