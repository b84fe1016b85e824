package github

import (
	"context"
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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
)

// liveKey is the App key of the live-check fakes; generating it is the slow part.
var liveKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func liveKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(liveKey())})
}

const liveAppID = 12345

func liveFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "live", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type liveInstall struct {
	id        int64
	login     string
	perms     map[string]string // nil: the fixture's
	suspended bool
}

// liveGitHub answers the calls of CheckLive with the recorded responses of testdata/live:
// App endpoints only with a JWT signed by liveKey, installation endpoints only with a token
// it minted, /user for the tokens of tokenModes.
type liveGitHub struct {
	t        testing.TB
	srv      *httptest.Server
	installs []liveInstall
	appPerms map[string]string // nil: the fixture's
	// tokenModes: what a configured token is: "classic:SCOPES", "fine-grained",
	// "installation"; any other token is refused.
	tokenModes map[string]string
	repoPages  int // user/repos pages at per_page=1
}

var liveInstallPath = regexp.MustCompile(`^/app/installations/(\d+)(/access_tokens)?$`)

func newLiveGitHub(t testing.TB) *liveGitHub {
	f := &liveGitHub{t: t, installs: []liveInstall{{id: 42, login: "acme"}, {id: 7, login: "acme-labs"}}, repoPages: 17,
		tokenModes: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *liveGitHub) serve(w http.ResponseWriter, r *http.Request) {
	auth, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p := r.URL.Path
	switch {
	case p == "/app" && f.tokenModes[auth] == "installation":
		f.reply(w, 200, f.app())
	case p == "/app" || p == "/app/installations" || liveInstallPath.MatchString(p):
		if !f.jwtOK(auth) {
			f.reply(w, 401, liveFixture(f.t, "bad_credentials.json"))
			return
		}
		f.serveApp(w, r, p)
	case p == "/installation/repositories" && (strings.HasPrefix(auth, "ghs_minted_") || f.tokenModes[auth] == "installation"):
		f.reply(w, 200, liveFixture(f.t, "installation_repositories.json"))
	case p == "/user" || p == "/user/repos":
		f.serveUser(w, r, auth)
	default:
		f.reply(w, 401, liveFixture(f.t, "bad_credentials.json"))
	}
}

func (f *liveGitHub) serveApp(w http.ResponseWriter, r *http.Request, p string) {
	if p == "/app" {
		f.reply(w, 200, f.app())
		return
	}
	if p == "/app/installations" {
		var list []json.RawMessage
		for _, in := range f.installs {
			list = append(list, f.installation(in))
		}
		b, _ := json.Marshal(list)
		f.reply(w, 200, b)
		return
	}
	m := liveInstallPath.FindStringSubmatch(p)
	id, _ := strconv.ParseInt(m[1], 10, 64)
	for _, in := range f.installs {
		if in.id != id {
			continue
		}
		if m[2] == "" {
			f.reply(w, 200, f.installation(in))
			return
		}
		body := strings.NewReplacer("TOKEN", fmt.Sprintf("ghs_minted_%d", id), "EXPIRES_AT", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)).
			Replace(string(liveFixture(f.t, "access_token.json")))
		f.reply(w, 201, []byte(body))
		return
	}
	f.reply(w, 404, []byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`))
}

func (f *liveGitHub) serveUser(w http.ResponseWriter, r *http.Request, auth string) {
	mode := f.tokenModes[auth]
	switch {
	case mode == "installation":
		f.reply(w, 403, liveFixture(f.t, "integration_forbidden.json"))
		return
	case mode == "":
		f.reply(w, 401, liveFixture(f.t, "bad_credentials.json"))
		return
	}
	if scopes, ok := strings.CutPrefix(mode, "classic:"); ok {
		w.Header().Set("X-OAuth-Scopes", scopes)
		w.Header().Set("X-Accepted-OAuth-Scopes", "")
	}
	if r.URL.Path == "/user" {
		f.reply(w, 200, liveFixture(f.t, "user.json"))
		return
	}
	w.Header().Set("Link", fmt.Sprintf(`<%s/user/repos?per_page=1&page=2>; rel="next", <%s/user/repos?per_page=1&page=%d>; rel="last"`, f.srv.URL, f.srv.URL, f.repoPages))
	f.reply(w, 200, liveFixture(f.t, "user_repos.json"))
}

func (f *liveGitHub) app() []byte {
	var v map[string]any
	_ = json.Unmarshal(liveFixture(f.t, "app.json"), &v)
	if f.appPerms != nil {
		v["permissions"] = f.appPerms
	}
	b, _ := json.Marshal(v)
	return b
}

func (f *liveGitHub) installation(in liveInstall) []byte {
	var v map[string]any
	_ = json.Unmarshal(liveFixture(f.t, "installation.json"), &v)
	v["id"] = in.id
	v["account"].(map[string]any)["login"] = in.login
	v["html_url"] = fmt.Sprintf("https://github.com/organizations/%s/settings/installations/%d", in.login, in.id)
	if in.perms != nil {
		v["permissions"] = in.perms
	}
	if in.suspended {
		v["suspended_at"] = "2026-11-20T08:00:00Z"
	}
	b, _ := json.Marshal(v)
	return b
}

func (f *liveGitHub) jwtOK(raw string) bool {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(tok *jwt.Token) (any, error) {
		if tok.Method != jwt.SigningMethodRS256 {
			return nil, fmt.Errorf("alg %v", tok.Header["alg"])
		}
		return &liveKey().PublicKey, nil
	})
	return err == nil && claims.Issuer == strconv.Itoa(liveAppID)
}

func (f *liveGitHub) reply(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func (f *liveGitHub) appOptions() LiveOptions {
	return LiveOptions{AppID: liveAppID, PrivateKey: liveKeyPEM(), APIURL: f.srv.URL + "/", WebhookSecret: true, Timeout: 5 * time.Second}
}

func fullPerms() map[string]string { return ManifestPermissions() }

func problemsText(r LiveResult) string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.Key + ": " + p.Message + "\n")
	}
	return b.String()
}

func TestLiveAppAllGood(t *testing.T) {
	f := newLiveGitHub(t)
	r := CheckLive(context.Background(), f.appOptions())
	if len(r.Problems) != 0 {
		t.Fatalf("problems:\n%s", problemsText(r))
	}
	if r.Who != "App releaseops (id 12345)" || r.Visible != 4 {
		t.Fatalf("who %q visible %d", r.Who, r.Visible)
	}
	want := []string{"2 installation(s): acme-labs (7), acme (42)", "4 repositories visible", "webhook secret set"}
	if strings.Join(r.Details, "|") != strings.Join(want, "|") {
		t.Fatalf("details %q, want %q", r.Details, want)
	}
}

func TestLiveAppInstallationLacksPermissions(t *testing.T) {
	f := newLiveGitHub(t)
	perms := fullPerms()
	delete(perms, "administration")
	perms["deployments"] = "read"
	f.installs[0].perms = perms
	r := CheckLive(context.Background(), f.appOptions())
	got := problemsText(r)
	for _, want := range []string{
		"github.app_id: installation 42 (acme) lacks administration:read, which sync needs to read branch protection and rulesets; accept the new permissions in the organisation's settings (https://github.com/organizations/acme/settings/installations/42)",
		"github.app_id: installation 42 (acme) lacks deployments:write (it has deployments:read), which the gate needs",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if len(r.Problems) != 2 || strings.Contains(got, "(7)") {
		t.Fatalf("want exactly the two problems of installation 42:\n%s", got)
	}
}

func TestLiveAppItselfLacksPermission(t *testing.T) {
	f := newLiveGitHub(t)
	perms := fullPerms()
	delete(perms, "security_events")
	f.appPerms = perms
	f.installs = f.installs[:1]
	f.installs[0].perms = perms
	r := CheckLive(context.Background(), f.appOptions())
	if got := problemsText(r); len(r.Problems) != 1 || !strings.Contains(got, "lacks security_events:read, which sync needs to read code-scanning alerts; the App itself does not ask for it: add security_events:read in the App's settings") {
		t.Fatalf("problems:\n%s", got)
	}
}

func TestLiveAppPinnedInstallationAndSuspension(t *testing.T) {
	f := newLiveGitHub(t)
	o := f.appOptions()
	o.InstallationID = 999
	r := CheckLive(context.Background(), o)
	if got := problemsText(r); !strings.Contains(got, "github.installation_id: installation 999 is not one of App releaseops's installations (acme-labs (7), acme (42))") {
		t.Fatalf("problems:\n%s", got)
	}
	o.InstallationID = 42
	f.installs[1].suspended = true
	f.installs[1].perms = map[string]string{} // not read: a suspended installation is one problem
	r = CheckLive(context.Background(), o)
	if len(r.Problems) != 0 || r.Visible != 2 {
		t.Fatalf("pinned to 42: visible %d\n%s", r.Visible, problemsText(r))
	}
	o.InstallationID = 0
	r = CheckLive(context.Background(), o)
	if got := problemsText(r); len(r.Problems) != 1 || !strings.Contains(got, "installation 7 (acme-labs) is suspended since 2026-11-20T08:00:00Z") {
		t.Fatalf("problems:\n%s", got)
	}
}

func TestLiveAppWrongKeyAndNoWebhookSecret(t *testing.T) {
	f := newLiveGitHub(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	o := f.appOptions()
	o.PrivateKey = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})
	o.WebhookSecret = false
	r := CheckLive(context.Background(), o)
	got := problemsText(r)
	if len(r.Problems) != 2 || !strings.Contains(got, "github.app_id: GET /app as App 12345: GitHub refused the App's JWT (check github.app_id and github.private_key)") ||
		!strings.Contains(got, "github.webhook_secret: not set: GitHub webhooks cannot be verified") {
		t.Fatalf("problems:\n%s", got)
	}
	if r.Visible != -1 {
		t.Fatalf("visible %d before any count", r.Visible)
	}
}

func TestLiveTokens(t *testing.T) {
	f := newLiveGitHub(t)
	f.tokenModes = map[string]string{"ghp_classic": "classic:repo, workflow", "github_pat_fine": "fine-grained", "ghs_inst": "installation"}
	opts := func(token string) LiveOptions {
		return LiveOptions{Token: token, APIURL: f.srv.URL + "/", WebhookSecret: true, DiscoveryOrgs: []string{"acme"}}
	}

	r := CheckLive(context.Background(), opts("ghp_classic"))
	if r.Who != "alice" || r.Visible != 17 || !strings.Contains(strings.Join(r.Details, "|"), "classic token scopes: repo, workflow") {
		t.Fatalf("classic: %+v", r)
	}
	if got := problemsText(r); len(r.Problems) != 1 || !strings.Contains(got, "github.token: the classic token lacks read:org, which catalog.github_discovery needs to list the repositories of acme") {
		t.Fatalf("classic problems:\n%s", got)
	}

	f.tokenModes["ghp_public"] = "classic:public_repo, read:org"
	r = CheckLive(context.Background(), opts("ghp_public"))
	if len(r.Problems) != 0 || !strings.Contains(strings.Join(r.Details, "|"), "public repositories only") {
		t.Fatalf("public_repo: %+v", r)
	}
	f.tokenModes["ghp_none"] = "classic:"
	r = CheckLive(context.Background(), opts("ghp_none"))
	if got := problemsText(r); !strings.Contains(got, "lacks the repo scope") || !strings.Contains(strings.Join(r.Details, "|"), "scopes: none") {
		t.Fatalf("no scopes:\n%s", got)
	}

	r = CheckLive(context.Background(), opts("github_pat_fine"))
	if len(r.Problems) != 0 || r.Who != "alice" || !strings.Contains(strings.Join(r.Details, "|"), "a fine-grained token (GitHub lists no scopes for it") {
		t.Fatalf("fine-grained: %+v", r)
	}

	r = CheckLive(context.Background(), opts("ghs_inst"))
	if r.Who != "an installation token of App releaseops (id 12345)" || r.Visible != 2 ||
		!strings.Contains(problemsText(r), "github.token: an installation token expires within an hour") {
		t.Fatalf("installation token: %+v", r)
	}

	r = CheckLive(context.Background(), opts("ghp_revoked"))
	if got := problemsText(r); len(r.Problems) != 1 || !strings.Contains(got, "github.token: GitHub refused the token (401 Bad credentials)") {
		t.Fatalf("revoked:\n%s", got)
	}
}

func TestLiveUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // a closed port: connection refused
	start := time.Now()
	r := CheckLive(context.Background(), LiveOptions{AppID: liveAppID, PrivateKey: liveKeyPEM(), APIURL: "http://" + addr + "/", WebhookSecret: true})
	got := problemsText(r)
	if len(r.Problems) != 1 || !strings.Contains(got, "github.api_url: cannot reach the GitHub API at http://"+addr+"/") || !strings.Contains(got, "refused") {
		t.Fatalf("closed port:\n%s", got)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}

	// A server that accepts and never answers: the per-call timeout ends it.
	// The handler waits for the client to go, or the test to end: a POST whose body is not
	// read never sees the client hang up.
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hang.Close()
	defer close(stop)
	start = time.Now()
	r = CheckLive(context.Background(), LiveOptions{Token: "ghp_x", APIURL: hang.URL + "/", WebhookSecret: true, Timeout: 200 * time.Millisecond})
	if got := problemsText(r); len(r.Problems) != 1 || !strings.Contains(got, "github.api_url: cannot reach the GitHub API at "+hang.URL+"/: no answer within 200ms") {
		t.Fatalf("hanging server:\n%s", got)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
}
