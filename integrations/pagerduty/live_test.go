package pagerduty

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func liveFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "live", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type livePDService struct{ name, status string }

// livePagerDuty answers the REST calls CheckLive makes with the recorded answers of
// testdata/live. Tokens: "user-token" is Alice's, "account-token" has no user, any other
// is refused.
type livePagerDuty struct {
	t        testing.TB
	srv      *httptest.Server
	services map[string]livePDService
	limited  bool // every call answers 429
}

func newLivePagerDuty(t testing.TB) *livePagerDuty {
	f := &livePagerDuty{t: t, services: map[string]livePDService{
		"PCHK123": {"Checkout", "active"}, "PSRCH01": {"Search", "active"}}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *livePagerDuty) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Token token=")
	reply := func(code int, name string) {
		w.WriteHeader(code)
		w.Write(liveFixture(f.t, name))
	}
	switch {
	case f.limited:
		reply(429, "rate_limited.json")
	case token != "user-token" && token != "account-token":
		reply(401, "unauthorized.json")
	case r.URL.Path == "/services" && r.URL.Query().Get("limit") == "1" && r.URL.Query().Get("total") == "true":
		reply(200, "services.json")
	case r.URL.Path == "/users/me" && token == "account-token":
		reply(400, "users_me.account_token.json")
	case r.URL.Path == "/users/me":
		reply(200, "users_me.json")
	case strings.HasPrefix(r.URL.Path, "/services/"):
		id := strings.TrimPrefix(r.URL.Path, "/services/")
		s, ok := f.services[id]
		if !ok {
			reply(404, "not_found.json")
			return
		}
		var v map[string]map[string]any
		_ = json.Unmarshal(liveFixture(f.t, "service.json"), &v)
		v["service"]["id"], v["service"]["name"], v["service"]["status"] = id, s.name, s.status
		b, _ := json.Marshal(v)
		w.Write(b)
	default:
		reply(404, "not_found.json")
	}
}

func (f *livePagerDuty) options(token string) LiveOptions {
	return LiveOptions{Token: token, APIURL: f.srv.URL, WebhookSecrets: 2, Timeout: 5 * time.Second, Services: []LiveService{
		{Key: "services[0].pagerduty_service_id", Service: "checkout", ID: "PCHK123"},
		{Key: "services[1].pagerduty_service_id", Service: "search", ID: "PSRCH01"},
		{Key: "services[2].pagerduty_service_id", Service: "checkout-worker", ID: "PCHK123"},
	}}
}

func liveProblems(r LiveResult) string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.Key + ": " + p.Message + "\n")
	}
	return b.String()
}

func TestLivePagerDutyAllGood(t *testing.T) {
	f := newLivePagerDuty(t)
	r := CheckLive(context.Background(), f.options("user-token"))
	if len(r.Problems) != 0 {
		t.Fatalf("problems:\n%s", liveProblems(r))
	}
	if r.Who != "Alice Liddell (alice@example.com)" || r.Visible != 12 {
		t.Fatalf("who %q visible %d", r.Who, r.Visible)
	}
	if got := strings.Join(r.Details, "|"); got != "12 PagerDuty service(s) visible|2 mapped service id(s) looked up|2 webhook secret(s) set" {
		t.Fatalf("details %q", got)
	}
	r = CheckLive(context.Background(), f.options("account-token"))
	if len(r.Problems) != 0 || r.Who != "an account API token" {
		t.Fatalf("account token: who %q\n%s", r.Who, liveProblems(r))
	}
}

func TestLivePagerDutyServiceProblems(t *testing.T) {
	f := newLivePagerDuty(t)
	f.services["PSRCH01"] = livePDService{"Search (old)", "disabled"}
	o := f.options("account-token")
	o.Services = append(o.Services, LiveService{Key: "services[3].pagerduty_service_id", Service: "ledger", ID: "PNOPE99"})
	o.WebhookSecrets = 0
	r := CheckLive(context.Background(), o)
	got := liveProblems(r)
	for _, want := range []string{
		"services[3].pagerduty_service_id: PagerDuty service PNOPE99, mapped to ledger, does not exist or the token cannot see it",
		"services[1].pagerduty_service_id: PagerDuty service PSRCH01 (Search (old)), mapped to search, is disabled",
		"pagerduty.webhook_secrets: not set",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if len(r.Problems) != 3 {
		t.Fatalf("problems:\n%s", got)
	}
}

func TestLivePagerDutyRefusedAndLimited(t *testing.T) {
	f := newLivePagerDuty(t)
	r := CheckLive(context.Background(), f.options("deleted-token"))
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "pagerduty.token: PagerDuty refused the token (401)") || r.Visible != -1 {
		t.Fatalf("refused:\n%s", got)
	}
	f.limited = true
	r = CheckLive(context.Background(), f.options("user-token"))
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "pagerduty.token: GET /services: PagerDuty's rate limit was reached (429)") {
		t.Fatalf("limited:\n%s", got)
	}
}

func TestLivePagerDutyUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f := newLivePagerDuty(t)
	o := f.options("user-token")
	o.APIURL = "http://" + addr
	r := CheckLive(context.Background(), o)
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "pagerduty.api_url: cannot reach the PagerDuty API at http://"+addr+": ") || !strings.Contains(got, "refused") {
		t.Fatalf("closed port:\n%s", got)
	}

	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hang.Close()
	defer close(stop)
	o.APIURL, o.Timeout = hang.URL, 200*time.Millisecond
	start := time.Now()
	r = CheckLive(context.Background(), o)
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "pagerduty.api_url: cannot reach the PagerDuty API at "+hang.URL+": no answer within 200ms") || time.Since(start) > 3*time.Second {
		t.Fatalf("after %s:\n%s", time.Since(start), got)
	}
}
