package terraform

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

// liveTFE answers the JSON:API calls CheckLive makes with the recorded answers of
// testdata/live, for the token "good-token" only. workspaces maps "org/name" to whether
// assessments are enabled.
type liveTFE struct {
	t          testing.TB
	srv        *httptest.Server
	workspaces map[string]bool
}

func newLiveTFE(t testing.TB) *liveTFE {
	f := &liveTFE{t: t, workspaces: map[string]bool{"acme/checkout-prod": true, "acme/search-prod": true, "acme-labs/sandbox": false}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *liveTFE) serve(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/api/v2/")
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.Header().Set("TFP-API-Version", "2.6")
	w.Header().Set("X-RateLimit-Limit", "30")
	reply := func(code int, body []byte) {
		w.WriteHeader(code)
		w.Write(body)
	}
	if p == "ping" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Header.Get("Authorization") != "Bearer good-token" {
		reply(401, liveFixture(f.t, "error.401.json"))
		return
	}
	parts := strings.Split(p, "/")
	switch {
	case p == "account/details":
		reply(200, liveFixture(f.t, "account_details.json"))
	case p == "organizations":
		reply(200, liveFixture(f.t, "organizations.json"))
	case len(parts) == 2 && parts[0] == "organizations" && (parts[1] == "acme" || parts[1] == "acme-labs"):
		reply(200, []byte(strings.ReplaceAll(string(liveFixture(f.t, "organization.json")), `"acme"`, `"`+parts[1]+`"`)))
	case len(parts) == 3 && parts[2] == "workspaces" && parts[1] == "acme" && r.URL.Query().Get("page[size]") == "1":
		reply(200, liveFixture(f.t, "workspaces.json"))
	case len(parts) == 4 && parts[2] == "workspaces":
		assess, ok := f.workspaces[parts[1]+"/"+parts[3]]
		if !ok {
			reply(404, liveFixture(f.t, "error.404.json"))
			return
		}
		var v map[string]map[string]any
		_ = json.Unmarshal(liveFixture(f.t, "workspace.json"), &v)
		attrs := v["data"]["attributes"].(map[string]any)
		attrs["name"], attrs["assessments-enabled"] = parts[3], assess
		b, _ := json.Marshal(v)
		reply(200, b)
	default:
		reply(404, liveFixture(f.t, "error.404.json"))
	}
}

func (f *liveTFE) options() LiveOptions {
	return LiveOptions{Token: "good-token", Address: f.srv.URL, Organization: "acme", WebhookSecret: true, Timeout: 5 * time.Second,
		Workspaces: []LiveWorkspace{
			{Key: "services[0].terraform_workspaces[0]", Service: "checkout", Workspace: "acme/checkout-prod"},
			{Key: "services[1].terraform_workspaces[0]", Service: "search", Workspace: "search-prod"},
			{Key: "services[2].terraform_workspaces[0]", Service: "labs", Workspace: "acme-labs/sandbox"},
			{Key: "services[3].terraform_workspaces[0]", Service: "checkout-worker", Workspace: "checkout-prod"},
		}}
}

func liveProblems(r LiveResult) string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.Key + ": " + p.Message + "\n")
	}
	return b.String()
}

func TestLiveTerraformAllGood(t *testing.T) {
	f := newLiveTFE(t)
	r := CheckLive(context.Background(), f.options())
	if len(r.Problems) != 0 {
		t.Fatalf("problems:\n%s", liveProblems(r))
	}
	if r.Who != "alice" || r.Visible != 9 {
		t.Fatalf("who %q visible %d", r.Who, r.Visible)
	}
	want := "organisation acme: 9 workspace(s) visible|3 of 3 mapped workspace(s) found|health assessments off for acme-labs/sandbox|webhook secret set"
	if got := strings.Join(r.Details, "|"); got != want {
		t.Fatalf("details\n %q, want\n %q", got, want)
	}
}

func TestLiveTerraformOrganisationTypo(t *testing.T) {
	f := newLiveTFE(t)
	o := f.options()
	o.Organization = "acmee"
	r := CheckLive(context.Background(), o)
	got := liveProblems(r)
	// Bare names in the mistyped organisation are not looked up: one problem, not one per
	// workspace; qualified names are still checked.
	if len(r.Problems) != 1 || !strings.Contains(got, `terraform.organization: organisation "acmee" does not exist or the token cannot see it; did you mean "acme"?`) {
		t.Fatalf("problems:\n%s", got)
	}
	if !strings.Contains(strings.Join(r.Details, "|"), "2 of 2 mapped workspace(s) found|2 workspace(s) of terraform.organization not looked up") {
		t.Fatalf("details %q", r.Details)
	}
}

func TestLiveTerraformMissingWorkspaceAndSecret(t *testing.T) {
	f := newLiveTFE(t)
	delete(f.workspaces, "acme/search-prod")
	o := f.options()
	o.WebhookSecret = false
	r := CheckLive(context.Background(), o)
	got := liveProblems(r)
	if len(r.Problems) != 2 ||
		!strings.Contains(got, "services[1].terraform_workspaces[0]: workspace acme/search-prod, mapped to search, does not exist or the token cannot read it") ||
		!strings.Contains(got, "terraform.webhook_secret: not set") {
		t.Fatalf("problems:\n%s", got)
	}
}

func TestLiveTerraformRefusedToken(t *testing.T) {
	f := newLiveTFE(t)
	o := f.options()
	o.Token = "expired"
	r := CheckLive(context.Background(), o)
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "terraform.token: HCP Terraform refused the token (401)") || r.Visible != -1 {
		t.Fatalf("problems:\n%s", got)
	}
}

func TestLiveTerraformUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f := newLiveTFE(t)
	o := f.options()
	o.Address = "http://" + addr
	r := CheckLive(context.Background(), o)
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "terraform.address: cannot reach the HCP Terraform API at http://"+addr+": ") || !strings.Contains(got, "refused") {
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
	o.Address, o.Timeout = hang.URL, 200*time.Millisecond
	start := time.Now()
	r = CheckLive(context.Background(), o)
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "terraform.address: cannot reach the HCP Terraform API at "+hang.URL+": no answer within 200ms") || time.Since(start) > 3*time.Second {
		t.Fatalf("after %s:\n%s", time.Since(start), got)
	}
}
