package fakegithub_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"

	"github.com/releaseops/releaseops/internal/fakegithub"
)

const (
	appID   = 12345
	instID  = 42
	pat     = "github_pat_for_tests"
	testOrg = "acme"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// acmeAPI is a repository with something on every endpoint, like the recorded acme/api.
func acmeAPI() fakegithub.Repo {
	return fakegithub.Repo{
		FullName: "acme/api", Description: "Public API gateway", CreatedAt: t0.AddDate(-3, 0, 0),
		Classic: &fakegithub.Protection{RequiredReviews: 2, CodeOwnerReview: true, DismissStale: true, EnforceAdmins: true,
			StatusChecks: []string{"ci/build", "ci/test"}, StrictChecks: true},
		Rulesets: []fakegithub.Ruleset{
			{ID: 77, SourceType: "Organization", Rules: []fakegithub.Rule{fakegithub.NoDeletionRule(), fakegithub.NoForcePushRule(), fakegithub.PullRequestRule(2, true)}},
			{ID: 901, Rules: []fakegithub.Rule{fakegithub.LinearHistoryRule(), fakegithub.SignedCommitsRule(), fakegithub.PullRequestRule(1, false), fakegithub.StatusChecksRule("build")}},
		},
		CodeownersAt: ".github/CODEOWNERS", Codeowners: "* @acme/api-owners\n",
		Files: map[string]string{".github/workflows/ci.yml": "on: push\n", "cmd/api/main.go": "package main\n", "go.mod": "module acme/api\n"},
		Pulls: []fakegithub.Pull{{Number: 42, Title: "Rate limit per API key", Author: "erin", Labels: []string{"feature"},
			CreatedAt: t0.Add(-72 * time.Hour), MergedAt: t0.Add(-24 * time.Hour), MergedBy: "alice",
			Reviews: []fakegithub.Review{{User: "alice", State: "APPROVED", SubmittedAt: t0.Add(-30 * time.Hour)},
				{User: "bob", State: "CHANGES_REQUESTED", SubmittedAt: t0.Add(-40 * time.Hour)}}}},
		Deployments: []fakegithub.Deployment{{ID: 1001, Ref: "v1.5.0", Description: "Deploy v1.5.0", CreatedAt: t0.Add(-20 * time.Hour),
			Statuses: []fakegithub.DeploymentStatus{{ID: 5001002, State: "success", Description: "Deployed", CreatedAt: t0.Add(-19 * time.Hour)}}}},
		Releases: []fakegithub.Release{{ID: 180000002, TagName: "v1.5.0", CreatedAt: t0.Add(-21 * time.Hour), PublishedAt: t0.Add(-20 * time.Hour)},
			{ID: 180000003, TagName: "v1.6.0", Draft: true, CreatedAt: t0.Add(-time.Hour)}},
		Dependabot:   []fakegithub.DependabotAlert{{Number: 2, Package: "golang.org/x/net", Severity: "high", Summary: "HTTP/2 rapid reset", CVE: "CVE-2026-39821", CreatedAt: t0.AddDate(0, 0, -28)}},
		CodeScanning: []fakegithub.CodeScanningAlert{{Number: 7, RuleID: "go/log-injection", Severity: "error", SecuritySeverity: "medium", CreatedAt: t0.AddDate(0, 0, -20)}},
	}
}

// newServer is a fake with acme/api, acme/docs (nothing configured) and the App installed on
// acme, on a clock the test controls.
func newServer(t *testing.T, clock func() time.Time) *fakegithub.Server {
	t.Helper()
	key, _, err := fakegithub.AppKey()
	if err != nil {
		t.Fatal(err)
	}
	s := fakegithub.New(fakegithub.Options{Now: clock})
	t.Cleanup(s.Close)
	s.AddRepo(acmeAPI(), fakegithub.Repo{FullName: "acme/docs", DependabotDisabled: true, CodeScanningOff: fakegithub.NoAnalysis})
	s.SetApp(fakegithub.App{ID: appID, PublicKey: &key.PublicKey, Installations: []fakegithub.Installation{fakegithub.InstalledOn(instID, testOrg)}})
	s.AddToken(pat)
	return s
}

// appJWT signs what ghinstallation signs: iat a minute back, exp nine minutes ahead.
func appJWT(t *testing.T) string {
	t.Helper()
	key, _, err := fakegithub.AppKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Issuer: strconv.Itoa(appID),
		IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute))}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, a.body)
	}
	return v
}

// do calls the fake with a credential: "Bearer x" or "token x", or "" for none.
func do(t *testing.T, s *fakegithub.Server, method, path, auth string, h ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(s.APIURL(), "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func get(t *testing.T, s *fakegithub.Server, path string, h ...string) answer {
	t.Helper()
	return do(t, s, http.MethodGet, path, "Bearer "+pat, h...)
}

// mintToken mints an installation token with the App's JWT.
func mintToken(t *testing.T, s *fakegithub.Server) string {
	t.Helper()
	a := do(t, s, http.MethodPost, "/app/installations/42/access_tokens", "Bearer "+appJWT(t))
	if a.status != http.StatusCreated {
		t.Fatalf("mint: %d %s", a.status, a.body)
	}
	return a.json(t).(map[string]any)["token"].(string)
}
