package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
)

// The fakes below answer the four APIs with the recordings each integration keeps in its
// testdata/live; the integrations' own tests cover the details, these the command's wiring
// and output.

var liveKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func recorded(t *testing.T, pkg, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", pkg, "testdata", "live", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// patch decodes a recorded JSON object, lets fn change it, and encodes it again.
func patch(t *testing.T, b []byte, fn func(v map[string]any)) []byte {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	fn(v)
	out, _ := json.Marshal(v)
	return out
}

type liveFakes struct {
	github, slack, pagerduty, terraform *httptest.Server
	installPerms                        map[string]string // installation 42's; nil: the recording's
	slackMember                         map[string]bool   // channel id → the bot is in it
	pdServices                          map[string]bool
}

func newLiveFakes(t *testing.T) *liveFakes {
	f := &liveFakes{slackMember: map[string]bool{"C0CHECKOUT": true, "C0PAYMENTS": true, "C0DEFAULT": true},
		pdServices: map[string]bool{"PCHK123": true, "PSRCH01": true}}
	reply := func(w http.ResponseWriter, code int, ct string, body []byte) {
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(code)
		w.Write(body)
	}
	gh := "integrations/github"
	f.github = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		js := "application/json; charset=utf-8"
		if strings.HasPrefix(r.URL.Path, "/app") {
			_, err := jwt.Parse(auth, func(*jwt.Token) (any, error) { return &liveKey().PublicKey, nil })
			if err != nil {
				reply(w, 401, js, recorded(t, gh, "bad_credentials.json"))
				return
			}
		}
		switch r.URL.Path {
		case "/app":
			reply(w, 200, js, recorded(t, gh, "app.json"))
		case "/app/installations":
			reply(w, 200, js, []byte("["+string(recorded(t, gh, "installation.json"))+"]"))
		case "/app/installations/42":
			reply(w, 200, js, patch(t, recorded(t, gh, "installation.json"), func(v map[string]any) {
				if f.installPerms != nil {
					v["permissions"] = f.installPerms
				}
			}))
		case "/app/installations/42/access_tokens":
			body := strings.NewReplacer("TOKEN", "ghs_minted", "EXPIRES_AT", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)).
				Replace(string(recorded(t, gh, "access_token.json")))
			reply(w, 201, js, []byte(body))
		case "/installation/repositories":
			if auth != "ghs_minted" {
				reply(w, 401, js, recorded(t, gh, "bad_credentials.json"))
				return
			}
			reply(w, 200, js, recorded(t, gh, "installation_repositories.json"))
		default:
			reply(w, 404, js, []byte(`{"message":"Not Found","status":"404"}`))
		}
	}))
	f.slack = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		js := "application/json; charset=utf-8"
		w.Header().Set("X-OAuth-Scopes", "commands,chat:write,channels:read,groups:read,channels:history,groups:history")
		id := r.Form.Get("channel")
		member, known := f.slackMember[id]
		switch {
		case r.Form.Get("token") != "xoxb-good":
			reply(w, 200, js, recorded(t, "bot", "invalid_auth.json"))
		case r.URL.Path == "/api/auth.test":
			reply(w, 200, js, recorded(t, "bot", "auth.test.json"))
		case r.URL.Path == "/api/conversations.info" && known:
			reply(w, 200, js, patch(t, recorded(t, "bot", "conversations.info.json"), func(v map[string]any) {
				ch := v["channel"].(map[string]any)
				ch["id"], ch["name"], ch["is_member"] = id, strings.ToLower(strings.TrimPrefix(id, "C0")), member
			}))
		default:
			reply(w, 200, js, recorded(t, "bot", "channel_not_found.json"))
		}
	}))
	pd := "integrations/pagerduty"
	f.pagerduty = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js := "application/json"
		id, isService := strings.CutPrefix(r.URL.Path, "/services/")
		switch {
		case r.Header.Get("Authorization") != "Token token=pd-account-token":
			reply(w, 401, js, recorded(t, pd, "unauthorized.json"))
		case r.URL.Path == "/services":
			reply(w, 200, js, recorded(t, pd, "services.json"))
		case r.URL.Path == "/users/me":
			reply(w, 400, js, recorded(t, pd, "users_me.account_token.json"))
		case isService && f.pdServices[id]:
			reply(w, 200, js, patch(t, recorded(t, pd, "service.json"), func(v map[string]any) { v["service"].(map[string]any)["id"] = id }))
		default:
			reply(w, 404, js, recorded(t, pd, "not_found.json"))
		}
	}))
	tf := "integrations/terraform"
	f.terraform = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api := "application/vnd.api+json"
		switch r.URL.Path {
		case "/api/v2/ping":
			w.WriteHeader(204)
		case "/api/v2/account/details":
			reply(w, 200, api, recorded(t, tf, "account_details.json"))
		case "/api/v2/organizations":
			reply(w, 200, api, recorded(t, tf, "organizations.json"))
		case "/api/v2/organizations/acme":
			reply(w, 200, api, recorded(t, tf, "organization.json"))
		case "/api/v2/organizations/acme/workspaces":
			reply(w, 200, api, recorded(t, tf, "workspaces.json"))
		case "/api/v2/organizations/acme/workspaces/checkout-prod":
			reply(w, 200, api, recorded(t, tf, "workspace.json"))
		default:
			reply(w, 404, api, recorded(t, tf, "error.404.json"))
		}
	}))
	for _, s := range []*httptest.Server{f.github, f.slack, f.pagerduty, f.terraform} {
		t.Cleanup(s.Close)
	}
	return f
}

// liveConfig writes a config whose four sources point at the given addresses.
func liveConfig(t *testing.T, gh, slack, pd, tf, org string, extra string) string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "app.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(liveKey())})
	if err := os.WriteFile(key, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`github:
  app_id: 12345
  private_key: file:%s
  webhook_secret: github-webhook-secret
  api_url: %s/
slack:
  bot_token: xoxb-good
  signing_secret: slack-signing-secret
  api_url: %s/api/
  default_channel: C0DEFAULT
pagerduty:
  token: pd-account-token
  api_url: %s
  webhook_secrets: [pagerduty-webhook-secret]
terraform:
  token: tf-team-token
  address: %s
  organization: %s
  webhook_secret: terraform-notification-token
services:
  - {name: checkout, repo: acme/checkout, slack_channel: C0CHECKOUT, pagerduty_service_id: PCHK123, terraform_workspaces: [acme/checkout-prod]}
  - {name: search, repo: acme/search, pagerduty_service_id: PSRCH01, terraform: false}
  - {name: payments, repo: acme/payments, slack_channel: C0PAYMENTS, terraform: false}
%s`, key, gh, slack, pd, tf, org, extra)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l+"\n") {
			t.Errorf("missing line %q", l)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func TestCheckConfigLiveAllGood(t *testing.T) {
	f := newLiveFakes(t)
	path := liveConfig(t, f.github.URL, f.slack.URL, f.pagerduty.URL, f.terraform.URL, "acme", "")
	code, out, errs := runCmd(t, "check-config", "--live", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	wantLines(t, out,
		"live checks (each call times out after 10s):",
		"  github: ok: authenticated as App releaseops (id 12345); 1 installation(s): acme (42); 2 repositories visible; webhook secret set",
		"  slack: ok: authenticated as @releaseops (U0BOT) in Acme (T0ACME); bot in 3 of 3 channel(s); signing secret set",
		"  pagerduty: ok: authenticated as an account API token; 12 PagerDuty service(s) visible; 2 mapped service id(s) looked up; 1 webhook secret(s) set",
		"  terraform: ok: authenticated as alice; organisation acme: 9 workspace(s) visible; 1 of 1 mapped workspace(s) found; webhook secret set",
		"live: all configured sources ok",
	)
	if !strings.HasPrefix(out, "config ok: 3 services declared") {
		t.Fatalf("the static check's line comes first:\n%s", out)
	}
	for _, secret := range []string{"xoxb-good", "pd-account-token", "tf-team-token", "github-webhook-secret", "PRIVATE KEY"} {
		if strings.Contains(out+errs, secret) {
			t.Fatalf("output shows the secret %q:\n%s", secret, out)
		}
	}
}

func TestCheckConfigLiveProblems(t *testing.T) {
	f := newLiveFakes(t)
	f.installPerms = map[string]string{"metadata": "read", "contents": "read", "pull_requests": "read", "deployments": "write",
		"actions": "read", "checks": "read", "vulnerability_alerts": "read", "security_events": "read"}
	f.slackMember["C0PAYMENTS"] = false
	dir := t.TempDir()
	bs := filepath.Join(dir, "catalog-info.yaml")
	os.WriteFile(bs, []byte(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations:
    pagerduty.com/service-id: PLEDGER
spec: {owner: team-finance, type: service}
`), 0o600)
	path := liveConfig(t, f.github.URL, f.slack.URL, f.pagerduty.URL, f.terraform.URL, "acmee",
		"  - {name: billing, repo: acme/billing, pagerduty_service_id: PNOPE99, terraform: false}\ncatalog:\n  backstage_paths: ["+bs+"]\n")
	code, out, _ := runCmd(t, "check-config", "--live", "--config", path)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	wantLines(t, out,
		"  github: 1 problem(s): authenticated as App releaseops (id 12345); 1 installation(s): acme (42); 2 repositories visible; webhook secret set",
		"  github: problem: github.app_id: installation 42 (acme) lacks administration:read, which sync needs to read branch protection and rulesets; accept the new permissions in the organisation's settings (https://github.com/organizations/acme/settings/installations/42)",
		"  slack: problem: services[2].slack_channel: the bot is not in C0PAYMENTS (#payments), where posts of payments go; /invite @releaseops",
		"  pagerduty: problem: services[3].pagerduty_service_id: PagerDuty service PNOPE99, mapped to billing, does not exist or the token cannot see it; copy the id from the service's URL (…/service-directory/PXXXXXX)",
		"  pagerduty: problem: "+bs+": pagerduty.com/service-id: PagerDuty service PLEDGER, mapped to ledger, does not exist or the token cannot see it; copy the id from the service's URL (…/service-directory/PXXXXXX)",
		`  terraform: problem: terraform.organization: organisation "acmee" does not exist or the token cannot see it; did you mean "acme"?`,
		"live: 5 problem(s)",
	)
}

func TestCheckConfigLiveNotConfigured(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("services:\n  - {name: checkout}\n"), 0o600)
	code, out, _ := runCmd(t, "check-config", "--live", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	wantLines(t, out,
		"  github: not configured (set github.app_id and github.private_key, or github.token)",
		"  slack: not configured (set slack.bot_token)",
		"  pagerduty: not configured (set pagerduty.token)",
		"  terraform: not configured (set terraform.token)",
		"live: all configured sources ok",
	)
	// Without --live the output is the static check's alone.
	code, out, _ = runCmd(t, "check-config", "--config", path)
	if code != 0 || strings.Contains(out, "live") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestCheckConfigLiveUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close() // every API at a closed port
	path := liveConfig(t, addr, addr, addr, addr, "acme", "")
	start := time.Now()
	code, out, _ := runCmd(t, "check-config", "--live", "--timeout", "2s", "--config", path)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	for _, want := range []string{
		"  github: problem: github.api_url: cannot reach the GitHub API at " + addr + "/: ",
		"  slack: problem: slack.api_url: cannot reach the Slack Web API at " + addr + "/api/: ",
		"  pagerduty: problem: pagerduty.api_url: cannot reach the PagerDuty API at " + addr + ": ",
		"  terraform: problem: terraform.address: cannot reach the HCP Terraform API at " + addr + ": ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
