package gate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"

	"github.com/releaseops/releaseops/config"
	ghsrc "github.com/releaseops/releaseops/integrations/github"
)

const appID = 12345

// fakeGitHubApp mints installation tokens ("ghs_inst<id>") for an App JWT signed with key, and
// records the deployment protection rule reviews with the token each came with.
type fakeGitHubApp struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	mu    sync.Mutex
	mints map[int64]int
	calls []reviewCall
}

type reviewCall struct {
	path, auth string
	body       map[string]string
}

var mintRoute = regexp.MustCompile(`^/api/app/installations/(\d+)/access_tokens$`)

func newFakeGitHubApp(t *testing.T) *fakeGitHubApp {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tokenJSON, err := os.ReadFile("../integrations/github/testdata/app/access_token.json")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGitHubApp{key: key, mints: map[int64]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && mintRoute.MatchString(r.URL.Path):
			if err := f.checkJWT(r); err != nil {
				t.Errorf("token mint: %v", err)
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"message":"A JSON web token could not be decoded"}`)
				return
			}
			id, _ := strconv.ParseInt(mintRoute.FindStringSubmatch(r.URL.Path)[1], 10, 64)
			f.mints[id]++
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, strings.NewReplacer("TOKEN", fmt.Sprintf("ghs_inst%d", id),
				"EXPIRES_AT", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)).Replace(string(tokenJSON)))
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/repos/") && strings.HasSuffix(r.URL.Path, "/deployment_protection_rule"):
			var body map[string]string
			raw, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(raw, &body)
			f.calls = append(f.calls, reviewCall{path: r.URL.Path, auth: r.Header.Get("Authorization"), body: body})
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found"}`)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHubApp) checkJWT(r *http.Request) error {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return fmt.Errorf("no bearer JWT")
	}
	var claims jwt.RegisteredClaims
	if _, err := jwt.ParseWithClaims(raw, &claims, func(tok *jwt.Token) (any, error) {
		if tok.Method != jwt.SigningMethodRS256 {
			return nil, fmt.Errorf("alg %v", tok.Header["alg"])
		}
		return &f.key.PublicKey, nil
	}); err != nil {
		return err
	}
	if claims.Issuer != strconv.Itoa(appID) {
		return fmt.Errorf("iss %q", claims.Issuer)
	}
	return nil
}

func (f *fakeGitHubApp) reviews() map[string]reviewCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]reviewCall{}
	for _, c := range f.calls {
		out[c.path] = c
	}
	return out
}

// newAppEnv is newEnv with the GitHub App instead of github.token.
func newAppEnv(t *testing.T) (*env, *fakeGitHubApp) {
	f := newFakeGitHubApp(t)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(f.key)})
	e := newEnv(t, func(c *config.Config) {
		c.GitHub.Token = config.Secret{}
		c.GitHub.AppID = appID
		c.GitHub.PrivateKey = config.NewSecret(string(keyPEM))
		c.GitHub.APIURL = f.srv.URL + "/api/"
	})
	return e, f
}

// protectionRuleFrom sends a signed deployment_protection_rule delivery of an installation.
func (e *env) protectionRuleFrom(installation int64, delivery, repo, environment string, runID int) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"action": "requested", "environment": environment, "event": "push",
		"deployment_callback_url": fmt.Sprintf("https://api.github.com/repos/%s/actions/runs/%d/deployment_protection_rule", repo, runID),
		"deployment": map[string]any{"id": runID * 10, "sha": "9f2c1e0a9f2c1e0a9f2c1e0a9f2c1e0a9f2c1e0a", "ref": "main", "environment": environment,
			"creator": map[string]any{"login": "carol"}, "created_at": "2026-11-20T09:00:00Z"},
		"repository":   map[string]any{"full_name": repo, "name": strings.Split(repo, "/")[1]},
		"installation": map[string]any{"id": installation},
	})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "deployment_protection_rule")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", ghsrc.Sign(ghSecret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("webhook: %d", resp.StatusCode)
	}
}

func TestProtectionRuleAnsweredAsTheInstallationThatAsked(t *testing.T) {
	e, gh := newAppEnv(t)
	e.setScore("payments", 90)
	e.setScore("legacy", 20)
	e.protectionRuleFrom(42, "d-inst42", "acme/payments", "production", 601)
	e.protectionRuleFrom(7, "d-inst7", "acme/legacy", "production", 602)
	e.settle()
	e.deliver()

	got := gh.reviews()
	r42 := got["/api/repos/acme/payments/actions/runs/601/deployment_protection_rule"]
	r7 := got["/api/repos/acme/legacy/actions/runs/602/deployment_protection_rule"]
	if r42.auth != "Bearer ghs_inst42" || r42.body["state"] != "approved" {
		t.Errorf("installation 42's rule: %+v", r42)
	}
	if r7.auth != "Bearer ghs_inst7" || r7.body["state"] != "rejected" {
		t.Errorf("installation 7's rule: %+v", r7)
	}
	for _, key := range []string{"protection:d-inst42:review", "protection:d-inst7:review"} {
		if m, _ := e.message(key); strings.Contains(m.LastError+string(m.Payload), "ghs_") {
			t.Errorf("%s carries a token: %+v", key, m)
		}
	}
	gh.mu.Lock()
	defer gh.mu.Unlock()
	if gh.mints[42] != 1 || gh.mints[7] != 1 || len(gh.mints) != 2 {
		t.Errorf("mints %v, want one token for each of 42 and 7", gh.mints)
	}
}

// A watch-band deploy waits for Slack; the approval keeps the installation, so the answer
// given after the click still carries that installation's token.
func TestProtectionRuleDecidedInSlackKeepsTheInstallation(t *testing.T) {
	e, gh := newAppEnv(t)
	e.setScore("checkout", 70)
	e.protectionRuleFrom(42, "d-watch-app", "acme/checkout", "production", 501)
	e.settle()
	var id string
	for _, m := range e.messagesOf("checkout") {
		if m.Kind == "slack.post" && strings.HasPrefix(m.Key, "approval:") {
			id = strings.TrimSuffix(strings.TrimPrefix(m.Key, "approval:"), ":request")
		}
	}
	if id == "" {
		t.Fatal("no approval request")
	}
	e.restart() // the approval is read back from the database
	if r, err := e.app.Gate.Click(context.Background(), id, "U0BOB", true); err != nil || !r.Accepted {
		t.Fatalf("click: %+v, %v", r, err)
	}
	e.deliver()
	r := gh.reviews()["/api/repos/acme/checkout/actions/runs/501/deployment_protection_rule"]
	if r.auth != "Bearer ghs_inst42" || r.body["state"] != "approved" {
		t.Errorf("review %+v", r)
	}
}
